//! `walparse::par::scan` gives exactly the records, end of WAL and errors of one sequential
//! reader (`par::scan_sequential`): on the shared samples of every version, on every fixture's
//! pg_wal, on damaged copies (a bad CRC, a missing and a truncated segment in the middle), with
//! `stop` at many positions, and on the pgbench WAL of `benches/vs-postgres.sh` when present.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{fixtures_dir, newest_history, unpack, unpack_sample};
use walparse::par::{self, ScanRange, Scanned};
use walparse::{DirSource, Lsn, Record, TliSpan, WalSegSize};

/// What the test compares for each record.
type Seen = Vec<(Lsn, Lsn, Lsn, u32, u32)>;

fn see(v: &mut Seen, r: &Record<'_>) {
    v.push((r.lsn(), r.end_lsn(), r.next_lsn(), r.tot_len(), r.crc()));
}

fn concat(mut a: Seen, b: Seen) -> Seen {
    a.extend(b);
    a
}

/// Segment size and the smallest segment of the oldest timeline among the files of `dir`.
fn first_segment(dir: &Path) -> Option<(WalSegSize, u32, u64)> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    names.sort();
    let name = names.first()?;
    let bytes = fs::read(dir.join(name)).ok()?;
    let seg = WalSegSize::new(u32::from_le_bytes(bytes.get(32..36)?.try_into().ok()?))?;
    let tli = u32::from_str_radix(&name[..8], 16).ok()?;
    let hi = u64::from_str_radix(&name[8..16], 16).ok()?;
    let lo = u64::from_str_radix(&name[16..24], 16).ok()?;
    Some((seg, tli, hi * seg.segments_per_xlogid() + lo))
}

/// Asserts that the parallel scan `p` equals the sequential `seq`, printing only where they differ.
fn assert_same(p: &Scanned<Seen>, seq: &Scanned<Seen>, what: &str) {
    if p.same_as(seq) {
        return;
    }
    let at = p.acc.iter().zip(&seq.acc).position(|(a, b)| a != b);
    panic!(
        "{what}: parallel != sequential: records {} vs {}, first {:?} vs {:?}, last {:?} vs {:?}, \
         next {} vs {}, end {:?} vs {:?}; first different record #{at:?}",
        p.records,
        seq.records,
        p.first,
        seq.first,
        p.last,
        seq.last,
        p.next,
        seq.next,
        p.end,
        seq.end
    );
}

fn both(dir: &Path, range: &ScanRange<'_>, threads: usize) -> (Scanned<Seen>, Scanned<Seen>) {
    let source = DirSource::new([dir]);
    let seq = par::scan_sequential(&source, range, Vec::new, see).expect("sequential scan");
    let p = par::scan(&source, range, threads, Vec::new, see, concat).expect("parallel scan");
    (seq, p)
}

/// Checks `dir` from its first record: the whole WAL on 2, 3 and 5 threads, then `stop` at
/// every 97th record and at segment boundaries. On `intact` WAL the parallel scan must not have
/// needed to fall back to one reader. Returns the number of records and whether any whole-WAL
/// parallel scan fell back.
fn check_dir(dir: &Path, what: &str, intact: bool) -> (u64, bool) {
    let Some((seg, tli, segno)) = first_segment(dir) else {
        return (0, false);
    };
    let spans: Vec<TliSpan> = newest_history(dir);
    let source = DirSource::new([dir]);
    let Some(start) =
        walparse::first_record_lsn_in_segment(&source, tli, segno, seg).expect("first record")
    else {
        return (0, false);
    };
    let mut range = ScanRange::new(start, seg);
    range.timelines = &spans;
    let mut records = 0;
    let mut resumed = false;
    for threads in [2, 3, 5] {
        let (seq, p) = both(dir, &range, threads);
        assert_same(&p, &seq, &format!("{what}: {threads} threads, whole WAL"));
        if intact {
            assert_eq!(
                p.resumed_at, None,
                "{what}: {threads} threads: pieces did not join"
            );
        }
        assert_eq!(p.records as usize, p.acc.len(), "{what}");
        records = seq.records;
        resumed |= p.resumed_at.is_some();
    }
    let (all, _) = both(dir, &range, 2);
    let mut stops: Vec<Lsn> = all.acc.iter().step_by(97).map(|r| r.0).collect();
    stops.extend(all.acc.last().map(|r| Lsn(r.0 .0 + 1)));
    if let (Some(f), Some(l)) = (all.acc.first(), all.acc.last()) {
        for s in f.0.segno(seg)..=l.0.segno(seg) + 1 {
            stops.push(seg.segment_start(s));
        }
    }
    for stop in stops {
        range.stop = Some(stop);
        let (seq, p) = both(dir, &range, 2);
        assert_same(&p, &seq, &format!("{what}: stop {stop}"));
        assert!(seq.acc.iter().all(|r| r.0 < stop), "{what}: stop {stop}");
    }
    (records, resumed)
}

fn fixture_wal_dirs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(scenarios) = fs::read_dir(fixtures_dir()) else {
        return out;
    };
    for s in scenarios.flatten() {
        let Ok(sides) = fs::read_dir(s.path()) else {
            continue;
        };
        for side in sides.flatten() {
            let wal = side.path().join("pg_wal");
            if wal.is_dir() {
                out.push(wal);
            }
        }
    }
    out.sort();
    out
}

/// [`unpack`] of the files of `src` (a fixture's pg_wal also holds `archive_status/`).
fn unpack_files(src: &Path) -> tempfile::TempDir {
    let files = tempfile::tempdir().unwrap();
    for e in fs::read_dir(src).unwrap().flatten() {
        if e.path().is_file() {
            fs::copy(e.path(), files.path().join(e.file_name())).unwrap();
        }
    }
    unpack(files.path())
}

#[test]
fn parallel_scan_equals_sequential_on_samples() {
    let mut total = 0;
    for major in 11..=18 {
        let dir = unpack_sample(major, "main");
        total += check_dir(dir.path(), &format!("samples v{major} main"), true).0;
    }
    // The samples hold thousands of records over several segments and timelines.
    assert!(total > 1000, "only {total} records checked");
}

#[test]
fn parallel_scan_equals_sequential_on_fixtures() {
    let dirs = fixture_wal_dirs();
    assert!(!dirs.is_empty(), "no fixtures found");
    let mut total = 0;
    for wal in dirs {
        let dir = unpack_files(&wal);
        total += check_dir(dir.path(), &wal.display().to_string(), true).0;
    }
    assert!(total > 1000, "only {total} records checked");
}

/// The sample with the most segments (v15 main: 1 MB segments, three timelines), damaged.
#[test]
fn parallel_scan_equals_sequential_on_damaged_wal() {
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.len() == 24)
            .collect();
        v.sort();
        v
    };
    // A CRC error in the middle of the first segment's records: the WAL ends there.
    let dir = unpack_sample(15, "main");
    let first = names(dir.path())[0].clone();
    let path = dir.path().join(&first);
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes.len() / 2 + 1000;
    bytes[at] ^= 0x55;
    fs::write(&path, &bytes).unwrap();
    check_dir(dir.path(), "v15 main, one byte flipped", false);

    // A middle segment missing, then the same one cut short.
    let dir = unpack_sample(15, "main");
    let all = names(dir.path());
    let middle = dir.path().join(&all[all.len() / 2]);
    let kept = fs::read(&middle).unwrap();
    fs::remove_file(&middle).unwrap();
    let (_, resumed) = check_dir(dir.path(), "v15 main, a middle segment missing", false);
    assert!(resumed, "the pieces around a missing segment cannot join");
    fs::write(&middle, &kept[..kept.len() / 3]).unwrap();
    check_dir(dir.path(), "v15 main, a middle segment truncated", false);
}

/// The pgbench WAL that `benches/vs-postgres.sh` makes (hundreds of 16 MB segments, millions of
/// records crossing pages and segments), when present: 96 MB (six segments) of transactions.
#[test]
fn parallel_scan_equals_sequential_on_pgbench_wal() {
    let cache = std::env::var_os("PGDIVERGE_WAL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/pgbench-wal"));
    let dir = cache.join("A/pg_wal");
    let Some((seg, tli, segno)) = first_segment(&dir) else {
        eprintln!(
            "skipped: no pgbench WAL in {} (benches/vs-postgres.sh setup makes it)",
            dir.display()
        );
        return;
    };
    // From the tenth segment on: past initdb and `pgbench -i`, in the transactions.
    let source = DirSource::new([&dir]);
    let start = walparse::first_record_lsn_in_segment(&source, tli, segno + 9, seg)
        .unwrap()
        .unwrap();
    let mut range = ScanRange::new(start, seg);
    range.stop = Some(Lsn(start.0 + (96 << 20)));
    for threads in [2, 4] {
        let (seq, p) = both(&dir, &range, threads);
        assert!(seq.records > 100_000, "{} records", seq.records);
        assert_same(&p, &seq, &format!("pgbench WAL, {threads} threads"));
        assert_eq!(p.resumed_at, None, "pgbench WAL: pieces did not join");
    }
}
