//! Fuzz target `fastcgi_record`: see `git_http_backend_rs::fuzzing::fastcgi_record`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::fastcgi_record(data));
