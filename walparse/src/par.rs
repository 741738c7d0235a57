//! Scanning a range of WAL on several threads, with exactly the records of one [`WalReader`].
//!
//! The range is cut at segment boundaries. The worker of segment `s` starts at the first record
//! that begins in `s` (found with `xlp_rem_len`, as pg_waldump's `XLogFindNextRecord` does), reads
//! on into the next segment when its last record crosses the boundary, and stops at the first
//! record that begins at or after the next segment's start. The results are then stitched in
//! order: a worker's first record must start where the previous worker's last record left off and
//! its `xl_prev` must be that record, with the same WAL version, system identifier and no
//! timeline going backwards — the checks a single reader makes between those two records. A
//! segment in which no record begins (one record spans all of it) contributes nothing; the record
//! is read whole by the worker where it begins. Where a stitch does not hold, or a worker failed,
//! the rest of the range is read by one reader resumed at the last stitched record, so the result —
//! records, end of WAL and errors — is always the sequential reader's ([`scan_sequential`]).
//!
//! Memory: each worker holds one segment at a time (see [`crate::segment`]); the workers run in
//! waves of a few segments per thread, so results are folded as they come.
//!
//! ```no_run
//! use walparse::{par, DirSource, Lsn, WalSegSize};
//!
//! # fn main() -> Result<(), walparse::WalError> {
//! let source = DirSource::new(["/data/pg_wal"]);
//! let range = par::ScanRange::new(Lsn(0x1000028), WalSegSize::new(16 << 20).unwrap());
//! // Count records and full-page-image bytes on 2 threads.
//! let out = par::scan(
//!     &source,
//!     &range,
//!     2,
//!     || 0u64,
//!     |fpi, rec| *fpi += u64::from(rec.fpi_len()),
//!     |a, b| a + b,
//! )?;
//! println!("{} records up to {}, {} bytes of images", out.records, out.next, out.acc);
//! # Ok(())
//! # }
//! ```

use rayon::prelude::*;

use crate::error::WalError;
use crate::lsn::{Lsn, TimeLineId, TliSpan, WalSegSize};
use crate::page::{LONG_HEADER_SIZE, SHORT_HEADER_SIZE};
use crate::reader::{first_record_lsn_in_bytes, WalEnd, WalReader};
use crate::record::Record;
use crate::segment::SegmentSource;

/// Segments handed to each thread per wave: enough to balance uneven segments, few enough that
/// a scan that ends early wastes little work.
const SEGMENTS_PER_THREAD_PER_WAVE: u64 = 4;

/// What to scan: from `start` (a record start, or a page/segment start, as for
/// [`WalReader::new`]) on the history `timelines`, up to the end of WAL or `stop`.
#[derive(Clone, Debug)]
pub struct ScanRange<'t> {
    /// Where reading begins.
    pub start: Lsn,
    /// Records that begin at or after `stop` are not read, nor is the WAL after a record that
    /// ends at or after it (`None`: read to the end of WAL).
    pub stop: Option<Lsn>,
    /// The timeline history, oldest first (empty: timeline 1 alone), as for [`WalReader::new`].
    pub timelines: &'t [TliSpan],
    /// The segment size.
    pub seg_size: WalSegSize,
    /// The system identifier every segment must carry, as
    /// [`WalReader::with_system_identifier`].
    pub system_identifier: Option<u64>,
}

impl ScanRange<'static> {
    /// From `start` to the end of WAL on timeline 1, any system identifier.
    pub fn new(start: Lsn, seg_size: WalSegSize) -> ScanRange<'static> {
        ScanRange {
            start,
            stop: None,
            timelines: &[],
            seg_size,
            system_identifier: None,
        }
    }
}

impl ScanRange<'_> {
    fn reader<S: SegmentSource>(&self, source: S, at: Lsn) -> WalReader<S> {
        let r = WalReader::new(source, at, self.timelines, self.seg_size);
        match self.system_identifier {
            Some(id) => r.with_system_identifier(id),
            None => r,
        }
    }

    #[inline]
    fn before_stop(&self, lsn: Lsn) -> bool {
        self.stop.map_or(true, |s| lsn < s)
    }
}

/// The outcome of a scan.
#[derive(Clone, Debug)]
pub struct Scanned<A> {
    /// What the fold made of the records, in LSN order.
    pub acc: A,
    /// Number of records scanned.
    pub records: u64,
    /// LSN of the first record scanned.
    pub first: Option<Lsn>,
    /// LSN of the last record scanned.
    pub last: Option<Lsn>,
    /// Where the record after the last one scanned starts (`EndRecPtr`; `start` if none was).
    pub next: Lsn,
    /// Where and why the WAL ended, if it ended before `stop`.
    pub end: Option<WalEnd>,
    /// Where [`scan`] went on with one reader because the pieces read in parallel did not join
    /// (damaged or missing WAL, a timeline switch inside a segment): the LSN of the last record
    /// that did join, or the start. `None` for a scan that stayed parallel, and for
    /// [`scan_sequential`]. Not part of the comparison of results.
    pub resumed_at: Option<Lsn>,
}

impl<A> Scanned<A> {
    /// Nothing read yet: `acc` as `init` made it, the next record expected at `start`.
    fn empty(acc: A, start: Lsn) -> Self {
        Scanned {
            acc,
            records: 0,
            first: None,
            last: None,
            next: start,
            end: None,
            resumed_at: None,
        }
    }
}

impl<A: PartialEq> Scanned<A> {
    /// Same records, accumulator and end as `other` (ignoring [`resumed_at`](Self::resumed_at)).
    pub fn same_as(&self, other: &Scanned<A>) -> bool {
        self.acc == other.acc
            && self.records == other.records
            && self.first == other.first
            && self.last == other.last
            && self.next == other.next
            && self.end == other.end
    }
}

/// Scans `range` with one [`WalReader`]: the reference [`scan`] is held to. `fold` sees every
/// record in order.
pub fn scan_sequential<S, A, I, F>(
    source: &S,
    range: &ScanRange<'_>,
    init: I,
    fold: F,
) -> Result<Scanned<A>, WalError>
where
    S: SegmentSource,
    I: Fn() -> A,
    F: Fn(&mut A, &Record<'_>),
{
    let mut out = Scanned::empty(init(), range.start);
    let mut reader = range.reader(source, range.start);
    read_on(&mut reader, range, None, &mut out, &fold)?;
    Ok(out)
}

/// Reads records from `reader` into `out`, folding them, until `stop` (returns true), the end of
/// WAL, or the reader's position reaching `until`.
fn read_on<S, A, F>(
    reader: &mut WalReader<S>,
    range: &ScanRange<'_>,
    until: Option<Lsn>,
    out: &mut Scanned<A>,
    fold: &F,
) -> Result<bool, WalError>
where
    S: SegmentSource,
    F: Fn(&mut A, &Record<'_>),
{
    loop {
        if until.is_some_and(|u| reader.position() >= u) {
            return Ok(false);
        }
        // The next record begins at or after the position: no need to read it.
        if !range.before_stop(reader.position()) {
            return Ok(true);
        }
        match reader.next_record()? {
            Some(rec) => {
                if !range.before_stop(rec.lsn()) {
                    return Ok(true);
                }
                out.first.get_or_insert(rec.lsn());
                out.last = Some(rec.lsn());
                out.next = rec.next_lsn();
                out.records += 1;
                fold(&mut out.acc, &rec);
            }
            None => {
                out.end = reader.end().copied();
                return Ok(false);
            }
        }
    }
}

/// What one worker made of one segment.
struct Chunk<A> {
    out: Scanned<A>,
    /// `xl_prev` of the first record.
    first_prev: Lsn,
    /// Page magic (the version), system identifier and WAL page size of the WAL read.
    magic: Option<u16>,
    sysid: Option<u64>,
    blcksz: Option<u32>,
    /// Timeline of the file of the first record, and of the last file read.
    first_tli: Option<TimeLineId>,
    last_tli: Option<TimeLineId>,
    /// No record begins in the segment (a record spans all of it), or there is no file.
    empty: bool,
    /// A record at or after `stop` was reached.
    stopped: bool,
}

/// Scans `range` on `threads` threads (1: [`scan_sequential`]). `init` makes an accumulator for
/// each piece of the range, `fold` adds a record to it (records in LSN order within a piece),
/// and `reduce` joins the accumulators of consecutive pieces in LSN order. The result is the one
/// [`scan_sequential`] gives with the same `fold` when `reduce(fold(a, x..), fold(init(), y..))`
/// equals `fold(a, x.. y..)`.
pub fn scan<S, A, I, F, R>(
    source: &S,
    range: &ScanRange<'_>,
    threads: usize,
    init: I,
    fold: F,
    reduce: R,
) -> Result<Scanned<A>, WalError>
where
    S: SegmentSource + Sync,
    A: Send,
    I: Fn() -> A + Sync,
    F: Fn(&mut A, &Record<'_>) + Sync,
    R: Fn(A, A) -> A,
{
    if threads <= 1 {
        return scan_sequential(source, range, init, fold);
    }
    let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
        Ok(p) => p,
        // No threads to be had: one reader gives the same result.
        Err(_) => return scan_sequential(source, range, init, fold),
    };
    let seg_size = range.seg_size;
    let first_seg = range.start.segno(seg_size);
    // The last segment a record before `stop` can begin in.
    let last_seg = range
        .stop
        .map(|s| Lsn(s.0.saturating_sub(1)).segno(seg_size));
    let wave = threads as u64 * SEGMENTS_PER_THREAD_PER_WAVE;

    let mut out = Scanned::empty(init(), range.start);
    // What the records stitched so far were read with.
    let mut magic = None;
    let mut sysid = range.system_identifier;
    let mut blcksz = None;
    let mut last_tli: Option<TimeLineId> = None;
    let mut segno = first_seg;
    loop {
        let hi = segno.saturating_add(wave);
        let hi = last_seg.map_or(hi, |l| hi.min(l.saturating_add(1)));
        if hi <= segno {
            return Ok(out); // `stop` reached
        }
        let chunks: Vec<Result<Chunk<A>, WalError>> = pool.install(|| {
            (segno..hi)
                .into_par_iter()
                .map(|s| chunk(source, range, s, s == first_seg, &init, &fold))
                .collect()
        });
        for (s, c) in (segno..hi).zip(chunks) {
            let stitched = match &c {
                Err(_) => false,
                // The range's first chunk is the sequential reader itself.
                Ok(_) if s == first_seg => true,
                // No record begins in segment `s`: the last record read must span it.
                Ok(c) if c.empty => {
                    out.last.is_some() && out.next >= seg_size.segment_start(s.saturating_add(1))
                }
                Ok(c) => match (out.last, c.out.first, blcksz) {
                    (Some(last), Some(first), Some(bs)) => {
                        first == record_start(out.next, bs, seg_size)
                            && c.first_prev == last
                            && magic.is_some_and(|m| c.magic == Some(m))
                            && sysid.map_or(true, |id| c.sysid == Some(id))
                            && matches!((last_tli, c.first_tli), (Some(a), Some(b)) if b >= a)
                    }
                    // The WAL ends at the chunk's first record: the single reader's view of that
                    // record (its xl_prev check) is the one to report.
                    _ => false,
                },
            };
            let c = match c {
                Ok(c) if stitched => c,
                _ => {
                    // Read the rest with one reader, resumed at the last record stitched.
                    resume(source, range, &mut out, &init, &fold, &reduce)?;
                    return Ok(out);
                }
            };
            if c.empty {
                continue;
            }
            out.acc = reduce(out.acc, c.out.acc);
            out.records += c.out.records;
            out.first = out.first.or(c.out.first);
            if c.out.last.is_some() {
                out.last = c.out.last;
                out.next = c.out.next;
            }
            magic = magic.or(c.magic);
            sysid = sysid.or(c.sysid);
            blcksz = blcksz.or(c.blcksz);
            last_tli = c.last_tli.or(last_tli);
            if c.out.end.is_some() {
                out.end = c.out.end;
                return Ok(out);
            }
            if c.stopped || !range.before_stop(out.next) {
                return Ok(out);
            }
        }
        segno = hi;
    }
}

/// Where a record at `next` really starts: after the page header when `next` is a page start.
fn record_start(next: Lsn, blcksz: u32, seg_size: WalSegSize) -> Lsn {
    if next.0 % u64::from(blcksz) == 0 {
        let hsz = if next.segment_offset(seg_size) == 0 {
            LONG_HEADER_SIZE
        } else {
            SHORT_HEADER_SIZE
        };
        Lsn(next.0 + hsz as u64)
    } else {
        next
    }
}

/// Reads the rest of the range with one reader, resumed at `out.last` (read again, not folded
/// again), or from the start when nothing was read.
fn resume<S, A, I, F, R>(
    source: &S,
    range: &ScanRange<'_>,
    out: &mut Scanned<A>,
    init: &I,
    fold: &F,
    reduce: &R,
) -> Result<(), WalError>
where
    S: SegmentSource,
    I: Fn() -> A,
    F: Fn(&mut A, &Record<'_>),
    R: Fn(A, A) -> A,
{
    let Some(last) = out.last else {
        *out = scan_sequential(source, range, init, fold)?;
        out.resumed_at = Some(range.start);
        return Ok(());
    };
    let mut reader = range.reader(source, last);
    match reader.next_record()? {
        Some(rec) if rec.lsn() == last => {}
        // The record read before cannot be read again (a file changed under us): start over.
        _ => {
            *out = scan_sequential(source, range, init, fold)?;
            out.resumed_at = Some(range.start);
            return Ok(());
        }
    }
    let mut rest = Scanned {
        acc: init(),
        records: 0,
        first: None,
        last: None,
        next: out.next,
        end: None,
        resumed_at: None,
    };
    read_on(&mut reader, range, None, &mut rest, fold)?;
    let acc = std::mem::replace(&mut out.acc, init());
    out.acc = reduce(acc, rest.acc);
    out.records += rest.records;
    out.last = rest.last.or(out.last);
    out.next = rest.next;
    out.end = rest.end;
    out.resumed_at = Some(last);
    Ok(())
}

/// The worker of segment `segno`: the records that begin in it (from `range.start` when it is
/// the range's first segment).
fn chunk<S, A, I, F>(
    source: &S,
    range: &ScanRange<'_>,
    segno: u64,
    is_first: bool,
    init: &I,
    fold: &F,
) -> Result<Chunk<A>, WalError>
where
    S: SegmentSource,
    I: Fn() -> A,
    F: Fn(&mut A, &Record<'_>),
{
    let seg_size = range.seg_size;
    let start = if is_first {
        Some(range.start)
    } else {
        first_record_in(source, range, segno)?
    };
    let mut out = Scanned {
        acc: init(),
        records: 0,
        first: None,
        last: None,
        next: start.unwrap_or(range.start),
        end: None,
        resumed_at: None,
    };
    let Some(start) = start else {
        return Ok(Chunk {
            out,
            first_prev: Lsn::INVALID,
            magic: None,
            sysid: None,
            blcksz: None,
            first_tli: None,
            last_tli: None,
            empty: true,
            stopped: false,
        });
    };
    let boundary = seg_size.segment_start(segno.saturating_add(1));
    let mut reader = range.reader(source, start);
    let mut first_prev = Lsn::INVALID;
    let mut first_tli = None;
    let mut stopped = false;
    // The first record, whose xl_prev and file the stitch checks.
    let first = if range.before_stop(start) {
        reader.next_record()?
    } else {
        None
    };
    match first {
        Some(rec) if range.before_stop(rec.lsn()) => {
            first_prev = rec.prev();
            out.first = Some(rec.lsn());
            out.last = Some(rec.lsn());
            out.next = rec.next_lsn();
            out.records = 1;
            fold(&mut out.acc, &rec);
        }
        Some(_) => stopped = true,
        None if range.before_stop(start) => out.end = reader.end().copied(),
        None => stopped = true,
    }
    if out.first.is_some() {
        first_tli = reader.current_segment().map(|s| s.tli());
        stopped = read_on(&mut reader, range, Some(boundary), &mut out, fold)?;
    }
    Ok(Chunk {
        first_prev,
        magic: reader.version().map(|v| v.page_magic),
        sysid: reader.system_identifier(),
        blcksz: reader.wal_block_size(),
        first_tli,
        last_tli: reader.current_segment().map(|s| s.tli()),
        empty: false,
        stopped,
        out,
    })
}

/// The first record that begins in segment `segno`, in the file the reader would use (the
/// newest timeline of the history that has one).
fn first_record_in<S: SegmentSource>(
    source: &S,
    range: &ScanRange<'_>,
    segno: u64,
) -> Result<Option<Lsn>, WalError> {
    let seg_size = range.seg_size;
    let mut spans: Vec<&TliSpan> = range.timelines.iter().collect();
    let one = TliSpan {
        tli: 1,
        begin: Lsn::INVALID,
        end: None,
    };
    if spans.is_empty() {
        spans.push(&one);
    }
    for span in spans.iter().rev() {
        if span.begin.is_valid() && span.begin.segno(seg_size) > segno {
            continue;
        }
        if let Some(seg) = source.open_segment(span.tli, segno, seg_size)? {
            return Ok(first_record_lsn_in_bytes(seg.bytes(), segno, seg_size));
        }
    }
    Ok(None)
}
