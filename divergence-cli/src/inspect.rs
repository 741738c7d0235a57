//! `pgdiverge inspect DIR`: one screen about one data directory — identity, state, timeline and
//! its ancestry, checkpoint and redo, min recovery point, the WAL it holds (first and last
//! segment, last valid record and why reading stopped, gaps, `.partial` files, archive status),
//! signal files, postmaster.pid, and the settings pg_rewind cares about. Built on
//! [`Cluster::open`]; nothing here writes to the directory.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use walparse::name::WalFileName;
use walparse::TimeLineId;

use crate::cluster::{Cluster, OpenError, OpenOptions, WalLocation};
use crate::report::{Finding, Settings, Severity};
use crate::term::{Context, Paint, Progress};

/// One span of the cluster's timeline history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AncestryJson {
    /// Timeline id.
    pub tli: TimeLineId,
    /// Where it begins (`0/0` for the first).
    pub begin: String,
    /// Where the next timeline forks off it (`null` for the cluster's own timeline).
    pub end: Option<String>,
}

/// A run of missing segments between two segments the cluster holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GapJson {
    /// First missing file name (on the timeline PostgreSQL would ask for).
    pub first_missing: String,
    /// Last missing file name.
    pub last_missing: String,
    /// How many segments are missing.
    pub segments: u64,
}

/// The WAL a cluster holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WalJson {
    /// The pg_wal directory (resolved when it is a symlink).
    pub dir: PathBuf,
    /// Whether pg_wal is a symlink.
    pub symlink: bool,
    /// WAL segment size in bytes.
    pub segment_size: u32,
    /// Complete segment files in pg_wal.
    pub segments: usize,
    /// The lowest segment file name in pg_wal.
    pub first_segment: Option<String>,
    /// The highest segment file name in pg_wal.
    pub last_segment: Option<String>,
    /// `.partial` files in pg_wal.
    pub partial: Vec<String>,
    /// Timeline history files in pg_wal.
    pub history_files: Vec<String>,
    /// Segments missing between the oldest and newest segment on the cluster's history.
    pub gaps: Vec<GapJson>,
    /// The first record of the oldest segment held.
    pub oldest_record: Option<String>,
    /// The last valid record.
    pub last_record: Option<String>,
    /// Where the next record would start.
    pub end: Option<String>,
    /// Timeline of the last record.
    pub end_timeline: Option<TimeLineId>,
    /// Why reading stopped, in PostgreSQL's words.
    pub stop_reason: Option<String>,
    /// Files in `pg_wal/archive_status` ending in `.ready` (not yet archived).
    pub archive_ready: Vec<String>,
    /// Number of `.done` files (archived).
    pub archive_done: usize,
    /// Files found in each `--archive` directory.
    pub archive_files: Vec<usize>,
}

/// What pg_rewind checks or needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RewindJson {
    /// `data_checksum_version` (0 = off).
    pub data_checksums: u32,
    /// `wal_log_hints` as of the last checkpoint.
    pub wal_log_hints: bool,
    /// `full_page_writes` of the last checkpoint.
    pub full_page_writes: bool,
    /// `wal_level`.
    pub wal_level: String,
    /// Whether pg_rewind can run on it as a target: checksums or wal_log_hints, and a clean
    /// shutdown.
    pub can_be_target: bool,
}

/// `pgdiverge inspect --format json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// The directory as given.
    pub path: PathBuf,
    /// `PG_VERSION`.
    pub pg_version: Option<String>,
    /// `pg_control_version`.
    pub pg_control_version: u32,
    /// `catalog_version_no`.
    pub catalog_version: u32,
    /// Database system identifier.
    pub system_identifier: String,
    /// pg_control's state, as pg_controldata prints it.
    pub state: String,
    /// Whether the state is a clean shutdown.
    pub clean_shutdown: bool,
    /// The cluster's real timeline.
    pub timeline: TimeLineId,
    /// How it was found: `history-file`, `min-recovery-point` or `checkpoint`.
    pub timeline_from: String,
    /// Its history, oldest first.
    pub ancestry: Vec<AncestryJson>,
    /// Latest checkpoint location.
    pub checkpoint: String,
    /// Its REDO location.
    pub redo: String,
    /// Its timeline.
    pub checkpoint_timeline: TimeLineId,
    /// Whether the checkpoint record could be read from pg_wal.
    pub checkpoint_record_readable: bool,
    /// Minimum recovery ending location (`0/0` when none).
    pub min_recovery_point: String,
    /// Its timeline.
    pub min_recovery_point_timeline: TimeLineId,
    /// Backup start location, when a backup's end is still awaited.
    pub backup_start: Option<String>,
    /// The WAL held.
    pub wal: WalJson,
    /// `standby` or `recovery` signal file, if any.
    pub signal: Option<String>,
    /// `recovery.conf` present (≤ 11).
    pub recovery_conf: bool,
    /// `postmaster.pid` present.
    pub postmaster_pid: bool,
    /// The pid in it, when readable.
    pub pid: Option<u32>,
    /// `backup_label` present.
    pub backup_label: bool,
    /// What pg_rewind needs.
    pub rewind: RewindJson,
    /// Settings from postgresql.conf / postgresql.auto.conf.
    pub settings: Settings,
    /// Damage and notable facts found while reading.
    pub findings: Vec<Finding>,
}

fn archive_status(wal_dir: &Path) -> (Vec<String>, usize) {
    let mut ready = Vec::new();
    let mut done = 0;
    if let Ok(rd) = std::fs::read_dir(wal_dir.join("archive_status")) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(base) = name.strip_suffix(".ready") {
                ready.push(base.to_string());
            } else if name.ends_with(".done") {
                done += 1;
            }
        }
    }
    ready.sort();
    (ready, done)
}

/// Segments missing on the cluster's history between the oldest and the newest segment in
/// pg_wal (each looked up as PostgreSQL would, newest timeline first).
fn gaps(c: &Cluster) -> Vec<GapJson> {
    let tlis: BTreeSet<TimeLineId> = c.spans.iter().map(|s| s.tli).collect();
    let segnos: BTreeSet<u64> = c
        .wal_files
        .iter()
        .filter(|f| f.location == WalLocation::PgWal)
        .filter_map(|f| match f.name {
            WalFileName::Segment { tli, segno } | WalFileName::Partial { tli, segno }
                if tlis.contains(&tli) =>
            {
                Some(segno)
            }
            _ => None,
        })
        .collect();
    let (Some(&lo), Some(&hi)) = (segnos.first(), segnos.last()) else {
        return Vec::new();
    };
    let mut out: Vec<GapJson> = Vec::new();
    let mut run: Option<(u64, u64)> = None;
    // Bounded by the files present: at most (hi - lo) iterations, each a lookup in a list.
    for segno in lo..=hi {
        let missing = c.segment_file(&c.spans, segno, false).1.is_none();
        run = match (missing, run) {
            (true, None) => Some((segno, segno)),
            (true, Some((a, _))) => Some((a, segno)),
            (false, Some((a, b))) => {
                out.push(gap(c, a, b));
                None
            }
            (false, None) => None,
        };
        if out.len() > 100 {
            break;
        }
    }
    if let Some((a, b)) = run {
        out.push(gap(c, a, b));
    }
    out
}

fn gap(c: &Cluster, a: u64, b: u64) -> GapJson {
    let name = |s: u64| c.segment_name(c.segment_file(&c.spans, s, false).0, s);
    GapJson {
        first_missing: name(a),
        last_missing: name(b),
        segments: b - a + 1,
    }
}

/// Gathers the inspection of an opened cluster.
pub fn inspect(c: &Cluster) -> Inspection {
    let ctl = &c.control;
    let cp = &ctl.checkpoint_copy;
    let seg_names: Vec<String> = c
        .wal_files
        .iter()
        .filter(|f| f.location == WalLocation::PgWal)
        .filter(|f| matches!(f.name, WalFileName::Segment { .. }))
        .map(|f| f.name.to_file_name(c.seg_size))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let by_kind = |want: fn(&WalFileName) -> bool| -> Vec<String> {
        c.wal_files
            .iter()
            .filter(|f| f.location == WalLocation::PgWal && want(&f.name))
            .map(|f| f.name.to_file_name(c.seg_size))
            .collect()
    };
    let (archive_ready, archive_done) = archive_status(&c.wal_dir);
    let archive_files = (0..c.archives.len())
        .map(|i| {
            c.wal_files
                .iter()
                .filter(|f| f.location == WalLocation::Archive(i))
                .count()
        })
        .collect();
    let end = c.end_of_wal.as_ref();
    let checksums = ctl.data_checksum_version;
    Inspection {
        path: c.path.clone(),
        pg_version: c.pg_version.clone(),
        pg_control_version: ctl.pg_control_version,
        catalog_version: ctl.catalog_version_no,
        system_identifier: ctl.system_identifier.to_string(),
        state: ctl.state.as_str().to_string(),
        clean_shutdown: c.clean_shutdown(),
        timeline: c.timeline,
        timeline_from: c.timeline_from.to_string(),
        ancestry: c
            .spans
            .iter()
            .map(|s| AncestryJson {
                tli: s.tli,
                begin: s.begin.to_string(),
                end: s.end.map(|e| e.to_string()),
            })
            .collect(),
        checkpoint: ctl.checkpoint.to_string(),
        redo: cp.redo.to_string(),
        checkpoint_timeline: cp.this_tli,
        checkpoint_record_readable: c.checkpoint_end.is_some(),
        min_recovery_point: ctl.min_recovery_point.to_string(),
        min_recovery_point_timeline: ctl.min_recovery_point_tli,
        backup_start: ctl
            .backup_start_point
            .is_valid()
            .then(|| ctl.backup_start_point.to_string()),
        wal: WalJson {
            dir: c.wal_dir.clone(),
            symlink: c.wal_dir_is_symlink,
            segment_size: c.seg_size.get(),
            segments: seg_names.len(),
            first_segment: seg_names.first().cloned(),
            last_segment: seg_names.last().cloned(),
            partial: by_kind(|n| matches!(n, WalFileName::Partial { .. })),
            history_files: by_kind(|n| matches!(n, WalFileName::History { .. })),
            gaps: gaps(c),
            oldest_record: c.oldest_record.map(|l| l.to_string()),
            last_record: end.map(|e| e.last_record.to_string()),
            end: end.map(|e| e.end.to_string()),
            end_timeline: end.map(|e| e.tli),
            stop_reason: end.map(|e| e.reason.clone()),
            archive_ready,
            archive_done,
            archive_files,
        },
        signal: c.signal.map(str::to_string),
        recovery_conf: c.recovery_conf,
        postmaster_pid: c.postmaster_pid.is_some(),
        pid: c.postmaster_pid.flatten(),
        backup_label: c.backup_label,
        rewind: RewindJson {
            data_checksums: checksums,
            wal_log_hints: ctl.wal_log_hints,
            full_page_writes: cp.full_page_writes,
            wal_level: ctl.wal_level.as_str().to_string(),
            can_be_target: (checksums != 0 || ctl.wal_log_hints) && c.clean_shutdown(),
        },
        settings: c.settings.clone(),
        findings: c.findings.clone(),
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// The one-screen text form.
pub fn render_text(i: &Inspection, p: Paint) -> String {
    let mut o = String::new();
    // Keys are padded before styling so columns line up with and without colour.
    let key = |k: &str| format!("{:<20}", format!("{k}:"));
    let line = |o: &mut String, k: &str, v: String| {
        let _ = writeln!(o, "{}{v}", p.bold(&key(k)));
    };
    line(&mut o, "Data directory", i.path.display().to_string());
    line(
        &mut o,
        "PostgreSQL",
        format!(
            "{} (pg_control version {}, catalog version {})",
            i.pg_version.as_deref().unwrap_or("?"),
            i.pg_control_version,
            i.catalog_version
        ),
    );
    line(&mut o, "System identifier", i.system_identifier.clone());
    let state = if i.clean_shutdown {
        p.green(&i.state)
    } else {
        p.yellow(&i.state)
    };
    line(&mut o, "State", state);
    let ancestry: Vec<String> = i
        .ancestry
        .iter()
        .map(|a| match &a.end {
            Some(e) => format!("{} [{}..{})", a.tli, a.begin, e),
            None => format!("{} [{}..)", a.tli, a.begin),
        })
        .collect();
    line(
        &mut o,
        "Timeline",
        format!(
            "{} (from {}); history {}",
            p.cyan(&i.timeline.to_string()),
            i.timeline_from,
            ancestry.join(" → ")
        ),
    );
    line(
        &mut o,
        "Latest checkpoint",
        format!(
            "{} on timeline {}, redo {}{}",
            p.cyan(&i.checkpoint),
            i.checkpoint_timeline,
            i.redo,
            if i.checkpoint_record_readable {
                ""
            } else {
                " (record not readable from pg_wal)"
            }
        ),
    );
    line(
        &mut o,
        "Min recovery point",
        if i.min_recovery_point == "0/0" {
            "none".to_string()
        } else {
            format!(
                "{} on timeline {}",
                i.min_recovery_point, i.min_recovery_point_timeline
            )
        },
    );
    if let Some(b) = &i.backup_start {
        line(&mut o, "Backup start", b.clone());
    }
    let w = &i.wal;
    line(
        &mut o,
        "pg_wal",
        format!(
            "{}{}; {} segment{} of {} MB{}",
            w.dir.display(),
            if w.symlink { " (symlink)" } else { "" },
            w.segments,
            if w.segments == 1 { "" } else { "s" },
            w.segment_size >> 20,
            match (&w.first_segment, &w.last_segment) {
                (Some(a), Some(b)) if a != b => format!(", {a} .. {b}"),
                (Some(a), _) => format!(", {a}"),
                _ => String::new(),
            }
        ),
    );
    if !w.history_files.is_empty() {
        line(&mut o, "  history files", w.history_files.join(", "));
    }
    if !w.partial.is_empty() {
        line(&mut o, "  partial files", w.partial.join(", "));
    }
    line(
        &mut o,
        "  gaps",
        if w.gaps.is_empty() {
            "none".to_string()
        } else {
            p.yellow(
                &w.gaps
                    .iter()
                    .map(|g| {
                        if g.segments == 1 {
                            format!("{} missing", g.first_missing)
                        } else {
                            format!(
                                "{} .. {} missing ({} segments)",
                                g.first_missing, g.last_missing, g.segments
                            )
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        },
    );
    line(
        &mut o,
        "  oldest record",
        w.oldest_record.clone().unwrap_or_else(|| "none".into()),
    );
    match (&w.last_record, &w.end) {
        (Some(l), Some(e)) => line(
            &mut o,
            "  last record",
            format!(
                "{l}, end of WAL {} on timeline {}",
                p.cyan(e),
                w.end_timeline.unwrap_or(0)
            ),
        ),
        _ => line(&mut o, "  last record", p.red("none readable")),
    }
    if let Some(r) = &w.stop_reason {
        line(&mut o, "  reading stopped", r.clone());
    }
    line(
        &mut o,
        "  archive status",
        format!(
            "{} ready, {} done{}",
            w.archive_ready.len(),
            w.archive_done,
            match w.archive_ready.len() {
                0 => String::new(),
                1..=3 => format!(" (ready: {})", w.archive_ready.join(", ")),
                n => format!(
                    " (ready: {} .. {}, {n} files)",
                    w.archive_ready[0],
                    w.archive_ready[n - 1]
                ),
            }
        ),
    );
    for (k, n) in w.archive_files.iter().enumerate() {
        line(
            &mut o,
            &format!("  archive #{}", k + 1),
            format!("{n} WAL files"),
        );
    }
    let mut signals = Vec::new();
    if let Some(s) = &i.signal {
        signals.push(format!("{s}.signal"));
    }
    if i.recovery_conf {
        signals.push("recovery.conf".into());
    }
    if i.backup_label {
        signals.push("backup_label".into());
    }
    line(
        &mut o,
        "Signal files",
        if signals.is_empty() {
            "none".into()
        } else {
            signals.join(", ")
        },
    );
    line(
        &mut o,
        "postmaster.pid",
        match (i.postmaster_pid, i.pid) {
            (false, _) => "absent".into(),
            (true, Some(pid)) => p.yellow(&format!("present (pid {pid})")),
            (true, None) => p.yellow("present"),
        },
    );
    let r = &i.rewind;
    line(
        &mut o,
        "pg_rewind",
        format!(
            "data checksums {}, wal_log_hints {}, full_page_writes {}, wal_level {}: {}",
            if r.data_checksums == 0 {
                "off".to_string()
            } else {
                format!("on (version {})", r.data_checksums)
            },
            on_off(r.wal_log_hints),
            on_off(r.full_page_writes),
            r.wal_level,
            if r.can_be_target {
                p.green("can be rewound")
            } else if r.data_checksums == 0 && !r.wal_log_hints {
                p.red("cannot be rewound (needs data checksums or wal_log_hints)")
            } else {
                p.yellow("cannot be rewound until shut down cleanly")
            }
        ),
    );
    let s = &i.settings;
    let settings: Vec<String> = [
        ("port", &s.port),
        ("archive_mode", &s.archive_mode),
        ("archive_command", &s.archive_command),
        ("restore_command", &s.restore_command),
        ("primary_conninfo", &s.primary_conninfo),
        ("primary_slot_name", &s.primary_slot_name),
    ]
    .iter()
    .filter_map(|(k, v)| {
        // postgresql.conf quoting: a quote inside the value is doubled.
        v.as_ref()
            .map(|v| format!("{k}='{}'", v.replace('\'', "''")))
    })
    .collect();
    line(
        &mut o,
        "Settings",
        if settings.is_empty() {
            "none of port, archive_*, restore_command, primary_* set".into()
        } else {
            settings.join(", ")
        },
    );
    if !i.findings.is_empty() {
        let _ = writeln!(o, "{}", p.bold("Findings:"));
        for f in &i.findings {
            let sev = match f.severity {
                Severity::Info => p.dim("info"),
                Severity::Warning => p.yellow("warning"),
                Severity::Error => p.red("error"),
            };
            let _ = writeln!(o, "  {sev} [{}] {}", f.code, f.message);
        }
    }
    o
}

/// `pgdiverge inspect`'s arguments.
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = "Examples:
  pgdiverge inspect /srv/pg/data
  pgdiverge inspect --archive /srv/wal-archive /srv/pg/data
  pgdiverge inspect --format json /srv/pg/data | jq .wal.end")]
pub struct InspectArgs {
    /// The data directory.
    pub dir: PathBuf,
    /// A WAL archive directory (repeatable), listed after pg_wal.
    #[arg(long = "archive", value_name = "DIR")]
    pub archives: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = InspectFormat::Text)]
    pub format: InspectFormat,
}

/// `inspect --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InspectFormat {
    /// One screen for people.
    Text,
    /// One JSON object.
    Json,
}

/// Opens `dir` with a spinner on stderr while the WAL is read.
pub fn open_with_progress(
    dir: &Path,
    opts: &OpenOptions,
    ctx: &Context,
) -> Result<Cluster, OpenError> {
    let spinner = Progress::spinner(&format!("reading {}", dir.display()), ctx.quiet);
    let c = Cluster::open(dir, opts);
    spinner.finish();
    c
}

/// Runs `pgdiverge inspect`; returns the exit status.
pub fn main(a: &InspectArgs, ctx: &Context) -> u8 {
    let opts = OpenOptions {
        archives: a.archives.clone(),
        // Maps: half the CPU time of read(); truncation under a map is guarded.
        read_mode: walparse::ReadMode::Mmap,
        ..Default::default()
    };
    let c = match open_with_progress(&a.dir, &opts, ctx) {
        Ok(c) => c,
        Err(e) => return crate::term::fail(&e, crate::term::open_error_hint(&e)),
    };
    let i = inspect(&c);
    let out = match a.format {
        InspectFormat::Text => render_text(&i, ctx.color.for_stdout()),
        InspectFormat::Json => match serde_json::to_string_pretty(&i) {
            Ok(s) => s + "\n",
            Err(e) => return crate::term::fail(&e, None),
        },
    };
    match crate::term::print_stdout(&out) {
        Ok(()) => 0,
        Err(e) => crate::term::fail(&e, None),
    }
}
