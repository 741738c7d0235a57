//! Mutation suite on real WAL segments from `fixtures/` (PostgreSQL 13, 15 and 18): every byte of
//! the first two pages flipped, then a seeded random sample over the whole segment; cuts at page
//! boundaries and random points; whole pages zeroed. Never a panic; the records before the damage
//! come back unchanged; damage under a record's CRC stops reading at that record, as PostgreSQL's
//! reader does. (`wal_damage.rs` covers each end reason on the shared v15 sample; this covers
//! every position.)

mod support;

use std::path::PathBuf;

use support::walwriter::MemSource;
use walparse::page::PageError;
use walparse::{
    first_record_lsn_in_segment, EndReason, Lsn, TliSpan, WalEnd, WalError, WalReader, WalSegSize,
};

const MB: WalSegSize = match WalSegSize::new(1 << 20) {
    Some(s) => s,
    None => panic!("1 MiB"),
};
const PAGE: u64 = 8192;
/// Records read: LSN and bytes.
type Got = Vec<(Lsn, Vec<u8>)>;

const TL1: [TliSpan; 1] = [TliSpan {
    tli: 1,
    begin: Lsn::INVALID,
    end: None,
}];

/// The fixture scenarios, unpacked (their WAL is committed zstd-compressed).
fn fixtures() -> PathBuf {
    pgdiverge_fixtures::unpacked_root()
}

fn samples() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/docs/samples/wal"
    ))
}

/// A real segment: (label, segno, bytes); the shared samples are zstd-compressed.
fn segment(dir: PathBuf, name: &str) -> Option<(String, u64, Vec<u8>)> {
    let p = dir.join(name);
    let bytes = std::fs::read(&p).ok().or_else(|| {
        let z = std::fs::File::open(p.with_file_name(format!("{name}.zst"))).ok()?;
        zstd::stream::decode_all(z).ok()
    })?;
    let segno = u64::from_str_radix(&name[16..], 16).ok()?;
    Some((p.display().to_string(), segno, bytes))
}

fn segments() -> Vec<(String, u64, Vec<u8>)> {
    let wal = |s: &str| fixtures().join(s).join("old-primary/pg_wal");
    let v: Vec<_> = [
        (wal("01-split-brain"), "000000010000000000000010"),
        (wal("11-split-brain-pg13"), "000000010000000000000010"),
        (wal("11-split-brain-pg18"), "00000001000000000000000E"),
        // Full segments of the shared samples: hundreds of records, FPIs, continued records.
        (samples().join("v11/main"), "000000010000000000000007"),
        (samples().join("v15/main"), "000000010000000000000008"),
        (samples().join("v18/main"), "000000010000000000000008"),
    ]
    .into_iter()
    .filter_map(|(d, n)| segment(d, n))
    .collect();
    assert!(
        v.len() >= 3,
        "fixture segments missing under {}",
        fixtures().display()
    );
    v
}

/// A record of the clean read.
#[derive(Clone, Debug)]
struct Rec {
    lsn: Lsn,
    end: Lsn,
    raw: Vec<u8>,
    /// Where the reader begins the attempt to read it (the previous record's next LSN).
    attempt: Lsn,
}

fn source(segno: u64, bytes: Vec<u8>) -> MemSource {
    let mut s = MemSource::default();
    s.segs.insert((1, segno), bytes);
    s
}

/// Reads the segment alone from `start`, stopping after the first record that starts at or after
/// `stop`. Records (lsn, raw) and the end (or the error).
fn read(
    segno: u64,
    bytes: Vec<u8>,
    start: Lsn,
    stop: Lsn,
) -> (Got, Option<Result<WalEnd, WalError>>) {
    let mut r = WalReader::new(source(segno, bytes), start, &TL1, MB);
    let mut got = Vec::new();
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                got.push((rec.lsn(), rec.raw().to_vec()));
                if rec.lsn() >= stop {
                    return (got, None);
                }
            }
            Ok(None) => return (got, Some(Ok(*r.end().unwrap()))),
            Err(e) => return (got, Some(Err(e))),
        }
    }
}

fn clean(segno: u64, bytes: &[u8]) -> (Lsn, Vec<Rec>, WalEnd) {
    let start = first_record_lsn_in_segment(source(segno, bytes.to_vec()), 1, segno, MB)
        .unwrap()
        .unwrap_or_else(|| panic!("no record starts in segment {segno:X}"));
    let mut r = WalReader::new(source(segno, bytes.to_vec()), start, &TL1, MB);
    let mut recs: Vec<Rec> = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        let attempt = recs.last().map_or(start, |p| p.end.maxalign());
        recs.push(Rec {
            lsn: rec.lsn(),
            end: rec.end_lsn(),
            raw: rec.raw().to_vec(),
            attempt,
        });
    }
    assert!(recs.len() >= 10, "a segment of records");
    (start, recs, *r.end().unwrap())
}

fn page_of(l: Lsn) -> Lsn {
    Lsn(l.0 - l.0 % PAGE)
}

fn header_size(page: Lsn) -> u64 {
    if page.segment_offset(MB) == 0 {
        40
    } else {
        24
    }
}

/// A seeded xorshift sample of `n` values below `bound`.
fn sample(seed: u64, n: usize, bound: u64) -> Vec<u64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % bound
        })
        .collect()
}

fn assert_prefix(got: &[(Lsn, Vec<u8>)], recs: &[Rec], n: usize, ctx: &str) {
    assert!(
        got.len() >= n,
        "{ctx}: {} records read, {n} expected",
        got.len()
    );
    for (g, r) in got.iter().zip(recs).take(n) {
        assert_eq!(g.0, r.lsn, "{ctx}");
        assert!(g.1 == r.raw, "{ctx}: record at {} changed", r.lsn);
    }
}

#[test]
fn every_flipped_byte_of_the_first_pages_and_a_sample() {
    for (label, segno, bytes) in segments() {
        let seg_start = MB.segment_start(segno);
        let (start, recs, _) = clean(segno, &bytes);
        let last_end = recs.last().unwrap().end.segment_offset(MB);
        let mut offsets: Vec<u64> = (0..2 * PAGE).collect();
        offsets.extend(sample(segno ^ 0x5EED, 300, last_end));
        let mut stopped_under_crc = 0;
        for off in offsets {
            let at = Lsn(seg_start.0 + off);
            let k = recs.iter().position(|r| r.end > at);
            // Read two pages past the damage; hand the reader only the pages that takes (and
            // those of the two records after the damage), so no copy of the whole segment.
            let stop = Lsn(page_of(at).0 + 2 * PAGE);
            let need = k
                .and_then(|k| recs.get(k + 1).or(recs.get(k)))
                .map_or(stop, |r| r.end.max(stop));
            let len = (page_of(need).0 + 2 * PAGE - seg_start.0).min(MB.bytes()) as usize;
            let mut m = bytes[..len].to_vec();
            m[off as usize] ^= 0xA5;
            let ctx = format!("{label}: byte {off:#X} ({at}) flipped");
            let (got, end) = read(segno, m, start, stop);
            let Some(k) = k else {
                // Past the last record: what was read is unchanged.
                assert_prefix(&got, &recs, got.len(), &ctx);
                continue;
            };
            let x = &recs[k];
            let pg = page_of(at);
            let in_header = at.0 - pg.0 < header_size(pg);
            assert_prefix(&got, &recs, k, &ctx);
            if !in_header && at < x.lsn {
                // Alignment padding between records: never read.
                assert!(got.len() > k, "{ctx}: {end:?}");
                assert_prefix(&got, &recs, got.len(), &ctx);
            } else if in_header {
                let in_pad = (20..24).contains(&(at.0 - pg.0));
                if in_pad {
                    // xlp padding: PostgreSQL never reads it, neither do we.
                    assert!(got.len() > k, "{ctx}: {end:?}");
                    assert_prefix(&got, &recs, got.len(), &ctx);
                } else if let Some(end) = &end {
                    match end {
                        Ok(e) => {
                            assert!(got.len() >= k, "{ctx}: {e}");
                            if got.len() == k {
                                assert!(e.lsn == x.lsn || e.lsn == x.attempt, "{ctx}: {e}");
                            }
                        }
                        // Identity fields of the long header: not this cluster's WAL.
                        Err(e) => assert!(pg == seg_start, "{ctx}: {e}"),
                    }
                }
            } else {
                // A byte under record k's CRC: k is not returned, reading stops at it.
                let end = end.unwrap_or_else(|| panic!("{ctx}: read on past the damage"));
                let e = end.unwrap_or_else(|e| panic!("{ctx}: {e}"));
                assert_eq!(got.len(), k, "{ctx}: {e}");
                assert_eq!(e.lsn, x.lsn, "{ctx}: {e}");
                let expected = matches!(
                    e.reason,
                    EndReason::BadCrc { .. }
                        | EndReason::InvalidRecordLength { .. }
                        | EndReason::IncorrectPrev { .. }
                        | EndReason::InvalidRmgr { .. }
                        | EndReason::TooLong { .. }
                        | EndReason::InvalidContrecordLength { .. }
                        | EndReason::NoContrecordFlag { .. }
                        | EndReason::BadPage { .. }
                        | EndReason::MissingSegment { .. }
                );
                assert!(expected, "{ctx}: {e}");
                stopped_under_crc += 1;
            }
        }
        // Most of the first two pages are record bytes.
        assert!(stopped_under_crc > 5_000, "{label}: {stopped_under_crc}");
    }
}

#[test]
fn cut_segments_give_exact_prefix() {
    for (label, segno, bytes) in segments() {
        let seg_start = MB.segment_start(segno);
        let (start, recs, clean_end) = clean(segno, &bytes);
        let last_end = recs.last().unwrap().end.segment_offset(MB);
        let mut cuts: Vec<u64> = (0..24).map(|i| i * PAGE).collect();
        cuts.extend([1, 23, 24, 39, 40, 41, PAGE - 1, PAGE + 1]);
        cuts.extend(sample(segno ^ 0xC07, 120, last_end + PAGE));
        for cut in cuts {
            let ctx = format!("{label}: cut at {cut:#X}");
            let qt = Lsn(seg_start.0 + cut - cut % PAGE);
            let (got, end) = read(segno, bytes[..cut as usize].to_vec(), start, Lsn(u64::MAX));
            let e = end.unwrap().unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let truncated = EndReason::BadPage {
                page: qt,
                tli: 1,
                error: PageError::Truncated,
            };
            match recs.iter().position(|r| r.end > qt) {
                Some(k) => {
                    assert_eq!(got.len(), k, "{ctx}: {e}");
                    assert_prefix(&got, &recs, k, &ctx);
                    let x = &recs[k];
                    let lsn = if x.lsn < qt { x.lsn } else { x.attempt };
                    assert_eq!(
                        e,
                        WalEnd {
                            lsn,
                            reason: truncated
                        },
                        "{ctx}"
                    );
                }
                None => {
                    assert_eq!(got.len(), recs.len(), "{ctx}");
                    assert_prefix(&got, &recs, recs.len(), &ctx);
                    assert!(e == clean_end || e.reason == truncated, "{ctx}: {e}");
                }
            }
        }
    }
}

#[test]
fn zeroed_pages_stop_at_the_first_record_that_needs_them() {
    for (label, segno, bytes) in segments() {
        let seg_start = MB.segment_start(segno);
        let (start, recs, _) = clean(segno, &bytes);
        let pages = MB.bytes() / PAGE;
        let mut which: Vec<u64> = (0..16).collect();
        which.extend(sample(segno ^ 0x2E20, 24, pages));
        for i in which {
            let pg = Lsn(seg_start.0 + i * PAGE);
            let ctx = format!("{label}: page {pg} zeroed");
            let mut m = bytes.clone();
            m[(i * PAGE) as usize..((i + 1) * PAGE) as usize].fill(0);
            let (got, end) = read(segno, m, start, Lsn(pg.0 + 2 * PAGE));
            match recs.iter().position(|r| r.end > pg) {
                Some(k) => {
                    let e = end.unwrap().unwrap_or_else(|e| panic!("{ctx}: {e}"));
                    assert_eq!(got.len(), k, "{ctx}: {e}");
                    assert_prefix(&got, &recs, k, &ctx);
                    let x = &recs[k];
                    let lsn = if x.lsn < pg { x.lsn } else { x.attempt };
                    let reason = EndReason::BadPage {
                        page: pg,
                        tli: 1,
                        error: PageError::BadMagic { found: 0 },
                    };
                    assert_eq!(e, WalEnd { lsn, reason }, "{ctx}");
                }
                None => assert_prefix(&got, &recs, recs.len(), &ctx),
            }
        }
    }
}

/// Writes a v15 WAL of 1 MB segments 2, 3, 4 (records crossing pages and segments) to `dir`.
fn three_segments(dir: &std::path::Path) -> support::walwriter::WalWriter {
    use support::walwriter::{RecSpec, WalWriter};
    let v15 = walparse::WalVersion::for_major(15).unwrap();
    let mut w = WalWriter::new(v15, MB, 8192, 7, 1, 2);
    let mut i = 0u64;
    while w.segs.len() < 3 || w.written.last().unwrap().end.segno(MB) < 4 {
        w.push(&RecSpec::plain(
            (i % 20 + 1) as u8,
            [60, 3000, 700][i as usize % 3],
            i,
        ));
        i += 1;
    }
    for (name, bytes) in w.files() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    w
}

/// What PostgreSQL does to a segment it recycles (xlog.c `RemoveXlogFile` →
/// `InstallXLogFileSegment`, then `XLogWrite`): renames it to a future segment's name and later
/// overwrites it in place, page by page; never truncates it. A reader in the middle of it:
/// with `read()` (the default) it reads its own copy to the end; with a map it sees the new
/// bytes and stops at the first page that is no longer the old one — never a crash, and every
/// record it returned is the one written.
#[test]
fn segment_recycled_under_the_reader() {
    use std::io::{Seek, SeekFrom, Write};
    use walparse::{DirSource, ReadMode};
    for mode in [ReadMode::Read, ReadMode::Mmap] {
        let dir = tempfile::tempdir().unwrap();
        let w = three_segments(dir.path());
        let mut r = WalReader::new(
            DirSource::new([dir.path()]).with_read_mode(mode),
            w.start,
            &TL1,
            MB,
        );
        let mut got: Got = Vec::new();
        let mut recycled_at = None;
        while let Some(rec) = r.next_record().unwrap() {
            got.push((rec.lsn(), rec.raw().to_vec()));
            let in_seg3 = rec.lsn().segno(MB) == 3 && rec.lsn().segment_offset(MB) > 0x2000;
            if recycled_at.is_none() && in_seg3 {
                // Recycle segment 3 as segment 9 and overwrite its first 64 pages.
                let old = dir.path().join(walparse::segment_file_name(1, 3, MB));
                let new = dir.path().join(walparse::segment_file_name(1, 9, MB));
                std::fs::rename(&old, &new).unwrap();
                let mut f = std::fs::OpenOptions::new().write(true).open(&new).unwrap();
                f.seek(SeekFrom::Start(0)).unwrap();
                f.write_all(&vec![0u8; 64 * 8192]).unwrap();
                f.sync_all().unwrap();
                recycled_at = Some(got.len());
            }
        }
        let end = *r.end().unwrap();
        let n = recycled_at.unwrap();
        for (g, x) in got.iter().zip(&w.written) {
            assert_eq!(g.0, x.lsn, "{mode:?}");
            assert!(g.1 == x.raw, "{mode:?}: record at {} changed", x.lsn);
        }
        match mode {
            // The copy is read to its end; segment 4 is still there.
            ReadMode::Read => {
                assert_eq!(got.len(), w.written.len(), "{mode:?}: {end}");
            }
            // The map shows the zeroed pages: the read stops in segment 3.
            ReadMode::Mmap => {
                assert!(got.len() >= n && got.len() < w.written.len(), "{end}");
                assert_eq!(end.lsn.segno(MB), 3, "{end}");
            }
        }
    }
}

/// The child of `a_segment_truncated_under_the_reader_is_no_sigbus`: reads three segments with
/// the mode in `WALPARSE_SIGBUS_CHILD`, truncating the one being read.
#[test]
#[ignore = "run as a child process by a_segment_truncated_under_the_reader_is_no_sigbus"]
fn truncate_under_reader_child() {
    use walparse::{DirSource, ReadMode};
    let mode = match std::env::var("WALPARSE_SIGBUS_CHILD").as_deref() {
        Ok("mmap") => ReadMode::Mmap,
        Ok("read") => ReadMode::Read,
        _ => return,
    };
    let dir = tempfile::tempdir().unwrap();
    let w = three_segments(dir.path());
    let mut r = WalReader::new(
        DirSource::new([dir.path()]).with_read_mode(mode),
        w.start,
        &TL1,
        MB,
    );
    let mut n = 0;
    let mut truncated_at = None;
    while r.next_record().unwrap().is_some() {
        n += 1;
        if n == 5 {
            truncated_at = Some(r.position());
            // `cp` over it, pg_rewind's O_TRUNC: the file becomes empty under the reader.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(dir.path().join(walparse::segment_file_name(1, 2, MB)))
                .unwrap();
            f.set_len(0).unwrap();
        }
    }
    match mode {
        // Read into memory before the truncation: every record.
        ReadMode::Read => assert_eq!(n, w.written.len()),
        // Mapped: the lost pages read as zeros, so the WAL ends in segment 2, after the
        // records read before the cut (the SIGBUS guard in walparse's segment module).
        ReadMode::Mmap => {
            assert!(n >= 5 && n < w.written.len(), "{n} records");
            let end = r.end().expect("an end of WAL");
            assert_eq!(end.lsn.segno(MB), 2, "{end}");
            assert!(end.lsn >= truncated_at.unwrap(), "{end}");
        }
    }
}

/// A segment truncated under the reader (`cp` over it, pg_rewind's `O_TRUNC`): read into memory,
/// the read completes; mapped, it ends early but cleanly — without the SIGBUS guard the child
/// process died of SIGBUS here. Run in child processes so that a SIGBUS fails the test instead of
/// killing the test binary.
#[test]
fn a_segment_truncated_under_the_reader_is_no_sigbus() {
    use std::os::unix::process::ExitStatusExt;
    let run = |mode: &str| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "truncate_under_reader_child",
                "--test-threads=1",
            ])
            .env("WALPARSE_SIGBUS_CHILD", mode)
            .output()
            .unwrap()
            .status
    };
    let read = run("read");
    assert!(read.success(), "read(): {read}");
    let mapped = run("mmap");
    assert_eq!(mapped.signal(), None, "mmap: {mapped}");
    assert!(mapped.success(), "mmap: {mapped}");
}
