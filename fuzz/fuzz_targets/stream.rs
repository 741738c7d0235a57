//! cargo-fuzz target `stream`: see `pgdiverge_fuzz::stream`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgdiverge_fuzz::stream(data));
