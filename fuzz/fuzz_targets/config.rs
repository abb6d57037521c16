//! Fuzz target `config`: see `git_http_backend_rs::fuzzing::config`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::config(data));
