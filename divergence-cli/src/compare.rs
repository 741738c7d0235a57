//! `compare`: where two data directories that were one cluster forked, and whether the side that
//! is behind or deposed can follow, be rewound with pg_rewind, or must be rebuilt.
//!
//! A pure function of two [`Cluster`]s: it reads WAL only through the readers a `Cluster` opens
//! (read-only) and writes nothing.
//!
//! The steps, each recorded as findings in the [`Report`]:
//! 1. identity: system identifier, pg_control / catalog version, block and segment sizes;
//! 2. each side's position (computed by `Cluster::open`);
//! 3. the fork: pg_rewind's `findCommonAncestorTimeline` over both histories, then the records of
//!    both sides compared byte for byte from a common start — the first differing record is the
//!    fork when both sides are on one history (pg_rewind's blind spot);
//! 4. which side is deposed, what each wrote after the fork;
//! 5. pg_rewind's preconditions (`sanityChecks` in pg_rewind.c);
//! 6. WAL availability for a rewind (last common checkpoint by the xl_prev walk of parsexlog.c
//!    `findLastCheckpoint`, up to the target's end) or for following;
//! 7. the verdict, the reasons and the commands.

use walparse::timeline::{common_ancestor, tli_of_point};
use walparse::{Lsn, TimeLineId, TliSpan};

use crate::cluster::Cluster;
use crate::report::{
    AfterFork, CheckpointRef, ClusterReport, Command, ControlSummary, Direction, EndOfWal, Finding,
    Fork, ForkSource, HistoryEntry, PgRewindDiverged, PgRewindPrediction, Reason, Report,
    SegmentNeed, SegmentStatus, Severity, Side, Verdict, WalCheck, WalHeld, WalPlan,
    MAX_LISTED_SEGMENTS,
};

/// Choices the caller makes.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Which side to keep when the clusters cannot tell (divergence on one timeline, or both
    /// promoted away from the fork). `None`: the side with more WAL after the fork.
    pub keep: Option<Side>,
}

/// How the two clusters relate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Different system identifiers.
    Unrelated,
    /// One history, same end of WAL.
    InSync,
    /// `behind`'s WAL is a prefix of the other's history.
    Behind {
        /// The side that is behind.
        behind: Side,
    },
    /// Both wrote WAL the other does not have.
    Diverged {
        /// The side on the newer branch, when it can be told.
        newer: Option<Side>,
    },
}

/// The result of reading both sides' records in lockstep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WalDiff {
    /// The first position where the two sides' records differ (or where only one has a record
    /// while the other's WAL goes on differently).
    Differ {
        /// The position.
        at: Lsn,
    },
    /// No difference up to where one (or both) ended.
    Prefix {
        /// The side whose WAL ended first; `None` when both end at the same place.
        shorter: Option<Side>,
        /// Where it ended.
        at: Lsn,
    },
    /// The WAL the two hold has no common starting record.
    NoOverlap,
    /// The WAL could not be read (message).
    Unreadable(String),
}

/// Where the histories alone say the two sides part.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HistoryFork {
    /// The last common timeline.
    pub tli: TimeLineId,
    /// Index of its span in both histories.
    pub index: usize,
    /// The fork, `None` when both are still on that timeline.
    pub lsn: Option<Lsn>,
    /// Where each side's history leaves the common timeline (`None`: still on it).
    pub ends: [Option<Lsn>; 2],
}

/// pg_rewind's `findCommonAncestorTimeline` over two histories, with each side's end of the
/// common timeline kept (to tell which side left it).
pub fn history_fork(a: &[TliSpan], b: &[TliSpan]) -> Option<HistoryFork> {
    let f = common_ancestor(a, b)?;
    Some(HistoryFork {
        tli: f.tli,
        index: f.index,
        lsn: f.lsn,
        ends: [a[f.index].end, b[f.index].end],
    })
}

/// The relation and the fork, from the history fork, the WAL comparison and the ends of WAL.
/// Pure: unit-tested over small inputs.
pub fn relate(
    hist: Option<HistoryFork>,
    wal: &WalDiff,
    ends: [Lsn; 2],
    spans: [&[TliSpan]; 2],
) -> (Relation, Option<Fork>, Vec<Finding>) {
    let mut findings = Vec::new();
    let side = |i: usize| if i == 0 { Side::A } else { Side::B };
    let tli_at = |lsn: Lsn| tli_of_point(lsn, spans[0]).unwrap_or(1);
    match hist.and_then(|h| h.lsn.map(|l| (h, l))) {
        Some((h, f)) => {
            // The histories part at `f`. The side whose history leaves the common timeline at
            // `f` while the other stays on it is on the newer branch.
            let newer = match (h.ends[0], h.ends[1]) {
                (Some(_), None) => Some(0),
                (None, Some(_)) => Some(1),
                _ => None,
            };
            let (wal_check, fork_lsn, found_by) = match *wal {
                WalDiff::Differ { at } if same_point(at, f) => {
                    (WalCheck::Confirmed, f, ForkSource::TimelineHistory)
                }
                WalDiff::Differ { at } if at < f => {
                    findings.push(crate::cluster::warning(
                        "wal-differs-before-history-fork",
                        format!(
                            "the records of both sides already differ at {at}, before the switchpoint {f} the history files name"
                        ),
                    ));
                    (WalCheck::Earlier, at, ForkSource::WalRecords)
                }
                WalDiff::Differ { at } => {
                    findings.push(crate::cluster::warning(
                        "history-contradicts-wal",
                        format!(
                            "the records of both sides are identical up to {at}, past the switchpoint {f} the history files name"
                        ),
                    ));
                    (WalCheck::NotCovered, f, ForkSource::TimelineHistory)
                }
                WalDiff::Prefix { at, .. } if at == f => {
                    (WalCheck::Confirmed, f, ForkSource::TimelineHistory)
                }
                _ => (WalCheck::NotCovered, f, ForkSource::TimelineHistory),
            };
            let timeline = if found_by == ForkSource::WalRecords {
                tli_at(fork_lsn)
            } else {
                h.tli
            };
            let fork = Fork {
                lsn: fork_lsn,
                timeline,
                found_by,
                wal_check,
            };
            let relation = match newer {
                Some(n) => {
                    let older = 1 - n;
                    if ends[older] > fork_lsn {
                        Relation::Diverged {
                            newer: Some(side(n)),
                        }
                    } else {
                        Relation::Behind {
                            behind: side(older),
                        }
                    }
                }
                None => Relation::Diverged { newer: None },
            };
            (relation, Some(fork))
        }
        None => {
            // One history (or none in common): only the records can tell.
            if hist.is_none() {
                findings.push(crate::cluster::error(
                    "no-common-ancestor-timeline",
                    "the two histories share no timeline: pg_rewind would fail with \"could not find common ancestor of the source and target cluster's timelines\"".to_string(),
                ));
            }
            match *wal {
                WalDiff::Differ { at } => (
                    Relation::Diverged { newer: None },
                    Some(Fork {
                        lsn: at,
                        timeline: tli_at(at),
                        found_by: ForkSource::WalRecords,
                        wal_check: WalCheck::Confirmed,
                    }),
                ),
                WalDiff::Prefix { shorter: None, .. } => (Relation::InSync, None),
                WalDiff::Prefix {
                    shorter: Some(s), ..
                } => (Relation::Behind { behind: s }, None),
                WalDiff::NoOverlap | WalDiff::Unreadable(_) => {
                    findings.push(crate::cluster::warning(
                        "fork-not-verifiable",
                        "the WAL the two sides hold has no record in common: whether one is a prefix of the other cannot be checked".to_string(),
                    ));
                    if ends[0] == ends[1] {
                        (Relation::InSync, None)
                    } else {
                        let behind = if ends[0] < ends[1] { Side::A } else { Side::B };
                        (Relation::Behind { behind }, None)
                    }
                }
            }
        }
    }
    .pipe(|(r, f)| (r, f, findings))
}

/// True if the first differing record at `at` is the record at switchpoint `f`: the same
/// position, or right after the page header when `f` is a page boundary (a switchpoint is an
/// `EndRecPtr`, which points at the boundary; the next record starts after the header).
fn same_point(at: Lsn, f: Lsn) -> bool {
    let d = at.0.wrapping_sub(f.0);
    at == f
        || (at > f
            && (d == walparse::page::SHORT_HEADER_SIZE as u64
                || d == walparse::page::LONG_HEADER_SIZE as u64))
}

/// Small helper to keep `relate` one expression.
trait Pipe: Sized {
    fn pipe<R>(self, f: impl FnOnce(Self) -> R) -> R {
        f(self)
    }
}
impl<T> Pipe for T {}

/// Reads both sides' records from a common start and returns the first difference.
///
/// Records before the fork are byte-identical on both sides (a standby's WAL is a copy of its
/// primary's; only page headers carry the timeline), so the first record whose bytes or position
/// differ is the fork — including on a timeline switch, where the child's first record
/// (`XLOG_END_OF_RECOVERY`) sits at the switchpoint.
pub fn compare_wal(a: &Cluster, b: &Cluster) -> WalDiff {
    match compare_wal_inner(a, b) {
        Ok(d) => d,
        Err(e) => WalDiff::Unreadable(e.to_string()),
    }
}

/// True if a record starts exactly at `at` in `c`'s WAL read from its oldest record (the
/// records of `at`'s segment, re-read from the first one the summary names).
fn starts_record_at(c: &Cluster, at: Lsn) -> Result<bool, walparse::WalError> {
    let Some(s) = c.segment_summary(at.segno(c.seg_size)) else {
        return Ok(false);
    };
    if s.first > at {
        return Ok(false);
    }
    let mut r = c.records(s.first, &c.spans, false);
    for _ in 0..s.records {
        let Some(rec) = r.next_record()? else { break };
        if rec.lsn() >= at {
            return Ok(rec.lsn() == at);
        }
    }
    Ok(false)
}

/// Where the record-by-record comparison from `start` can begin without changing its outcome:
/// the first record of the last segment, counting from `start`'s, whose summary (records,
/// digest) is the same on both sides in an unbroken run. Both sides' records before it are then
/// the same; the comparison still reads that segment, so `common_end` is exact.
fn skip_equal_segments(a: &Cluster, b: &Cluster, start: Lsn) -> Lsn {
    let seg = start.segno(a.seg_size);
    let pos = |c: &Cluster| {
        c.segments
            .binary_search_by_key(&seg, |s| s.segno)
            .ok()
            .filter(|&i| c.segments[i].first == start)
    };
    let (Some(i), Some(j)) = (pos(a), pos(b)) else {
        return start;
    };
    let mut from = start;
    for (x, y) in a.segments[i..].iter().zip(&b.segments[j..]) {
        if x != y {
            break;
        }
        from = x.first;
    }
    from
}

fn compare_wal_inner(a: &Cluster, b: &Cluster) -> Result<WalDiff, walparse::WalError> {
    let (Some(oa), Some(ob)) = (a.oldest_record, b.oldest_record) else {
        return Ok(WalDiff::NoOverlap);
    };
    // Both sides must start at the same record: the later of the two oldest records, which
    // must also start a record on the side that holds older WAL.
    let start = oa.max(ob);
    let older = if oa < ob { a } else { b };
    if oa != ob && !starts_record_at(older, start)? {
        return Ok(WalDiff::NoOverlap);
    }
    let start = skip_equal_segments(a, b, start);
    let mut ra = a.records(start, &a.spans, false);
    let mut rb = b.records(start, &b.spans, false);
    let mut common_end = start;
    loop {
        let x = ra.next_record()?;
        let y = rb.next_record()?;
        match (x, y) {
            (None, None) => {
                return Ok(WalDiff::Prefix {
                    shorter: None,
                    at: common_end,
                })
            }
            (None, Some(_)) => {
                return Ok(WalDiff::Prefix {
                    shorter: Some(Side::A),
                    at: common_end,
                })
            }
            (Some(_), None) => {
                return Ok(WalDiff::Prefix {
                    shorter: Some(Side::B),
                    at: common_end,
                })
            }
            (Some(p), Some(q)) => {
                if p.lsn() != q.lsn() {
                    return Ok(WalDiff::Differ {
                        at: p.lsn().min(q.lsn()),
                    });
                }
                if p.raw() != q.raw() {
                    return Ok(WalDiff::Differ { at: p.lsn() });
                }
                common_end = p.next_lsn();
            }
        }
    }
}

/// What pg_rewind of a major version uses as a cluster's timeline: ≤ 15 the checkpoint's
/// timeline; 16+ the newer of it and `minRecoveryPointTLI` (pg_rewind.c main).
pub fn pg_rewind_tli(c: &Cluster, major: u32) -> TimeLineId {
    let cp = c.control.checkpoint_copy.this_tli;
    if major >= 16 {
        cp.max(c.control.min_recovery_point_tli)
    } else {
        cp
    }
}

fn reason(code: &'static str, message: String) -> Reason {
    Reason { code, message }
}

/// Compares two clusters. Pure: reads only through the clusters' WAL readers.
pub fn compare(a: &Cluster, b: &Cluster, opts: &Options) -> Report {
    let cl = [a, b];
    let mut findings: Vec<Finding> = Vec::new();
    findings.extend(a.findings_for(Side::A));
    findings.extend(b.findings_for(Side::B));
    let mut reasons: Vec<Reason> = Vec::new();

    // 1. Identity.
    let same_system = a.control.system_identifier == b.control.system_identifier;
    if same_system {
        findings.push(crate::cluster::info(
            "same-system",
            format!(
                "both have database system identifier {}",
                a.control.system_identifier
            ),
        ));
    } else {
        findings.push(crate::cluster::error(
            "different-systems",
            format!(
                "database system identifiers differ: {} and {}",
                a.control.system_identifier, b.control.system_identifier
            ),
        ));
    }
    let mut incompatible: Vec<Reason> = Vec::new();
    let checks: [(&'static str, &str, u64, u64); 5] = [
        (
            "different-pg-control-version",
            "pg_control version",
            a.control.pg_control_version.into(),
            b.control.pg_control_version.into(),
        ),
        (
            "different-catalog-version",
            "catalog version",
            a.control.catalog_version_no.into(),
            b.control.catalog_version_no.into(),
        ),
        (
            "different-block-size",
            "block size",
            a.control.blcksz.into(),
            b.control.blcksz.into(),
        ),
        (
            "different-wal-block-size",
            "WAL block size",
            a.control.xlog_blcksz.into(),
            b.control.xlog_blcksz.into(),
        ),
        (
            "different-wal-segment-size",
            "WAL segment size",
            a.control.xlog_seg_size.into(),
            b.control.xlog_seg_size.into(),
        ),
    ];
    for (code, what, x, y) in checks {
        if x != y {
            let r = reason(code, format!("{what} differs: {x} and {y}"));
            findings.push(crate::cluster::error(code, r.message.clone()));
            incompatible.push(r);
        }
    }
    if same_system && incompatible.is_empty() {
        findings.push(crate::cluster::info(
            "same-version-and-sizes",
            format!(
                "same major version ({}), catalog version {}, block size {}, WAL segment size {}",
                a.control.major_version(),
                a.control.catalog_version_no,
                a.control.blcksz,
                a.control.xlog_seg_size
            ),
        ));
    }

    // 2. Each side's position.
    for (c, side) in [(a, Side::A), (b, Side::B)] {
        let major = c.control.major_version();
        findings.push(Finding {
            code: "position",
            severity: Severity::Info,
            cluster: Some(side),
            message: format!(
                "timeline {} (from {}), end of WAL {} ({}); pg_rewind's end of WAL {}",
                c.timeline,
                c.timeline_from,
                c.end_of_wal
                    .as_ref()
                    .map_or("unknown".to_string(), |e| e.end.to_string()),
                c.end_of_wal
                    .as_ref()
                    .map_or("no readable WAL", |e| e.reason.as_str()),
                c.checkpoint_end
                    .map(|e| e.max(c.control.min_recovery_point))
                    .map_or("unknown".to_string(), |e| e.to_string()),
            ),
        });
        if c.timeline > pg_rewind_tli(c, major) {
            findings.push(Finding {
                code: "timeline-ahead-of-pg-control",
                severity: Severity::Warning,
                cluster: Some(side),
                message: format!(
                    "the history files show timeline {}, but pg_control still says {} (promoted, not yet checkpointed): pg_rewind {major} would use {}",
                    c.timeline,
                    c.control.checkpoint_copy.this_tli,
                    pg_rewind_tli(c, major)
                ),
            });
        }
    }

    // 3. The fork.
    let ends = [end_of(a), end_of(b)];
    let (relation, fork) = if !same_system {
        (Relation::Unrelated, None)
    } else {
        let hist = history_fork(&a.spans, &b.spans);
        let wal = if a.seg_size == b.seg_size {
            compare_wal(a, b)
        } else {
            WalDiff::NoOverlap
        };
        if let WalDiff::Unreadable(msg) = &wal {
            findings.push(crate::cluster::warning(
                "wal-unreadable",
                format!("comparing the two sides' WAL failed: {msg}"),
            ));
        }
        let (rel, fork, more) = relate(hist, &wal, ends, [&a.spans, &b.spans]);
        findings.extend(more);
        (rel, fork)
    };
    if fork.is_none() && same_system {
        findings.push(crate::cluster::info(
            "no-fork",
            "the two histories do not part: one side's WAL is a prefix of the other's, or they are equal".to_string(),
        ));
    }
    if let Some(f) = &fork {
        findings.push(crate::cluster::info(
            "fork",
            format!(
                "the two histories part at {} on timeline {} ({}; WAL check: {})",
                f.lsn,
                f.timeline,
                match f.found_by {
                    ForkSource::TimelineHistory => "from the timeline history files",
                    ForkSource::WalRecords => "first differing WAL record",
                },
                match f.wal_check {
                    WalCheck::Confirmed => "confirmed by the records of both sides",
                    WalCheck::NotCovered => "the WAL of both sides does not cover it",
                    WalCheck::Earlier => "the records differ before the switchpoint",
                }
            ),
        ));
    }

    // 4. Direction.
    let mut direction_chosen = false;
    let (source, target): (Side, Option<Side>) = match &relation {
        Relation::Unrelated => {
            direction_chosen = true;
            let keep = opts.keep.unwrap_or(Side::A);
            (keep, Some(keep.other()))
        }
        Relation::InSync => (Side::A, None),
        Relation::Behind { behind } => (behind.other(), Some(*behind)),
        Relation::Diverged { newer: Some(n) } => (*n, Some(n.other())),
        Relation::Diverged { newer: None } => {
            direction_chosen = true;
            let keep = opts.keep.unwrap_or_else(|| default_keep(cl, fork.as_ref()));
            (keep, Some(keep.other()))
        }
    };
    if let (Some(k), false) = (opts.keep, direction_chosen) {
        if target.is_some() && k != source {
            findings.push(crate::cluster::warning(
                "keep-ignored",
                format!(
                    "--keep {} ignored: the clusters themselves say which side is on the newer branch ({})",
                    k.as_str(),
                    source.as_str()
                ),
            ));
        }
    }
    let idx = |s: Side| if s == Side::A { 0 } else { 1 };

    // What each side wrote after the fork (or after the behind side's end).
    let point = match (&fork, &relation) {
        (Some(f), _) => Some(f.lsn),
        (None, Relation::Behind { behind }) => Some(ends[idx(*behind)]),
        _ => None,
    };
    let after: [Option<AfterFork>; 2] = match point {
        Some(p) if same_system => [a.after(p), b.after(p)],
        _ => [None, None],
    };
    for (i, af) in after.iter().enumerate() {
        if let Some(af) = af {
            if af.records > 0 {
                findings.push(Finding {
                    code: "wrote-after-fork",
                    severity: Severity::Info,
                    cluster: Some(if i == 0 { Side::A } else { Side::B }),
                    message: format!(
                        "{} bytes of WAL after {}; {} records, {} commits in the WAL it holds from {}",
                        af.bytes,
                        point.unwrap_or_default(),
                        af.records,
                        af.commits,
                        af.counted_from
                    ),
                });
            }
        }
    }

    // 5.–7. The verdict in the chosen direction (and in the other one when it was a choice).
    let plan = |src: Side, tgt: Side| -> Plan {
        plan_for(
            cl[idx(src)],
            cl[idx(tgt)],
            src,
            &relation,
            fork.as_ref(),
            &incompatible,
        )
    };
    let mut directions = Vec::new();
    let chosen = match target {
        None => Plan {
            verdict: Verdict::InSync,
            reasons: vec![reason(
                "in-sync",
                format!(
                    "both are on timeline {} and their WAL ends at the same position {}",
                    a.timeline, ends[0]
                ),
            )],
            findings: Vec::new(),
            last_common_checkpoint: None,
            rewind_wal: None,
            follow_wal: None,
            pg_rewind: None,
            commands: Vec::new(),
        },
        Some(t) => {
            let p = plan(source, t);
            if direction_chosen && relation != Relation::Unrelated {
                let other = plan(t, source);
                directions.push(Direction {
                    keep: source,
                    verdict: p.verdict,
                    reasons: p.reasons.clone(),
                });
                directions.push(Direction {
                    keep: t,
                    verdict: other.verdict,
                    reasons: other.reasons,
                });
            }
            p
        }
    };
    reasons.extend(chosen.reasons.clone());
    findings.extend(chosen.findings.clone());
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));

    let role = |s: Side| -> &'static str {
        if target.is_none() || direction_chosen {
            if s == source && target.is_some() {
                "source"
            } else if Some(s) == target {
                "target"
            } else {
                "peer"
            }
        } else if s == source {
            "source"
        } else {
            "target"
        }
    };
    let clusters = vec![
        cluster_report(a, Side::A, role(Side::A), after[0].clone()),
        cluster_report(b, Side::B, role(Side::B), after[1].clone()),
    ];

    Report {
        verdict: chosen.verdict,
        fork,
        source: cl[idx(source)].path.display().to_string(),
        target: target.map(|t| cl[idx(t)].path.display().to_string()),
        source_side: source,
        target_side: target,
        direction_chosen,
        reasons,
        findings,
        clusters,
        last_common_checkpoint: chosen.last_common_checkpoint,
        rewind_wal: chosen.rewind_wal,
        follow_wal: chosen.follow_wal,
        pg_rewind: chosen.pg_rewind,
        directions,
        commands: chosen.commands,
    }
}

/// Everything a report says about one cluster (also usable alone, e.g. by `inspect`).
/// `role` is `source`, `target` or `peer`; `after_fork` what it wrote after the fork.
pub fn cluster_report(
    c: &Cluster,
    label: Side,
    role: &'static str,
    after_fork: Option<AfterFork>,
) -> ClusterReport {
    let ctl = &c.control;
    let name = |f: &crate::cluster::WalFile| {
        f.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let pg_wal = || {
        c.wal_files
            .iter()
            .filter(|f| f.location == crate::cluster::WalLocation::PgWal)
    };
    let mut segs: Vec<&crate::cluster::WalFile> = pg_wal()
        .filter(|f| matches!(f.name, walparse::WalFileName::Segment { .. }))
        .collect();
    segs.sort_by_key(|f| match f.name {
        walparse::WalFileName::Segment { tli, segno } => (segno, tli),
        _ => (0, 0),
    });
    ClusterReport {
        label,
        path: c.path.display().to_string(),
        role,
        system_identifier: ctl.system_identifier,
        pg_version: c.pg_version.clone(),
        control: ControlSummary {
            state: ctl.state.as_str().to_string(),
            checkpoint: ctl.checkpoint,
            redo: ctl.checkpoint_copy.redo,
            checkpoint_timeline: ctl.checkpoint_copy.this_tli,
            min_recovery_point: ctl.min_recovery_point,
            min_recovery_point_timeline: ctl.min_recovery_point_tli,
            full_page_writes: ctl.checkpoint_copy.full_page_writes,
            data_checksums: ctl.data_checksum_version != 0,
            wal_log_hints: ctl.wal_log_hints,
            pg_control_version: ctl.pg_control_version,
            catalog_version: ctl.catalog_version_no,
            block_size: ctl.blcksz,
            wal_block_size: ctl.xlog_blcksz,
            wal_segment_size: ctl.xlog_seg_size,
        },
        timeline: c.timeline,
        timeline_from: c.timeline_from,
        pg_rewind_timeline: pg_rewind_tli(c, ctl.major_version()),
        history: c
            .spans
            .iter()
            .map(|s| HistoryEntry {
                timeline: s.tli,
                begin: s.begin,
                end: s.end,
            })
            .collect(),
        end_of_wal: c.end_of_wal.as_ref().map(|e| EndOfWal {
            lsn: e.end,
            last_record: Some(e.last_record),
            timeline: e.tli,
            reason: e.reason.clone(),
        }),
        pg_rewind_end_of_wal: c.checkpoint_end.map(|e| e.max(ctl.min_recovery_point)),
        wal: WalHeld {
            segments: segs.len(),
            oldest: segs.first().map(|f| name(f)),
            newest: segs.last().map(|f| name(f)),
            partial: pg_wal()
                .filter(|f| matches!(f.name, walparse::WalFileName::Partial { .. }))
                .map(name)
                .collect(),
            history_files: pg_wal()
                .filter(|f| matches!(f.name, walparse::WalFileName::History { .. }))
                .map(name)
                .collect(),
            oldest_record: c.oldest_record,
        },
        signal: c.signal,
        postmaster_pid: c.postmaster_pid.is_some(),
        backup_label: c.backup_label,
        settings: c.settings.clone(),
        after_fork,
    }
}

/// The end of WAL used for decisions: read from the records; pg_rewind's notion when the
/// records could not be read.
fn end_of(c: &Cluster) -> Lsn {
    c.end_of_wal
        .as_ref()
        .map(|e| e.end)
        .or(c
            .checkpoint_end
            .map(|e| e.max(c.control.min_recovery_point)))
        .unwrap_or(c.control.checkpoint)
}

/// The side to keep when the clusters cannot tell: the one with more WAL after the fork, then
/// the later pg_control update, then A. Symmetric in everything but the last tie-break.
fn default_keep(cl: [&Cluster; 2], _fork: Option<&Fork>) -> Side {
    let ea = end_of(cl[0]);
    let eb = end_of(cl[1]);
    if ea != eb {
        return if ea > eb { Side::A } else { Side::B };
    }
    if cl[0].control.time != cl[1].control.time {
        return if cl[0].control.time > cl[1].control.time {
            Side::A
        } else {
            Side::B
        };
    }
    Side::A
}

/// The verdict and everything behind it for one direction.
struct Plan {
    verdict: Verdict,
    reasons: Vec<Reason>,
    findings: Vec<Finding>,
    last_common_checkpoint: Option<CheckpointRef>,
    rewind_wal: Option<WalPlan>,
    follow_wal: Option<WalPlan>,
    pg_rewind: Option<PgRewindPrediction>,
    commands: Vec<Command>,
}

/// Segment availability for `[start, end)` of `owner`'s WAL on `spans`.
fn wal_plan(owner: &Cluster, from: Side, spans: &[TliSpan], start: Lsn, end: Lsn) -> WalPlan {
    let seg = owner.seg_size;
    let first = start.segno(seg);
    // The segment holding the last byte before `end` (a record ending exactly on a boundary
    // does not need the next segment).
    let last = Lsn(end.0.saturating_sub(1)).segno(seg).max(first);
    let mut plan = WalPlan {
        from,
        start,
        end,
        segments: Vec::new(),
        in_pg_wal: 0,
        archive_only: 0,
        missing: 0,
    };
    for segno in first..=last {
        let (tli, found) = owner.segment_file(spans, segno, true);
        let file = owner.segment_name(tli, segno);
        let (status, path) = match found {
            Some(f) if f.location == crate::cluster::WalLocation::PgWal => {
                (SegmentStatus::PgWal, Some(f.path.display().to_string()))
            }
            Some(f) => (SegmentStatus::Archive, Some(f.path.display().to_string())),
            None => (SegmentStatus::Missing, None),
        };
        match status {
            SegmentStatus::PgWal => plan.in_pg_wal += 1,
            SegmentStatus::Archive => plan.archive_only += 1,
            SegmentStatus::Missing => plan.missing += 1,
        }
        if plan.segments.len() < MAX_LISTED_SEGMENTS {
            plan.segments.push(SegmentNeed { file, status, path });
        }
    }
    plan
}

fn missing_list(p: &WalPlan) -> String {
    let names: Vec<&str> = p
        .segments
        .iter()
        .filter(|s| s.status == SegmentStatus::Missing)
        .map(|s| s.file.as_str())
        .take(5)
        .collect();
    let more = p.missing.saturating_sub(names.len());
    if more > 0 {
        format!("{} and {more} more", names.join(", "))
    } else {
        names.join(", ")
    }
}

/// The verdict for keeping `src` and fixing `tgt`.
#[allow(clippy::too_many_arguments)]
fn plan_for(
    src: &Cluster,
    tgt: &Cluster,
    src_side: Side,
    relation: &Relation,
    fork: Option<&Fork>,
    incompatible: &[Reason],
) -> Plan {
    let tgt_side = src_side.other();
    let mut p = Plan {
        verdict: Verdict::Rebuild,
        reasons: Vec::new(),
        findings: Vec::new(),
        last_common_checkpoint: None,
        rewind_wal: None,
        follow_wal: None,
        pg_rewind: None,
        commands: Vec::new(),
    };
    let major = tgt.control.major_version();
    let tpath = tgt.path.display().to_string();
    let spath = src.path.display().to_string();
    let tag = |f: Finding, s: Side| Finding {
        cluster: Some(s),
        ..f
    };

    // pg_rewind's preconditions on the target (pg_rewind.c sanityChecks), recorded whatever the
    // relation, so the report always says whether a rewind would be possible.
    let hints_ok = tgt.control.data_checksum_version != 0 || tgt.control.wal_log_hints;
    p.findings.push(tag(
        if hints_ok {
            crate::cluster::info(
                "target-checksums-or-hints",
                format!(
                    "data checksums {}, wal_log_hints {} (pg_control)",
                    on_off(tgt.control.data_checksum_version != 0),
                    on_off(tgt.control.wal_log_hints)
                ),
            )
        } else {
            crate::cluster::warning(
                "target-no-checksums-or-hints",
                "data checksums are off and wal_log_hints is off (pg_control): pg_rewind refuses (\"target server needs to use either data checksums or \\\"wal_log_hints = on\\\"\")".to_string(),
            )
        },
        tgt_side,
    ));
    let fpw = src.control.checkpoint_copy.full_page_writes;
    if fpw {
        p.findings.push(tag(
            crate::cluster::info(
                "source-full-page-writes-on",
                "full_page_writes is on (latest checkpoint)".to_string(),
            ),
            src_side,
        ));
    } else {
        p.findings.push(tag(
            crate::cluster::warning(
                "source-full-page-writes-off",
                "full_page_writes is off on the source (latest checkpoint): pg_rewind requires it"
                    .to_string(),
            ),
            src_side,
        ));
    }
    let running = tgt.postmaster_pid.is_some();
    let clean = tgt.clean_shutdown();
    if clean && !running {
        p.findings.push(tag(
            crate::cluster::info(
                "target-shut-down-cleanly",
                format!(
                    "pg_control: \"{}\", no postmaster.pid",
                    tgt.control.state.as_str()
                ),
            ),
            tgt_side,
        ));
    }

    p.pg_rewind = Some(predict_pg_rewind(src, tgt, major, relation));

    match relation {
        Relation::Unrelated => {
            p.reasons.push(reason(
                "different-systems",
                format!(
                    "the two are different database systems ({} and {}): neither can follow or be rewound from the other",
                    src.control.system_identifier, tgt.control.system_identifier
                ),
            ));
            p.verdict = Verdict::Rebuild;
        }
        Relation::InSync => {
            p.verdict = Verdict::InSync;
        }
        Relation::Behind { .. } => {
            let start = end_of(tgt);
            let plan = wal_plan(src, src_side, &src.spans, start, end_of(src).max(start));
            let desc = format!(
                "{} is behind: its WAL ends at {} on timeline {}, which is on the history of {} (timeline {})",
                tpath, start, tgt.timeline, spath, src.timeline
            );
            p.reasons.push(reason("behind", desc));
            if !incompatible.is_empty() {
                p.reasons.extend(incompatible.iter().cloned());
                p.verdict = Verdict::Rebuild;
            } else if plan.missing > 0 {
                p.reasons.push(reason(
                    "follow-wal-removed",
                    format!(
                        "the WAL it needs from {spath} to catch up has already been removed ({}): requested WAL segment has already been removed",
                        missing_list(&plan)
                    ),
                ));
                p.verdict = Verdict::Rebuild;
            } else {
                p.reasons.push(reason(
                    "follow-wal-available",
                    format!(
                        "the WAL it needs from {start} on is still available ({} segments in pg_wal, {} only in an archive)",
                        plan.in_pg_wal, plan.archive_only
                    ),
                ));
                p.verdict = Verdict::Follow;
            }
            p.follow_wal = Some(plan);
        }
        Relation::Diverged { newer } => {
            let Some(f) = fork else {
                // `relate` always names a fork for a divergence; without one there is nothing
                // to rewind from.
                p.reasons.push(reason(
                    "rewind-wal-missing",
                    "the fork could not be located".to_string(),
                ));
                p.verdict = Verdict::Rebuild;
                p.commands = commands(src, tgt, &p, major);
                return p;
            };
            p.reasons.push(reason(
                "diverged",
                format!(
                    "the two diverged at {} on timeline {}: {} has WAL after it that {} does not",
                    f.lsn, f.timeline, tpath, spath
                ),
            ));
            if newer.is_none() {
                p.reasons.push(reason(
                    "direction-not-determined",
                    "neither side is on a newer branch of the other's history: the side to keep was chosen (--keep A|B)".to_string(),
                ));
            }
            let mut blocked = false;
            // pg_rewind compares timeline numbers first: equal numbers mean "no rewind required".
            let blind16 = pg_rewind_tli(src, 16) == pg_rewind_tli(tgt, 16);
            let blind15 = pg_rewind_tli(src, 15) == pg_rewind_tli(tgt, 15);
            if blind16 {
                p.reasons.push(reason(
                    "same-timeline-divergence",
                    format!(
                        "both are on timeline {}: pg_rewind would say \"no rewind required\", yet their WAL differs from {} on; pg_rewind cannot rewind this",
                        pg_rewind_tli(src, 16), f.lsn
                    ),
                ));
                blocked = true;
            } else if blind15 && major <= 15 {
                p.reasons.push(reason(
                    "source-not-checkpointed",
                    format!(
                        "pg_control of {spath} still shows timeline {} (promoted, no checkpoint since): pg_rewind {major} would say \"no rewind required\"; run CHECKPOINT on it first",
                        src.control.checkpoint_copy.this_tli
                    ),
                ));
            }
            if !incompatible.is_empty() {
                p.reasons.extend(incompatible.iter().cloned());
                blocked = true;
            }
            if !hints_ok {
                p.reasons.push(reason(
                    "target-no-checksums-or-hints",
                    format!("{tpath} has neither data checksums nor wal_log_hints: pg_rewind refuses to rewind it"),
                ));
                blocked = true;
            }
            if !fpw {
                p.reasons.push(reason(
                    "source-full-page-writes-off",
                    format!("full_page_writes is off on {spath}: pg_rewind refuses"),
                ));
                blocked = true;
            }
            if !clean {
                p.reasons.push(reason(
                    "target-not-shut-down-cleanly",
                    format!(
                        "{tpath} was not shut down cleanly (pg_control: \"{}\"{}): stop it; pg_rewind 13+ then runs crash recovery itself (not with --dry-run)",
                        tgt.control.state.as_str(),
                        if running { ", postmaster.pid present" } else { "" }
                    ),
                ));
                if major < 13 {
                    blocked = true;
                }
            }
            // WAL: the last common checkpoint before the fork, found on the target's WAL by
            // walking back via xl_prev (parsexlog.c findLastCheckpoint), and every segment from
            // it to the target's end of WAL.
            let walk = tgt.last_checkpoint_before(f.lsn, true);
            match walk {
                Ok(Some(cp)) => {
                    let plan = wal_plan(tgt, tgt_side, &tgt.spans, cp.lsn, end_of(tgt).max(cp.lsn));
                    p.findings.push(tag(
                        crate::cluster::info(
                            "last-common-checkpoint",
                            format!(
                                "last common checkpoint at {} on timeline {} (redo {})",
                                cp.lsn, cp.timeline, cp.redo
                            ),
                        ),
                        tgt_side,
                    ));
                    if plan.missing > 0 {
                        p.reasons.push(reason(
                            "rewind-wal-missing",
                            format!(
                                "WAL of {tpath} from the last common checkpoint {} is missing ({}): pg_rewind would fail",
                                cp.lsn,
                                missing_list(&plan)
                            ),
                        ));
                        blocked = true;
                    } else if plan.archive_only > 0 {
                        p.reasons.push(reason(
                            "rewind-wal-in-archive",
                            format!(
                                "{} of the segments pg_rewind needs are only in the archive: use --restore-target-wal (restore_command must be set on the target)",
                                plan.archive_only
                            ),
                        ));
                        if tgt.settings.restore_command.is_none() {
                            p.findings.push(tag(
                                crate::cluster::warning(
                                    "restore-command-not-set",
                                    "restore_command is not set in the target cluster: set it before running pg_rewind --restore-target-wal".to_string(),
                                ),
                                tgt_side,
                            ));
                        }
                    } else {
                        p.reasons.push(reason(
                            "rewind-wal-available",
                            format!(
                                "the target's WAL from the last common checkpoint {} to its end {} is in its pg_wal",
                                cp.lsn,
                                end_of(tgt)
                            ),
                        ));
                    }
                    // After the rewind the target replays from the checkpoint's redo with WAL
                    // copied from the source (pg_rewind copies the source's pg_wal).
                    let replay = wal_plan(src, src_side, &src.spans, cp.redo, f.lsn.max(cp.redo));
                    if replay.missing > 0 {
                        p.findings.push(tag(
                            crate::cluster::warning(
                                "source-lacks-replay-wal",
                                format!(
                                    "the source no longer holds the WAL from the checkpoint's redo {} to the fork ({}): after the rewind the target must get it from an archive — keep a copy of the target's own segments before rewinding",
                                    cp.redo,
                                    missing_list(&replay)
                                ),
                            ),
                            src_side,
                        ));
                    }
                    p.last_common_checkpoint = Some(cp);
                    p.rewind_wal = Some(plan);
                }
                Ok(None) => {
                    p.reasons.push(reason(
                        "rewind-wal-missing",
                        format!(
                            "no checkpoint before the fork {} can be found in the WAL of {tpath} (pg_wal and archives): pg_rewind would fail",
                            f.lsn
                        ),
                    ));
                    blocked = true;
                }
                Err(msg) => {
                    p.reasons.push(reason(
                        "rewind-wal-missing",
                        format!("reading the WAL of {tpath} back from the fork failed: {msg}"),
                    ));
                    blocked = true;
                }
            }
            p.verdict = if blocked {
                Verdict::Rebuild
            } else {
                Verdict::Rewind
            };
        }
    }
    p.commands = commands(src, tgt, &p, major);
    p
}

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

/// What pg_rewind of `major` would do with `--dry-run --source-pgdata` in this direction,
/// following pg_rewind.c `main`, `sanityChecks`, `findCommonAncestorTimeline` and parsexlog.c
/// `findLastCheckpoint` step by step (with `--restore-target-wal` when the target's WAL is only
/// partly in pg_wal).
pub fn predict_pg_rewind(
    src: &Cluster,
    tgt: &Cluster,
    major: u32,
    relation: &Relation,
) -> PgRewindPrediction {
    let out = |outcome: &'static str, message: String| PgRewindPrediction {
        command: format!(
            "pg_rewind --target-pgdata={} --source-pgdata={} --dry-run",
            sh(&tgt.path.display().to_string()),
            sh(&src.path.display().to_string())
        ),
        outcome,
        message: Some(message),
        diverged: None,
        last_common_checkpoint: None,
        agrees: true,
        disagreement: None,
    };
    if src.control.system_identifier != tgt.control.system_identifier {
        return out(
            "refused",
            "source and target clusters are from different systems".into(),
        );
    }
    if src.control.pg_control_version != tgt.control.pg_control_version
        || src.control.catalog_version_no != tgt.control.catalog_version_no
    {
        return out(
            "refused",
            "clusters are not compatible with this version of pg_rewind".into(),
        );
    }
    if tgt.control.data_checksum_version == 0 && !tgt.control.wal_log_hints {
        return out(
            "refused",
            "target server needs to use either data checksums or \"wal_log_hints = on\"".into(),
        );
    }
    if !tgt.clean_shutdown() {
        // --dry-run skips the single-user crash recovery (ensureCleanShutdown), then
        // sanityChecks refuses.
        return out("refused", "target server must be shut down cleanly".into());
    }
    if !src.clean_shutdown() {
        return out(
            "refused",
            "source data directory must be shut down cleanly".into(),
        );
    }
    let stli = pg_rewind_tli(src, major);
    let ttli = pg_rewind_tli(tgt, major);
    if stli == ttli {
        let mut p = out(
            "no-rewind-required",
            "source and target cluster are on the same timeline".into(),
        );
        if matches!(relation, Relation::Diverged { .. }) {
            p.agrees = false;
            p.disagreement = Some(if pg_rewind_tli(src, 16) == pg_rewind_tli(tgt, 16) {
                "same-timeline-divergence"
            } else {
                "source-not-checkpointed"
            });
        }
        return p;
    }
    // getTimelineHistory: the history file must be in each side's pg_wal.
    let hist = |c: &Cluster, tli: TimeLineId| -> Result<Vec<TliSpan>, String> {
        if tli == 1 {
            return Ok(vec![TliSpan {
                tli: 1,
                begin: Lsn::INVALID,
                end: None,
            }]);
        }
        c.histories
            .get(&tli)
            .and_then(|v| {
                v.iter()
                    .find(|h| h.location == crate::cluster::WalLocation::PgWal)
            })
            .map(|h| h.history.spans())
            .ok_or_else(|| format!("could not open file \"pg_wal/{tli:08X}.history\""))
    };
    let (sh, th) = match (hist(src, stli), hist(tgt, ttli)) {
        (Ok(s), Ok(t)) => (s, t),
        (Err(e), _) | (_, Err(e)) => return out("error", e),
    };
    let Some(cf) = common_ancestor(&sh, &th) else {
        return out(
            "error",
            "could not find common ancestor of the source and target cluster's timelines".into(),
        );
    };
    let divergerec = cf.lsn.unwrap_or(Lsn(u64::MAX));
    let diverged = Some(PgRewindDiverged {
        lsn: divergerec,
        timeline: th[cf.index].tli,
    });
    let Some(chkptend) = tgt.checkpoint_end else {
        let mut p = out(
            "error",
            format!("could not read WAL record at {}", tgt.control.checkpoint),
        );
        p.diverged = diverged;
        return p;
    };
    let endrec = chkptend.max(tgt.control.min_recovery_point);
    if endrec <= divergerec {
        let mut p = out("no-rewind-required", "no rewind required".into());
        p.diverged = diverged;
        return p;
    }
    // findLastCheckpoint + extractPageMap read the target's WAL from the last common
    // checkpoint to its end; --restore-target-wal (recommended when a segment is only in the
    // archive) fetches what pg_wal lacks with the target's restore_command.
    let mut p = match tgt.last_checkpoint_before(divergerec, true) {
        Ok(Some(cp)) => {
            let plan = wal_plan(tgt, Side::A, &tgt.spans, cp.lsn, endrec);
            let first_not = |st: SegmentStatus| {
                plan.segments
                    .iter()
                    .find(|s| s.status == st)
                    .map(|s| s.file.clone())
                    .unwrap_or_default()
            };
            if plan.missing > 0 {
                out(
                    "error",
                    format!(
                        "could not open file \"pg_wal/{}\": No such file or directory; could not find previous WAL record at {divergerec}",
                        first_not(SegmentStatus::Missing)
                    ),
                )
            } else if plan.archive_only > 0 && tgt.settings.restore_command.is_none() {
                out(
                    "error",
                    "restore_command is not set in the target cluster".into(),
                )
            } else {
                let mut p = out(
                    "rewind",
                    format!(
                        "rewinding from last common checkpoint at {} on timeline {}",
                        cp.lsn, cp.timeline
                    ),
                );
                if plan.archive_only > 0 {
                    p.command.push_str(" --restore-target-wal");
                }
                p.last_common_checkpoint = Some(cp);
                p
            }
        }
        Ok(None) | Err(_) => out(
            "error",
            format!("could not find previous WAL record at {divergerec}"),
        ),
    };
    p.diverged = diverged;
    p
}

/// Quotes a path or value for a POSIX shell when it needs it.
fn sh(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@%,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn cmd(description: impl Into<String>, command: impl Into<String>) -> Command {
    Command {
        description: description.into(),
        command: command.into(),
    }
}

/// The steps that carry out `p`'s verdict, with `<placeholders>` for what only the operator
/// knows (hosts, users).
fn commands(src: &Cluster, tgt: &Cluster, p: &Plan, major: u32) -> Vec<Command> {
    let t = sh(&tgt.path.display().to_string());
    let port = src.settings.port.clone().unwrap_or_else(|| "5432".into());
    let slot: String = {
        let base = tgt
            .path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let clean: String = base
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        format!("pgdiverge_{}", clean.trim_matches('_'))
    };
    let conninfo = format!("host=<source-host> port={port} user=<replication-user>");
    let mut v = Vec::new();
    let stop = |v: &mut Vec<Command>| {
        if tgt.postmaster_pid.is_some() || !tgt.clean_shutdown() {
            v.push(cmd(
                "Stop the target (postmaster.pid is present or pg_control says it was not shut down cleanly)",
                format!("pg_ctl -D {t} stop -m fast"),
            ));
        }
    };
    let hba = cmd(
        "On the source, pg_hba.conf must let the target connect for replication (then reload the source)",
        "host  replication  <replication-user>  <target-host>/32  scram-sha-256",
    );
    let slot_cmd = cmd(
        "On the source, create the physical replication slot the target will use, so the WAL it needs is kept",
        format!(
            "psql -h <source-host> -p {port} -U postgres -c \"SELECT pg_create_physical_replication_slot('{slot}')\""
        ),
    );
    let s = sh(&src.path.display().to_string());
    let source_up = cmd(
        "The source must be running: the target connects to it (pg_rewind --source-server, streaming replication)",
        format!("pg_ctl -D {s} start"),
    );
    let source_down = src.postmaster_pid.is_none();
    match p.verdict {
        Verdict::InSync => {}
        Verdict::Follow => {
            stop(&mut v);
            if source_down {
                v.push(source_up.clone());
            }
            v.push(slot_cmd);
            v.push(hba);
            let configured = (tgt.signal == Some("standby") || tgt.recovery_conf)
                && tgt.settings.primary_conninfo.is_some();
            if configured {
                v.push(cmd(
                    format!(
                        "The target is already configured as a standby (primary_conninfo = '{}'): check that it points at the source",
                        tgt.settings.primary_conninfo.as_deref().unwrap_or_default()
                    ),
                    String::new(),
                ));
            } else if major >= 12 {
                v.push(cmd(
                    "Make the target a standby of the source: primary_conninfo and primary_slot_name, and standby.signal",
                    format!(
                        "printf \"%s\\n\" \"primary_conninfo = '{conninfo}'\" \"primary_slot_name = '{slot}'\" >> {t}/postgresql.auto.conf && touch {t}/standby.signal"
                    ),
                ));
            } else {
                v.push(cmd(
                    "Make the target a standby of the source (PostgreSQL 11 and older: recovery.conf)",
                    format!(
                        "printf \"%s\\n\" \"standby_mode = 'on'\" \"primary_conninfo = '{conninfo}'\" \"primary_slot_name = '{slot}'\" \"recovery_target_timeline = 'latest'\" > {t}/recovery.conf"
                    ),
                ));
            }
            v.push(cmd(
                "Start the target; it follows the source's timeline (recovery_target_timeline = 'latest' is the default since 12)",
                format!("pg_ctl -D {t} start"),
            ));
        }
        Verdict::Rewind => {
            stop(&mut v);
            if source_down {
                v.push(source_up.clone());
            }
            if p.reasons
                .iter()
                .any(|r| r.code == "source-not-checkpointed")
            {
                v.push(cmd(
                    "Checkpoint the source first: its pg_control still shows the old timeline, and pg_rewind 15 and older read the timeline from there",
                    format!("psql -h <source-host> -p {port} -U postgres -c CHECKPOINT"),
                ));
            }
            let restore = p.rewind_wal.as_ref().is_some_and(|w| w.archive_only > 0);
            if restore && tgt.settings.restore_command.is_none() {
                v.push(cmd(
                    "Set restore_command on the target so pg_rewind can fetch the archived WAL it needs",
                    format!("echo \"restore_command = 'cp <archive-dir>/%f %p'\" >> {t}/postgresql.auto.conf"),
                ));
            }
            if let Some(cp) = &p.last_common_checkpoint {
                if p.findings
                    .iter()
                    .any(|f| f.code == "source-lacks-replay-wal")
                {
                    v.push(cmd(
                        format!(
                            "Keep a copy of the target's WAL from the last common checkpoint's redo {} on: pg_rewind replaces the target's pg_wal with the source's, which no longer has it; restore it from there (restore_command) when the target starts",
                            cp.redo
                        ),
                        format!("mkdir -p <safe-dir> && cp {t}/pg_wal/0000* <safe-dir>/"),
                    ));
                }
            }
            let mut base = format!(
                "pg_rewind --target-pgdata={t} --source-server='host=<source-host> port={port} user=postgres dbname=postgres'"
            );
            if restore {
                base.push_str(" --restore-target-wal");
            }
            v.push(cmd(
                "Dry run first: pg_rewind checks everything and changes nothing",
                format!("{base} --dry-run --progress"),
            ));
            if major >= 13 {
                v.push(cmd(
                    "Rewind the target; -R writes standby.signal and primary_conninfo for the source",
                    format!("{base} -R --progress"),
                ));
            } else {
                v.push(cmd("Rewind the target", format!("{base} --progress")));
                v.push(cmd(
                    "Make it a standby (PostgreSQL 11 and older: recovery.conf)",
                    format!(
                        "printf \"%s\\n\" \"standby_mode = 'on'\" \"primary_conninfo = '{conninfo}'\" \"recovery_target_timeline = 'latest'\" > {t}/recovery.conf"
                    ),
                ));
            }
            v.push(slot_cmd);
            v.push(cmd(
                "Use the slot on the target",
                format!("echo \"primary_slot_name = '{slot}'\" >> {t}/postgresql.auto.conf"),
            ));
            v.push(hba);
            v.push(cmd(
                "Start the target: it replays from the last common checkpoint and follows the source",
                format!("pg_ctl -D {t} start"),
            ));
        }
        Verdict::Rebuild => {
            stop(&mut v);
            if source_down && src.control.system_identifier == tgt.control.system_identifier {
                v.push(source_up);
            }
            v.push(cmd(
                "Move the target aside (do not delete it: it holds the transactions only it has)",
                format!("mv {t} {}", sh(&format!("{}.diverged", tgt.path.display()))),
            ));
            v.push(hba);
            v.push(cmd(
                "Take a fresh base backup from the source; -R writes standby.signal and primary_conninfo, -C -S creates and uses a replication slot",
                format!(
                    "pg_basebackup -h <source-host> -p {port} -U <replication-user> -D {t} -X stream -R -C -S {slot} --progress"
                ),
            ));
            v.push(cmd("Start the new standby", format!("pg_ctl -D {t} start")));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(tli: TimeLineId, begin: u64, end: Option<u64>) -> TliSpan {
        TliSpan {
            tli,
            begin: Lsn(begin),
            end: end.map(Lsn),
        }
    }

    const S: u64 = 0x1001B60;

    fn run(a: &[TliSpan], b: &[TliSpan], wal: WalDiff, ends: [u64; 2]) -> (Relation, Option<Fork>) {
        let (r, f, _) = relate(
            history_fork(a, b),
            &wal,
            [Lsn(ends[0]), Lsn(ends[1])],
            [a, b],
        );
        (r, f)
    }

    #[test]
    fn split_brain_keeps_the_promoted_side() {
        let a = [span(1, 0, None)];
        let b = [span(1, 0, Some(S)), span(2, S, None)];
        let (r, f) = run(
            &a,
            &b,
            WalDiff::Differ { at: Lsn(S) },
            [S + 0x300, S + 0x2000],
        );
        assert_eq!(
            r,
            Relation::Diverged {
                newer: Some(Side::B)
            }
        );
        let f = f.unwrap();
        assert_eq!((f.lsn, f.timeline), (Lsn(S), 1));
        assert_eq!(f.found_by, ForkSource::TimelineHistory);
        assert_eq!(f.wal_check, WalCheck::Confirmed);
        // Swapped arguments: same fork, mirrored direction.
        let (r, f2) = run(
            &b,
            &a,
            WalDiff::Differ { at: Lsn(S) },
            [S + 0x2000, S + 0x300],
        );
        assert_eq!(
            r,
            Relation::Diverged {
                newer: Some(Side::A)
            }
        );
        assert_eq!(f2.unwrap().lsn, Lsn(S));
    }

    #[test]
    fn old_primary_stopped_at_the_switchpoint_can_follow() {
        let a = [span(1, 0, None)];
        let b = [span(1, 0, Some(S)), span(2, S, None)];
        let wal = WalDiff::Prefix {
            shorter: Some(Side::A),
            at: Lsn(S),
        };
        let (r, f) = run(&a, &b, wal, [S, S + 0x2000]);
        assert_eq!(r, Relation::Behind { behind: Side::A });
        let f = f.unwrap();
        assert_eq!((f.lsn, f.wal_check), (Lsn(S), WalCheck::Confirmed));
    }

    #[test]
    fn same_timeline_divergence_is_found_from_the_records() {
        let a = [span(1, 0, None)];
        let (r, f) = run(
            &a,
            &a,
            WalDiff::Differ { at: Lsn(S) },
            [S + 0x300, S + 0x6000],
        );
        assert_eq!(r, Relation::Diverged { newer: None });
        let f = f.unwrap();
        assert_eq!(
            (f.lsn, f.timeline, f.found_by),
            (Lsn(S), 1, ForkSource::WalRecords)
        );
    }

    #[test]
    fn one_timeline_prefix_is_behind_or_in_sync() {
        let a = [span(1, 0, None)];
        let behind = WalDiff::Prefix {
            shorter: Some(Side::B),
            at: Lsn(S),
        };
        assert_eq!(
            run(&a, &a, behind, [S + 0x100, S]),
            (Relation::Behind { behind: Side::B }, None)
        );
        let same = WalDiff::Prefix {
            shorter: None,
            at: Lsn(S),
        };
        assert_eq!(run(&a, &a, same, [S, S]), (Relation::InSync, None));
    }

    #[test]
    fn records_differing_before_the_switchpoint_move_the_fork() {
        let a = [span(1, 0, None)];
        let b = [span(1, 0, Some(S)), span(2, S, None)];
        let (r, f) = run(
            &a,
            &b,
            WalDiff::Differ { at: Lsn(S - 0x100) },
            [S + 1, S + 2],
        );
        assert_eq!(
            r,
            Relation::Diverged {
                newer: Some(Side::B)
            }
        );
        let f = f.unwrap();
        assert_eq!(f.lsn, Lsn(S - 0x100));
        assert_eq!(
            (f.found_by, f.wal_check),
            (ForkSource::WalRecords, WalCheck::Earlier)
        );
    }

    #[test]
    fn switchpoint_on_a_page_boundary_matches_the_record_after_the_header() {
        let p = 0x1002000;
        let a = [span(1, 0, None)];
        let b = [span(1, 0, Some(p)), span(2, p, None)];
        let (_, f) = run(
            &a,
            &b,
            WalDiff::Differ { at: Lsn(p + 24) },
            [p + 0x100, p + 0x200],
        );
        let f = f.unwrap();
        assert_eq!((f.lsn, f.wal_check), (Lsn(p), WalCheck::Confirmed));
    }

    #[test]
    fn two_promotions_to_the_same_timeline_number_fork_at_the_earlier() {
        let s2 = S + 0x200000;
        let a = [span(1, 0, Some(S)), span(2, S, None)];
        let b = [span(1, 0, Some(s2)), span(2, s2, None)];
        let (r, f) = run(
            &a,
            &b,
            WalDiff::Differ { at: Lsn(S) },
            [S + 0x2000, s2 + 0x2000],
        );
        assert_eq!(r, Relation::Diverged { newer: None });
        assert_eq!(f.unwrap().lsn, Lsn(S));
    }

    #[test]
    fn chain_of_three_timelines() {
        let s2 = S + 0x100000;
        let c = [span(1, 0, Some(S)), span(2, S, Some(s2)), span(3, s2, None)];
        let b = [span(1, 0, Some(S)), span(2, S, None)];
        let (r, f) = run(
            &b,
            &c,
            WalDiff::Differ { at: Lsn(s2) },
            [s2 + 0x500, s2 + 0x900],
        );
        assert_eq!(
            r,
            Relation::Diverged {
                newer: Some(Side::B)
            }
        );
        let f = f.unwrap();
        assert_eq!((f.lsn, f.timeline), (Lsn(s2), 2));
    }

    #[test]
    fn no_common_ancestor_is_a_finding() {
        let a = [span(1, 0, None)];
        let b = [span(2, 0, None)];
        let (_, _, findings) = relate(
            history_fork(&a, &b),
            &WalDiff::NoOverlap,
            [Lsn(S), Lsn(S + 8)],
            [&a, &b],
        );
        assert!(findings
            .iter()
            .any(|f| f.code == "no-common-ancestor-timeline"));
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh("/srv/pg/data"), "/srv/pg/data");
        assert_eq!(sh("/srv/my data"), "'/srv/my data'");
        assert_eq!(sh("it's"), "'it'\\''s'");
    }
}
