//! cargo-fuzz target `compare`: see `pgdiverge_fuzz::compare`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgdiverge_fuzz::compare(data));
