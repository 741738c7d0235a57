//! `pgdiverge scan` against `pg_waldump --stats` (PostgreSQL 15) on every PostgreSQL 15
//! fixture's timeline-1 WAL: the same records (count and bytes) over the same range, with one
//! reader and in parallel, with read() and with --mmap.

use std::path::Path;
use std::process::Command;

const PG_WALDUMP: &str = "/usr/lib/postgresql/15/bin/pg_waldump";

/// `key: value` lines of `pgdiverge scan`.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {key:?} in {out}"))
}

/// pg_waldump --stats' "Total" line: (records, record bytes).
fn waldump_totals(dir: &Path, start: &str, end: &str) -> (u64, u64) {
    let out = Command::new(PG_WALDUMP)
        .args(["--stats", "-p"])
        .arg(dir)
        .args(["-s", start, "-e", end])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let total = text
        .lines()
        .find(|l| l.starts_with("Total"))
        .unwrap_or_else(|| panic!("pg_waldump: {}", String::from_utf8_lossy(&out.stderr)));
    let f: Vec<&str> = total.split_whitespace().collect();
    // Total  N  <rec bytes> [..%]  <fpi bytes> [..%]  <combined> [100%]
    (f[1].parse().unwrap(), f[6].parse().unwrap())
}

fn scan(dir: &Path, start: &str, extra: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .arg("scan")
        .arg("-p")
        .arg(dir)
        .args(["-s", start])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pgdiverge scan: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The first record of the first timeline-1 segment file in `wal`, if there is one.
fn first_timeline1_record(wal: &Path) -> Option<walparse::Lsn> {
    let mut tl1: Vec<String> = std::fs::read_dir(wal)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == 24 && n.starts_with("00000001"))
        .collect();
    tl1.sort();
    let first = tl1.first()?;
    let seg = std::fs::read(wal.join(first)).unwrap();
    let seg_size =
        walparse::WalSegSize::new(u32::from_le_bytes(seg[32..36].try_into().unwrap())).unwrap();
    let segno = u64::from_str_radix(&first[8..16], 16).unwrap() * seg_size.segments_per_xlogid()
        + u64::from_str_radix(&first[16..24], 16).unwrap();
    walparse::first_record_lsn_in_segment(walparse::DirSource::new([wal]), 1, segno, seg_size)
        .unwrap()
}

#[test]
fn scan_counts_the_records_pg_waldump_counts() {
    if !Path::new(PG_WALDUMP).exists() {
        eprintln!("skipped: no {PG_WALDUMP}");
        return;
    }
    let mut checked = 0;
    for s in pgdiverge_fixtures::scenarios() {
        if s.pg_version() != 15 {
            continue;
        }
        for name in s.cluster_names() {
            let wal = s.cluster(&name).join("pg_wal");
            let Some(start) = first_timeline1_record(&wal) else {
                continue;
            };
            let start = start.to_string();
            let whole = scan(&wal, &start, &[]);
            let end = field(&whole, "next record").to_string();
            let (n, bytes) = waldump_totals(&wal, &start, &end);
            let what = format!("{}/{name}: {start}..{end}", s.name);
            for extra in [
                &[][..],
                &["-e", &end][..],
                &["-e", &end, "--mmap"][..],
                &["-e", &end, "--threads", "3"][..],
                &["-e", &end, "--threads", "2", "--mmap"][..],
            ] {
                let out = scan(&wal, &start, extra);
                assert_eq!(field(&out, "records"), n.to_string(), "{what} {extra:?}");
                assert_eq!(
                    field(&out, "record bytes"),
                    bytes.to_string(),
                    "{what} {extra:?}"
                );
                assert_eq!(field(&out, "next record"), end, "{what} {extra:?}");
            }
            checked += n;
        }
    }
    assert!(checked > 1000, "only {checked} records compared");
}

/// The end of WAL in the words of the version that wrote it: xlogreader.c says "wanted 24" up to
/// 15 and "expected at least 24" from 16 on, and so does each version's pg_waldump.
#[test]
fn the_end_of_wal_reads_in_the_words_of_its_version() {
    let (mut old, mut new) = (0, 0);
    for s in pgdiverge_fixtures::scenarios() {
        let major = s.pg_version();
        for name in s.cluster_names() {
            let wal = s.cluster(&name).join("pg_wal");
            let Some(start) = first_timeline1_record(&wal) else {
                continue;
            };
            let out = scan(&wal, &start.to_string(), &[]);
            let end = field(&out, "end of WAL");
            if !end.starts_with("invalid record length") {
                continue;
            }
            let what = format!("{}/{name} (PostgreSQL {major}): {end}", s.name);
            if major <= 15 {
                assert!(end.ends_with(": wanted 24, got 0"), "{what}");
                old += 1;
            } else {
                assert!(end.ends_with(": expected at least 24, got 0"), "{what}");
                new += 1;
            }
        }
    }
    assert!(old > 0 && new > 0, "checked {old} ≤15 and {new} 16+ ends");
}

#[test]
fn an_unreadable_directory_exits_3_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-pg_wal");
    let out = Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .args(["scan", "-s", "0/1000000", "-p"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-pg_wal"), "{err}");
}
