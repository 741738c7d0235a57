//! One data directory, read without writing anything: pg_control, PG_VERSION, the timeline
//! history files, the WAL it holds (pg_wal — possibly a symlink —, `.partial` files and any
//! archive directories), signal files, postmaster.pid, backup_label and the settings in
//! postgresql.conf / postgresql.auto.conf.
//!
//! [`Cluster::open`] also establishes the cluster's own position — its real timeline and the end
//! of the WAL it holds — because every consumer (compare, inspect) needs it. Everything that
//! compares two clusters lives in `compare.rs`.
//!
//! Files are only ever opened for reading (`File::open`, `read_dir`, `read_link`).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use walparse::control::{ControlError, ControlFile, DbState};
use walparse::history::{HistoryError, TimelineHistory};
use walparse::name::{segment_file_name, WalFileName};
use walparse::page::PageHeader;
use walparse::reader::{first_record_lsn_in_segment, BackwardReader, WalReader};
use walparse::rmgr::xlog::{self, XlogRecord};
use walparse::segment::DirSource;
use walparse::timeline::tli_of_point;
use walparse::version::WalVersion;
use walparse::WalError;
use walparse::{Lsn, TimeLineId, TliSpan, WalSegSize};

use crate::report::{Finding, Settings, Severity, Side};

/// Where to look for WAL besides the cluster's own pg_wal.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// WAL archive directories (`--archive DIR`), searched after pg_wal, in order.
    pub archives: Vec<PathBuf>,
    /// Threads for reading the WAL (0: one per available core). The result does not depend on
    /// it (`walparse::par::scan`).
    pub threads: usize,
    /// How segment files are read: `read()` (the default, no side effects) or maps, which cost
    /// about half the CPU time but install a process-wide SIGBUS handler (see
    /// `walparse::ReadMode::Mmap`). The `pgdiverge` binary maps.
    pub read_mode: walparse::ReadMode,
}

/// Why a directory could not be analysed at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The path does not exist or is not a directory.
    #[error("{path}: not a directory")]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// Neither `global/pg_control` nor `PG_VERSION` is there.
    #[error("{path}: not a PostgreSQL data directory (no global/pg_control, no PG_VERSION)")]
    NotADataDirectory {
        /// The path given.
        path: PathBuf,
    },
    /// `PG_VERSION` is there but `global/pg_control` is not.
    #[error("{path}: global/pg_control is missing; cannot analyse a data directory without it")]
    MissingControlFile {
        /// The data directory.
        path: PathBuf,
    },
    /// pg_control could not be read or is invalid.
    #[error(transparent)]
    Control(#[from] ControlError),
    /// pg_control names a WAL segment size PostgreSQL would reject.
    #[error("{path}: WAL segment size {bytes} in pg_control is not a power of two between 1 MB and 1 GB")]
    BadSegmentSize {
        /// The pg_control file.
        path: PathBuf,
        /// The stored size.
        bytes: u32,
    },
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// A timeline history file is invalid (the error names the file).
    #[error(transparent)]
    History(#[from] HistoryError),
    /// A WAL file belongs to a different cluster (its long page header carries another system
    /// identifier).
    #[error("{path}: WAL file is from a different database system: WAL file database system identifier is {found}, pg_control database system identifier is {expected}")]
    ForeignWal {
        /// The WAL file.
        path: PathBuf,
        /// pg_control's system identifier.
        expected: u64,
        /// The one in the file.
        found: u64,
    },
    /// A WAL file's long page header names a different segment size than pg_control.
    #[error("{path}: WAL file has segment size {found}, pg_control says {expected}")]
    WalSegmentSizeMismatch {
        /// The WAL file.
        path: PathBuf,
        /// pg_control's size.
        expected: u32,
        /// The file's.
        found: u32,
    },
    /// Reading the WAL failed in a way that is not simply "the WAL ends here".
    #[error(transparent)]
    Wal(#[from] WalError),
}

/// Where a WAL file was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum WalLocation {
    /// The cluster's own pg_wal.
    PgWal,
    /// `OpenOptions::archives[i]`.
    Archive(usize),
}

/// One file in pg_wal or an archive with a WAL file name.
#[derive(Clone, Debug)]
pub struct WalFile {
    /// Its path.
    pub path: PathBuf,
    /// Its parsed name.
    pub name: WalFileName,
    /// Where it is.
    pub location: WalLocation,
    /// Its size in bytes.
    pub size: u64,
}

/// A parsed timeline history file.
#[derive(Clone, Debug)]
pub struct HistoryFile {
    /// Its path.
    pub path: PathBuf,
    /// Where it is.
    pub location: WalLocation,
    /// The parsed history.
    pub history: TimelineHistory,
}

/// The last valid record of the WAL a cluster holds, and why reading stopped there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalPosition {
    /// Start of the last valid record.
    pub last_record: Lsn,
    /// Right after it (unaligned end + alignment to the next record start).
    pub end: Lsn,
    /// Its timeline on the cluster's history.
    pub tli: TimeLineId,
    /// PostgreSQL's words for why reading stopped.
    pub reason: String,
}

/// What the one pass over a cluster's WAL (from its oldest record to the end of WAL) learned
/// about the records that begin in one segment. Kept so that later questions — how much was
/// written after a point, where two clusters' records first differ — re-read at most a segment
/// or two instead of the whole WAL again; a few dozen bytes per segment, so memory stays flat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    /// The segment number.
    pub segno: u64,
    /// The first record that begins in it.
    pub first: Lsn,
    /// Records that begin in it.
    pub records: u64,
    /// Of those, commit records (`XLOG_XACT_COMMIT`, `XLOG_XACT_COMMIT_PREPARED`).
    pub commits: u64,
    /// Order-independent digest of the records' (LSN, `xl_tot_len`, `xl_crc`): the CRC-32C
    /// covers every byte of a record, so equal digests mean equal records but for a record
    /// whose CRC collides (2^-32). Used only to skip leading segments that are equal on both
    /// sides before comparing records byte by byte (see `compare::compare_wal`).
    pub digest: u64,
}

impl SegmentSummary {
    /// splitmix64's finaliser: a bijection on u64 that spreads every input bit.
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Adds `rec` (which begins in this summary's segment, or starts a new summary).
    fn add(list: &mut Vec<SegmentSummary>, rec: &walparse::record::Record<'_>, seg: WalSegSize) {
        let segno = rec.lsn().segno(seg);
        let d = Self::mix(
            Self::mix(rec.lsn().0) ^ (u64::from(rec.tot_len()) << 32 | u64::from(rec.crc())),
        );
        let commit = u64::from(is_commit(rec));
        match list.last_mut() {
            Some(s) if s.segno == segno => {
                s.records += 1;
                s.commits += commit;
                s.digest = s.digest.wrapping_add(d);
            }
            _ => list.push(SegmentSummary {
                segno,
                first: rec.lsn(),
                records: 1,
                commits: commit,
                digest: d,
            }),
        }
    }

    /// Joins the summaries of two consecutive stretches of records.
    fn join(mut a: Vec<SegmentSummary>, b: Vec<SegmentSummary>) -> Vec<SegmentSummary> {
        let mut b = b.into_iter();
        if let (Some(last), Some(first)) = (a.last_mut(), b.as_slice().first()) {
            if last.segno == first.segno {
                last.records += first.records;
                last.commits += first.commits;
                last.digest = last.digest.wrapping_add(first.digest);
                b.next();
            }
        }
        a.extend(b);
        a
    }
}

/// A commit record: `XLOG_XACT_COMMIT` or `XLOG_XACT_COMMIT_PREPARED` (xact.h).
fn is_commit(rec: &walparse::record::Record<'_>) -> bool {
    use walparse::rmgr::xact::XLOG_XACT_OPMASK;
    rec.rmid() == walparse::rmgr::RM_XACT_ID && matches!(rec.info() & XLOG_XACT_OPMASK, 0x00 | 0x30)
}

/// A data directory, opened read-only.
#[derive(Debug)]
pub struct Cluster {
    /// The directory as given.
    pub path: PathBuf,
    /// The contents of `PG_VERSION`, trimmed.
    pub pg_version: Option<String>,
    /// `global/pg_control`.
    pub control: ControlFile,
    /// `xlog_seg_size` from pg_control.
    pub seg_size: WalSegSize,
    /// The pg_wal directory (resolved when it is a symlink).
    pub wal_dir: PathBuf,
    /// True when pg_wal is a symlink.
    pub wal_dir_is_symlink: bool,
    /// Archive directories searched after pg_wal.
    pub archives: Vec<PathBuf>,
    /// How its segment files are read ([`OpenOptions::read_mode`]).
    pub read_mode: walparse::ReadMode,
    /// Every WAL file (segments, partials, histories, backup files) in pg_wal and the archives.
    pub wal_files: Vec<WalFile>,
    /// Parsed history files by timeline; pg_wal's copy first, then archives'.
    pub histories: BTreeMap<TimeLineId, Vec<HistoryFile>>,
    /// `standby.signal` / `recovery.signal` (`standby` wins when both exist, as in PostgreSQL).
    pub signal: Option<&'static str>,
    /// `recovery.conf` present (PostgreSQL ≤ 11 standby configuration).
    pub recovery_conf: bool,
    /// `postmaster.pid` present, with the pid on its first line when readable.
    pub postmaster_pid: Option<Option<u32>>,
    /// `backup_label` present.
    pub backup_label: bool,
    /// Settings from postgresql.conf then postgresql.auto.conf (later wins).
    pub settings: Settings,
    /// The cluster's real timeline (see [`Cluster::timeline_from`]).
    pub timeline: TimeLineId,
    /// How `timeline` was determined: `history-file`, `min-recovery-point` or `checkpoint`.
    pub timeline_from: &'static str,
    /// The history of `timeline`, oldest first (as pg_rewind builds it).
    pub spans: Vec<TliSpan>,
    /// The first record of the oldest segment this cluster holds in pg_wal on its history.
    pub oldest_record: Option<Lsn>,
    /// The end of the WAL it holds in pg_wal, read from the records.
    pub end_of_wal: Option<WalPosition>,
    /// Per segment, the records read from `oldest_record` on until reading stopped (the end of
    /// WAL, or a gap), in segment order; segments in which no record begins are absent.
    pub segments: Vec<SegmentSummary>,
    /// The end of the checkpoint record pg_control points at, when it could be read.
    pub checkpoint_end: Option<Lsn>,
    /// Damage and notable facts found while opening (labelled with `Side::A` by default;
    /// `compare` relabels).
    pub findings: Vec<Finding>,
}

/// Reads at most `limit` bytes of a small text file; `Ok(None)` when it does not exist.
fn read_small_text(path: &Path, limit: u64) -> Result<Option<String>, OpenError> {
    match fs::File::open(path) {
        Ok(f) => {
            let mut buf = Vec::new();
            f.take(limit)
                .read_to_end(&mut buf)
                .map_err(|source| OpenError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(OpenError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Largest config / history / label file read (PostgreSQL's files are far smaller).
const TEXT_LIMIT: u64 = 4 << 20;

impl Cluster {
    /// Opens the data directory at `path` read-only. Errors when it is not a data directory or
    /// pg_control / a history file / a WAL file is unusable; records lesser damage as findings.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Cluster, OpenError> {
        if !path.is_dir() {
            return Err(OpenError::NotADirectory {
                path: path.to_path_buf(),
            });
        }
        let control_path = path.join("global").join("pg_control");
        let pg_version =
            read_small_text(&path.join("PG_VERSION"), 64)?.map(|s| s.trim().to_string());
        if !control_path.exists() {
            return Err(if pg_version.is_some() {
                OpenError::MissingControlFile {
                    path: path.to_path_buf(),
                }
            } else {
                OpenError::NotADataDirectory {
                    path: path.to_path_buf(),
                }
            });
        }
        let control = ControlFile::read(&control_path)?;
        let seg_size = control.wal_seg_size().ok_or(OpenError::BadSegmentSize {
            path: control_path.clone(),
            bytes: control.xlog_seg_size,
        })?;
        let mut findings = Vec::new();

        // pg_wal (pg_xlog before 10) — possibly a symlink to another directory.
        let mut wal_link = path.join("pg_wal");
        if !wal_link.exists() && path.join("pg_xlog").exists() {
            wal_link = path.join("pg_xlog");
        }
        let wal_dir_is_symlink = fs::symlink_metadata(&wal_link)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        let wal_dir = if wal_dir_is_symlink {
            fs::canonicalize(&wal_link).map_err(|source| OpenError::Io {
                path: wal_link.clone(),
                source,
            })?
        } else {
            wal_link.clone()
        };
        if wal_dir_is_symlink {
            findings.push(info(
                "pg-wal-symlink",
                format!("pg_wal is a symlink to {}", wal_dir.display()),
            ));
        }

        let mut wal_files = Vec::new();
        if wal_dir.is_dir() {
            list_wal_dir(&wal_dir, WalLocation::PgWal, seg_size, &mut wal_files)?;
        } else {
            findings.push(error(
                "pg-wal-missing",
                format!("{}: no pg_wal directory", wal_link.display()),
            ));
        }
        for (i, dir) in opts.archives.iter().enumerate() {
            if !dir.is_dir() {
                return Err(OpenError::NotADirectory { path: dir.clone() });
            }
            list_wal_dir(dir, WalLocation::Archive(i), seg_size, &mut wal_files)?;
        }
        wal_files.sort_by(|a, b| (a.location, &a.path).cmp(&(b.location, &b.path)));

        // Every segment must be ours: a long page header with another system identifier or
        // segment size is WAL of another cluster (XLogReaderValidatePageHeader's checks).
        for f in &wal_files {
            if matches!(
                f.name,
                WalFileName::Segment { .. } | WalFileName::Partial { .. }
            ) {
                check_segment_identity(f, &control, seg_size)?;
            }
        }

        let mut histories: BTreeMap<TimeLineId, Vec<HistoryFile>> = BTreeMap::new();
        for f in &wal_files {
            if let WalFileName::History { tli } = f.name {
                let history = TimelineHistory::read(&f.path, tli)?;
                histories.entry(tli).or_default().push(HistoryFile {
                    path: f.path.clone(),
                    location: f.location,
                    history,
                });
            }
        }

        let signal = if path.join("standby.signal").exists() {
            Some("standby")
        } else if path.join("recovery.signal").exists() {
            Some("recovery")
        } else {
            None
        };
        let recovery_conf = path.join("recovery.conf").exists();
        let postmaster_pid = read_small_text(&path.join("postmaster.pid"), 4096)?
            .map(|t| t.lines().next().and_then(|l| l.trim().parse::<u32>().ok()));
        let backup_label = path.join("backup_label").exists();

        let mut settings = Settings::default();
        // recovery.conf carries the standby settings up to PostgreSQL 11.
        for file in ["postgresql.conf", "postgresql.auto.conf", "recovery.conf"] {
            let p = path.join(file);
            if let Some(text) = read_small_text(&p, TEXT_LIMIT)? {
                for (line_no, name, value) in config::parse(&text) {
                    apply_setting(&mut settings, &name, value);
                    if matches!(
                        name.as_str(),
                        "include" | "include_if_exists" | "include_dir"
                    ) {
                        findings.push(info(
                            "config-include-not-followed",
                            format!("{}:{line_no}: {name} is not followed", p.display()),
                        ));
                    }
                }
            }
        }

        if !control.state.is_clean_shutdown() {
            findings.push(warning(
                "not-shut-down-cleanly",
                format!(
                    "pg_control says \"{}\": the server is running or crashed",
                    control.state.as_str()
                ),
            ));
        }
        if backup_label {
            findings.push(warning(
                "backup-label-present",
                "backup_label is present: the directory is a base backup not yet recovered"
                    .to_string(),
            ));
        }

        let mut cluster = Cluster {
            path: path.to_path_buf(),
            pg_version,
            control,
            seg_size,
            wal_dir,
            wal_dir_is_symlink,
            archives: opts.archives.clone(),
            read_mode: opts.read_mode,
            wal_files,
            histories,
            signal,
            recovery_conf,
            postmaster_pid,
            backup_label,
            settings,
            timeline: 0,
            timeline_from: "checkpoint",
            spans: Vec::new(),
            oldest_record: None,
            end_of_wal: None,
            segments: Vec::new(),
            checkpoint_end: None,
            findings,
        };
        cluster.find_position(opts.threads)?;
        Ok(cluster)
    }

    /// The summary of the records that begin in segment `segno` (see [`Cluster::segments`]).
    pub fn segment_summary(&self, segno: u64) -> Option<&SegmentSummary> {
        self.segments
            .binary_search_by_key(&segno, |s| s.segno)
            .ok()
            .map(|i| &self.segments[i])
    }

    /// The history file for `tli`: pg_wal's copy when there is one, else the first archive's.
    pub fn history(&self, tli: TimeLineId) -> Option<&HistoryFile> {
        self.histories.get(&tli).and_then(|v| v.first())
    }

    /// The spans of `tli`'s history as pg_rewind builds them; `None` when `tli > 1` has no
    /// history file.
    pub fn spans_of(&self, tli: TimeLineId) -> Option<Vec<TliSpan>> {
        if tli <= 1 {
            return Some(vec![TliSpan {
                tli,
                begin: Lsn::INVALID,
                end: None,
            }]);
        }
        self.history(tli).map(|h| h.history.spans())
    }

    /// Where the segment `segno` of timeline `tli` is: pg_wal first, then archives in order.
    /// A `.partial` file counts only when no complete file exists anywhere.
    pub fn locate_segment(
        &self,
        tli: TimeLineId,
        segno: u64,
        with_archives: bool,
    ) -> Option<&WalFile> {
        let find = |want: WalFileName| {
            self.wal_files
                .iter()
                .find(|f| f.name == want && (with_archives || f.location == WalLocation::PgWal))
        };
        find(WalFileName::Segment { tli, segno })
            .or_else(|| find(WalFileName::Partial { tli, segno }))
    }

    /// The file name PostgreSQL asks for, for `segno` on `tli`.
    pub fn segment_name(&self, tli: TimeLineId, segno: u64) -> String {
        segment_file_name(tli, segno, self.seg_size)
    }

    /// The WAL file for segment `segno` on the history `spans`, and the timeline PostgreSQL
    /// prefers for it: the newest timeline that begins in or before the segment; when its file
    /// is missing, older timelines are tried (xlogrecovery.c `XLogFileReadAnyTLI`, which
    /// `WalReader` follows too) — here only those whose span still reaches into the segment, as
    /// a file of a timeline that ended before the segment cannot hold its WAL.
    pub fn segment_file(
        &self,
        spans: &[TliSpan],
        segno: u64,
        with_archives: bool,
    ) -> (TimeLineId, Option<&WalFile>) {
        let mut preferred = None;
        for s in spans.iter().rev() {
            if s.begin.is_valid() && s.begin.segno(self.seg_size) > segno {
                continue;
            }
            preferred.get_or_insert(s.tli);
            let seg_start = self.seg_size.segment_start(segno);
            if s.end.is_some_and(|e| e <= seg_start) {
                break;
            }
            if let Some(f) = self.locate_segment(s.tli, segno, with_archives) {
                return (preferred.unwrap_or(s.tli), Some(f));
            }
        }
        (
            preferred.or(spans.first().map(|s| s.tli)).unwrap_or(1),
            None,
        )
    }

    /// The segment source for this cluster: pg_wal, then (optionally) the archives.
    pub fn source(&self, with_archives: bool) -> DirSource {
        let mut dirs = vec![self.wal_dir.clone()];
        if with_archives {
            dirs.extend(self.archives.iter().cloned());
        }
        DirSource::new(dirs).with_read_mode(self.read_mode)
    }

    /// A forward reader of this cluster's WAL from `start` along `spans`, requiring this
    /// cluster's system identifier in every segment.
    pub fn records(
        &self,
        start: Lsn,
        spans: &[TliSpan],
        with_archives: bool,
    ) -> WalReader<DirSource> {
        WalReader::new(self.source(with_archives), start, spans, self.seg_size)
            .with_system_identifier(self.control.system_identifier)
    }

    /// The first record of the oldest segment held on this cluster's history (pg_wal only, or
    /// pg_wal and archives).
    pub fn oldest_record_lsn(&self, with_archives: bool) -> Result<Option<Lsn>, WalError> {
        let tlis: Vec<TimeLineId> = self.spans.iter().map(|s| s.tli).collect();
        let mut segnos: Vec<u64> = self
            .wal_files
            .iter()
            .filter(|f| with_archives || f.location == WalLocation::PgWal)
            .filter_map(|f| match f.name {
                WalFileName::Segment { tli, segno } | WalFileName::Partial { tli, segno }
                    if tlis.contains(&tli) =>
                {
                    Some(segno)
                }
                _ => None,
            })
            .collect();
        segnos.sort_unstable();
        segnos.dedup();
        let source = self.source(with_archives);
        for segno in segnos {
            let (_, file) = self.segment_file(&self.spans, segno, with_archives);
            let Some(file) = file else { continue };
            if let Some(lsn) =
                first_record_lsn_in_segment(&source, file.name.tli(), segno, self.seg_size)?
            {
                return Ok(Some(lsn));
            }
        }
        Ok(None)
    }

    /// Reads forward from `start` to the end of WAL on `threads` threads: the last valid record
    /// and why reading stopped, and the per-segment summary of the records read.
    fn scan_to_end(
        &self,
        start: Lsn,
        threads: usize,
    ) -> Result<(Option<WalPosition>, Vec<SegmentSummary>), WalError> {
        let threads = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let range = walparse::par::ScanRange {
            start,
            stop: None,
            timelines: &self.spans,
            seg_size: self.seg_size,
            system_identifier: Some(self.control.system_identifier),
        };
        let seg = self.seg_size;
        let out = walparse::par::scan(
            &self.source(false),
            &range,
            threads,
            Vec::new,
            |list, rec| SegmentSummary::add(list, rec, seg),
            SegmentSummary::join,
        )?;
        let major = Some(self.control.major_version());
        let reason = out.end.map(|e| e.message(major)).unwrap_or_default();
        let pos = out.last.map(|lsn| WalPosition {
            last_record: lsn,
            end: out.next,
            tli: tli_of_point(lsn, &self.spans).unwrap_or(self.timeline),
            reason,
        });
        Ok((pos, out.acc))
    }

    /// Establishes the real timeline, its history, the oldest record and the end of WAL.
    fn find_position(&mut self, threads: usize) -> Result<(), OpenError> {
        let cp_tli = self.control.checkpoint_copy.this_tli;
        let mrp_tli = if self.control.min_recovery_point.is_valid() {
            self.control.min_recovery_point_tli
        } else {
            0
        };
        // The newest history file in pg_wal that descends from pg_control's timeline: a
        // promoted server writes it before its first record on the new timeline, while
        // pg_control keeps the old timeline until the next checkpoint.
        let hist_tli = self
            .histories
            .iter()
            .filter(|(_, v)| v.iter().any(|h| h.location == WalLocation::PgWal))
            .filter(|(_, v)| {
                v[0].history.tli == cp_tli
                    || v[0].history.entries.iter().any(|e| e.parent_tli == cp_tli)
            })
            .map(|(t, _)| *t)
            .max()
            .unwrap_or(0);
        let (tli, from) = if hist_tli > cp_tli.max(mrp_tli) {
            (hist_tli, "history-file")
        } else if mrp_tli > cp_tli {
            (mrp_tli, "min-recovery-point")
        } else {
            (cp_tli, "checkpoint")
        };
        self.timeline = tli;
        self.timeline_from = from;
        self.spans = match self.spans_of(tli) {
            Some(s) => s,
            None => {
                self.findings.push(error(
                    "history-file-missing",
                    format!(
                        "the cluster is on timeline {tli} but {tli:08X}.history is neither in pg_wal nor in an archive: pg_rewind would fail to read it"
                    ),
                ));
                vec![TliSpan {
                    tli,
                    begin: Lsn::INVALID,
                    end: None,
                }]
            }
        };
        if tli > 1
            && !self
                .histories
                .get(&tli)
                .is_some_and(|v| v.iter().any(|h| h.location == WalLocation::PgWal))
            && self.history(tli).is_some()
        {
            self.findings.push(warning(
                "history-file-only-in-archive",
                format!("{tli:08X}.history is only in an archive, not in pg_wal: pg_rewind reads it from pg_wal"),
            ));
        }
        let newer: Vec<TimeLineId> = self
            .wal_files
            .iter()
            .filter(|f| f.location == WalLocation::PgWal && f.name.tli() > tli)
            .map(|f| f.name.tli())
            .collect();
        if let Some(t) = newer.iter().max() {
            self.findings.push(warning(
                "wal-beyond-timeline",
                format!("pg_wal holds files of timeline {t}, newer than the cluster's timeline {tli} (a history file is missing, or they belong to another server)"),
            ));
        }

        self.oldest_record = self.oldest_record_lsn(false)?;
        let mut end = match self.oldest_record {
            Some(start) => {
                let (end, segments) = self.scan_to_end(start, threads)?;
                self.segments = segments;
                end
            }
            None => None,
        };
        // A gap in pg_wal stops the forward read early: read again from the checkpoint
        // pg_control points at, which is where PostgreSQL itself starts.
        let cp = self.control.checkpoint;
        if end.as_ref().map_or(true, |e| e.end <= cp) && cp.is_valid() {
            if let (Some(e2), _) = self.scan_to_end(cp, threads)? {
                if end.as_ref().is_some_and(|e| e.end < cp) {
                    self.findings.push(warning(
                        "wal-gap",
                        format!(
                            "the WAL in pg_wal stops at {} before the latest checkpoint {cp}; read again from the checkpoint",
                            end.as_ref().map_or(Lsn::INVALID, |e| e.end)
                        ),
                    ));
                }
                end = Some(e2);
            }
        }
        if end.is_none() {
            self.findings.push(error(
                "no-wal",
                "no readable WAL record in pg_wal: the end of WAL is pg_control's".to_string(),
            ));
        }
        self.end_of_wal = end;
        self.checkpoint_end = match walparse::reader::read_record_at(
            self.source(false),
            cp,
            &self.spans,
            self.seg_size,
        )? {
            Ok(rec) => Some(rec.record().next_lsn()),
            Err(e) => {
                self.findings.push(warning(
                    "checkpoint-record-unreadable",
                    format!("the latest checkpoint record at {cp} (pg_control) cannot be read from pg_wal: {e}"),
                ));
                None
            }
        };
        Ok(())
    }

    /// What this cluster wrote from `point` to its end of WAL (records read from pg_wal, from
    /// the oldest record on: the per-segment summary, and a re-read of `point`'s segment).
    pub fn after(&self, point: Lsn) -> Option<crate::report::AfterFork> {
        let end = self.end_of_wal.as_ref()?;
        let start = self.oldest_record?;
        let mut out = crate::report::AfterFork {
            bytes: end.end.bytes_since(point),
            counted_from: point.max(start),
            ..Default::default()
        };
        if end.end <= point {
            return Some(out);
        }
        let seg = point.segno(self.seg_size);
        for s in self.segments.iter().filter(|s| s.segno > seg) {
            out.records += s.records;
            out.commits += s.commits;
        }
        // Records of `point`'s own segment: read them again from its first record.
        if let Some(s) = self.segments.iter().find(|s| s.segno == seg) {
            let mut r = self.records(s.first, &self.spans, false);
            let mut left = s.records;
            while left > 0 {
                let Ok(Some(rec)) = r.next_record() else {
                    break;
                };
                left -= 1;
                if rec.lsn() < point {
                    continue;
                }
                out.records += 1;
                out.commits += u64::from(is_commit(&rec));
            }
        }
        Some(out)
    }

    /// The last checkpoint record before `fork` on this cluster's WAL (pg_wal, plus archives
    /// when `with_archives`), found as parsexlog.c `findLastCheckpoint` does: read the record at
    /// the fork and walk back along `xl_prev` until a checkpoint record that starts before it.
    /// Falls back to a forward scan when the fork is not a record start on this side.
    pub fn last_checkpoint_before(
        &self,
        fork: Lsn,
        with_archives: bool,
    ) -> Result<Option<crate::report::CheckpointRef>, String> {
        let as_checkpoint =
            |rec: &walparse::record::Record<'_>| -> Option<crate::report::CheckpointRef> {
                if rec.rmid() != 0 || rec.lsn() >= fork {
                    return None;
                }
                match xlog::decode(rec) {
                    Ok(XlogRecord::CheckpointShutdown(cp))
                    | Ok(XlogRecord::CheckpointOnline(cp)) => Some(crate::report::CheckpointRef {
                        lsn: rec.lsn(),
                        redo: cp.redo,
                        timeline: tli_of_point(rec.lsn(), &self.spans).unwrap_or(cp.this_tli),
                    }),
                    _ => None,
                }
            };
        let mut back =
            BackwardReader::new(self.source(with_archives), fork, &self.spans, self.seg_size);
        let mut first = true;
        loop {
            match back.prev_record() {
                Ok(Some(rec)) => {
                    first = false;
                    if let Some(cp) = as_checkpoint(&rec) {
                        return Ok(Some(cp));
                    }
                }
                Ok(None) => {
                    if !first {
                        return Ok(None);
                    }
                    break;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        // No record at the fork on this side: scan forward instead.
        let start = self
            .oldest_record_lsn(with_archives)
            .map_err(|e| e.to_string())?;
        let Some(start) = start else { return Ok(None) };
        let mut r = self.records(start, &self.spans, with_archives);
        let mut found = None;
        loop {
            match r.next_record() {
                Ok(Some(rec)) => {
                    if rec.lsn() >= fork {
                        break;
                    }
                    if let Some(cp) = as_checkpoint(&rec) {
                        found = Some(cp);
                    }
                }
                Ok(None) => break,
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(found)
    }

    /// Labels this cluster's findings with `side`.
    pub(crate) fn findings_for(&self, side: Side) -> Vec<Finding> {
        self.findings
            .iter()
            .cloned()
            .map(|mut f| {
                f.cluster = Some(side);
                f
            })
            .collect()
    }

    /// Whether pg_control's `state` says the server was shut down cleanly.
    pub fn clean_shutdown(&self) -> bool {
        self.control.state.is_clean_shutdown()
    }

    /// pg_control's state as pg_controldata prints it.
    pub fn state(&self) -> DbState {
        self.control.state
    }
}

fn finding(code: &'static str, severity: Severity, message: String) -> Finding {
    Finding {
        code,
        severity,
        cluster: None,
        message,
    }
}

pub(crate) fn info(code: &'static str, message: String) -> Finding {
    finding(code, Severity::Info, message)
}

pub(crate) fn warning(code: &'static str, message: String) -> Finding {
    finding(code, Severity::Warning, message)
}

pub(crate) fn error(code: &'static str, message: String) -> Finding {
    finding(code, Severity::Error, message)
}

/// Lists the WAL-named files of `dir` (not recursing; `archive_status/` is ignored).
fn list_wal_dir(
    dir: &Path,
    location: WalLocation,
    seg_size: WalSegSize,
    out: &mut Vec<WalFile>,
) -> Result<(), OpenError> {
    let io = |source| OpenError::Io {
        path: dir.to_path_buf(),
        source,
    };
    for entry in fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some(parsed) = WalFileName::parse(&name, seg_size) else {
            continue;
        };
        let path = entry.path();
        let meta = fs::metadata(&path).map_err(|source| OpenError::Io {
            path: path.clone(),
            source,
        })?;
        if !meta.is_file() {
            continue;
        }
        out.push(WalFile {
            path,
            name: parsed,
            location,
            size: meta.len(),
        });
    }
    Ok(())
}

/// Applies one `name = value` to the settings that matter (names are case-insensitive).
fn apply_setting(s: &mut Settings, name: &str, value: String) {
    let slot = match name.to_ascii_lowercase().as_str() {
        "primary_conninfo" => &mut s.primary_conninfo,
        "primary_slot_name" => &mut s.primary_slot_name,
        "restore_command" => &mut s.restore_command,
        "archive_mode" => &mut s.archive_mode,
        "archive_command" => &mut s.archive_command,
        "port" => &mut s.port,
        _ => return,
    };
    *slot = Some(value);
}

/// postgresql.conf syntax (PostgreSQL's `guc-file.l`): `name [=] value [# comment]`, values
/// either single-quoted (with `''` or `\'` for a quote) or a bare token.
pub(crate) mod config {
    use nom::branch::alt;
    use nom::bytes::complete::{is_not, tag, take_while, take_while1};
    use nom::character::complete::{char, space0};
    use nom::combinator::{opt, recognize};
    use nom::multi::many0;
    use nom::sequence::{delimited, pair};
    use nom::{IResult, Parser};

    fn name(i: &str) -> IResult<&str, &str> {
        recognize(pair(
            take_while1(|c: char| c.is_ascii_alphabetic() || c == '_'),
            take_while(|c: char| c.is_ascii_alphanumeric() || "_.$-".contains(c)),
        ))
        .parse(i)
    }

    fn quoted(i: &str) -> IResult<&str, String> {
        let piece = alt((
            is_not("'\\"),
            tag("''").map(|_| "'"),
            pair(char('\\'), nom::character::complete::anychar).map(|(_, c)| match c {
                '\'' => "'",
                '\\' => "\\",
                'n' => "\n",
                't' => "\t",
                _ => "",
            }),
        ));
        delimited(char('\''), many0(piece), char('\''))
            .map(|parts: Vec<&str>| parts.concat())
            .parse(i)
    }

    fn bare(i: &str) -> IResult<&str, String> {
        take_while1(|c: char| !c.is_whitespace() && c != '#')
            .map(str::to_string)
            .parse(i)
    }

    fn line(i: &str) -> IResult<&str, (String, String)> {
        let (i, _) = space0(i)?;
        let (i, n) = name(i)?;
        let (i, _) = space0(i)?;
        let (i, _) = opt(char('=')).parse(i)?;
        let (i, _) = space0(i)?;
        let (i, v) = alt((quoted, bare)).parse(i)?;
        Ok((i, (n.to_string(), v)))
    }

    /// `(line number, name, value)` for every setting line; comments, blank and unparsable
    /// lines are skipped (PostgreSQL would refuse to start on the latter, which is not ours to
    /// judge here).
    pub fn parse(text: &str) -> Vec<(usize, String, String)> {
        text.lines()
            .enumerate()
            .filter_map(|(n, l)| {
                let t = l.trim_start();
                if t.is_empty() || t.starts_with('#') {
                    return None;
                }
                line(l).ok().map(|(_, (k, v))| (n + 1, k, v))
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn parses_postgresql_conf_lines() {
            let text =
                "# c\nport = 5433\nprimary_conninfo = 'host=/tmp port=5432 user=''x'''  # y\n\
                        restore_command='cp /a/%f \"%p\"'\nwal_level replica\n  bad line here\n";
            let got = super::parse(text);
            assert_eq!(got[0], (2, "port".into(), "5433".into()));
            assert_eq!(got[1].2, "host=/tmp port=5432 user='x'");
            assert_eq!(got[2].2, "cp /a/%f \"%p\"");
            assert_eq!(got[3], (5, "wal_level".into(), "replica".into()));
            assert_eq!(got.len(), 5, "{got:?}");
        }
    }
}

/// Checks a segment file's long page header: a valid header of a known version must carry this
/// cluster's system identifier and segment size (xlogreader.c `XLogReaderValidatePageHeader`).
/// Zeroed or preallocated files pass: they are no one's WAL yet.
fn check_segment_identity(
    f: &WalFile,
    control: &ControlFile,
    seg_size: WalSegSize,
) -> Result<(), OpenError> {
    let mut head = [0u8; walparse::page::LONG_HEADER_SIZE];
    let mut file = fs::File::open(&f.path).map_err(|source| OpenError::Io {
        path: f.path.clone(),
        source,
    })?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(source) => {
                return Err(OpenError::Io {
                    path: f.path.clone(),
                    source,
                })
            }
        }
    }
    let Some(h) = PageHeader::parse(&head[..n]) else {
        return Ok(());
    };
    let (Some(_), Some(long)) = (WalVersion::for_page_magic(h.magic), h.long) else {
        return Ok(());
    };
    if long.sysid != control.system_identifier {
        return Err(OpenError::ForeignWal {
            path: f.path.clone(),
            expected: control.system_identifier,
            found: long.sysid,
        });
    }
    if long.seg_size != seg_size.get() {
        return Err(OpenError::WalSegmentSizeMismatch {
            path: f.path.clone(),
            expected: seg_size.get(),
            found: long.seg_size,
        });
    }
    Ok(())
}
