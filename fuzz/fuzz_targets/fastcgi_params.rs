//! Fuzz target `fastcgi_params`: see `git_http_backend_rs::fuzzing::fastcgi_params`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| git_http_backend_rs::fuzzing::fastcgi_params(data));
