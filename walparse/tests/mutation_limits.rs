//! Limits on hostile WAL and history files: a record header claiming a huge length allocates
//! nothing beyond what PostgreSQL allows (`MaxAllocSize`, xlogreader.c `allocate_recordbuf`) and
//! what the files hold; loops of `xl_prev` pointers and of history parents terminate.
//!
//! Allocation is measured with a counting global allocator, per thread (tests run in parallel).

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use support::walwriter::{RecSpec, WalWriter};
use walparse::record::record_crc;
use walparse::timeline::TimelineGraph;
use walparse::{
    BackwardReader, DirSource, EndReason, HistoryEntry, Lsn, ReadMode, TimelineHistory, TliSpan,
    WalReader, WalSegSize, WalVersion,
};

thread_local! {
    static CURRENT: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    // `try_with`: the allocator may run while the thread's locals are being torn down.
    let _ = CURRENT.try_with(|c| {
        let now = c.get() + delta;
        c.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping uses only
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            account(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) };
        account(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's pointer, layout and size.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            account(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its result and the most memory this thread held above what it held
/// before.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    (out, peak.max(0) as usize)
}

const MB: WalSegSize = match WalSegSize::new(1 << 20) {
    Some(s) => s,
    None => panic!("1 MiB"),
};
const TL1: [TliSpan; 1] = [TliSpan {
    tli: 1,
    begin: Lsn::INVALID,
    end: None,
}];

fn v15() -> &'static WalVersion {
    WalVersion::for_major(15).unwrap()
}

fn write_files(w: &WalWriter, dir: &Path) {
    for (name, bytes) in w.files() {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
}

/// Reads all of `dir` from `start`, mapped, so that segment bytes are not heap and what is
/// measured is the reader's own allocation.
fn read_dir(dir: &Path, start: Lsn) -> (usize, walparse::WalEnd) {
    let src = DirSource::new([dir]).with_read_mode(ReadMode::Mmap);
    let mut r = WalReader::new(src, start, &TL1, MB);
    let mut n = 0;
    while r.next_record().unwrap().is_some() {
        n += 1;
    }
    (n, *r.end().unwrap())
}

/// Sets the tot_len of the record at `lsn` (in one file of `dir`).
fn patch_u32(dir: &Path, lsn: Lsn, value: u32) {
    let path = dir.join(walparse::segment_file_name(1, lsn.segno(MB), MB));
    let mut b = std::fs::read(&path).unwrap();
    let o = lsn.segment_offset(MB) as usize;
    b[o..o + 4].copy_from_slice(&value.to_le_bytes());
    std::fs::write(&path, b).unwrap();
}

#[test]
fn huge_record_lengths_allocate_only_what_postgres_allows() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = WalWriter::new(v15(), MB, 8192, 1, 1, 2);
    for i in 0..200u64 {
        w.push(&RecSpec::plain(10, 100 + i as u32, i));
    }
    write_files(&w, dir.path());
    let target = w.written[20].lsn;
    let (n, _) = read_dir(dir.path(), w.start);
    assert_eq!(n, 200);
    for (tot_len, too_long) in [
        (u32::MAX, true),
        (0x4000_0000, true),
        // Rounded up to whole pages this exceeds MaxAllocSize (0x3FFFFFFF), as in PostgreSQL.
        (0x3FFF_FFFF, true),
        (0x3FFF_E000, false),
        (0x0100_0000, false),
    ] {
        patch_u32(dir.path(), target, tot_len);
        let ((n, end), peak) = peak_of(|| read_dir(dir.path(), w.start));
        assert_eq!(n, 20, "tot_len {tot_len:#X}");
        assert_eq!(end.lsn, target);
        if too_long {
            assert_eq!(end.reason, EndReason::TooLong { tot_len }, "{end}");
        } else {
            // Accepted as a length; the next page does not continue it: the buffer held a page.
            assert!(
                matches!(
                    end.reason,
                    EndReason::NoContrecordFlag { .. } | EndReason::InvalidContrecordLength { .. }
                ),
                "{end}"
            );
        }
        assert!(peak < 256 << 10, "tot_len {tot_len:#X}: peak {peak} bytes");
    }
}

#[test]
fn a_continued_record_claiming_a_gigabyte_holds_only_what_the_files_hold() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = WalWriter::new(v15(), MB, 8192, 1, 1, 2);
    w.push(&RecSpec::plain(10, 100, 1));
    let big = w.push(&RecSpec::plain(10, 3 << 20, 2)).clone();
    w.push(&RecSpec::plain(10, 100, 3));
    write_files(&w, dir.path());
    // Legitimate: the 3 MB record needs about 3 MB (plus growth slack) and no more.
    let ((n, _), peak) = peak_of(|| read_dir(dir.path(), w.start));
    assert_eq!(n, 3);
    // (The counter works: the reassembly buffer of the 3 MB record is counted.)
    assert!((3 << 20..8 << 20).contains(&peak), "peak {peak}");
    // Now the record claims 0x3FFF0000 bytes and every continuation page agrees: the reader
    // follows the chain to the end of the files, holding only the bytes it read.
    let claim: u32 = 0x3FFF_0000;
    patch_u32(dir.path(), big.lsn, claim);
    for &(lsn, off, _) in big.pieces.iter().skip(1) {
        let page = Lsn(lsn.0 - lsn.0 % 8192);
        patch_u32(dir.path(), Lsn(page.0 + 16), claim - off as u32);
    }
    let ((n, end), peak) = peak_of(|| read_dir(dir.path(), w.start));
    assert_eq!(n, 1);
    assert_eq!(end.lsn, big.lsn);
    // The page after the record's last one was never written.
    assert!(matches!(end.reason, EndReason::BadPage { .. }), "{end}");
    assert!(peak < 8 << 20, "peak {peak} for a claim of {claim} bytes");
}

/// Rewrites `xl_prev` of the record at `lsn` (on one page) and fixes its CRC.
fn set_prev(dir: &Path, lsn: Lsn, prev: Lsn) {
    let path = dir.join(walparse::segment_file_name(1, lsn.segno(MB), MB));
    let mut b = std::fs::read(&path).unwrap();
    let o = lsn.segment_offset(MB) as usize;
    let len = u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize;
    b[o + 8..o + 16].copy_from_slice(&prev.0.to_le_bytes());
    let crc = record_crc(&b[o..o + len]);
    b[o + 20..o + 24].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, b).unwrap();
}

fn walk_back(dir: &Path, from: Lsn) -> (Vec<Lsn>, Option<walparse::WalEnd>) {
    let mut b = BackwardReader::new(DirSource::new([dir]), from, &TL1, MB);
    let mut lsns = Vec::new();
    while let Some(r) = b.prev_record().unwrap() {
        lsns.push(r.lsn());
        assert!(lsns.len() <= 100, "the walk does not end: {lsns:?}");
    }
    (lsns, b.end().copied())
}

#[test]
fn xl_prev_loops_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = WalWriter::new(v15(), MB, 8192, 1, 1, 2);
    for i in 0..6u64 {
        w.push(&RecSpec::plain(10, 40, i));
    }
    write_files(&w, dir.path());
    let l: Vec<Lsn> = w.written.iter().map(|x| x.lsn).collect();
    let (all, end) = walk_back(dir.path(), l[5]);
    assert_eq!(all, l.iter().rev().copied().collect::<Vec<_>>());
    assert_eq!(end, None);
    // Each record is read at random access, where PostgreSQL requires xl_prev < the record's
    // LSN (xlogreader.c ValidXLogRecordHeader): a pointer to itself or forward is rejected, so
    // no walk can loop. A record that points at itself:
    let bad_prev = |end: Option<walparse::WalEnd>, lsn: Lsn, prev: Lsn| {
        assert_eq!(
            end,
            Some(walparse::WalEnd {
                lsn,
                reason: EndReason::IncorrectPrev {
                    prev,
                    expected: None
                }
            })
        );
    };
    set_prev(dir.path(), l[3], l[3]);
    let (lsns, end) = walk_back(dir.path(), l[5]);
    assert_eq!(lsns, [l[5], l[4]]);
    bad_prev(end, l[3], l[3]);
    // Two records that point at each other: 4 -> 3 -> 4.
    set_prev(dir.path(), l[3], l[4]);
    let (lsns, end) = walk_back(dir.path(), l[4]);
    assert_eq!(lsns, [l[4]]);
    bad_prev(end, l[3], l[4]);
    // A pointer far forward, to the end of the LSN space.
    set_prev(dir.path(), l[2], Lsn(u64::MAX - 7));
    let (lsns, end) = walk_back(dir.path(), l[2]);
    assert!(lsns.is_empty());
    bad_prev(end, l[2], Lsn(u64::MAX - 7));
    // Forward reading rejects the same damage as a prev-link error, as PostgreSQL does.
    let (n, end) = read_dir(dir.path(), w.start);
    assert_eq!(n, 2);
    assert!(
        matches!(end.reason, EndReason::IncorrectPrev { .. }),
        "{end}"
    );
}

fn entry(parent_tli: u32, switchpoint: u64) -> HistoryEntry {
    HistoryEntry {
        parent_tli,
        switchpoint: Lsn(switchpoint),
        reason: String::new(),
        line: 1,
    }
}

#[test]
fn history_parent_loops_terminate() {
    // A single file cannot express a loop: parents must increase and stay below the file's own
    // timeline (timeline.c readTimeLineHistory).
    assert!(TimelineHistory::parse(3, b"2\t0/100\n1\t0/200\n").is_err());
    assert!(TimelineHistory::parse(3, b"3\t0/100\n").is_err());
    assert!(TimelineHistory::parse(3, b"4\t0/100\n").is_err());
    // Files of several clusters can: 2 says its parent is 3 (from 0/0) and 3 says its parent is
    // 2 (from 0/0). Built directly, as no parser would produce them.
    let a = TimelineHistory {
        tli: 2,
        entries: vec![entry(3, 0)],
    };
    let b = TimelineHistory {
        tli: 3,
        entries: vec![entry(2, 0)],
    };
    let g = TimelineGraph::from_histories([a, b]);
    for tli in [2, 3] {
        assert!(g.ancestry(tli).is_err(), "timeline {tli}");
    }
    let _ = g.findings();
    // A longer cycle through many timelines, each file naming the next as its parent.
    let n = 50u32;
    let ring: Vec<TimelineHistory> = (0..n)
        .map(|i| TimelineHistory {
            tli: 10 + i,
            entries: vec![entry(10 + (i + 1) % n, 0)],
        })
        .collect();
    let g = TimelineGraph::from_histories(ring);
    for tli in 10..10 + n {
        assert!(g.ancestry(tli).is_err(), "timeline {tli}");
    }
    let _ = g.findings();
}
