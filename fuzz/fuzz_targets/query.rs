//! Fuzz target `query`: see `git_http_backend_rs::fuzzing::query`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::query(data));
