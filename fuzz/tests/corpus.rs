//! The fuzz targets as plain tests, runnable on stable Rust: every seed (src/seeds.rs), every
//! file already in `corpus/<target>/` and `regressions/<target>/`, and a fixed number of
//! seeded random mutations of each seed go through the target. A panic is a failure; its input
//! is saved under `artifacts/<target>/` so `cargo fuzz run <target> <file>` can replay it.
//!
//! `FUZZ_MUTATIONS=N` sets the mutations per seed (default 64; 8 for `compare`).

use std::path::{Path, PathBuf};

use pgdiverge_fuzz::{seeds, TARGETS};

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const INTERESTING: [u32; 10] = [
    0,
    1,
    23,
    24,
    0x7F,
    0xFF,
    0x2000,
    0x7FFF_FFFF,
    0xFFFF_FFFF,
    0x3FFF_FFFF,
];

/// One libFuzzer-like mutation: flip, set, interesting u32, insert, delete, truncate, duplicate.
fn mutate(input: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 if len >= 4 => {
                let i = rng.below(len - 3);
                let x = INTERESTING[rng.below(INTERESTING.len())];
                v[i..i + 4].copy_from_slice(&x.to_le_bytes());
            }
            3 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(i..i, bytes);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = (1 + rng.below(64)).min(len - i);
                v.drain(i..i + n);
            }
            5 if len > 0 => v.truncate(rng.below(len)),
            6 if len > 8 => {
                let i = rng.below(len - 8);
                let j = rng.below(len - 8);
                let chunk = v[i..i + 8].to_vec();
                v[j..j + 8].copy_from_slice(&chunk);
            }
            _ => {}
        }
    }
    v
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    std::fs::read(e.path()).ok().map(|b| (name, b))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn run_target(name: &str) {
    let f = TARGETS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("a target")
        .1;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut inputs: Vec<(String, Vec<u8>)> = seeds::all()
        .into_iter()
        .filter(|(t, _, _)| *t == name)
        .map(|(_, n, b)| (n, b))
        .collect();
    let n_seeds = inputs.len();
    inputs.extend(files_in(&root.join("regressions").join(name)));
    inputs.extend(files_in(&root.join("corpus").join(name)));
    let per_seed: usize = std::env::var("FUZZ_MUTATIONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if name == "compare" { 8 } else { 64 });
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
    let mut mutants = Vec::new();
    for (n, b) in inputs.iter().take(n_seeds) {
        for k in 0..per_seed {
            mutants.push((format!("{n}~{k}"), mutate(b, &mut rng)));
        }
    }
    inputs.extend(mutants);
    let mut failures = Vec::new();
    for (n, b) in &inputs {
        if std::panic::catch_unwind(|| f(b)).is_err() {
            let dir = root.join("artifacts").join(name);
            let _ = std::fs::create_dir_all(&dir);
            let file = dir.join(format!("crash-{}", n.replace(['/', '~'], "_")));
            let _ = std::fs::write(&file, b);
            failures.push(file.display().to_string());
        }
    }
    eprintln!(
        "{name}: {} inputs ({n_seeds} seeds, {per_seed} mutations each), {} failures",
        inputs.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{name}: inputs that panic: {failures:#?}"
    );
    if name != "compare" {
        assert!(
            n_seeds > 0,
            "{name}: no seeds (fixtures or samples missing?)"
        );
    }
}

#[test]
fn page_header() {
    run_target("page_header");
}
#[test]
fn record() {
    run_target("record");
}
#[test]
fn stream() {
    run_target("stream");
}
#[test]
fn backward() {
    run_target("backward");
}
#[test]
fn history() {
    run_target("history");
}
#[test]
fn control() {
    run_target("control");
}
#[test]
fn compare() {
    run_target("compare");
}
