//! The result of `compare`: a plain data model that the text renderer and the JSON output share.
//!
//! Everything here is `Serialize`; the JSON shape is documented in `divergence-cli/JSON.md`.
//! LSNs serialize as PostgreSQL prints them (`"0/3000A0"`), system identifiers as decimal strings
//! (they do not fit a JSON double).

use serde::{Serialize, Serializer};
use walparse::{Lsn, TimeLineId};

/// Serializes an [`Lsn`] as PostgreSQL's `X/X` text.
fn ser_lsn<S: Serializer>(lsn: &Lsn, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(lsn)
}

/// Serializes an optional [`Lsn`] as `X/X` text or `null`.
fn ser_opt_lsn<S: Serializer>(lsn: &Option<Lsn>, s: S) -> Result<S::Ok, S::Error> {
    match lsn {
        Some(l) => s.collect_str(l),
        None => s.serialize_none(),
    }
}

/// Serializes a `u64` as a decimal string (system identifiers exceed 2^53).
fn ser_u64_str<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// What to do with the two clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Same timeline, same end of WAL: nothing to do.
    InSync,
    /// One side's WAL is a prefix of the other's history and the WAL it needs still exists: it can
    /// simply replicate from the other.
    Follow,
    /// The two diverged and pg_rewind's preconditions hold on the side to be rewound.
    Rewind,
    /// Neither following nor pg_rewind can work: rebuild the target with pg_basebackup.
    Rebuild,
}

impl Verdict {
    /// The kebab-case name used in JSON and text (`in-sync`, `follow`, `rewind`, `rebuild`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::InSync => "in-sync",
            Verdict::Follow => "follow",
            Verdict::Rewind => "rewind",
            Verdict::Rebuild => "rebuild",
        }
    }

    /// The process exit code of `pgdiverge compare` for this verdict (see [`exit`]).
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::InSync => exit::IN_SYNC,
            Verdict::Follow => exit::FOLLOW,
            Verdict::Rewind => exit::REWIND,
            Verdict::Rebuild => exit::REBUILD,
        }
    }
}

/// Exit codes of `pgdiverge compare` (documented in JSON.md).
pub mod exit {
    /// The two clusters are in sync.
    pub const IN_SYNC: i32 = 0;
    /// Usage error (bad flags or arguments); clap's own code.
    pub const USAGE: i32 = 2;
    /// Could not analyse: not a data directory, unreadable or damaged beyond analysis.
    pub const COULD_NOT_ANALYSE: i32 = 3;
    /// Verdict `follow`.
    pub const FOLLOW: i32 = 10;
    /// Verdict `rewind`.
    pub const REWIND: i32 = 11;
    /// Verdict `rebuild`.
    pub const REBUILD: i32 = 12;
}

/// Which argument a cluster was given as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Side {
    /// The first directory argument.
    A,
    /// The second directory argument.
    B,
}

impl Side {
    /// The other side.
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// `"A"` or `"B"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::A => "A",
            Side::B => "B",
        }
    }
}

/// Where the two histories part.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fork {
    /// The first WAL position that is not the same on both sides.
    #[serde(serialize_with = "ser_lsn")]
    pub lsn: Lsn,
    /// The last timeline both sides share (pg_rewind's "on timeline N").
    pub timeline: TimeLineId,
    /// How it was found: `timeline-history` (pg_rewind's computation from the history files) or
    /// `wal-records` (the first record at which the two sides' WAL differs).
    pub found_by: ForkSource,
    /// What the WAL content of both sides says about it.
    pub wal_check: WalCheck,
}

/// How a fork was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForkSource {
    /// From the timeline history files, as pg_rewind's `findCommonAncestorTimeline` computes it.
    TimelineHistory,
    /// From the records: the first LSN where the two sides' WAL differs.
    WalRecords,
}

/// The outcome of comparing both sides' records up to the fork.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WalCheck {
    /// Both sides hold the same records up to the fork, and differ (or one ends) exactly there.
    Confirmed,
    /// The WAL of both sides does not cover the fork (one side's oldest WAL starts after it, or
    /// one side's WAL ends before it): the history files alone say where it is.
    NotCovered,
    /// The records differ before the position the history files name; the fork reported is the
    /// first differing record.
    Earlier,
}

/// One reason behind the verdict, or one finding about a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable kebab-case code (listed in JSON.md).
    pub code: &'static str,
    /// One sentence for people.
    pub message: String,
}

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// A fact worth knowing.
    Info,
    /// Something an operator should look at; the analysis went on.
    Warning,
    /// Damage that limits the analysis.
    Error,
}

/// A named fact the analysis established (one of the checks of issue 5, or damage found while
/// reading a data directory).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable kebab-case code (listed in JSON.md).
    pub code: &'static str,
    /// How serious.
    pub severity: Severity,
    /// The cluster it is about, if one.
    pub cluster: Option<Side>,
    /// One sentence for people.
    pub message: String,
}

/// A step that carries the verdict out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Command {
    /// What the step does and where it runs.
    pub description: String,
    /// The shell command (placeholders in `<angle brackets>`); empty for a manual step.
    pub command: String,
}

/// One timeline of a cluster's history (PostgreSQL's `TimeLineHistoryEntry`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEntry {
    /// The timeline.
    pub timeline: TimeLineId,
    /// Where it begins (`0/0` for the first).
    #[serde(serialize_with = "ser_lsn")]
    pub begin: Lsn,
    /// Where it ends; `null` for the newest.
    #[serde(serialize_with = "ser_opt_lsn")]
    pub end: Option<Lsn>,
}

/// The end of the WAL a cluster holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EndOfWal {
    /// The position right after the last valid record (where the next record would go).
    #[serde(serialize_with = "ser_lsn")]
    pub lsn: Lsn,
    /// The start of the last valid record.
    #[serde(serialize_with = "ser_opt_lsn")]
    pub last_record: Option<Lsn>,
    /// The timeline of the last valid record.
    pub timeline: TimeLineId,
    /// Why reading stopped, in PostgreSQL's words.
    pub reason: String,
}

/// The checkpoint pg_control points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ControlSummary {
    /// pg_controldata's "Database cluster state".
    pub state: String,
    /// `checkPoint`: the latest checkpoint record.
    #[serde(serialize_with = "ser_lsn")]
    pub checkpoint: Lsn,
    /// `checkPointCopy.redo`.
    #[serde(serialize_with = "ser_lsn")]
    pub redo: Lsn,
    /// `checkPointCopy.ThisTimeLineID`.
    pub checkpoint_timeline: TimeLineId,
    /// `minRecoveryPoint`.
    #[serde(serialize_with = "ser_lsn")]
    pub min_recovery_point: Lsn,
    /// `minRecoveryPointTLI`.
    pub min_recovery_point_timeline: TimeLineId,
    /// `checkPointCopy.fullPageWrites`.
    pub full_page_writes: bool,
    /// `data_checksum_version != 0`.
    pub data_checksums: bool,
    /// `wal_log_hints`.
    pub wal_log_hints: bool,
    /// `pg_control_version`.
    pub pg_control_version: u32,
    /// `catalog_version_no`.
    pub catalog_version: u32,
    /// `blcksz`.
    pub block_size: u32,
    /// `xlog_blcksz`.
    pub wal_block_size: u32,
    /// `xlog_seg_size`.
    pub wal_segment_size: u32,
}

/// The WAL files a cluster holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WalHeld {
    /// Number of complete segment files in pg_wal.
    pub segments: usize,
    /// The oldest and newest segment file names in pg_wal.
    pub oldest: Option<String>,
    /// See `oldest`.
    pub newest: Option<String>,
    /// `.partial` files in pg_wal.
    pub partial: Vec<String>,
    /// Timeline history files in pg_wal.
    pub history_files: Vec<String>,
    /// The position of the first record of the oldest segment on this cluster's history.
    #[serde(serialize_with = "ser_opt_lsn")]
    pub oldest_record: Option<Lsn>,
}

/// What one side wrote after the fork (counted over the WAL it holds).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AfterFork {
    /// WAL bytes from the fork to its end of WAL.
    pub bytes: u64,
    /// Records from the fork to its end of WAL.
    pub records: u64,
    /// Commit records (including commit-prepared) among them.
    pub commits: u64,
    /// Where counting `records` and `commits` started: the fork, or the oldest record still
    /// held when older WAL is gone.
    #[serde(serialize_with = "ser_lsn")]
    pub counted_from: Lsn,
}

/// Settings from postgresql.conf / postgresql.auto.conf that the commands depend on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// `primary_conninfo`.
    pub primary_conninfo: Option<String>,
    /// `primary_slot_name`.
    pub primary_slot_name: Option<String>,
    /// `restore_command`.
    pub restore_command: Option<String>,
    /// `archive_mode`.
    pub archive_mode: Option<String>,
    /// `archive_command`.
    pub archive_command: Option<String>,
    /// `port`.
    pub port: Option<String>,
}

/// Everything the report says about one cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClusterReport {
    /// `A` or `B` (argument order).
    pub label: Side,
    /// The data directory as given.
    pub path: String,
    /// `source`, `target` or `peer` (in-sync, or when the direction is for `--keep` to choose).
    pub role: &'static str,
    /// pg_control's system identifier, as a decimal string.
    #[serde(serialize_with = "ser_u64_str")]
    pub system_identifier: u64,
    /// The contents of PG_VERSION (e.g. `15`).
    pub pg_version: Option<String>,
    /// pg_control facts.
    pub control: ControlSummary,
    /// The cluster's real timeline: the timeline of its history (history files in pg_wal beat
    /// pg_control, which lags after a promotion until the first checkpoint).
    pub timeline: TimeLineId,
    /// How `timeline` was determined.
    pub timeline_from: &'static str,
    /// The timeline pg_rewind 16+ would use: max(checkPointCopy.ThisTimeLineID, minRecoveryPointTLI).
    pub pg_rewind_timeline: TimeLineId,
    /// The history of `timeline`, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The end of the WAL it holds, read from the records.
    pub end_of_wal: Option<EndOfWal>,
    /// pg_rewind's notion of the end of WAL: max(minRecoveryPoint, end of the latest checkpoint
    /// record).
    #[serde(serialize_with = "ser_opt_lsn")]
    pub pg_rewind_end_of_wal: Option<Lsn>,
    /// The WAL files it holds.
    pub wal: WalHeld,
    /// `standby.signal` / `recovery.signal` present.
    pub signal: Option<&'static str>,
    /// `postmaster.pid` present (running, or crashed).
    pub postmaster_pid: bool,
    /// `backup_label` present.
    pub backup_label: bool,
    /// Settings that matter for the commands.
    pub settings: Settings,
    /// What it wrote after the fork (null without a fork).
    pub after_fork: Option<AfterFork>,
}

/// Where one WAL segment that a plan needs can be found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentNeed {
    /// The file name PostgreSQL will ask for.
    pub file: String,
    /// `pg_wal`, `archive` or `missing`.
    pub status: SegmentStatus,
    /// Where it was found.
    pub path: Option<String>,
}

/// Where a needed segment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SegmentStatus {
    /// In the cluster's pg_wal.
    PgWal,
    /// Only in an archive directory.
    Archive,
    /// Nowhere.
    Missing,
}

/// The WAL a plan (rewind or follow) needs, segment by segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WalPlan {
    /// Whose WAL is read: `A` or `B`.
    pub from: Side,
    /// From where (inclusive).
    #[serde(serialize_with = "ser_lsn")]
    pub start: Lsn,
    /// To where (exclusive).
    #[serde(serialize_with = "ser_lsn")]
    pub end: Lsn,
    /// Each segment, oldest first (at most [`MAX_LISTED_SEGMENTS`] listed; counts are complete).
    pub segments: Vec<SegmentNeed>,
    /// Segments in pg_wal.
    pub in_pg_wal: usize,
    /// Segments found only in an archive.
    pub archive_only: usize,
    /// Segments found nowhere.
    pub missing: usize,
}

/// Longest segment list a [`WalPlan`] spells out.
pub const MAX_LISTED_SEGMENTS: usize = 256;

/// A checkpoint record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckpointRef {
    /// The record's position.
    #[serde(serialize_with = "ser_lsn")]
    pub lsn: Lsn,
    /// Its redo pointer.
    #[serde(serialize_with = "ser_lsn")]
    pub redo: Lsn,
    /// Its timeline.
    pub timeline: TimeLineId,
}

/// What pg_rewind (of the clusters' major version) would do when run with `--dry-run` in the
/// chosen direction, computed with its own rules — and whether we agree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PgRewindPrediction {
    /// The invocation modelled.
    pub command: String,
    /// `rewind`, `no-rewind-required`, `refused` or `error`.
    pub outcome: &'static str,
    /// The fatal message it would print, for `refused` / `error`.
    pub message: Option<String>,
    /// Its "servers diverged at WAL location X on timeline N" (absent when it sees one timeline).
    pub diverged: Option<PgRewindDiverged>,
    /// Its "rewinding from last common checkpoint at X on timeline N".
    pub last_common_checkpoint: Option<CheckpointRef>,
    /// False when pg_rewind's answer is wrong for these clusters (e.g. same-timeline divergence).
    pub agrees: bool,
    /// Why it is wrong, as a reason code, when `agrees` is false.
    pub disagreement: Option<&'static str>,
}

/// pg_rewind's "servers diverged at" line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PgRewindDiverged {
    /// The LSN.
    #[serde(serialize_with = "ser_lsn")]
    pub lsn: Lsn,
    /// The timeline.
    pub timeline: TimeLineId,
}

/// One possible direction when the report cannot tell which side to keep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Direction {
    /// The side kept.
    pub keep: Side,
    /// The verdict for the other side.
    pub verdict: Verdict,
    /// Why, in short.
    pub reasons: Vec<Reason>,
}

/// The full answer of `compare`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What to do.
    pub verdict: Verdict,
    /// Where the two histories part; `null` when one is a prefix of the other on one timeline,
    /// when they are in sync, or when they are different systems.
    pub fork: Option<Fork>,
    /// The data directory to keep.
    pub source: String,
    /// The data directory to rewind, rebuild or make follow; `null` when in sync.
    pub target: Option<String>,
    /// `A` or `B`: which argument is the source.
    pub source_side: Side,
    /// `A` or `B`: which argument is the target (`null` when in sync).
    pub target_side: Option<Side>,
    /// True when the direction could not be told from the clusters (same timeline) and was taken
    /// from `--keep` or the default; `directions` then lists both.
    pub direction_chosen: bool,
    /// Why, most important first.
    pub reasons: Vec<Reason>,
    /// Every check that was made, with its result.
    pub findings: Vec<Finding>,
    /// Both clusters, in argument order.
    pub clusters: Vec<ClusterReport>,
    /// The last checkpoint before the fork on the target (found by walking back via xl_prev).
    pub last_common_checkpoint: Option<CheckpointRef>,
    /// The WAL a rewind of the target needs (from the last common checkpoint to the target's end).
    pub rewind_wal: Option<WalPlan>,
    /// The WAL the target needs from the source to follow it.
    pub follow_wal: Option<WalPlan>,
    /// What pg_rewind itself would say.
    pub pg_rewind: Option<PgRewindPrediction>,
    /// Both directions, when the side to keep could not be told.
    pub directions: Vec<Direction>,
    /// The steps that carry the verdict out.
    pub commands: Vec<Command>,
}

impl Report {
    /// The process exit code for this report.
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code()
    }

    /// True if a reason with this code is present.
    pub fn has_reason(&self, code: &str) -> bool {
        self.reasons.iter().any(|r| r.code == code)
    }

    /// True if a finding with this code is present.
    pub fn has_finding(&self, code: &str) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}
