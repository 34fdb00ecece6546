//! The policy decoder and verifier, on policies signed with the fixture key. The invariants live in `keyhole_core::fuzzing::check_policy`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhole_core::fuzzing::check_policy(data));
