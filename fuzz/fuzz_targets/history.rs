//! cargo-fuzz target `history`: see `pgdiverge_fuzz::history`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgdiverge_fuzz::history(data));
