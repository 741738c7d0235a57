//! Damaged WAL never makes `compare` panic: copies of a fixture pair get bytes flipped at
//! deterministic pseudo-random places in their WAL segments and history files; each copy either
//! fails to open with an error or yields a report.

use std::path::{Path, PathBuf};

use pgdiverge::{compare, Cluster, OpenOptions, Options};

fn have(scenario: &str) -> bool {
    pgdiverge_fixtures::root()
        .join(scenario)
        .join("scenario.json")
        .is_file()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let ft = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else if ft.is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A small deterministic generator (64-bit LCG, Knuth's constants).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn wal_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("pg_wal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn flipped_wal_bytes_never_panic() {
    if !have("01-split-brain") {
        return;
    }
    let src = pgdiverge_fixtures::scenario("01-split-brain").unpacked();
    let mut rng = Lcg(0x5eed);
    let mut outcomes = [0usize; 2];
    for round in 0..24 {
        let t = tempfile::tempdir().unwrap();
        let a = t.path().join("old-primary");
        let b = t.path().join("new-primary");
        copy_tree(&src.join("old-primary"), &a);
        copy_tree(&src.join("new-primary"), &b);
        for _ in 0..(1 + round % 4) {
            let side = if rng.next() % 2 == 0 { &a } else { &b };
            let files = wal_files(side);
            let f = &files[(rng.next() as usize) % files.len()];
            let mut bytes = std::fs::read(f).unwrap();
            if bytes.is_empty() {
                continue;
            }
            // Mostly near the records that matter (the first 16 kB), sometimes anywhere.
            let span = if rng.next() % 3 == 0 {
                bytes.len()
            } else {
                bytes.len().min(16384)
            };
            let at = (rng.next() as usize) % span;
            bytes[at] ^= 1 << (rng.next() % 8);
            std::fs::write(f, &bytes).unwrap();
        }
        let opts = OpenOptions::default();
        match (Cluster::open(&a, &opts), Cluster::open(&b, &opts)) {
            (Ok(ca), Ok(cb)) => {
                let r1 = compare(&ca, &cb, &Options::default());
                let r2 = compare(&cb, &ca, &Options::default());
                assert_eq!(r1.verdict, r2.verdict, "round {round}: argument order");
                assert_eq!(r1.fork, r2.fork, "round {round}: argument order");
                outcomes[0] += 1;
            }
            (Err(e), _) | (_, Err(e)) => {
                assert!(!e.to_string().is_empty());
                outcomes[1] += 1;
            }
        }
    }
    eprintln!("reports: {}, open errors: {}", outcomes[0], outcomes[1]);
    assert!(outcomes[0] > 0, "some damage is analysable");
}
