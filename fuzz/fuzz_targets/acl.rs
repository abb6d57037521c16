//! Fuzz target `acl`: see `git_http_backend_rs::fuzzing::acl`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::acl(data));
