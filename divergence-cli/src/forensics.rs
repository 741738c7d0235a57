//! Forensics: what each side wrote after the fork, and what a rewind of the target throws away.
//!
//! [`activity()`] reads one side's WAL (a pure pass over a [`walparse::WalReader`]); [`lost`]
//! runs it on both sides of a [`Report`] from [`crate::compare()`] and adds what an operator
//! needs: the loss window, the SQL that names the relations, and the rewind cost estimate.

pub mod activity;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use serde::{Serialize, Serializer};
use walparse::{Lsn, TimeLineId};

pub use activity::{
    activity, classify, Change, ChangedBlocks, MissingWal, RelationChanges, SideActivity,
    Transaction, TxStatus, Window, MAX_LISTED_TRANSACTIONS,
};

use crate::cluster::Cluster;
use crate::report::{Report, Side};

/// Serializes an [`Lsn`] as PostgreSQL's `X/X` text.
pub(crate) fn ser_lsn<S: Serializer>(lsn: &Lsn, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(lsn)
}

/// Serializes an optional [`Lsn`] as `X/X` text or `null`.
pub(crate) fn ser_opt_lsn<S: Serializer>(lsn: &Option<Lsn>, s: S) -> Result<S::Ok, S::Error> {
    match lsn {
        Some(l) => s.collect_str(l),
        None => s.serialize_none(),
    }
}

/// `pg_default`'s OID (`DEFAULTTABLESPACE_OID`, `pg_tablespace.dat`).
pub const DEFAULT_TABLESPACE_OID: u32 = 1663;
/// `pg_global`'s OID (`GLOBALTABLESPACE_OID`): shared catalogs.
pub const GLOBAL_TABLESPACE_OID: u32 = 1664;

/// The fork both sides share.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ForkPoint {
    /// First LSN that is not common.
    #[serde(serialize_with = "ser_lsn")]
    pub lsn: Lsn,
    /// The last common timeline.
    pub timeline: TimeLineId,
}

/// One relation to name with `pg_filenode_relation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FilenodeArg {
    /// The tablespace argument: 0 for the database's default tablespace, as
    /// `pg_filenode_relation` documents (`RelidByRelfilenumber` maps `MyDatabaseTableSpace`
    /// to 0 too).
    pub spc: u32,
    /// The relfilenode.
    pub relfilenode: u32,
}

/// The SQL that names one database's relations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NamesQuery {
    /// The database OID; 0 for shared catalogs (run in any database).
    pub db: u32,
    /// The relations.
    pub relations: Vec<FilenodeArg>,
    /// The SQL: connect to the database (its name: `SELECT datname FROM pg_database WHERE
    /// oid = <db>`), then run this.
    pub sql: String,
}

/// What one side wrote after the fork.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SideLost {
    /// `A` (first argument) or `B`.
    pub side: Side,
    /// The data directory.
    pub path: String,
    /// `target` (a rewind or rebuild throws this away), `source` (kept), or `unknown`.
    pub role: &'static str,
    /// The side's timeline.
    pub timeline: TimeLineId,
    /// Its activity, when the WAL could be read.
    pub activity: Option<SideActivity>,
    /// Why the WAL could not be read.
    pub error: Option<String>,
    /// SQL giving the names of the relations it changed, per database.
    pub relation_names_sql: Vec<NamesQuery>,
}

/// What a rewind (or rebuild) of the target throws away.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LossWindow {
    /// The side thrown away.
    pub side: Side,
    /// From the fork...
    #[serde(serialize_with = "ser_lsn")]
    pub from_lsn: Lsn,
    /// ...to its end of WAL.
    #[serde(serialize_with = "ser_lsn")]
    pub to_lsn: Lsn,
    /// WAL bytes in between.
    pub wal_bytes: u64,
    /// Committed transactions lost.
    pub commits: u64,
    /// Prepared transactions not yet finished, lost.
    pub prepared: u64,
    /// Transactions open at the end of its WAL (never committed, nothing a client was told).
    pub open: u64,
    /// First lost commit (RFC 3339 UTC).
    pub first_commit: Option<String>,
    /// Last lost commit (RFC 3339 UTC).
    pub last_commit: Option<String>,
    /// WAL after the fork the target no longer holds: the counts above leave out what was
    /// committed there.
    pub missing_wal: Option<MissingWal>,
}

/// The rewind cost estimate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RewindCost {
    /// Always true: this is read from the WAL, not from the data files.
    pub estimate: bool,
    /// The side to rewind.
    pub target: Side,
    /// Counted from the last common checkpoint record.
    #[serde(serialize_with = "ser_lsn")]
    pub from: Lsn,
    /// Distinct main-fork relation blocks the target changed since then: the blocks pg_rewind
    /// copies from the source (besides whole files: fsm/vm forks, configuration, SLRUs, WAL).
    pub blocks: u64,
    /// Distinct relations among them.
    pub relations: u64,
    /// `BLCKSZ` from the target's pg_control.
    pub block_size: u32,
    /// `blocks * block_size`.
    pub bytes: u64,
    /// The sum of the target's files when its data directory is complete (a full base backup
    /// copies about this much); `None` when it is not.
    pub data_directory_bytes: Option<u64>,
    /// `complete`, or why the size is unknown.
    pub data_directory: String,
}

/// The lost-transactions report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LostReport {
    /// compare's verdict (`rewind`, `rebuild`, ...): the rewind cost is only actionable for
    /// `rewind`.
    pub verdict: &'static str,
    /// The fork, from compare.
    pub fork: Option<ForkPoint>,
    /// The last common checkpoint, from compare.
    #[serde(serialize_with = "ser_opt_lsn")]
    pub last_common_checkpoint: Option<Lsn>,
    /// The side to rewind or rebuild, from compare.
    pub target: Option<Side>,
    /// Both sides, A first.
    pub sides: Vec<SideLost>,
    /// What a rewind of the target throws away.
    pub loss_window: Option<LossWindow>,
    /// What a rewind costs.
    pub rewind_cost: Option<RewindCost>,
    /// Why there is nothing to report, when there is not.
    pub note: Option<String>,
}

/// Everything each side wrote after the fork `compare` found, for `a` and `b` as given to it.
pub fn lost(a: &Cluster, b: &Cluster, report: &Report) -> LostReport {
    let fork = report.fork.as_ref().map(|f| ForkPoint {
        lsn: f.lsn,
        timeline: f.timeline,
    });
    let lcc = report.last_common_checkpoint.as_ref().map(|c| c.lsn);
    let target = report.target_side;
    let mut out = LostReport {
        verdict: report.verdict.as_str(),
        fork,
        last_common_checkpoint: lcc,
        target,
        sides: Vec::new(),
        loss_window: None,
        rewind_cost: None,
        note: None,
    };
    let Some(fork) = fork else {
        out.note = Some(format!(
            "no fork ({}): neither side wrote anything the other lacks that a rewind would discard",
            report.verdict.as_str()
        ));
        return out;
    };
    for (side, c) in [(Side::A, a), (Side::B, b)] {
        let role = match target {
            Some(t) if t == side => "target",
            Some(_) => "source",
            None => "unknown",
        };
        let is_target = target == Some(side);
        let blocks_from = if is_target { lcc } else { None };
        let (activity, error) = match side_activity(c, fork.lsn, lcc, blocks_from) {
            Ok(a) => (Some(a), None),
            Err(e) => (None, Some(e)),
        };
        let relation_names_sql = activity.as_ref().map(names_sql).unwrap_or_default();
        out.sides.push(SideLost {
            side,
            path: c.path.display().to_string(),
            role,
            timeline: c.timeline,
            activity,
            error,
            relation_names_sql,
        });
    }
    if let Some(t) = target {
        let (c, s) = match t {
            Side::A => (a, &out.sides[0]),
            Side::B => (b, &out.sides[1]),
        };
        if let Some(act) = &s.activity {
            out.loss_window = Some(LossWindow {
                side: t,
                from_lsn: act.from,
                to_lsn: act.end,
                wal_bytes: act.wal_bytes,
                commits: act.commits,
                prepared: act
                    .transactions
                    .iter()
                    .filter(|x| x.status == TxStatus::Prepared)
                    .count() as u64,
                open: act.open,
                first_commit: act.first_commit.clone(),
                last_commit: act.last_commit.clone(),
                missing_wal: act.missing_wal,
            });
            if let Some(cb) = &act.changed_blocks {
                let block_size = c.control.blcksz;
                let (data_directory_bytes, data_directory) = data_directory_size(&c.path);
                out.rewind_cost = Some(RewindCost {
                    estimate: true,
                    target: t,
                    from: cb.from,
                    blocks: cb.blocks,
                    relations: cb.relations,
                    block_size,
                    bytes: cb.blocks.saturating_mul(u64::from(block_size)),
                    data_directory_bytes,
                    data_directory,
                });
            }
        }
    }
    out
}

/// Reads one side: from the last common checkpoint when its WAL has it (so transactions that
/// began before the fork are attributed fully, and the rewind blocks can be counted), else from
/// the fork.
fn side_activity(
    c: &Cluster,
    fork: Lsn,
    lcc: Option<Lsn>,
    blocks_from: Option<Lsn>,
) -> Result<SideActivity, String> {
    let window = Window { fork, blocks_from };
    if let Some(start) = lcc.filter(|&l| l < fork) {
        let mut r = c.records(start, &c.spans, true);
        match activity(&mut r, &window) {
            Ok(a) if a.reached_fork || a.end >= fork => return Ok(a),
            Ok(_) | Err(_) => {}
        }
    }
    let mut r = c.records(fork, &c.spans, true);
    let window = Window {
        fork,
        blocks_from: blocks_from.map(|_| fork),
    };
    let a = activity(&mut r, &window).map_err(|e| e.to_string())?;
    if a.reached_fork {
        return Ok(a);
    }
    // The WAL at the fork is gone (recycled): read what is still held after it, and say what
    // is missing. No block count then: pg_rewind cannot run without that WAL either.
    match c.oldest_record_lsn(true) {
        Ok(Some(oldest)) if oldest > fork => {
            let mut r = c.records(oldest, &c.spans, true);
            let window = Window {
                fork,
                blocks_from: None,
            };
            let mut a = activity(&mut r, &window).map_err(|e| e.to_string())?;
            a.missing_wal = Some(MissingWal {
                from: fork,
                to: oldest,
            });
            Ok(a)
        }
        _ => Ok(a),
    }
}

/// `pg_filenode_relation` queries for every relation `a` changed, one per database.
pub fn names_sql(a: &SideActivity) -> Vec<NamesQuery> {
    let mut per_db: BTreeMap<u32, BTreeSet<FilenodeArg>> = BTreeMap::new();
    let rels = a
        .transactions
        .iter()
        .flat_map(|t| t.relations.iter())
        .chain(a.without_xid.iter());
    for r in rels {
        let default_spc = a.db_tablespace(r.db).unwrap_or(DEFAULT_TABLESPACE_OID);
        let spc = if r.spc == default_spc && r.spc != GLOBAL_TABLESPACE_OID {
            0
        } else {
            r.spc
        };
        per_db.entry(r.db).or_default().insert(FilenodeArg {
            spc,
            relfilenode: r.relfilenode,
        });
    }
    per_db
        .into_iter()
        .map(|(db, rels)| {
            let relations: Vec<FilenodeArg> = rels.into_iter().collect();
            let values = relations
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    if i == 0 {
                        format!("({}::oid, {}::oid)", r.spc, r.relfilenode)
                    } else {
                        format!("({}, {})", r.spc, r.relfilenode)
                    }
                })
                .collect::<Vec<_>>()
                .join(", ");
            let head = if db == 0 {
                "-- shared catalogs: run in any database\n".to_string()
            } else {
                format!(
                    "-- database OID {db}: connect to the database named by\n--   SELECT datname FROM pg_database WHERE oid = {db};\n"
                )
            };
            let sql = format!(
                "{head}SELECT v.spc, v.relfilenode, pg_filenode_relation(v.spc, v.relfilenode) AS relation\n  FROM (VALUES {values}) AS v(spc, relfilenode);"
            );
            NamesQuery {
                db,
                relations,
                sql,
            }
        })
        .collect()
}

/// Deepest directory level walked when summing a data directory.
const MAX_DEPTH: usize = 16;

/// The size of a data directory when it is complete (it has `base/` with databases and
/// `global/pg_filenode.map`), following the `pg_wal` and `pg_tblspc/*` links as a base backup
/// does; otherwise `None` and why.
pub fn data_directory_size(dir: &Path) -> (Option<u64>, String) {
    let complete = dir.join("global/pg_filenode.map").is_file()
        && fs::read_dir(dir.join("base")).is_ok_and(|mut d| d.next().is_some());
    if !complete {
        return (
            None,
            "unknown: the data directory is incomplete (no base/ or global/pg_filenode.map)".into(),
        );
    }
    match dir_size(dir, 0, true) {
        Ok(n) => (Some(n), "complete".into()),
        Err(e) => (None, format!("unknown: {e}")),
    }
}

fn dir_size(dir: &Path, depth: usize, top: bool) -> std::io::Result<u64> {
    if depth > MAX_DEPTH {
        return Ok(0);
    }
    let mut total = 0u64;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let ft = entry.file_type()?;
        let path = entry.path();
        let follow = ft.is_symlink()
            && ((top && entry.file_name() == "pg_wal")
                || dir.file_name().is_some_and(|n| n == "pg_tblspc"));
        if ft.is_dir() || (follow && path.is_dir()) {
            total = total.saturating_add(dir_size(&path, depth + 1, false)?);
        } else if ft.is_file() {
            total = total.saturating_add(entry.metadata()?.len());
        }
    }
    Ok(total)
}

/// Most transactions listed per side in the text output (JSON lists them all up to
/// [`MAX_LISTED_TRANSACTIONS`]).
pub const TEXT_TRANSACTIONS: usize = 50;

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn rel_line(r: &RelationChanges) -> String {
    let mut parts = Vec::new();
    for (n, one, many) in [
        (r.inserts, "insert", "inserts"),
        (r.updates, "update", "updates"),
        (r.deletes, "delete", "deletes"),
        (r.other, "other", "other"),
    ] {
        if n > 0 {
            parts.push(plural(n, one, many));
        }
    }
    format!(
        "{}/{}/{} {}: {} ({})",
        r.spc,
        r.db,
        r.relfilenode,
        r.fork,
        parts.join(", "),
        plural(r.blocks, "block", "blocks")
    )
}

/// The lost report as text.
pub fn render_text(r: &LostReport) -> String {
    let mut s = String::new();
    let Some(fork) = r.fork else {
        let _ = writeln!(
            s,
            "Lost transactions: {}",
            r.note.as_deref().unwrap_or("no fork")
        );
        return s;
    };
    let _ = writeln!(
        s,
        "Lost transactions: what each side wrote after the fork at {} on timeline {}",
        fork.lsn, fork.timeline
    );
    for side in &r.sides {
        let role = match side.role {
            "target" => "target: a rewind or rebuild throws this away",
            "source" => "source: kept",
            _ => "no target chosen",
        };
        let _ = writeln!(
            s,
            "\n{} {} ({role}), timeline {}",
            side.side.as_str(),
            side.path,
            side.timeline
        );
        let Some(a) = &side.activity else {
            let _ = writeln!(
                s,
                "    its WAL could not be read: {}",
                side.error.as_deref().unwrap_or("?")
            );
            continue;
        };
        let _ = writeln!(
            s,
            "    WAL {}..{}: {}, {}; {}, {}, {} prepared, {} open",
            a.from,
            a.end,
            plural(a.wal_bytes, "byte", "bytes"),
            plural(a.records, "record", "records"),
            plural(a.commits, "commit", "commits"),
            plural(a.aborts, "abort", "aborts"),
            a.prepares,
            a.open
        );
        if let Some(m) = &a.missing_wal {
            let _ = writeln!(
                s,
                "    its WAL from {} to {} is gone (recycled): what it committed there cannot be listed",
                m.from, m.to
            );
        }
        if let (Some(f), Some(l)) = (&a.first_commit, &a.last_commit) {
            let _ = writeln!(s, "    commits from {f} to {l}");
        }
        for t in a.transactions.iter().take(TEXT_TRANSACTIONS) {
            let mut line = format!("    xid {} {}", t.xid, t.status.as_str());
            if let Some(time) = &t.time {
                let _ = write!(line, " at {time}");
            }
            if let Some(lsn) = t.lsn {
                let _ = write!(line, " (lsn {lsn})");
            }
            if let Some(top) = t.top_xid {
                let _ = write!(line, ", subtransaction of {top}");
            }
            if !t.subxacts.is_empty() {
                let subs: Vec<String> = t.subxacts.iter().map(u32::to_string).collect();
                let _ = write!(line, ", subtransactions {}", subs.join(" "));
            }
            if t.started_before_fork {
                line.push_str(", began before the fork");
            }
            let _ = writeln!(s, "{line}");
            for rel in &t.relations {
                let _ = writeln!(s, "        {}", rel_line(rel));
            }
        }
        let more =
            a.transactions.len().saturating_sub(TEXT_TRANSACTIONS) as u64 + a.transactions_omitted;
        if more > 0 {
            let _ = writeln!(
                s,
                "    ... and {} (--format json lists them)",
                plural(more, "more transaction", "more transactions")
            );
        }
        if !a.without_xid.is_empty() {
            let _ = writeln!(
                s,
                "    outside any transaction (pruning, vacuum, hint bits, ...):"
            );
            for rel in &a.without_xid {
                let _ = writeln!(s, "        {}", rel_line(rel));
            }
        }
        if !side.relation_names_sql.is_empty() {
            let _ = writeln!(
                s,
                "    Relation names: run on a server of this side's cluster (relation is NULL for one dropped since)"
            );
            for q in &side.relation_names_sql {
                for l in q.sql.lines() {
                    let _ = writeln!(s, "      {l}");
                }
            }
        }
    }
    if let Some(w) = &r.loss_window {
        let _ = writeln!(
            s,
            "\nLoss window: {} of {} throws away {}{} (WAL {}..{}, {}), {} prepared and {} open",
            match r.verdict {
                "rewind" => "a rewind",
                "rebuild" => "a rebuild",
                _ => "re-syncing",
            },
            w.side.as_str(),
            plural(w.commits, "committed transaction", "committed transactions"),
            match (&w.first_commit, &w.last_commit) {
                (Some(f), Some(l)) => format!(" committed from {f} to {l}"),
                _ => String::new(),
            },
            w.from_lsn,
            w.to_lsn,
            plural(w.wal_bytes, "byte", "bytes"),
            w.prepared,
            w.open
        );
        if let Some(m) = &w.missing_wal {
            let _ = writeln!(
                s,
                "  (at least: its WAL from {} to {} is gone, and what it committed there is not counted)",
                m.from, m.to
            );
        }
    }
    if let Some(c) = &r.rewind_cost {
        if r.verdict != "rewind" {
            let _ = writeln!(
                s,
                "(The verdict is {}: the rewind cost below is for comparison only.)",
                r.verdict
            );
        }
        let _ = writeln!(
            s,
            "Rewind cost (estimate): {} of {} bytes = {} bytes in {} changed by {} since the last common checkpoint {} (pg_rewind copies these blocks from the source, plus whole fsm/vm forks, SLRUs, configuration and WAL files)",
            plural(c.blocks, "block", "blocks"),
            c.block_size,
            c.bytes,
            plural(c.relations, "relation", "relations"),
            c.target.as_str(),
            c.from
        );
        match c.data_directory_bytes {
            Some(n) => {
                let _ = writeln!(
                    s,
                    "Full base backup instead: about {n} bytes (sum of the data directory's files)"
                );
            }
            None => {
                let _ = writeln!(s, "Full base backup instead: {}", c.data_directory);
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(spc: u32, db: u32, relfilenode: u32, fork: &'static str) -> RelationChanges {
        RelationChanges {
            spc,
            db,
            relfilenode,
            fork,
            inserts: 1,
            updates: 0,
            deletes: 0,
            other: 0,
            blocks: 1,
        }
    }

    #[test]
    fn names_sql_groups_by_database_with_spc_0_for_the_default_tablespace() {
        let t = Transaction {
            xid: 800,
            top_xid: None,
            subxacts: vec![],
            status: TxStatus::Committed,
            lsn: Some(Lsn(0x100_0000)),
            time: None,
            time_pg: None,
            db: None,
            started_before_fork: false,
            records: 2,
            relations: vec![
                rel(1663, 5, 16384, "main"),
                rel(1663, 5, 16384, "fsm"),
                rel(16500, 5, 16390, "main"),
                rel(1664, 0, 1262, "main"),
            ],
        };
        let mut a = SideActivity::default();
        a.transactions = vec![t];
        a.without_xid = vec![rel(1663, 16401, 2619, "vm")];
        let q = names_sql(&a);
        let dbs: Vec<u32> = q.iter().map(|x| x.db).collect();
        assert_eq!(dbs, [0, 5, 16401]);
        // Shared catalogs keep pg_global's OID.
        assert_eq!(
            q[0].relations,
            [FilenodeArg {
                spc: 1664,
                relfilenode: 1262
            }]
        );
        assert!(q[0].sql.starts_with("-- shared catalogs"));
        // The fork does not matter; another tablespace keeps its OID.
        assert_eq!(
            q[1].relations,
            [
                FilenodeArg {
                    spc: 0,
                    relfilenode: 16384
                },
                FilenodeArg {
                    spc: 16500,
                    relfilenode: 16390
                }
            ]
        );
        assert!(q[1].sql.contains(
            "FROM (VALUES (0::oid, 16384::oid), (16500, 16390)) AS v(spc, relfilenode);"
        ));
        assert!(q[1].sql.contains("WHERE oid = 5;"));
        assert_eq!(q[2].relations[0].spc, 0);
    }

    #[test]
    fn no_fork_renders_the_note() {
        let r = LostReport {
            verdict: "in-sync",
            fork: None,
            last_common_checkpoint: None,
            target: None,
            sides: vec![],
            loss_window: None,
            rewind_cost: None,
            note: Some("no fork (in-sync): nothing".into()),
        };
        assert_eq!(
            render_text(&r),
            "Lost transactions: no fork (in-sync): nothing\n"
        );
    }
}
