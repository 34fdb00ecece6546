//! The Range header. The invariants live in `keyhole_serve::fuzzing::check_range`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhole_serve::fuzzing::check_range(data));
