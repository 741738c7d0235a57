//! `pgdiverge waldump`: pg_waldump's flags that matter (`-p -s -e -t -n -r -x -b -q
//! --stats[=record]`) and its output layout (PostgreSQL 15's `src/bin/pg_waldump/pg_waldump.c`:
//! `XLogDumpDisplayRecord`, `XLogDumpDisplayStats`, `XLogDumpStatsRow`), plus `--format json`
//! (one JSON object per record).
//!
//! Differences from pg_waldump, on purpose: after `desc:` and the record type's name, the details
//! (`rm_desc`, e.g. `off 3 flags 0x00`) are printed in the words of the WAL's version for WAL of
//! 13–18 (`waldump_desc.rs`), and left out for older WAL; `.partial` files
//! are read when no complete segment exists; without `-s` and `STARTSEG` the dump starts at the
//! oldest segment of the timeline found in the directory; reaching the end of the WAL is
//! reported on stderr in pg_waldump's words but is not a failure (exit status 0).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use walparse::display::{WaldumpBlockRefs, WaldumpHeader};
use walparse::name::WalFileName;
use walparse::page::PageHeader;
use walparse::reader::{first_record_lsn_in_segment, EndReason, WalEnd, WalReader};
use walparse::record::{fork_name, Compression, Record, BLCKSZ};
use walparse::rmgr::record_type_name;
use walparse::segment::DirSource;
use walparse::version::RM_MAX_BUILTIN_ID;
use walparse::{Lsn, TimeLineId, TliSpan, WalError, WalSegSize};

use crate::term::Progress;

/// `--stats[=record]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsMode {
    /// One row per resource manager (`--stats`).
    Rmgr,
    /// One row per record type (`--stats=record`).
    Record,
}

/// What to dump and how: pg_waldump's options.
#[derive(Clone, Debug, Default)]
pub struct WaldumpOptions {
    /// `-p`: a directory of WAL files, or a data directory (its `pg_wal` is used).
    pub path: Option<PathBuf>,
    /// `STARTSEG`: the first segment file (its directory is used when `-p` is not given).
    pub start_seg: Option<PathBuf>,
    /// `ENDSEG`: the last segment file to read.
    pub end_seg: Option<PathBuf>,
    /// `-s`: where to start.
    pub start: Option<Lsn>,
    /// `-e`: stop before the first record that does not end at or before it.
    pub end: Option<Lsn>,
    /// `-t`: the timeline whose files are read (default: STARTSEG's, else 1).
    pub timeline: Option<TimeLineId>,
    /// `-n`: stop after this many records shown.
    pub limit: Option<u64>,
    /// `-r`: only this resource manager (name as pg_waldump prints it, case-insensitive).
    pub rmgr: Option<String>,
    /// `-x`: only records with this `xl_xid`.
    pub xid: Option<u32>,
    /// `-b`: block references on their own lines with image details.
    pub bkp_details: bool,
    /// `-q`: print nothing but errors.
    pub quiet: bool,
    /// `--stats[=record]`.
    pub stats: Option<StatsMode>,
    /// `--format json`.
    pub json: bool,
}

/// Why a dump could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WaldumpError {
    /// `-r` names no resource manager.
    #[error("resource manager \"{name}\" does not exist")]
    UnknownRmgr {
        /// The name given.
        name: String,
    },
    /// No WAL segment file was found where one was looked for.
    #[error("{dir}: no WAL segment file found")]
    NoWalFiles {
        /// The directory searched.
        dir: PathBuf,
    },
    /// A STARTSEG/ENDSEG argument is not a WAL segment file name.
    #[error("{path}: not a WAL segment file name")]
    BadSegmentName {
        /// The argument.
        path: PathBuf,
    },
    /// The first page of a WAL file is not a valid long page header.
    #[error("{path}: not a WAL segment (no valid long page header)")]
    NotWal {
        /// The file.
        path: PathBuf,
    },
    /// No record starts at or after the start position (pg_waldump: "could not find a valid
    /// record after").
    #[error("could not find a valid record after {lsn}")]
    NoFirstRecord {
        /// The start position.
        lsn: Lsn,
    },
    /// Reading failed (I/O, or a file of another cluster).
    #[error(transparent)]
    Wal(#[from] WalError),
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating-system error.
        source: io::Error,
    },
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(io::Error),
}

/// How a dump ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaldumpOutcome {
    /// Records shown (after filters).
    pub shown: u64,
    /// The LSN of the last record read (`ReadRecPtr`), if any.
    pub last_read: Option<Lsn>,
    /// Where and why the WAL ended, when it ended before `-e` / `-n` stopped the dump.
    pub end: Option<WalEnd>,
    /// pg_waldump's closing line for `end`, e.g. `error in WAL record at 0/1001D88: invalid
    /// record length at 0/1001E00: wanted 24, got 0`.
    pub end_message: Option<String>,
}

/// The resource manager names of 10–18 in id order (`rmgrlist.h`).
pub fn rmgr_names() -> Vec<&'static str> {
    (0..=RM_MAX_BUILTIN_ID)
        .map(|id| walparse::rmgr_name(id, 15))
        .collect()
}

/// Where the dump reads: directory, segment size, timeline, start and end.
#[derive(Clone, Debug)]
struct Plan {
    dir: PathBuf,
    seg_size: WalSegSize,
    tli: TimeLineId,
    start: Lsn,
    end: Option<Lsn>,
    /// End of the newest segment of the timeline in `dir` (for the progress bar).
    last_seg_end: Lsn,
}

/// The WAL files of `dir` with a segment name: (file name, tli, hex name part).
fn segment_names(dir: &Path) -> Result<Vec<(String, PathBuf)>, WaldumpError> {
    let io = |source| WaldumpError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let base = name.strip_suffix(".partial").unwrap_or(&name);
        if base.len() == 24 && base.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// The segment size from the long page header of `path` (pg_waldump's `search_directory`).
fn seg_size_of(path: &Path) -> Result<WalSegSize, WaldumpError> {
    use std::io::Read;
    let mut head = [0u8; walparse::page::LONG_HEADER_SIZE];
    let mut f = std::fs::File::open(path).map_err(|source| WaldumpError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(source) => {
                return Err(WaldumpError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    PageHeader::parse(&head[..n])
        .and_then(|h| h.long)
        .and_then(|l| WalSegSize::new(l.seg_size))
        .ok_or_else(|| WaldumpError::NotWal {
            path: path.to_path_buf(),
        })
}

/// The directory to read: `-p` (or its `pg_wal`), else STARTSEG's directory, else `.`,
/// `./pg_wal` or `$PGDATA/pg_wal` — the first that holds a segment file.
fn wal_dir(o: &WaldumpOptions) -> Result<PathBuf, WaldumpError> {
    if let Some(p) = &o.path {
        let sub = p.join("pg_wal");
        return Ok(if sub.is_dir() { sub } else { p.clone() });
    }
    if let Some(parent) = o
        .start_seg
        .as_ref()
        .and_then(|s| s.parent())
        .filter(|p| !p.as_os_str().is_empty())
    {
        return Ok(parent.to_path_buf());
    }
    let mut candidates = vec![PathBuf::from("."), PathBuf::from("pg_wal")];
    if let Some(d) = std::env::var_os("PGDATA") {
        candidates.push(Path::new(&d).join("pg_wal"));
    }
    for c in &candidates {
        if c.is_dir() && !segment_names(c)?.is_empty() {
            return Ok(c.clone());
        }
    }
    Err(WaldumpError::NoWalFiles {
        dir: PathBuf::from("."),
    })
}

fn parse_seg_arg(p: &Path, seg_size: WalSegSize) -> Result<(TimeLineId, u64), WaldumpError> {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match WalFileName::parse(name, seg_size) {
        Some(WalFileName::Segment { tli, segno } | WalFileName::Partial { tli, segno }) => {
            Ok((tli, segno))
        }
        _ => Err(WaldumpError::BadSegmentName {
            path: p.to_path_buf(),
        }),
    }
}

fn plan(o: &WaldumpOptions) -> Result<Plan, WaldumpError> {
    let dir = wal_dir(o)?;
    let names = segment_names(&dir)?;
    let first = names
        .first()
        .ok_or_else(|| WaldumpError::NoWalFiles { dir: dir.clone() })?;
    let seg_size = match &o.start_seg {
        Some(s) if s.exists() => seg_size_of(s)?,
        _ => seg_size_of(&first.1)?,
    };
    let start_seg = o
        .start_seg
        .as_ref()
        .map(|s| parse_seg_arg(s, seg_size))
        .transpose()?;
    let end_seg = o
        .end_seg
        .as_ref()
        .map(|s| parse_seg_arg(s, seg_size))
        .transpose()?;
    let tli = o.timeline.or(start_seg.map(|s| s.0)).unwrap_or(1);
    let segnos: Vec<u64> = names
        .iter()
        .filter_map(|(n, _)| match WalFileName::parse(n, seg_size) {
            Some(
                WalFileName::Segment { tli: t, segno } | WalFileName::Partial { tli: t, segno },
            ) if t == tli => Some(segno),
            _ => None,
        })
        .collect();
    let start = match (o.start, start_seg) {
        (Some(s), _) => s,
        (None, Some((_, segno))) => seg_size.segment_start(segno),
        (None, None) => match segnos.iter().min() {
            Some(&segno) => seg_size.segment_start(segno),
            None => return Err(WaldumpError::NoWalFiles { dir }),
        },
    };
    // pg_waldump: STARTSEG alone reads that one segment.
    let end = o
        .end
        .or(end_seg.map(|(_, segno)| seg_size.segment_start(segno + 1)))
        .or(match (start_seg, o.end_seg.is_none()) {
            (Some((_, segno)), true) => Some(seg_size.segment_start(segno + 1)),
            _ => None,
        });
    let last_seg_end = segnos
        .iter()
        .max()
        .map_or(start, |&s| seg_size.segment_start(s + 1));
    Ok(Plan {
        dir,
        seg_size,
        tli,
        start,
        end,
        last_seg_end,
    })
}

/// Per-rmgr and per-record-type counters (pg_waldump's `XLogStats`).
#[derive(Clone, Debug, Default)]
struct Stats {
    start: Lsn,
    end: Lsn,
    count: u64,
    /// The major version of the WAL (from the first record), for the wording.
    major: Option<u32>,
    /// rmid → (count, rec_len, fpi_len).
    rmgr: BTreeMap<u8, (u64, u64, u64)>,
    /// (rmid, recid) → (name, count, rec_len, fpi_len).
    record: BTreeMap<(u8, u8), (String, u64, u64, u64)>,
}

impl Stats {
    /// `XLogRecStoreStats`.
    fn add(&mut self, r: &Record<'_>) {
        if self.count == 0 {
            self.start = r.lsn();
            self.major = Some(r.version().major);
        }
        self.count += 1;
        self.end = r.next_lsn();
        let (rec, fpi) = (u64::from(r.rec_len()), u64::from(r.fpi_len()));
        let e = self.rmgr.entry(r.rmid()).or_default();
        e.0 += 1;
        e.1 += rec;
        e.2 += fpi;
        let mut recid = r.info() >> 4;
        if r.rmid() == walparse::rmgr::RM_XACT_ID {
            recid &= 0x07; // xact: the high bit of the four is a flag, not the opcode
        }
        let e = self.record.entry((r.rmid(), recid)).or_insert_with(|| {
            let name = match type_name(r) {
                Some(n) => n.to_string(),
                None => format!("UNKNOWN ({:x})", recid << 4),
            };
            (format!("{}/{}", r.rmgr_name(), name), 0, 0, 0)
        });
        e.1 += 1;
        e.2 += rec;
        e.3 += fpi;
    }
}

fn pct(n: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        100.0 * n as f64 / total as f64
    }
}

/// One row of [`StatsJson`] / the text table.
#[derive(Clone, Debug, Serialize)]
pub struct StatsRow {
    /// `Heap` or `Heap/INSERT`.
    pub name: String,
    /// Records.
    pub count: u64,
    /// Record bytes without full-page images.
    pub record_size: u64,
    /// Full-page image bytes.
    pub fpi_size: u64,
    /// Both.
    pub combined_size: u64,
}

/// `--stats --format json`.
#[derive(Clone, Debug, Serialize)]
pub struct StatsJson {
    /// First record counted.
    pub start: String,
    /// Where the record after the last one counted starts.
    pub end: String,
    /// The rows, in pg_waldump's order.
    pub rows: Vec<StatsRow>,
    /// Records counted.
    pub total_count: u64,
    /// Total record bytes.
    pub total_record_size: u64,
    /// Total image bytes.
    pub total_fpi_size: u64,
}

fn stats_rows(s: &Stats, mode: StatsMode) -> Vec<StatsRow> {
    let row = |name: String, (n, rec, fpi): (u64, u64, u64)| StatsRow {
        name,
        count: n,
        record_size: rec,
        fpi_size: fpi,
        combined_size: rec + fpi,
    };
    match mode {
        StatsMode::Rmgr => {
            // Every built-in resource manager, then custom ones that occurred.
            let mut rows: Vec<StatsRow> = (0..=RM_MAX_BUILTIN_ID)
                .map(|id| {
                    row(
                        walparse::rmgr_name(id, 15).to_string(),
                        s.rmgr.get(&id).copied().unwrap_or_default(),
                    )
                })
                .collect();
            for (&id, &v) in s.rmgr.range(RM_MAX_BUILTIN_ID + 1..) {
                rows.push(row(format!("custom{id:03}"), v));
            }
            rows
        }
        StatsMode::Record => s
            .record
            .values()
            .map(|(name, n, rec, fpi)| row(name.clone(), (*n, *rec, *fpi)))
            .collect(),
    }
}

/// pg_waldump's `XLogDumpDisplayStats` (15+; 14's has no "WAL statistics between" line).
fn render_stats(s: &Stats, mode: StatsMode) -> String {
    use std::fmt::Write as _;
    let rows = stats_rows(s, mode);
    let (tc, trec, tfpi) = rows.iter().fold((0, 0, 0), |a, r| {
        (a.0 + r.count, a.1 + r.record_size, a.2 + r.fpi_size)
    });
    let tlen = trec + tfpi;
    let mut o = String::new();
    if s.major.map_or(true, |m| m >= 15) {
        let _ = writeln!(o, "WAL statistics between {} and {}:", s.start, s.end);
    }
    let _ = writeln!(
        o,
        "{:<27} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8}",
        "Type", "N", "(%)", "Record size", "(%)", "FPI size", "(%)", "Combined size", "(%)"
    );
    let _ = writeln!(
        o,
        "{:<27} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8}",
        "----", "-", "---", "-----------", "---", "--------", "---", "-------------", "---"
    );
    for r in &rows {
        let _ = writeln!(
            o,
            "{:<27} {:>20} ({:>6.2}) {:>20} ({:>6.2}) {:>20} ({:>6.2}) {:>20} ({:>6.2})",
            r.name,
            r.count,
            pct(r.count, tc),
            r.record_size,
            pct(r.record_size, trec),
            r.fpi_size,
            pct(r.fpi_size, tfpi),
            r.combined_size,
            pct(r.combined_size, tlen)
        );
    }
    let _ = writeln!(
        o,
        "{:<27} {:>20} {:>8} {:>20} {:>8} {:>20} {:>8} {:>20}",
        "", "--------", "", "--------", "", "--------", "", "--------"
    );
    let _ = writeln!(
        o,
        "{:<27} {:>20} {:<9}{:>20} {:<9}{:>20} {:<9}{:>20} {:<6}",
        "Total",
        s.count,
        "",
        trec,
        format!("[{:.2}%]", pct(trec, tlen)),
        tfpi,
        format!("[{:.2}%]", pct(tfpi, tlen)),
        tlen,
        "[100%]"
    );
    o
}

/// One record as JSON (`--format json`).
#[derive(Clone, Debug, Serialize)]
pub struct RecordJson {
    /// Start LSN.
    pub lsn: String,
    /// `xl_prev`.
    pub prev: String,
    /// Where the next record starts.
    pub next: String,
    /// Resource manager name.
    pub rmgr: &'static str,
    /// `xl_rmid`.
    pub rmid: u8,
    /// `xl_info`.
    pub info: u8,
    /// Record type (`rm_identify`), or null when unknown.
    #[serde(rename = "type")]
    pub kind: Option<&'static str>,
    /// pg_waldump's description (`rm_desc`), for the record types described (PostgreSQL 15).
    pub desc: Option<String>,
    /// `xl_xid`.
    pub xid: u32,
    /// `xl_tot_len` minus image bytes.
    pub rec_len: u32,
    /// `xl_tot_len`.
    pub tot_len: u32,
    /// Image bytes.
    pub fpi_len: u32,
    /// `xl_crc`.
    pub crc: u32,
    /// Main data length.
    pub main_data_len: usize,
    /// Block references.
    pub blocks: Vec<BlockJson>,
}

/// One block reference as JSON.
#[derive(Clone, Debug, Serialize)]
pub struct BlockJson {
    /// Block id.
    pub id: u8,
    /// `spc/db/rel`.
    pub rel: String,
    /// Fork name.
    pub fork: &'static str,
    /// Block number.
    pub block: u32,
    /// Full-page image, if any.
    pub image: Option<ImageJson>,
    /// Redo initialises the page.
    pub will_init: bool,
    /// Block data length.
    pub data_len: u16,
}

/// A full-page image as JSON.
#[derive(Clone, Debug, Serialize)]
pub struct ImageJson {
    /// Stored bytes.
    pub length: u16,
    /// Hole offset.
    pub hole_offset: u16,
    /// Hole length.
    pub hole_length: u16,
    /// `none`, `pglz`, `lz4` or `zstd`.
    pub compression: &'static str,
    /// Restored by redo (false: logged for `wal_consistency_checking` only).
    pub apply: bool,
}

fn compression_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "none",
        Compression::Pglz => "pglz",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
    }
}

/// The JSON object of one record.
pub fn record_json(r: &Record<'_>) -> RecordJson {
    RecordJson {
        lsn: r.lsn().to_string(),
        prev: r.prev().to_string(),
        next: r.next_lsn().to_string(),
        rmgr: r.rmgr_name(),
        rmid: r.rmid(),
        info: r.info(),
        kind: type_name(r),
        desc: crate::waldump_desc::describe(r),
        xid: r.xid(),
        rec_len: r.rec_len(),
        tot_len: r.tot_len(),
        fpi_len: r.fpi_len(),
        crc: r.crc(),
        main_data_len: r.main_data().len(),
        blocks: r
            .blocks()
            .map(|b| BlockJson {
                id: b.id,
                rel: format!("{}/{}/{}", b.rel.spc, b.rel.db, b.rel.rel),
                fork: fork_name(b.fork),
                block: b.block,
                image: b.image.map(|i| ImageJson {
                    length: i.length,
                    hole_offset: i.hole_offset,
                    hole_length: i.hole_length,
                    compression: compression_name(i.compression),
                    apply: i.apply,
                }),
                will_init: b.will_init,
                data_len: b.data_len,
            })
            .collect(),
    }
}

/// The record type's name as pg_waldump prints it after `desc:` (each rmgr's `rm_identify`,
/// `src/backend/access/rmgrdesc/*.c`), for every built-in resource manager.
pub fn type_name(r: &Record<'_>) -> Option<&'static str> {
    if let Some(n) = record_type_name(r) {
        return Some(n);
    }
    let info = r.info() & 0xF0;
    let major = r.version().major;
    let init = |a: &'static str, b: &'static str| if info & 0x80 != 0 { b } else { a };
    Some(match (r.rmid(), info) {
        // dbasedesc.c: 15 split CREATE into FILE_COPY and WAL_LOG.
        (4, 0x00) if major >= 15 => "CREATE_FILE_COPY",
        (4, 0x10) if major >= 15 => "CREATE_WAL_LOG",
        (4, 0x20) if major >= 15 => "DROP",
        (4, 0x00) => "CREATE",
        (4, 0x10) => "DROP",
        (5, 0x00) => "CREATE",
        (5, 0x10) => "DROP",
        (6, 0x00) => "ZERO_OFF_PAGE",
        (6, 0x10) => "ZERO_MEM_PAGE",
        (6, 0x20) => "CREATE_ID",
        (6, 0x30) => "TRUNCATE_ID",
        (7, 0x00) => "UPDATE",
        // heapdesc.c heap2_identify (14 replaced 13's CLEAN and CLEANUP_INFO; 17 split PRUNE
        // into three).
        (9, 0x00) => "REWRITE",
        (9, 0x10) if major <= 13 => "CLEAN",
        (9, 0x20) if major <= 13 => "FREEZE_PAGE",
        (9, 0x30) if major <= 13 => "CLEANUP_INFO",
        (9, 0x10) if major >= 17 => "PRUNE_ON_ACCESS",
        (9, 0x20) if major >= 17 => "PRUNE_VACUUM_SCAN",
        (9, 0x30) if major >= 17 => "PRUNE_VACUUM_CLEANUP",
        (9, 0x10) => "PRUNE",
        (9, 0x20) => "VACUUM",
        (9, 0x30) => "FREEZE_PAGE",
        (9, 0x40) => "VISIBLE",
        (9, 0x50 | 0xD0) => init("MULTI_INSERT", "MULTI_INSERT+INIT"),
        (9, 0x60) => "LOCK_UPDATED",
        (9, 0x70) => "NEW_CID",
        // nbtdesc.c
        (11, 0x00) => "INSERT_LEAF",
        (11, 0x10) => "INSERT_UPPER",
        (11, 0x20) => "INSERT_META",
        (11, 0x30) => "SPLIT_L",
        (11, 0x40) => "SPLIT_R",
        (11, 0x50) => "INSERT_POST",
        (11, 0x60) => "DEDUP",
        (11, 0x70) => "DELETE",
        (11, 0x80) => "UNLINK_PAGE",
        (11, 0x90) => "UNLINK_PAGE_META",
        (11, 0xA0) => "NEWROOT",
        (11, 0xB0) => "MARK_PAGE_HALFDEAD",
        (11, 0xC0) => "VACUUM",
        (11, 0xD0) => "REUSE_PAGE",
        (11, 0xE0) => "META_CLEANUP",
        // hashdesc.c
        (12, 0x00) => "INIT_META_PAGE",
        (12, 0x10) => "INIT_BITMAP_PAGE",
        (12, 0x20) => "INSERT",
        (12, 0x30) => "ADD_OVFL_PAGE",
        (12, 0x40) => "SPLIT_ALLOCATE_PAGE",
        (12, 0x50) => "SPLIT_PAGE",
        (12, 0x60) => "SPLIT_COMPLETE",
        (12, 0x70) => "MOVE_PAGE_CONTENTS",
        (12, 0x80) => "SQUEEZE_PAGE",
        (12, 0x90) => "DELETE",
        (12, 0xA0) => "SPLIT_CLEANUP",
        (12, 0xB0) => "UPDATE_META_PAGE",
        (12, 0xC0) => "VACUUM_ONE_PAGE",
        // gindesc.c
        (13, 0x10) => "CREATE_PTREE",
        (13, 0x20) => "INSERT",
        (13, 0x30) => "SPLIT",
        (13, 0x40) => "VACUUM_PAGE",
        (13, 0x50) => "DELETE_PAGE",
        (13, 0x60) => "UPDATE_META_PAGE",
        (13, 0x70) => "INSERT_LISTPAGE",
        (13, 0x80) => "DELETE_LISTPAGE",
        (13, 0x90) => "VACUUM_DATA_LEAF_PAGE",
        // gistdesc.c
        (14, 0x00) => "PAGE_UPDATE",
        (14, 0x10) => "DELETE",
        (14, 0x20) => "PAGE_REUSE",
        (14, 0x30) => "PAGE_SPLIT",
        (14, 0x60) => "PAGE_DELETE",
        (14, 0x70) => "ASSIGN_LSN",
        (15, 0x00) => "LOG",
        // spgdesc.c
        (16, 0x10) => "ADD_LEAF",
        (16, 0x20) => "MOVE_LEAFS",
        (16, 0x30) => "ADD_NODE",
        (16, 0x40) => "SPLIT_TUPLE",
        (16, 0x50) => "PICKSPLIT",
        (16, 0x60) => "VACUUM_LEAF",
        (16, 0x70) => "VACUUM_ROOT",
        (16, 0x80) => "VACUUM_REDIRECT",
        // brindesc.c
        (17, 0x00) => "CREATE_INDEX",
        (17, 0x10 | 0x90) => init("INSERT", "INSERT+INIT"),
        (17, 0x20 | 0xA0) => init("UPDATE", "UPDATE+INIT"),
        (17, 0x30) => "SAMEPAGE_UPDATE",
        (17, 0x40) => "REVMAP_EXTEND",
        (17, 0x50) => "DESUMMARIZE",
        (18, 0x00) => "ZEROPAGE",
        (18, 0x10) => "TRUNCATE",
        // committsdesc.c: SETTS until 13.
        (18, 0x20) if major <= 13 => "SETTS",
        (19, 0x00) => "SET",
        (19, 0x10) => "DROP",
        (20, _) => "Generic",
        _ => return None,
    })
}

/// pg_waldump's record line (`XLogDumpDisplayRecord`) with the type name and its description;
/// with `bkp_details` (`-b`) the block references follow on their own tab-indented lines
/// (`XLogRecGetBlockRefInfo`, detailed), otherwise on the line in the compact form.
pub fn render_record(r: &Record<'_>, bkp_details: bool) -> String {
    use std::fmt::Write as _;
    let mut line = WaldumpHeader(r).to_string();
    match type_name(r) {
        Some(name) => {
            let _ = write!(line, "desc: {name} ");
        }
        None => {
            let _ = write!(line, "desc: UNKNOWN ({:x}) ", r.info() & 0xF0);
        }
    }
    if let Some(d) = crate::waldump_desc::describe(r) {
        line.push_str(&d);
    }
    if !bkp_details {
        let _ = write!(line, "{}", WaldumpBlockRefs(r));
        line.push('\n');
        return line;
    }
    line.push('\n');
    for b in r.blocks() {
        let _ = write!(
            line,
            "\tblkref #{}: rel {}/{}/{} fork {} blk {}",
            b.id,
            b.rel.spc,
            b.rel.db,
            b.rel.rel,
            fork_name(b.fork),
            b.block
        );
        if let Some(img) = b.image {
            let verif = if img.apply {
                ""
            } else {
                " for WAL verification"
            };
            if img.compression == Compression::None {
                let _ = write!(
                    line,
                    " (FPW{verif}); hole: offset: {}, length: {}",
                    img.hole_offset, img.hole_length
                );
            } else {
                let saved = i64::from(BLCKSZ) - i64::from(img.hole_length) - i64::from(img.length);
                let _ = write!(
                    line,
                    " (FPW{verif}); hole: offset: {}, length: {}, compression saved: {saved}, method: {}",
                    img.hole_offset,
                    img.hole_length,
                    compression_name(img.compression)
                );
            }
        }
        line.push('\n');
    }
    line
}

/// Finds the first record at or after `start` (pg_waldump's `XLogFindNextRecord`): the first
/// record of `start`'s segment, then forward to the first record at or after `start`.
fn first_record(p: &Plan, source: &DirSource) -> Result<Option<Lsn>, WaldumpError> {
    let segno = p.start.segno(p.seg_size);
    let seg_first = first_record_lsn_in_segment(source, p.tli, segno, p.seg_size)?;
    let Some(seg_first) = seg_first else {
        return Ok(None);
    };
    if seg_first >= p.start {
        return Ok(Some(seg_first));
    }
    let spans = [TliSpan {
        tli: p.tli,
        begin: Lsn::INVALID,
        end: None,
    }];
    let mut r = WalReader::new(source, seg_first, &spans, p.seg_size);
    while let Some(rec) = r.next_record()? {
        if rec.lsn() >= p.start {
            return Ok(Some(rec.lsn()));
        }
    }
    Ok(None)
}

/// Runs the dump, writing to `out`. `progress` is ticked with the bytes of WAL read.
pub fn run(
    o: &WaldumpOptions,
    out: &mut dyn Write,
    progress: &Progress,
) -> Result<WaldumpOutcome, WaldumpError> {
    let rmid_filter = match &o.rmgr {
        None => None,
        Some(name) => Some(
            rmgr_names()
                .iter()
                .position(|n| n.eq_ignore_ascii_case(name))
                .ok_or_else(|| WaldumpError::UnknownRmgr { name: name.clone() })? as u8,
        ),
    };
    let p = plan(o)?;
    let source = DirSource::new([p.dir.clone()]);
    let start = if p.start.segment_offset(p.seg_size) == 0 || p.start.0 % 8 != 0 {
        first_record(&p, &source)?
    } else {
        // A record start, or somewhere in a record: try it as a record first.
        Some(p.start)
    };
    let Some(mut start) = start else {
        return Err(WaldumpError::NoFirstRecord { lsn: p.start });
    };
    let spans = [TliSpan {
        tli: p.tli,
        begin: Lsn::INVALID,
        end: None,
    }];
    let out_err = WaldumpError::Output;
    let mut reader = WalReader::new(&source, start, &spans, p.seg_size);
    // A position inside a record: fall back to the next record after it.
    if p.start.segment_offset(p.seg_size) != 0 {
        let ok = reader.next_record()?.is_some();
        if !ok {
            if let Some(s) = first_record(&p, &source)? {
                start = s;
            }
        }
        reader = WalReader::new(&source, start, &spans, p.seg_size);
        if start != p.start && !o.quiet && !o.json && o.stats.is_none() {
            writeln!(
                out,
                "first record is after {}, at {}, skipping over {} byte{}",
                p.start,
                start,
                start.0 - p.start.0,
                if start.0 - p.start.0 == 1 { "" } else { "s" }
            )
            .map_err(out_err)?;
        }
    }
    let total = p.end.unwrap_or(p.last_seg_end).0.saturating_sub(start.0);
    progress.set_length(total.max(1));
    let mut stats = Stats::default();
    let mut shown = 0u64;
    let mut last_read = None;
    let mut stopped = false;
    let mut major = None;
    while let Some(rec) = reader.next_record()? {
        major.get_or_insert(rec.version().major);
        if let (Some(e), None) = (p.end, last_read) {
            // XLogFindNextRecord reads within -e too: no record fits before it.
            if rec.end_lsn() > e {
                return Err(WaldumpError::NoFirstRecord { lsn: p.start });
            }
        }
        if let Some(e) = p.end {
            // WALDumpReadPage refuses pages past -e: a record is read only if it ends there.
            if rec.end_lsn() > e || Lsn(rec.lsn().0 + 24) > e {
                stopped = true;
                break;
            }
        }
        last_read = Some(rec.lsn());
        if shown % 64 == 0 {
            progress.set_position(rec.lsn().0.saturating_sub(start.0));
        }
        if rmid_filter.is_some_and(|id| id != rec.rmid()) || o.xid.is_some_and(|x| x != rec.xid()) {
            continue;
        }
        if !o.quiet {
            if o.stats.is_some() {
                stats.add(&rec);
            } else if o.json {
                let j = serde_json::to_string(&record_json(&rec))
                    .map_err(|e| out_err(io::Error::other(e)))?;
                writeln!(out, "{j}").map_err(out_err)?;
            } else {
                out.write_all(render_record(&rec, o.bkp_details).as_bytes())
                    .map_err(out_err)?;
            }
        }
        shown += 1;
        if o.limit.is_some_and(|n| n > 0 && shown >= n) {
            stopped = true;
            break;
        }
    }
    progress.finish();
    if let (Some(mode), false) = (o.stats, o.quiet) {
        if o.json {
            let rows = stats_rows(&stats, mode);
            let j = StatsJson {
                start: stats.start.to_string(),
                end: stats.end.to_string(),
                total_count: stats.count,
                total_record_size: rows.iter().map(|r| r.record_size).sum(),
                total_fpi_size: rows.iter().map(|r| r.fpi_size).sum(),
                rows,
            };
            let s = serde_json::to_string_pretty(&j).map_err(|e| out_err(io::Error::other(e)))?;
            writeln!(out, "{s}").map_err(out_err)?;
        } else {
            out.write_all(render_stats(&stats, mode).as_bytes())
                .map_err(out_err)?;
        }
    }
    out.flush().map_err(out_err)?;
    let end = if stopped { None } else { reader.end().copied() };
    let end_message = end.as_ref().map(|e| match e.reason {
        // pg_waldump stops at once on a missing file (WALDumpOpenSegment).
        EndReason::MissingSegment { tli, segno } => format!(
            "could not find file \"{}\": No such file or directory",
            walparse::segment_file_name(tli, segno, p.seg_size)
        ),
        _ => format!(
            "error in WAL record at {}: {}",
            last_read.unwrap_or(Lsn::INVALID),
            e.message(major.or_else(|| reader.version().map(|v| v.major)))
        ),
    });
    Ok(WaldumpOutcome {
        shown,
        last_read,
        end,
        end_message,
    })
}

/// The hint for a waldump error.
pub fn hint(e: &WaldumpError) -> Option<&'static str> {
    Some(match e {
        WaldumpError::UnknownRmgr { .. } => "use --rmgr=list to list valid resource manager names",
        WaldumpError::NoWalFiles { .. } => {
            "give the WAL directory or the data directory with -p, or a segment file as STARTSEG"
        }
        WaldumpError::BadSegmentName { .. } => {
            "segment file names are 24 hex digits, e.g. 000000010000000000000001"
        }
        WaldumpError::NoFirstRecord { .. } => {
            "check -s and -t: the position must be in a segment of that timeline"
        }
        WaldumpError::NotWal { .. } => "the file is not a WAL segment, or is zero-filled",
        WaldumpError::Io { .. } => "check the path given with -p or as STARTSEG",
        _ => return None,
    })
}

/// `pgdiverge waldump`'s arguments (pg_waldump's names).
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:
  pgdiverge waldump -p /srv/pg/data -t 2 -s 0/1001B60 -n 10
  pgdiverge waldump -p /srv/pg/data/pg_wal 000000010000000000000010
  pgdiverge waldump -p DATA -r Transaction -x 735 -b
  pgdiverge waldump -p DATA --stats=record
  pgdiverge waldump -p DATA --format json | jq -c 'select(.rmgr == \"Heap\")'
  pgdiverge waldump -r list")]
pub struct WaldumpArgs {
    /// The first segment file to read (its directory is searched when -p is not given).
    #[arg(value_name = "STARTSEG")]
    pub start_seg: Option<PathBuf>,
    /// The last segment file to read.
    #[arg(value_name = "ENDSEG")]
    pub end_seg: Option<PathBuf>,
    /// Directory with the WAL segment files, or a data directory (its pg_wal is used).
    #[arg(short = 'p', long = "path", value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Start reading at this WAL location (the first record at or after it).
    #[arg(short = 's', long = "start", value_name = "RECPTR")]
    pub start: Option<Lsn>,
    /// Stop reading at this WAL location.
    #[arg(short = 'e', long = "end", value_name = "RECPTR")]
    pub end: Option<Lsn>,
    /// Timeline whose files are read (default: 1 or STARTSEG's).
    #[arg(short = 't', long = "timeline", value_name = "TLI")]
    pub timeline: Option<TimeLineId>,
    /// Number of records to display.
    #[arg(short = 'n', long = "limit", value_name = "N")]
    pub limit: Option<u64>,
    /// Only records of this resource manager; `list` lists the names.
    #[arg(short = 'r', long = "rmgr", value_name = "RMGR")]
    pub rmgr: Option<String>,
    /// Only records with this transaction ID.
    #[arg(short = 'x', long = "xid", value_name = "XID")]
    pub xid: Option<u32>,
    /// Output detailed information about backup blocks.
    #[arg(short = 'b', long = "bkp-details")]
    pub bkp_details: bool,
    /// Show statistics instead of records (`--stats=record`: per record type).
    #[arg(short = 'z', long = "stats", value_name = "record", num_args = 0..=1,
          require_equals = true, default_missing_value = "rmgr",
          value_parser = ["rmgr", "record"])]
    pub stats: Option<String>,
    /// Output format: pg_waldump's text, or one JSON object per record.
    #[arg(long, value_enum, default_value_t = DumpFormat::Text)]
    pub format: DumpFormat,
}

/// `waldump --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DumpFormat {
    /// pg_waldump's layout.
    Text,
    /// One JSON object per record (with --stats: one object).
    Json,
}

/// Runs `pgdiverge waldump`; returns the exit status.
pub fn main(a: &WaldumpArgs, ctx: &crate::term::Context) -> u8 {
    use std::io::IsTerminal;
    if a.rmgr.as_deref() == Some("list") {
        let mut s = rmgr_names().join("\n");
        s.push('\n');
        return match crate::term::print_stdout(&s) {
            Ok(()) => 0,
            Err(e) => crate::term::fail(&WaldumpError::Output(e), None),
        };
    }
    let o = WaldumpOptions {
        path: a.path.clone(),
        start_seg: a.start_seg.clone(),
        end_seg: a.end_seg.clone(),
        start: a.start,
        end: a.end,
        timeline: a.timeline,
        limit: a.limit,
        rmgr: a.rmgr.clone(),
        xid: a.xid,
        bkp_details: a.bkp_details,
        quiet: ctx.quiet,
        stats: a.stats.as_deref().map(|s| {
            if s == "record" {
                StatsMode::Record
            } else {
                StatsMode::Rmgr
            }
        }),
        json: a.format == DumpFormat::Json,
    };
    // Records stream to stdout as they are read: a bar would interleave with them on a
    // terminal, so it is shown only when stdout goes elsewhere or only statistics are printed.
    let show_bar = o.stats.is_some() || !std::io::stdout().is_terminal();
    let progress = Progress::new(0, "reading WAL", ctx.quiet || !show_bar);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match run(&o, &mut out, &progress) {
        Ok(outcome) => {
            progress.finish();
            if let Some(m) = outcome.end_message {
                eprintln!("pgdiverge: {m}");
            }
            0
        }
        Err(WaldumpError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            progress.finish();
            crate::term::fail(&e, hint(&e))
        }
    }
}
