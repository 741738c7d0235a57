//! No allocation per record on the hot path: reading thousands of records allocates a handful
//! of times per segment (the segment itself, the reassembly buffer as it grows), never per
//! record. Counted with a global allocator, per thread.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};

use common::unpack_sample;
use walparse::par::{self, ScanRange};
use walparse::{DirSource, ReadMode, WalSegSize};

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(|c| c.get())
}

/// Scans `dir` from the first record of its first segment on timeline 1 with one reader;
/// returns (records, segments, allocations during the scan).
fn scan(dir: &Path, mode: ReadMode) -> (u64, u64, u64) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == 24 && n.starts_with("00000001"))
        .collect();
    names.sort();
    let head = std::fs::read(dir.join(&names[0])).unwrap();
    let seg = WalSegSize::new(u32::from_le_bytes(head[32..36].try_into().unwrap())).unwrap();
    let segno = u64::from_str_radix(&names[0][8..16], 16).unwrap() * seg.segments_per_xlogid()
        + u64::from_str_radix(&names[0][16..24], 16).unwrap();
    let source = DirSource::new([dir]).with_read_mode(mode);
    let start = walparse::first_record_lsn_in_segment(&source, 1, segno, seg)
        .unwrap()
        .unwrap();
    let range = ScanRange::new(start, seg);
    let before = allocs();
    let out = par::scan_sequential(
        &source,
        &range,
        || 0u64,
        |n, r| *n += u64::from(r.tot_len()),
    )
    .unwrap();
    let during = allocs() - before;
    let segments = out.next.segno(seg) - segno + 1;
    (out.records, segments, during)
}

#[test]
fn reading_records_does_not_allocate_per_record() {
    // v15 main: ~2,500 records on timeline 1 over several 1 MB segments, some continued over
    // pages (reassembled into the reader's buffer).
    let dir = unpack_sample(15, "main");
    for mode in [ReadMode::Read, ReadMode::Mmap] {
        let (records, segments, n) = scan(dir.path(), mode);
        assert!(records > 1000, "{records} records");
        // Per segment: the file's buffer or map, its path, the timeline candidates; plus the
        // reassembly buffer growing a few times. Nothing proportional to the records.
        assert!(
            n <= 16 * segments + 32,
            "{mode:?}: {n} allocations for {records} records in {segments} segments"
        );
    }
}

/// The pgbench WAL of `benches/vs-postgres.sh`, when present: millions of records.
#[test]
fn reading_pgbench_wal_allocates_per_segment_only() {
    let cache = std::env::var_os("PGDIVERGE_WAL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/pgbench-wal"));
    let dir = cache.join("A/pg_wal");
    if !dir.is_dir() {
        eprintln!("skipped: no pgbench WAL in {}", dir.display());
        return;
    }
    let (records, segments, n) = scan(&dir, ReadMode::Mmap);
    assert!(records > 1_000_000, "{records} records");
    assert!(
        n <= 16 * segments + 32,
        "{n} allocations for {records} records in {segments} segments"
    );
}
