//! Fuzz target `pktline`: see `git_http_backend_rs::fuzzing::pktline`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::pktline(data));
