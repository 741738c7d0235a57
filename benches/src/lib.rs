//! Inputs of the criterion benchmarks in `benches/benches/`: real WAL, never committed.
//!
//! The 16 MB pgbench segment comes from the cache that `benches/vs-postgres.sh setup` fills
//! (`$PGDIVERGE_WAL_CACHE`, default `/work/pgbench-wal`). Without it, the benchmarks that need
//! it say so and are skipped; the others fall back on the 16 MB segment of the committed fixture
//! `11-split-brain-pg15` (real, but a few hundred records instead of ~200,000).

use std::path::{Path, PathBuf};

use walparse::{DirSource, Lsn, Record, WalReader, WalSegSize};

/// The cache of `benches/vs-postgres.sh`.
pub fn wal_cache() -> PathBuf {
    std::env::var_os("PGDIVERGE_WAL_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/work/pgbench-wal"))
}

/// One real WAL segment to benchmark on.
#[derive(Clone, Debug)]
pub struct RealSegment {
    /// Directory holding it (alone or with its neighbours).
    pub dir: PathBuf,
    /// Timeline of the file.
    pub tli: u32,
    /// Segment number.
    pub segno: u64,
    /// Segment size.
    pub seg_size: WalSegSize,
    /// The whole file.
    pub bytes: Vec<u8>,
    /// Where it comes from, for the report.
    pub what: String,
}

fn segment_in(dir: &Path, pick_middle: bool, what: &str) -> Option<RealSegment> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        .collect();
    names.sort();
    let name = if pick_middle {
        names.get(names.len() / 2)?
    } else {
        names.first()?
    };
    let bytes = std::fs::read(dir.join(name)).ok()?;
    let seg_size = WalSegSize::new(u32::from_le_bytes(bytes.get(32..36)?.try_into().ok()?))?;
    let tli = u32::from_str_radix(&name[..8], 16).ok()?;
    let hi = u64::from_str_radix(&name[8..16], 16).ok()?;
    let lo = u64::from_str_radix(&name[16..24], 16).ok()?;
    Some(RealSegment {
        dir: dir.to_path_buf(),
        tli,
        segno: hi * seg_size.segments_per_xlogid() + lo,
        seg_size,
        bytes,
        what: format!("{what} {}", dir.join(name).display()),
    })
}

/// A full 16 MB segment of pgbench WAL from the cache, or `None` (with a message on stderr).
pub fn pgbench_segment() -> Option<RealSegment> {
    let dir = wal_cache().join("A/pg_wal");
    let s = segment_in(&dir, true, "pgbench segment");
    if s.is_none() {
        eprintln!(
            "skipped: no pgbench WAL in {} — run benches/vs-postgres.sh setup first",
            dir.display()
        );
    }
    s
}

/// The pgbench segment, else the 16 MB segment of fixture `11-split-brain-pg15`.
pub fn any_segment() -> Option<RealSegment> {
    pgbench_segment().or_else(|| {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
            .join("11-split-brain-pg15/old-primary/pg_wal");
        segment_in(&dir, false, "fixture segment")
    })
}

/// A record copied out of a segment, with what [`Record::decode`] needs.
#[derive(Clone, Debug)]
pub struct RawRecord {
    /// Offset of its bytes in [`Records::bytes`].
    pub off: usize,
    /// `xl_tot_len`.
    pub len: usize,
    /// LSN, end and next record.
    pub lsn: Lsn,
    /// End LSN.
    pub end: Lsn,
    /// Next record's LSN.
    pub next: Lsn,
}

/// The records that begin in a segment, reassembled and laid end to end.
#[derive(Clone, Debug)]
pub struct Records {
    /// The bytes of all records, each at a multiple of 8.
    pub bytes: Vec<u8>,
    /// Where each record is.
    pub records: Vec<RawRecord>,
    /// The WAL version.
    pub version: &'static walparse::WalVersion,
    /// LSN of the first and last record.
    pub first: Lsn,
    /// LSN of the last record.
    pub last: Lsn,
}

/// Reads the records that begin in `seg` with [`WalReader`].
pub fn records_of(seg: &RealSegment) -> Records {
    let source = DirSource::new([&seg.dir]);
    let first = walparse::first_record_lsn_in_segment(&source, seg.tli, seg.segno, seg.seg_size)
        .expect("read the segment")
        .expect("a record begins in the segment");
    let boundary = seg.seg_size.segment_start(seg.segno + 1);
    let spans = [walparse::TliSpan {
        tli: seg.tli,
        begin: Lsn::INVALID,
        end: None,
    }];
    let mut r = WalReader::new(&source, first, &spans, seg.seg_size);
    let mut out = Records {
        bytes: Vec::new(),
        records: Vec::new(),
        version: walparse::WalVersion::for_page_magic(u16::from_le_bytes([
            seg.bytes[0],
            seg.bytes[1],
        ]))
        .expect("a known WAL version"),
        first,
        last: first,
    };
    while r.position() < boundary {
        let Some(rec) = r.next_record().expect("read WAL") else {
            break;
        };
        let rec: Record<'_> = rec;
        let off = out.bytes.len();
        out.bytes.extend_from_slice(rec.raw());
        out.bytes.resize(out.bytes.len().next_multiple_of(8), 0);
        out.last = rec.lsn();
        out.records.push(RawRecord {
            off,
            len: rec.raw().len(),
            lsn: rec.lsn(),
            end: rec.end_lsn(),
            next: rec.next_lsn(),
        });
    }
    out
}
