//! `pgdiverge scan`: read and fully decode every record of a WAL range (page headers, record
//! headers, CRC-32C, block references), the work `pg_waldump -q` does, and print how many records
//! there were and where the range ended. It is the side-by-side measure of `benches/vs-postgres.sh`
//! and a quick integrity check of a WAL directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use walparse::par::{self, ScanRange, Scanned};
use walparse::{DirSource, Lsn, PageHeader, ReadMode, TimeLineId, TimelineHistory, WalSegSize};

/// What `scan` reads.
#[derive(Clone, Debug)]
pub struct ScanArgs {
    /// The directory of WAL files (`-p`, like pg_waldump's).
    pub dir: PathBuf,
    /// First record (`-s`).
    pub start: Lsn,
    /// Records starting at or after this are not read (`-e`); `None`: to the end of WAL.
    pub end: Option<Lsn>,
    /// Timeline to read (`-t`); its `.history` file in `dir`, if any, gives the older ones.
    pub timeline: TimeLineId,
    /// Worker threads (1: one reader).
    pub threads: usize,
    /// How segment files are brought in: `read()` (the default, safe) or mapped (faster; a
    /// file truncated while mapped kills the process with SIGBUS).
    pub mode: ReadMode,
}

/// Why a scan could not run.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The directory could not be listed.
    #[error("cannot list WAL directory {path}: {source}")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// No WAL segment file with a readable long page header was found to learn the segment size.
    #[error("no WAL segment file with a valid long page header in {0}")]
    NoSegment(PathBuf),
    /// The timeline's history file is unreadable.
    #[error(transparent)]
    History(#[from] walparse::HistoryError),
    /// Reading WAL failed (I/O, or files that are not this cluster's WAL).
    #[error(transparent)]
    Wal(#[from] walparse::WalError),
}

/// Totals of a scan (summed per piece, then across pieces).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Bytes of records (`xl_tot_len`).
    pub bytes: u64,
    /// Block references.
    pub blocks: u64,
    /// Bytes of full-page images.
    pub fpi_bytes: u64,
}

/// The segment size, and the major version that wrote the WAL (from `xlp_magic`; `None` for a
/// magic outside 10–18), from the long page header of the first WAL segment file in `dir` that
/// has a readable one.
pub fn wal_format_of(dir: &Path) -> Result<(WalSegSize, Option<u32>), ScanError> {
    let list = std::fs::read_dir(dir).map_err(|source| ScanError::ReadDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<PathBuf> = list
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 24 && n.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .collect();
    names.sort();
    for p in names {
        let mut head = [0u8; 40];
        let Ok(mut f) = std::fs::File::open(&p) else {
            continue;
        };
        if std::io::Read::read_exact(&mut f, &mut head).is_err() {
            continue;
        }
        let Some(header) = PageHeader::parse(&head) else {
            continue;
        };
        if let Some(size) = header.long.and_then(|l| WalSegSize::new(l.seg_size)) {
            return Ok((size, walparse::major_from_page_magic(header.magic)));
        }
    }
    Err(ScanError::NoSegment(dir.to_path_buf()))
}

/// What a scan found: the totals, and the major version whose words [`render`] uses for the
/// end of WAL.
#[derive(Clone, Debug)]
pub struct ScanReport {
    /// The records read and where the range ended.
    pub scanned: Scanned<Totals>,
    /// The major version that wrote the WAL (from the first segment's `xlp_magic`).
    pub major: Option<u32>,
}

/// Scans the range and returns the totals.
pub fn scan(args: &ScanArgs) -> Result<ScanReport, ScanError> {
    let (seg_size, major) = wal_format_of(&args.dir)?;
    let history = if args.timeline > 1 {
        let path = args.dir.join(format!("{:08X}.history", args.timeline));
        if path.is_file() {
            TimelineHistory::read(&path, args.timeline)?
        } else {
            TimelineHistory::without_file(args.timeline)
        }
    } else {
        TimelineHistory::without_file(1)
    };
    let spans = history.spans();
    let range = ScanRange {
        start: args.start,
        stop: args.end,
        timelines: &spans,
        seg_size,
        system_identifier: None,
    };
    let source = DirSource::new([&args.dir]).with_read_mode(args.mode);
    let fold = |t: &mut Totals, rec: &walparse::Record<'_>| {
        t.bytes += u64::from(rec.tot_len());
        t.blocks += rec.block_count() as u64;
        t.fpi_bytes += u64::from(rec.fpi_len());
    };
    let reduce = |a: Totals, b: Totals| Totals {
        bytes: a.bytes + b.bytes,
        blocks: a.blocks + b.blocks,
        fpi_bytes: a.fpi_bytes + b.fpi_bytes,
    };
    let scanned = par::scan(&source, &range, args.threads, Totals::default, fold, reduce)?;
    Ok(ScanReport { scanned, major })
}

/// The report: one `key: value` line each; the end of WAL in the words of the WAL's version
/// (as that version's pg_waldump would say it).
pub fn render(report: &ScanReport) -> String {
    let s = &report.scanned;
    let mut out = String::new();
    let lsn = |l: Option<Lsn>| l.map_or_else(|| "-".to_string(), |l| l.to_string());
    let _ = writeln!(out, "records: {}", s.records);
    let _ = writeln!(out, "record bytes: {}", s.acc.bytes);
    let _ = writeln!(out, "block references: {}", s.acc.blocks);
    let _ = writeln!(out, "full-page image bytes: {}", s.acc.fpi_bytes);
    let _ = writeln!(out, "first record: {}", lsn(s.first));
    let _ = writeln!(out, "last record: {}", lsn(s.last));
    let _ = writeln!(out, "next record: {}", s.next);
    match &s.end {
        Some(end) => {
            let _ = writeln!(out, "end of WAL: {}", end.message(report.major));
        }
        None => {
            let _ = writeln!(out, "end of WAL: not reached");
        }
    }
    out
}
