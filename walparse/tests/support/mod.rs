//! Test-only helpers of the robustness suites (`prop_*`, `mutation_*`): a WAL writer.
#![allow(dead_code)]

pub mod walwriter;
