//! Reading records: forward from an LSN over a timeline history ([`WalReader`]), one record at an
//! LSN ([`read_record_at`]), backward along `xl_prev` ([`BackwardReader`]), and finding the first
//! record that starts in a segment ([`first_record_lsn_in_segment`]).
//!
//! The rules are xlogreader.c's (`XLogDecodeNextRecord` in 15+, `XLogReadRecord` before,
//! `ReadPageInternal`, `ValidXLogRecordHeader`, `ValidXLogRecord`, `DecodeXLogRecord`); the end of
//! WAL is where PostgreSQL's reader stops, reported as a [`WalEnd`] finding.
//!
//! ```no_run
//! use walparse::{DirSource, Lsn, TliSpan, WalReader, WalSegSize};
//! use walparse::rmgr::xlog::{self, XlogRecord};
//!
//! # fn main() -> Result<(), walparse::WalError> {
//! // pg_wal first, then an archive; timeline 2 forked from timeline 1 at 0/E000A0.
//! let source = DirSource::new(["/data/pg_wal", "/archive"]);
//! let history = [
//!     TliSpan { tli: 1, begin: Lsn::INVALID, end: Some(Lsn(0xE000A0)) },
//!     TliSpan { tli: 2, begin: Lsn(0xE000A0), end: None },
//! ];
//! let seg_size = WalSegSize::new(1 << 20).unwrap();
//! let mut reader = WalReader::new(source, Lsn(0x800068), &history, seg_size);
//! while let Some(rec) = reader.next_record()? {
//!     if rec.rmid() == 0 {
//!         if let Ok(XlogRecord::CheckpointShutdown(cp)) = xlog::decode(&rec) {
//!             println!("shutdown checkpoint at {}, redo {}", rec.lsn(), cp.redo);
//!         }
//!     }
//!     for block in rec.blocks() {
//!         let _touched = (block.rel, block.fork, block.block);
//!     }
//! }
//! if let Some(end) = reader.end() {
//!     println!("end of WAL at {}: {end}", end.lsn); // e.g. "invalid record length at ..."
//! }
//! # Ok(())
//! # }
//! ```

use std::fmt;

use crate::error::WalError;
use crate::lsn::{Lsn, TimeLineId, TliSpan, WalSegSize};
use crate::page::{self, LatestPage, PageError, PageExpect, PageHeader};
use crate::record::{
    record_crc, u32_at, DecodeError, Meta, OwnedRecord, Record, RecordHeader, SIZE_OF_XLOG_RECORD,
};
use crate::segment::{Segment, SegmentSource};
use crate::version::WalVersion;

/// Why reading stopped: each case where PostgreSQL's reader stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// No file for the segment on any candidate timeline ("could not find file").
    MissingSegment {
        /// The newest timeline tried.
        tli: TimeLineId,
        /// The segment number.
        segno: u64,
    },
    /// A page header failed validation, or the file ends before the page does.
    BadPage {
        /// LSN of the page.
        page: Lsn,
        /// Timeline of the file read.
        tli: TimeLineId,
        /// What was wrong.
        error: PageError,
    },
    /// `xl_tot_len` < 24 ("invalid record length at X: expected at least 24, got N"); with 0,
    /// the normal end in the zero-filled tail of a segment.
    InvalidRecordLength {
        /// `xl_tot_len` found.
        tot_len: u32,
    },
    /// "invalid resource manager ID".
    InvalidRmgr {
        /// `xl_rmid` found.
        rmid: u8,
    },
    /// "record with incorrect prev-link": `xl_prev` is not the previous record (or, for the
    /// first record read at a random position, not before the record).
    IncorrectPrev {
        /// `xl_prev` found.
        prev: Lsn,
        /// The previous record's LSN (`None` at a random position).
        expected: Option<Lsn>,
    },
    /// "incorrect resource manager data checksum in record".
    BadCrc {
        /// `xl_crc` stored.
        stored: u32,
        /// CRC computed.
        computed: u32,
    },
    /// "invalid record offset": the position lies inside a page header.
    InvalidRecordOffset,
    /// "contrecord is requested": the position is right after a page header whose page begins
    /// with a continuation.
    ContrecordRequested,
    /// "there is no contrecord flag": a continued record's next page lacks the flag.
    NoContrecordFlag {
        /// LSN of that page.
        page: Lsn,
    },
    /// "invalid contrecord length": `xlp_rem_len` disagrees with what the record still needs.
    InvalidContrecordLength {
        /// LSN of that page.
        page: Lsn,
        /// `xlp_rem_len` found.
        rem_len: u32,
        /// Bytes the record still needed.
        expected: u64,
    },
    /// "record length ... too long": more than PostgreSQL can allocate.
    TooLong {
        /// `xl_tot_len` found.
        tot_len: u32,
    },
    /// The block headers do not decode (`DecodeXLogRecord`).
    BadBlockData(DecodeError),
}

/// Where and why the WAL ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WalEnd {
    /// Where the record that could not be read starts (after the page header when it starts a
    /// page and the header was readable): everything before it is the WAL.
    pub lsn: Lsn,
    /// Why it could not be read.
    pub reason: EndReason,
}

impl WalEnd {
    /// The message in the words of the PostgreSQL major version that wrote the WAL (`None`:
    /// the newest): xlogreader.c says "invalid record length at 0/E000A0: wanted 24, got 0" up
    /// to 15 and "expected at least 24, got 0" from 16 on; the other reasons read the same.
    pub fn message(&self, major: Option<u32>) -> String {
        match self.reason {
            EndReason::InvalidRecordLength { tot_len } if major.is_some_and(|m| m <= 15) => {
                format!(
                    "invalid record length at {}: wanted {SIZE_OF_XLOG_RECORD}, got {tot_len}",
                    self.lsn
                )
            }
            _ => self.to_string(),
        }
    }
}

impl fmt::Display for WalEnd {
    /// PostgreSQL's wording (v16+; [`WalEnd::message`] for older versions), e.g. "invalid record length at 0/E000A0: expected at least
    /// 24, got 0".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.lsn;
        match self.reason {
            EndReason::MissingSegment { tli, segno } => {
                write!(f, "no WAL file for segment {segno:#X} on timeline {tli} (at {at})")
            }
            EndReason::BadPage { page, tli, error } => match error {
                PageError::BadMagic { found } => {
                    write!(f, "invalid magic number {found:04X} at page {page} (timeline {tli})")
                }
                PageError::InvalidInfoBits { info } | PageError::MissingLongHeader { info } => {
                    write!(f, "invalid info bits {info:04X} at page {page}")
                }
                PageError::WrongSystemId { found } => write!(
                    f,
                    "WAL file is from different database system: identifier {found} at page {page}"
                ),
                PageError::WrongSegmentSize { found } => {
                    write!(f, "incorrect segment size {found} in page header at {page}")
                }
                PageError::WrongBlockSize { found } => {
                    write!(f, "incorrect XLOG_BLCKSZ {found} in page header at {page}")
                }
                PageError::UnexpectedPageAddr { found } => {
                    write!(f, "unexpected pageaddr {found} at page {page} (timeline {tli})")
                }
                PageError::TimelineBackwards { tli: t, previous } => write!(
                    f,
                    "out-of-sequence timeline ID {t} (after {previous}) at page {page}"
                ),
                PageError::Truncated => write!(f, "WAL file ends before page {page} (timeline {tli})"),
            },
            EndReason::InvalidRecordLength { tot_len } => write!(
                f,
                "invalid record length at {at}: expected at least {SIZE_OF_XLOG_RECORD}, got {tot_len}"
            ),
            EndReason::InvalidRmgr { rmid } => {
                write!(f, "invalid resource manager ID {rmid} at {at}")
            }
            EndReason::IncorrectPrev { prev, .. } => {
                write!(f, "record with incorrect prev-link {prev} at {at}")
            }
            EndReason::BadCrc { .. } => {
                write!(f, "incorrect resource manager data checksum in record at {at}")
            }
            EndReason::InvalidRecordOffset => write!(f, "invalid record offset at {at}"),
            EndReason::ContrecordRequested => write!(f, "contrecord is requested by {at}"),
            EndReason::NoContrecordFlag { page } => {
                write!(f, "there is no contrecord flag at {page}")
            }
            EndReason::InvalidContrecordLength { page, rem_len, expected } => write!(
                f,
                "invalid contrecord length {rem_len} (expected {expected}) at {page}"
            ),
            EndReason::TooLong { tot_len } => {
                write!(f, "record length {tot_len} at {at} too long")
            }
            EndReason::BadBlockData(e) => write!(f, "invalid block data at {at}: {e:?}"),
        }
    }
}

/// `MaxAllocSize`: PostgreSQL cannot allocate a reassembly buffer above this.
const MAX_ALLOC_SIZE: u64 = 0x3fff_ffff;

/// Why `read_next_general` did not return a record. The error is boxed to keep the result small: it is
/// moved for every record read.
enum Halt {
    End(EndReason),
    Err(Box<WalError>),
}

impl From<WalError> for Halt {
    fn from(e: WalError) -> Halt {
        Halt::Err(Box::new(e))
    }
}

impl From<EndReason> for Halt {
    fn from(r: EndReason) -> Halt {
        Halt::End(r)
    }
}

/// The page of the previous record, already read and validated: what [`WalReader::read_in_page`]
/// needs to read the next record on it without the general path's checks.
#[derive(Clone, Copy)]
struct HotPage {
    /// LSN of the page.
    lsn: u64,
    /// Offset of the page in the current segment.
    seg_off: usize,
    /// The lowest offset in the page where a record may start.
    first_rec: u64,
}

/// Where the bytes of the record just read are.
enum Loc {
    Segment { off: usize, len: usize },
    Buffer,
}

/// Reads records forward from an LSN, across pages, segments and timeline switches.
pub struct WalReader<S> {
    source: S,
    seg_size: WalSegSize,
    timelines: Vec<TliSpan>,
    seg: Option<Segment>,
    version: Option<&'static WalVersion>,
    sysid: Option<u64>,
    blcksz: u32,
    next: Lsn,
    prev: Option<Lsn>,
    attempt: Lsn,
    latest: LatestPage,
    validated_page: Option<Lsn>,
    /// `curFileTLI`: never read a file of an older timeline than the last one read going forward.
    cur_file_tli: TimeLineId,
    /// The header of the page read last (valid while `validated_page` is the same page).
    cur_page: Option<(Lsn, PageHeader)>,
    /// The same page, as the in-page fast path needs it (set and cleared with `cur_page`).
    hot: Option<HotPage>,
    buf: Vec<u8>,
    end: Option<WalEnd>,
    overwritten: Option<Lsn>,
}

impl<S: SegmentSource> WalReader<S> {
    /// A reader of the WAL from `start` (a record start, or a page/segment start) on the history
    /// `timelines` (oldest first, as in a `.history` file plus the timeline itself; empty means
    /// timeline 1 alone). For each segment the file of the newest timeline whose `begin` lies in
    /// or before that segment is read; if it does not exist, older timelines of the history are
    /// tried (xlogrecovery.c `XLogFileReadAnyTLI`). Span `end`s are not enforced.
    pub fn new(source: S, start: Lsn, timelines: &[TliSpan], seg_size: WalSegSize) -> Self {
        let mut timelines = timelines.to_vec();
        if timelines.is_empty() {
            timelines.push(TliSpan {
                tli: 1,
                begin: Lsn::INVALID,
                end: None,
            });
        }
        WalReader {
            source,
            seg_size,
            timelines,
            seg: None,
            version: None,
            sysid: None,
            blcksz: 0,
            next: start,
            prev: None,
            attempt: start,
            latest: LatestPage::default(),
            validated_page: None,
            cur_file_tli: 0,
            cur_page: None,
            hot: None,
            buf: Vec::new(),
            end: None,
            overwritten: None,
        }
    }

    /// Requires every segment's `xlp_sysid` to be `sysid` (from pg_control). Without it, the
    /// first segment read sets the identifier the others must match.
    pub fn with_system_identifier(mut self, sysid: u64) -> Self {
        self.sysid = Some(sysid);
        self
    }

    /// The version of the WAL, once a segment was read.
    pub fn version(&self) -> Option<&'static WalVersion> {
        self.version
    }

    /// The system identifier from the long page headers, once a segment was read.
    pub fn system_identifier(&self) -> Option<u64> {
        self.sysid
    }

    /// The WAL page size (`XLOG_BLCKSZ`) from the long page headers, once a segment was read.
    pub fn wal_block_size(&self) -> Option<u32> {
        (self.blcksz != 0).then_some(self.blcksz)
    }

    /// The segment file being read (which path was used, whether it is `.partial`).
    pub fn current_segment(&self) -> Option<&Segment> {
        self.seg.as_ref()
    }

    /// Where the next record is read from (`EndRecPtr`).
    pub fn position(&self) -> Lsn {
        self.next
    }

    /// The end of WAL, once [`next_record`](Self::next_record) returned `Ok(None)`.
    pub fn end(&self) -> Option<&WalEnd> {
        self.end.as_ref()
    }

    /// The LSN of the latest record abandoned because its continuation was overwritten
    /// (`XLP_FIRST_IS_OVERWRITE_CONTRECORD`; xlogreader.c `overwrittenRecPtr`). The record after
    /// it, an `XLOG_OVERWRITE_CONTRECORD`, names the same LSN.
    pub fn overwritten_record(&self) -> Option<Lsn> {
        self.overwritten
    }

    /// Restarts reading at `lsn` as a random access: the next record's `xl_prev` must only be
    /// lower than its LSN. Clears the end of WAL.
    pub fn seek(&mut self, lsn: Lsn) {
        self.next = lsn;
        self.prev = None;
        self.end = None;
        self.overwritten = None;
        self.cur_file_tli = 0;
        self.latest = LatestPage::default();
        self.validated_page = None;
        self.cur_page = None;
        self.hot = None;
    }

    /// The next record, or `Ok(None)` at the end of WAL (see [`end`](Self::end)).
    /// `Err` only for I/O failures and files that are not this cluster's WAL.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, WalError> {
        if self.end.is_some() {
            return Ok(None);
        }
        // The in-page case without the general path's result layers: each layer copied the
        // record summary through memory, stalling on store forwarding (benches/README.md).
        let (loc, meta) = match self.read_in_page() {
            Some(found) => found,
            None => match self.next_located()? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        Ok(Some(self.record_at(loc, meta)))
    }

    fn next_located(&mut self) -> Result<Option<(Loc, Meta)>, WalError> {
        if self.end.is_some() {
            return Ok(None);
        }
        match self.read_next_general() {
            Ok(found) => Ok(Some(found)),
            Err(Halt::End(reason)) => {
                self.end = Some(WalEnd {
                    lsn: self.attempt,
                    reason,
                });
                Ok(None)
            }
            Err(Halt::Err(e)) => Err(*e),
        }
    }

    fn record_at(&self, loc: Loc, meta: Meta) -> Record<'_> {
        let raw: &[u8] = match loc {
            Loc::Buffer => &self.buf,
            Loc::Segment { off, len } => match &self.seg {
                Some(seg) => &seg.bytes()[off..off + len],
                None => &[],
            },
        };
        Record::from_meta(raw, meta)
    }

    /// Timelines that may hold segment `segno`, newest first (`XLogFileReadAnyTLI`).
    fn candidate_tlis(&self, segno: u64) -> impl Iterator<Item = TimeLineId> + '_ {
        let seg_size = self.seg_size;
        let floor = self.cur_file_tli;
        self.timelines
            .iter()
            .rev()
            .filter(move |s| !s.begin.is_valid() || s.begin.segno(seg_size) <= segno)
            .map(|s| s.tli)
            .take_while(move |&t| t >= floor)
    }

    /// Makes segment `segno` current, validating its first page as `ReadPageInternal` does when
    /// it switches segments.
    #[inline]
    fn load_segment(&mut self, segno: u64) -> Result<(), Halt> {
        if self.seg.as_ref().is_some_and(|s| s.segno() == segno) {
            return Ok(());
        }
        self.switch_segment(segno)
    }

    /// [`load_segment`](Self::load_segment) when `segno` is not the current segment.
    fn switch_segment(&mut self, segno: u64) -> Result<(), Halt> {
        self.seg = None; // release the previous segment first: memory stays flat
        self.validated_page = None;
        self.cur_page = None;
        self.hot = None;
        let mut found = None;
        let mut newest = None;
        let tlis: Vec<TimeLineId> = self.candidate_tlis(segno).collect();
        for tli in tlis {
            newest.get_or_insert(tli);
            if let Some(seg) = self
                .source
                .open_segment(tli, segno, self.seg_size)
                .map_err(Halt::from)?
            {
                found = Some(seg);
                break;
            }
        }
        let seg = found.ok_or(EndReason::MissingSegment {
            tli: newest.unwrap_or(self.timelines[0].tli),
            segno,
        })?;
        let start = self.seg_size.segment_start(segno);
        let bad = |error| EndReason::BadPage {
            page: start,
            tli: seg.tli(),
            error,
        };
        let hdr = PageHeader::parse(seg.bytes()).ok_or(bad(PageError::Truncated))?;
        let version = match self.version {
            Some(v) => v,
            None => match WalVersion::for_page_magic(hdr.magic) {
                Some(v) => v,
                None if hdr.magic == 0 => return Err(bad(PageError::BadMagic { found: 0 }).into()),
                None => {
                    return Err(Halt::from(WalError::NotWal {
                        path: seg.path().to_path_buf(),
                        lsn: start,
                        offset: 0,
                        magic: hdr.magic,
                    }))
                }
            },
        };
        let blcksz = if self.blcksz != 0 {
            self.blcksz
        } else {
            match hdr.long {
                Some(l) if l.blcksz.is_power_of_two() && (1024..=65536).contains(&l.blcksz) => {
                    l.blcksz
                }
                Some(l) if hdr.magic == version.page_magic => {
                    return Err(Halt::from(WalError::WrongBlockSize {
                        path: seg.path().to_path_buf(),
                        lsn: start,
                        offset: 0,
                        found: l.blcksz,
                        expected: 0,
                    }))
                }
                // Validation below reports the bad magic or missing long header.
                _ => 8192,
            }
        };
        let sysid = self.sysid.or(hdr.long.map(|l| l.sysid));
        let expect = PageExpect {
            magic: version.page_magic,
            sysid,
            seg_size: self.seg_size,
            blcksz,
        };
        if let Err(e) = page::validate(&hdr, start, &expect, &mut self.latest) {
            let path = seg.path().to_path_buf();
            return Err(match e {
                PageError::WrongSystemId { found } => Halt::from(WalError::WrongSystemId {
                    path,
                    lsn: start,
                    offset: 0,
                    found,
                    expected: sysid.unwrap_or(0),
                }),
                PageError::WrongSegmentSize { found } => Halt::from(WalError::WrongSegmentSize {
                    path,
                    lsn: start,
                    offset: 0,
                    found,
                    expected: self.seg_size.get(),
                }),
                PageError::WrongBlockSize { found } => Halt::from(WalError::WrongBlockSize {
                    path,
                    lsn: start,
                    offset: 0,
                    found,
                    expected: blcksz,
                }),
                e => bad(e).into(),
            });
        }
        if seg.bytes().len() < blcksz as usize {
            return Err(bad(PageError::Truncated).into());
        }
        self.version = Some(version);
        self.blcksz = blcksz;
        self.sysid = sysid;
        self.cur_file_tli = seg.tli();
        self.validated_page = Some(start);
        self.seg = Some(seg);
        Ok(())
    }

    /// Reads and validates the header of the page at `page_lsn` (loading its segment).
    fn page(&mut self, page_lsn: Lsn) -> Result<PageHeader, Halt> {
        self.load_segment(page_lsn.segno(self.seg_size))?;
        let (seg, version) = match (&self.seg, self.version) {
            (Some(s), Some(v)) => (s, v),
            _ => return Err(EndReason::InvalidRecordOffset.into()),
        };
        // The page of the previous record, already read and validated: most records share it.
        if let (Some(v), Some((at, hdr))) = (self.validated_page, self.cur_page) {
            if v == page_lsn && at == page_lsn {
                return Ok(hdr);
            }
        }
        let off = page_lsn.segment_offset(self.seg_size) as usize;
        let bad = |error| EndReason::BadPage {
            page: page_lsn,
            tli: seg.tli(),
            error,
        };
        let bytes = seg
            .bytes()
            .get(off..off + self.blcksz as usize)
            .ok_or(bad(PageError::Truncated))?;
        let hdr = PageHeader::parse(bytes).ok_or(bad(PageError::Truncated))?;
        if self.validated_page != Some(page_lsn) {
            let expect = PageExpect {
                magic: version.page_magic,
                sysid: self.sysid,
                seg_size: self.seg_size,
                blcksz: self.blcksz,
            };
            page::validate(&hdr, page_lsn, &expect, &mut self.latest).map_err(bad)?;
            self.validated_page = Some(page_lsn);
        }
        self.cur_page = Some((page_lsn, hdr));
        let hsz = hdr.size() as u64;
        self.hot = Some(HotPage {
            lsn: page_lsn.0,
            seg_off: off,
            // A record may start right after the header only if the page does not begin with
            // a continuation ("contrecord is requested").
            first_rec: if hdr.is_contrecord() { hsz + 1 } else { hsz },
        });
        Ok(hdr)
    }

    /// `ValidXLogRecordHeader`.
    fn check_header(&self, h: &RecordHeader, rec_ptr: Lsn) -> Result<(), EndReason> {
        if (h.tot_len as usize) < SIZE_OF_XLOG_RECORD {
            return Err(EndReason::InvalidRecordLength { tot_len: h.tot_len });
        }
        if !self.version.is_some_and(|v| v.rmid_is_valid(h.rmid)) {
            return Err(EndReason::InvalidRmgr { rmid: h.rmid });
        }
        let ok = match self.prev {
            None => h.prev < rec_ptr,
            Some(p) => h.prev == p,
        };
        if !ok {
            return Err(EndReason::IncorrectPrev {
                prev: h.prev,
                expected: self.prev,
            });
        }
        Ok(())
    }

    /// The common case, made cheap: the next record starts on the page of the previous one
    /// (already read and validated), lies wholly on it, and is valid. Same checks as
    /// [`read_next_general`](Self::read_next_general) for that case; `None` for anything else,
    /// including every invalid record, which the general path then reads again and reports.
    #[inline(always)]
    fn read_in_page(&mut self) -> Option<(Loc, Meta)> {
        let hot = self.hot?;
        let rec_ptr = self.next;
        let blcksz = u64::from(self.blcksz);
        let off = rec_ptr.0.wrapping_sub(hot.lsn);
        // The whole 24-byte header on the page (else the general path reads it across pages).
        if off < hot.first_rec || off > blcksz - SIZE_OF_XLOG_RECORD as u64 {
            return None;
        }
        if rec_ptr.0 > u64::MAX - 4 * self.seg_size.bytes() {
            return None;
        }
        let (seg, version) = (self.seg.as_ref()?, self.version?);
        let at = hot.seg_off + off as usize;
        let page_end = hot.seg_off + blcksz as usize;
        let h = RecordHeader::parse(seg.bytes().get(at..page_end)?)?;
        self.check_header(&h, rec_ptr).ok()?;
        let len = h.tot_len as usize;
        let raw = seg.bytes().get(at..page_end)?.get(..len)?;
        if record_crc(raw) != h.crc {
            return None;
        }
        let end = Lsn(rec_ptr.0 + u64::from(h.tot_len));
        let mut next = end.maxalign();
        if h.rmid == crate::record::RM_XLOG_ID && h.info & 0xF0 == crate::record::XLOG_SWITCH {
            let seg_size = self.seg_size;
            next = Lsn(next.0 + seg_size.bytes() - 1);
            next = Lsn(next.0 - next.segment_offset(seg_size));
        }
        let meta = Meta::decode_with_header(raw, h, rec_ptr, end, next, version).ok()?;
        self.attempt = rec_ptr;
        self.prev = Some(rec_ptr);
        self.next = next;
        Some((Loc::Segment { off: at, len }, meta))
    }

    /// Reads the next record in every case: starting a page or a segment, crossing pages, and
    /// every way a record can be invalid.
    #[inline(never)]
    fn read_next_general(&mut self) -> Result<(Loc, Meta), Halt> {
        let seg_size = self.seg_size;
        'restart: loop {
            let mut rec_ptr = self.next;
            self.attempt = rec_ptr;
            // Positions this close to the end of the LSN space cannot be valid WAL; refusing them
            // keeps the arithmetic below free of overflow.
            if rec_ptr.0 > u64::MAX - 4 * seg_size.bytes() {
                return Err(EndReason::InvalidRecordOffset.into());
            }
            self.load_segment(rec_ptr.segno(seg_size))?;
            let blcksz = u64::from(self.blcksz);
            let mut page_ptr = rec_ptr.0 - rec_ptr.0 % blcksz;
            let hdr = self.page(Lsn(page_ptr))?;
            let hsz = hdr.size() as u64;
            let mut off = rec_ptr.0 % blcksz;
            if off == 0 {
                rec_ptr = Lsn(rec_ptr.0 + hsz);
                off = hsz;
                self.attempt = rec_ptr;
            } else if off < hsz {
                return Err(EndReason::InvalidRecordOffset.into());
            }
            if hdr.is_contrecord() && off == hsz {
                return Err(EndReason::ContrecordRequested.into());
            }
            let (seg, version) = match (&self.seg, self.version) {
                (Some(s), Some(v)) => (s, v),
                _ => return Err(EndReason::InvalidRecordOffset.into()),
            };
            let seg_off = Lsn(page_ptr).segment_offset(seg_size) as usize;
            let page_bytes = &seg.bytes()[seg_off..seg_off + blcksz as usize];
            let off_us = off as usize;
            // An unaligned start position may leave no room for xl_tot_len on the page.
            if off_us + 4 > page_bytes.len() {
                return Err(EndReason::InvalidRecordOffset.into());
            }
            // MAXALIGNed positions past the header leave at least 8 bytes on the page.
            let tot_len = u32_at(page_bytes, off_us);
            let mut got_header = false;
            if off <= blcksz - SIZE_OF_XLOG_RECORD as u64 {
                let h = RecordHeader::parse(&page_bytes[off_us..])
                    .ok_or(EndReason::InvalidRecordOffset)?;
                self.check_header(&h, rec_ptr)?;
                got_header = true;
            } else if (tot_len as usize) < SIZE_OF_XLOG_RECORD {
                return Err(EndReason::InvalidRecordLength { tot_len }.into());
            }
            let avail = blcksz - off;
            let (loc, end, mut next) = if u64::from(tot_len) <= avail {
                let raw = &page_bytes[off_us..off_us + tot_len as usize];
                let computed = record_crc(raw);
                let stored = u32_at(raw, 20);
                if computed != stored {
                    return Err(EndReason::BadCrc { stored, computed }.into());
                }
                let end = Lsn(rec_ptr.0 + u64::from(tot_len));
                (
                    Loc::Segment {
                        off: seg_off + off_us,
                        len: tot_len as usize,
                    },
                    end,
                    end.maxalign(),
                )
            } else {
                // allocate_recordbuf: rounded up to a page, at least 5 pages, <= MaxAllocSize.
                let want = u64::from(tot_len).div_ceil(blcksz) * blcksz;
                if want.max(5 * blcksz) > MAX_ALLOC_SIZE {
                    return Err(EndReason::TooLong { tot_len }.into());
                }
                self.buf.clear();
                self.buf.extend_from_slice(&page_bytes[off_us..]);
                let mut got = avail;
                loop {
                    page_ptr += blcksz;
                    let hdr = self.page(Lsn(page_ptr))?;
                    if hdr.is_overwrite_contrecord() {
                        // The record we were assembling was overwritten: drop it and read the
                        // XLOG_OVERWRITE_CONTRECORD record at this page instead.
                        self.overwritten = Some(rec_ptr);
                        self.next = Lsn(page_ptr);
                        continue 'restart;
                    }
                    if !hdr.is_contrecord() {
                        return Err(EndReason::NoContrecordFlag {
                            page: Lsn(page_ptr),
                        }
                        .into());
                    }
                    let need = u64::from(tot_len) - got;
                    if hdr.rem_len == 0 || u64::from(hdr.rem_len) != need {
                        return Err(EndReason::InvalidContrecordLength {
                            page: Lsn(page_ptr),
                            rem_len: hdr.rem_len,
                            expected: need,
                        }
                        .into());
                    }
                    let hsz = hdr.size() as u64;
                    let len = (blcksz - hsz).min(u64::from(hdr.rem_len));
                    let seg = match &self.seg {
                        Some(s) => s,
                        None => return Err(EndReason::InvalidRecordOffset.into()),
                    };
                    let at = Lsn(page_ptr).segment_offset(seg_size) as usize + hsz as usize;
                    self.buf
                        .extend_from_slice(&seg.bytes()[at..at + len as usize]);
                    got += len;
                    if !got_header && self.buf.len() >= SIZE_OF_XLOG_RECORD {
                        if let Some(h) = RecordHeader::parse(&self.buf) {
                            self.check_header(&h, rec_ptr)?;
                        }
                        got_header = true;
                    }
                    if got >= u64::from(tot_len) {
                        let end = Lsn(page_ptr + hsz + u64::from(hdr.rem_len));
                        break (Loc::Buffer, end, end.maxalign());
                    }
                }
            };
            let raw: &[u8] = match loc {
                Loc::Buffer => &self.buf,
                Loc::Segment { off, len } => match &self.seg {
                    Some(s) => &s.bytes()[off..off + len],
                    None => return Err(EndReason::InvalidRecordOffset.into()),
                },
            };
            if matches!(loc, Loc::Buffer) {
                let computed = record_crc(raw);
                let stored = u32_at(raw, 20);
                if computed != stored {
                    return Err(EndReason::BadCrc { stored, computed }.into());
                }
            }
            let h = RecordHeader::parse(raw).ok_or(EndReason::InvalidRecordOffset)?;
            if h.rmid == crate::record::RM_XLOG_ID && h.info & 0xF0 == crate::record::XLOG_SWITCH {
                // XLOG_SWITCH: the rest of the segment is unused (xlogreader.c).
                next = Lsn(next.0 + seg_size.bytes() - 1);
                next = Lsn(next.0 - next.segment_offset(seg_size));
            }
            let meta =
                Meta::decode(raw, rec_ptr, end, next, version).map_err(EndReason::BadBlockData)?;
            self.prev = Some(rec_ptr);
            self.next = next;
            return Ok((loc, meta));
        }
    }
}

/// Reads the one record at `lsn` (random access: its `xl_prev` need only be lower than `lsn`),
/// e.g. the checkpoint record pg_control points to. `Ok(Err(end))` if there is no valid record
/// there.
pub fn read_record_at<S: SegmentSource>(
    source: S,
    lsn: Lsn,
    timelines: &[TliSpan],
    seg_size: WalSegSize,
) -> Result<Result<OwnedRecord, WalEnd>, WalError> {
    let mut r = WalReader::new(source, lsn, timelines, seg_size);
    if let Some(rec) = r.next_record()? {
        return Ok(Ok(rec.to_owned_record()));
    }
    Ok(Err(r.end.unwrap_or(WalEnd {
        lsn,
        reason: EndReason::InvalidRecordOffset,
    })))
}

/// Walks records backward along `xl_prev` from a record, as pg_rewind's `findLastCheckpoint`
/// does. Each record is read at random access; the walk stops when `xl_prev` is invalid or not
/// strictly lower than the record's LSN (so it cannot loop), or a record cannot be read.
pub struct BackwardReader<S> {
    inner: WalReader<S>,
    next: Option<Lsn>,
    end: Option<WalEnd>,
}

impl<S: SegmentSource> BackwardReader<S> {
    /// A walk that first returns the record at `start`.
    pub fn new(source: S, start: Lsn, timelines: &[TliSpan], seg_size: WalSegSize) -> Self {
        BackwardReader {
            inner: WalReader::new(source, start, timelines, seg_size),
            next: Some(start),
            end: None,
        }
    }

    /// The record at the current position, then moves to its `xl_prev`. `Ok(None)` when the walk
    /// is over: [`end`](Self::end) says why if a record could not be read.
    pub fn prev_record(&mut self) -> Result<Option<Record<'_>>, WalError> {
        let Some(lsn) = self.next.take() else {
            return Ok(None);
        };
        self.inner.seek(lsn);
        match self.inner.next_located()? {
            Some((loc, meta)) => {
                let rec = self.inner.record_at(loc, meta);
                let p = rec.prev();
                if p.is_valid() && p < lsn {
                    self.next = Some(p);
                }
                Ok(Some(rec))
            }
            None => {
                self.end = self.inner.end;
                Ok(None)
            }
        }
    }

    /// Why the walk stopped, if a record could not be read.
    pub fn end(&self) -> Option<&WalEnd> {
        self.end.as_ref()
    }
}

/// The LSN of the first record that starts in segment `segno` of timeline `tli`, skipping the
/// continuation of a record from earlier segments with `xlp_rem_len` (postgres-formats.md §3.5,
/// pg_waldump's `XLogFindNextRecord`). `Ok(None)` if the file is missing or invalid, or no record
/// starts in it.
pub fn first_record_lsn_in_segment<S: SegmentSource>(
    source: S,
    tli: TimeLineId,
    segno: u64,
    seg_size: WalSegSize,
) -> Result<Option<Lsn>, WalError> {
    let Some(seg) = source.open_segment(tli, segno, seg_size)? else {
        return Ok(None);
    };
    Ok(first_record_lsn_in_bytes(seg.bytes(), segno, seg_size))
}

/// [`first_record_lsn_in_segment`] over the bytes of a segment already open.
pub(crate) fn first_record_lsn_in_bytes(
    bytes: &[u8],
    segno: u64,
    seg_size: WalSegSize,
) -> Option<Lsn> {
    let first = PageHeader::parse(bytes)?;
    let (Some(version), Some(long)) = (WalVersion::for_page_magic(first.magic), first.long) else {
        return None;
    };
    let blcksz = u64::from(long.blcksz);
    if !long.blcksz.is_power_of_two() || blcksz < 1024 {
        return None;
    }
    let start = seg_size.segment_start(segno);
    let mut page_off = 0u64;
    while page_off + blcksz <= seg_size.bytes() {
        let hdr = bytes.get(page_off as usize..).and_then(PageHeader::parse)?;
        if hdr.magic != version.page_magic || hdr.pageaddr != Lsn(start.0 + page_off) {
            return None;
        }
        let hsz = hdr.size() as u64;
        if !hdr.is_contrecord() {
            return Some(Lsn(start.0 + page_off + hsz));
        }
        if u64::from(hdr.rem_len) < blcksz - hsz {
            let pos = page_off + hsz + Lsn(u64::from(hdr.rem_len)).maxalign().0;
            if pos % blcksz != 0 {
                return Some(Lsn(start.0 + pos));
            }
            // The continuation fills the page: the record starts after the next page's header.
            if pos >= seg_size.bytes() {
                return None;
            }
            return Some(Lsn(start.0 + pos + page::SHORT_HEADER_SIZE as u64));
        }
        page_off += blcksz;
    }
    None
}
