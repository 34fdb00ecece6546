//! Scope templates and their expansion. The invariants live in `keyhole_signer::fuzzing::check_scope`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhole_signer::fuzzing::check_scope(data));
