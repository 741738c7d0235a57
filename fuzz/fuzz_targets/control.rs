//! cargo-fuzz target `control`: see `pgdiverge_fuzz::control`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgdiverge_fuzz::control(data));
