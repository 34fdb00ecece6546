//! The JWT splitter and decoder. The invariants live in `keyhole_token::fuzzing::check_jwt`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhole_token::fuzzing::check_jwt(data));
