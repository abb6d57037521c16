//! Fuzz target `gzip_body`: see `git_http_backend_rs::fuzzing::gzip_body`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::gzip_body(data));
