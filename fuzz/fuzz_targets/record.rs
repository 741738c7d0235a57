//! cargo-fuzz target `record`: see `pgdiverge_fuzz::record`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgdiverge_fuzz::record(data));
