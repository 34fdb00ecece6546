//! The signed-URL query parser and verifier. The invariants live in `keyhole_core::fuzzing::check_signed_url`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhole_core::fuzzing::check_signed_url(data));
