//! cargo-fuzz target `backward`: see `pgdiverge_fuzz::backward`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgdiverge_fuzz::backward(data));
