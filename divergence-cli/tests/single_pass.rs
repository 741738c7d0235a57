//! `Cluster::open` reads each cluster's WAL once (in parallel) and keeps a per-segment summary;
//! `Cluster::after` and `compare::compare_wal` answer from it, re-reading at most a segment or
//! two. These tests hold them to the plain readings they replace, on every fixture: a full
//! lockstep comparison of both sides' records, and counting every record after a point; and
//! they check that the result does not depend on the number of threads or on maps vs read().

use std::path::Path;

use pgdiverge::compare::{compare_wal, WalDiff};
use pgdiverge::report::Side;
use pgdiverge::{Cluster, OpenOptions};
use serde_json::Value;
use walparse::{Lsn, ReadMode};

fn open(dir: &Path, name: &str, s: &Value, threads: usize, read_mode: ReadMode) -> Cluster {
    let archives = pgdiverge_fixtures::archive_dirs(dir, s);
    let opts = OpenOptions {
        archives,
        threads,
        read_mode,
    };
    Cluster::open(&dir.join(name), &opts)
        .unwrap_or_else(|e| panic!("{}: open {name}: {e}", dir.display()))
}

fn clusters(s: &Value) -> Vec<String> {
    s["clusters"]
        .as_object()
        .expect("clusters")
        .keys()
        .cloned()
        .collect()
}

/// The comparison as it was first written: both sides' records in lockstep from the later of
/// the two oldest records.
fn lockstep(a: &Cluster, b: &Cluster) -> WalDiff {
    let (Some(oa), Some(ob)) = (a.oldest_record, b.oldest_record) else {
        return WalDiff::NoOverlap;
    };
    let start = oa.max(ob);
    let (older, from) = if oa < ob { (a, oa) } else { (b, ob) };
    if oa != ob {
        let mut r = older.records(from, &older.spans, false);
        let mut found = false;
        loop {
            match r.next_record() {
                Ok(Some(rec)) if rec.lsn() < start => continue,
                Ok(Some(rec)) => {
                    found = rec.lsn() == start;
                    break;
                }
                Ok(None) => break,
                Err(e) => return WalDiff::Unreadable(e.to_string()),
            }
        }
        if !found {
            return WalDiff::NoOverlap;
        }
    }
    let mut ra = a.records(start, &a.spans, false);
    let mut rb = b.records(start, &b.spans, false);
    let mut common_end = start;
    loop {
        let (x, y) = match (ra.next_record(), rb.next_record()) {
            (Ok(x), Ok(y)) => (x, y),
            (Err(e), _) | (_, Err(e)) => return WalDiff::Unreadable(e.to_string()),
        };
        let shorter = match (x, y) {
            (None, None) => None,
            (None, Some(_)) => Some(Side::A),
            (Some(_), None) => Some(Side::B),
            (Some(p), Some(q)) => {
                if p.lsn() != q.lsn() {
                    return WalDiff::Differ {
                        at: p.lsn().min(q.lsn()),
                    };
                }
                if p.raw() != q.raw() {
                    return WalDiff::Differ { at: p.lsn() };
                }
                common_end = p.next_lsn();
                continue;
            }
        };
        return WalDiff::Prefix {
            shorter,
            at: common_end,
        };
    }
}

/// Every record a cluster's WAL holds from its oldest record, with whether it is a commit.
fn all_records(c: &Cluster) -> Vec<(Lsn, bool)> {
    let Some(start) = c.oldest_record else {
        return Vec::new();
    };
    let mut r = c.records(start, &c.spans, false);
    let mut out = Vec::new();
    while let Ok(Some(rec)) = r.next_record() {
        let commit =
            rec.rmid() == walparse::rmgr::RM_XACT_ID && matches!(rec.info() & 0x70, 0x00 | 0x30);
        out.push((rec.lsn(), commit));
    }
    out
}

#[test]
fn the_summary_answers_as_the_full_readings_do_on_every_fixture() {
    // The fixtures hold one or two segments of WAL each: they check the edges (one shared
    // segment holding the fork), the live test below a long shared history.
    for sc in pgdiverge_fixtures::scenarios() {
        let dir = sc.unpacked();
        let names = clusters(&sc.json);
        let opened: Vec<Cluster> = names
            .iter()
            .map(|n| open(&dir, n, &sc.json, 0, ReadMode::Mmap))
            .collect();

        for (n, c) in names.iter().zip(&opened) {
            // Same pass on one thread, on three, and with read(): same result.
            for (threads, mode) in [(1, ReadMode::Read), (3, ReadMode::Mmap)] {
                let d = open(&dir, n, &sc.json, threads, mode);
                assert_eq!(d.segments, c.segments, "{} {n}: segments", sc.name);
                assert_eq!(d.end_of_wal, c.end_of_wal, "{} {n}: end of WAL", sc.name);
                assert_eq!(d.oldest_record, c.oldest_record, "{} {n}", sc.name);
            }
            check_after(c, &format!("{} {n}", sc.name), &[]);
        }

        // compare_wal (summary, then records from the last equal segment) = full lockstep.
        for (i, a) in opened.iter().enumerate() {
            for b in &opened[i + 1..] {
                if a.control.system_identifier != b.control.system_identifier {
                    continue;
                }
                for (x, y) in [(a, b), (b, a)] {
                    assert_eq!(
                        compare_wal(x, y),
                        lockstep(x, y),
                        "{}: {} vs {}",
                        sc.name,
                        x.path.display(),
                        y.path.display()
                    );
                }
            }
        }
    }
}

mod live_common;

/// Checks `after` of `c` at `points` (and at every segment's first record, one byte after it
/// and its start) against counting every record.
fn check_after(c: &Cluster, what: &str, extra: &[Lsn]) {
    let all = all_records(c);
    let total: u64 = c.segments.iter().map(|s| s.records).sum();
    assert_eq!(total, all.len() as u64, "{what}: records");
    let mut points: Vec<Lsn> = extra.to_vec();
    for s in &c.segments {
        points.push(s.first);
        points.push(Lsn(s.first.0 + 1));
        points.push(c.seg_size.segment_start(s.segno));
    }
    if let Some(&(l, _)) = all.get(all.len() / 2) {
        points.push(l);
    }
    for p in points {
        let Some(af) = c.after(p) else { continue };
        if c.end_of_wal.as_ref().is_some_and(|e| e.end <= p) {
            assert_eq!(af.records, 0, "{what}: after {p}");
            continue;
        }
        let want: Vec<&(Lsn, bool)> = all.iter().filter(|(l, _)| *l >= p).collect();
        assert_eq!(af.records, want.len() as u64, "{what}: after {p}");
        let commits = want.iter().filter(|(_, c)| *c).count() as u64;
        assert_eq!(af.commits, commits, "{what}: commits after {p}");
    }
}

/// A forked pair with a long shared history, made by a real server: A (1 MB segments) loaded by
/// pgbench, stopped; B a cold copy of it, promoted, written to; A written to again on
/// timeline 1. Both hold the whole shared history, so `compare_wal` skips its equal segments.
#[test]
fn a_long_shared_history_is_compared_from_its_last_equal_segment() {
    if !live_common::enabled() {
        eprintln!("single_pass live pair: skipped (set PGDIVERGE_LIVE_PG=1 to run)");
        return;
    }
    use live_common::{as_postgres, chown_to_postgres, initdb, pgbench, run_ok, start, BIN};
    const PORT: &str = "54917";
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    chown_to_postgres(root);
    let (a, b) = (root.join("a"), root.join("b"));
    initdb(&a);
    std::fs::write(
        a.join("postgresql.auto.conf"),
        "min_wal_size = 64MB\nmax_wal_size = 256MB\nwal_keep_size = 1GB\ncheckpoint_timeout = 1d\n\
         fsync = off\nsynchronous_commit = off\n",
    )
    .unwrap();
    {
        let _s = start(&a, root, PORT);
        run_ok(pgbench(root, PORT, &["-i", "-s", "1", "-q"]), "pgbench -i");
    }
    run_ok(
        as_postgres(&["cp", "-a", &a.to_string_lossy(), &b.to_string_lossy()]),
        "cp",
    );
    run_ok(
        as_postgres(&["touch", &b.join("standby.signal").to_string_lossy()]),
        "touch",
    );
    {
        let _s = start(&b, root, PORT);
        run_ok(
            as_postgres(&[
                &format!("{BIN}/pg_ctl"),
                "-D",
                &b.to_string_lossy(),
                "-w",
                "promote",
            ]),
            "promote",
        );
        run_ok(pgbench(root, PORT, &["-n", "-t", "300"]), "pgbench on B");
    }
    {
        let _s = start(&a, root, PORT);
        run_ok(pgbench(root, PORT, &["-n", "-t", "1500"]), "pgbench on A");
    }

    let none = Value::Null;
    let ca = open(root, "a", &none, 0, ReadMode::Mmap);
    let cb = open(root, "b", &none, 0, ReadMode::Mmap);
    let equal = ca
        .segments
        .iter()
        .zip(&cb.segments)
        .take_while(|(x, y)| x == y)
        .count();
    assert!(
        equal >= 5,
        "only {equal} equal leading segments: the skip is not exercised"
    );
    for (x, y) in [(&ca, &cb), (&cb, &ca)] {
        assert_eq!(compare_wal(x, y), lockstep(x, y));
    }
    let WalDiff::Differ { at } = compare_wal(&ca, &cb) else {
        panic!(
            "the two sides' records must differ: {:?}",
            compare_wal(&ca, &cb)
        );
    };
    assert_eq!(
        Some(at),
        cb.spans.get(1).map(|s| s.begin),
        "the fork is B's switchpoint"
    );
    for threads in [1, 2] {
        let d = open(root, "a", &none, threads, ReadMode::Read);
        assert_eq!(d.segments, ca.segments);
        assert_eq!(d.end_of_wal, ca.end_of_wal);
    }
    check_after(&ca, "A", &[at]);
    check_after(&cb, "B", &[at]);
}
