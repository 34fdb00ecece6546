//! The claim checks. The invariants live in `keyhole_token::fuzzing::check_claims`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhole_token::fuzzing::check_claims(data));
