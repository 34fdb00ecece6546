//! The bridge's `return` path. The invariants live in `keyhole_signer::fuzzing::check_bridge_return`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhole_signer::fuzzing::check_bridge_return(data));
