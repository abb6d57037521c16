//! Fuzz target `repo_path`: see `git_http_backend_rs::fuzzing::repo_path`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::repo_path(data));
