//! The Cookie header parser and the signed-cookie verifier. The invariants live in `keyhole_core::fuzzing::check_cookie_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhole_core::fuzzing::check_cookie_header(data));
