//! Fuzz target `command_list`: see `git_http_backend_rs::fuzzing::command_list`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::command_list(data));
