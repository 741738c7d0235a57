//! `pgdiverge compare` on committed fixture pairs: opening both data directories (pg_control,
//! timeline histories, WAL) and the whole analysis.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
}

fn compare(c: &mut Criterion) {
    let mut g = c.benchmark_group("compare");
    for (scenario, a, b) in [
        ("01-split-brain", "old-primary", "new-primary"),
        ("11-split-brain-pg15", "old-primary", "new-primary"),
        ("09-three-timelines", "node-a", "node-c"),
    ] {
        let dir = fixtures().join(scenario);
        if !dir.is_dir() {
            eprintln!("skipped: no fixture {}", dir.display());
            continue;
        }
        let opts = pgdiverge::OpenOptions::default();
        g.bench_function(scenario, |bench| {
            bench.iter(|| {
                let a = pgdiverge::Cluster::open(&dir.join(a), &opts).expect("open A");
                let b = pgdiverge::Cluster::open(&dir.join(b), &opts).expect("open B");
                let report = pgdiverge::compare(&a, &b, &pgdiverge::Options::default());
                black_box(report.exit_code())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, compare);
criterion_main!(benches);
