//! cargo-fuzz target `page_header`: see `pgdiverge_fuzz::page_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pgdiverge_fuzz::page_header(data));
