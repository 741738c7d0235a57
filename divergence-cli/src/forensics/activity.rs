//! What one side wrote after the fork: a single forward pass over its WAL that attributes every
//! record to its transaction and relation, and counts the blocks pg_rewind would copy back.
//!
//! Pure over a [`WalReader`]: the caller positions the reader (at the last common checkpoint, or
//! at the fork) and says where the fork is; nothing here opens files.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use walparse::record::{fork as forknum, fork_name};
use walparse::rmgr::xact::{self, XactFinish, XactRecord};
use walparse::rmgr::RM_XACT_ID;
use walparse::{Lsn, Record, RelFileLocator, SegmentSource, WalError, WalReader};

use super::{ser_lsn, ser_opt_lsn};
use crate::pgtime::timestamptz_rfc3339;

/// Resource manager ids (`src/include/access/rmgrlist.h`; the same numbers in 10–18).
mod rmid {
    pub const HEAP2: u8 = 9;
    pub const HEAP: u8 = 10;
    pub const BTREE: u8 = 11;
}

/// At most this many transactions are listed per side; the rest are counted
/// ([`SideActivity::transactions_omitted`]), so a huge WAL cannot make the report unbounded.
pub const MAX_LISTED_TRANSACTIONS: usize = 10_000;

/// At most this many LSNs of undecodable Transaction records are kept.
pub const MAX_LISTED_UNDECODABLE: usize = 1_000;

/// What a record did to a relation, from its resource manager and `xl_info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// A row (or index entry) was added.
    Insert,
    /// A row was updated (heap `UPDATE` / `HOT_UPDATE`).
    Update,
    /// A row (or index entries) was removed.
    Delete,
    /// Anything else that changed the relation's blocks (locks, pruning, vacuum, visibility,
    /// splits, full-page images, other index methods, sequences, ...).
    Other,
}

/// Classifies a record. Heap info codes from `src/include/access/heapam_xlog.h`
/// (`XLOG_HEAP_INSERT` 0x00, `_DELETE` 0x10, `_UPDATE` 0x20, `_HOT_UPDATE` 0x40, under
/// `XLOG_HEAP_OPMASK` 0x70; `XLOG_HEAP2_MULTI_INSERT` 0x50), btree codes from
/// `src/include/access/nbtxlog.h` (`INSERT_LEAF` 0x00, `INSERT_UPPER` 0x10, `INSERT_META` 0x20,
/// `INSERT_POST` 0x50 (13+); `DELETE` 0x70, `VACUUM` 0xC0 — unchanged since 10, 13 filled the
/// unused 0x50/0x60 slots).
pub fn classify(rmid: u8, info: u8) -> Change {
    let op = info & 0xF0;
    match rmid {
        rmid::HEAP => match op & 0x70 {
            0x00 => Change::Insert,
            0x10 => Change::Delete,
            0x20 | 0x40 => Change::Update,
            _ => Change::Other,
        },
        rmid::HEAP2 if op & 0x70 == 0x50 => Change::Insert,
        rmid::BTREE => match op {
            0x00 | 0x10 | 0x20 | 0x50 => Change::Insert,
            0x70 | 0xC0 => Change::Delete,
            _ => Change::Other,
        },
        _ => Change::Other,
    }
}

/// How a transaction ended in this side's WAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TxStatus {
    /// `XLOG_XACT_COMMIT`.
    Committed,
    /// `XLOG_XACT_ABORT`.
    Aborted,
    /// `XLOG_XACT_PREPARE`, not yet finished in this WAL.
    Prepared,
    /// `XLOG_XACT_COMMIT_PREPARED`.
    CommittedPrepared,
    /// `XLOG_XACT_ABORT_PREPARED`.
    AbortedPrepared,
    /// Wrote records but no commit, abort or prepare before the end of WAL.
    Open,
}

impl TxStatus {
    /// The JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TxStatus::Committed => "committed",
            TxStatus::Aborted => "aborted",
            TxStatus::Prepared => "prepared",
            TxStatus::CommittedPrepared => "committed-prepared",
            TxStatus::AbortedPrepared => "aborted-prepared",
            TxStatus::Open => "open",
        }
    }

    /// True for the two kinds of commit.
    pub fn is_commit(self) -> bool {
        matches!(self, TxStatus::Committed | TxStatus::CommittedPrepared)
    }
}

/// A relation fork: `RelFileLocator` plus fork number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelFork {
    /// The relation.
    pub rel: RelFileLocator,
    /// The fork number (`walparse::record::fork`).
    pub fork: u8,
}

/// What one transaction (or the non-transactional records) did to one relation fork.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RelationChanges {
    /// Tablespace OID as stored in the WAL (1663 `pg_default`, 1664 `pg_global`, ...).
    pub spc: u32,
    /// Database OID (0 for shared catalogs).
    pub db: u32,
    /// The relation's file number (`pg_class.relfilenode`, or the relation mapper's for
    /// mapped catalogs).
    pub relfilenode: u32,
    /// `main`, `fsm`, `vm` or `init`.
    pub fork: &'static str,
    /// Records that inserted (heap `INSERT`, heap2 `MULTI_INSERT`, btree inserts).
    pub inserts: u64,
    /// Records that updated (heap `UPDATE`, `HOT_UPDATE`).
    pub updates: u64,
    /// Records that deleted (heap `DELETE`, btree `DELETE` / `VACUUM`).
    pub deletes: u64,
    /// Other records that changed its blocks.
    pub other: u64,
    /// Distinct blocks changed.
    pub blocks: u64,
}

/// Counts for one relation fork while reading.
#[derive(Default)]
struct RelAcc {
    counts: [u64; 4],
    blocks: BTreeSet<u32>,
}

/// Per-relation counts of one transaction while reading.
#[derive(Default)]
struct Touches {
    rels: BTreeMap<RelFork, RelAcc>,
    records_after_fork: u64,
    before_fork: bool,
}

impl Touches {
    fn add(&mut self, rec: &Record<'_>, after_fork: bool) {
        let change = classify(rec.rmid(), rec.info());
        let mut seen: BTreeSet<RelFork> = BTreeSet::new();
        for b in rec.blocks() {
            let key = RelFork {
                rel: b.rel,
                fork: b.fork,
            };
            let acc = self.rels.entry(key).or_default();
            acc.blocks.insert(b.block);
            // One record counts once per relation fork, however many of its blocks it names
            // (a heap UPDATE names the new and the old page).
            if seen.insert(key) {
                acc.counts[change as usize] += 1;
            }
        }
        if after_fork {
            self.records_after_fork += 1;
        } else {
            self.before_fork = true;
        }
    }

    fn merge(&mut self, other: Touches) {
        for (k, v) in other.rels {
            let acc = self.rels.entry(k).or_default();
            for i in 0..4 {
                acc.counts[i] += v.counts[i];
            }
            acc.blocks.extend(v.blocks);
        }
        self.records_after_fork += other.records_after_fork;
        self.before_fork |= other.before_fork;
    }

    fn into_changes(self) -> Vec<RelationChanges> {
        self.rels
            .into_iter()
            .map(|(k, v)| RelationChanges {
                spc: k.rel.spc,
                db: k.rel.db,
                relfilenode: k.rel.rel,
                fork: fork_name(k.fork),
                inserts: v.counts[Change::Insert as usize],
                updates: v.counts[Change::Update as usize],
                deletes: v.counts[Change::Delete as usize],
                other: v.counts[Change::Other as usize],
                blocks: v.blocks.len() as u64,
            })
            .collect()
    }
}

/// One transaction this side finished (or left open) after the fork.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Transaction {
    /// The transaction id (`xl_xid` of its records; for prepared transactions the id from the
    /// two-phase record).
    pub xid: u32,
    /// For a subtransaction that ended on its own (`ROLLBACK TO SAVEPOINT`): its top-level
    /// transaction, when the WAL says (`XLOG_XACT_ASSIGNMENT` or the top-level-xid block of 14+).
    pub top_xid: Option<u32>,
    /// Subtransactions that ended with it (from the commit/abort record).
    pub subxacts: Vec<u32>,
    /// How it ended.
    pub status: TxStatus,
    /// LSN of its commit / abort / prepare record (`None` while open).
    #[serde(serialize_with = "ser_opt_lsn")]
    pub lsn: Option<Lsn>,
    /// Its `xact_time` (commit / abort time; `prepared_at` for a prepare) in RFC 3339 UTC with
    /// microseconds.
    pub time: Option<String>,
    /// `xact_time` as PostgreSQL stores it: µs since 2000-01-01 00:00 UTC.
    pub time_pg: Option<i64>,
    /// Database OID from the commit record (`XACT_XINFO_HAS_DBINFO`), when present.
    pub db: Option<u32>,
    /// True when it also wrote records before the fork (read from the last common checkpoint):
    /// its commit is after the fork, so all its work is this side's alone.
    pub started_before_fork: bool,
    /// Records of it and its subtransactions from the fork on, its commit / abort / prepare
    /// record included.
    pub records: u64,
    /// Relation forks it changed, with counts (records before the fork included when read).
    pub relations: Vec<RelationChanges>,
}

/// Distinct data blocks changed in a WAL range: pg_rewind's page map (parsexlog.c
/// `extractPageInfo`: main fork only, the other forks are copied whole).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChangedBlocks {
    /// Counted from this LSN (the last common checkpoint record).
    #[serde(serialize_with = "ser_lsn")]
    pub from: Lsn,
    /// Distinct (relation, block) pairs of the main fork.
    pub blocks: u64,
    /// Distinct relations among them.
    pub relations: u64,
}

/// Everything one side wrote from the fork to the end of its WAL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SideActivity {
    /// The fork: records from here on are this side's alone.
    #[serde(serialize_with = "ser_lsn")]
    pub from: Lsn,
    /// Where reading started (the last common checkpoint when readable, else the fork).
    #[serde(serialize_with = "ser_lsn")]
    pub read_from: Lsn,
    /// The end of WAL: where the next record would start.
    #[serde(serialize_with = "ser_lsn")]
    pub end: Lsn,
    /// Why reading stopped, in PostgreSQL's words.
    pub end_reason: Option<String>,
    /// Bytes of WAL from the fork to the end.
    pub wal_bytes: u64,
    /// Records from the fork on.
    pub records: u64,
    /// Commits (`COMMIT` and `COMMIT PREPARED`) from the fork on.
    pub commits: u64,
    /// Aborts (`ABORT` and `ABORT PREPARED`, subtransaction aborts included).
    pub aborts: u64,
    /// `PREPARE TRANSACTION`s.
    pub prepares: u64,
    /// Transactions that wrote after the fork and did not end before the end of WAL.
    pub open: u64,
    /// The first commit's time (RFC 3339 UTC).
    pub first_commit: Option<String>,
    /// The last commit's time (RFC 3339 UTC).
    pub last_commit: Option<String>,
    /// The transactions, in the order they ended; open ones last (by xid).
    pub transactions: Vec<Transaction>,
    /// Transactions not listed because of [`MAX_LISTED_TRANSACTIONS`].
    pub transactions_omitted: u64,
    /// Changes made outside any transaction from the fork on (`xl_xid` 0: pruning, vacuum,
    /// visibility map, hint-bit full-page images, ...).
    pub without_xid: Vec<RelationChanges>,
    /// Transaction records whose payload did not decode (their LSNs; at most
    /// [`MAX_LISTED_UNDECODABLE`]).
    #[serde(serialize_with = "ser_lsns")]
    pub undecodable: Vec<Lsn>,
    /// The main-fork blocks changed since `blocks_from`, when asked.
    pub changed_blocks: Option<ChangedBlocks>,
    /// Whether the reader got to the fork (false: the WAL ends before it).
    pub reached_fork: bool,
    /// WAL after the fork that this side no longer holds (recycled): what was committed there
    /// cannot be listed. Set by the caller that read from the oldest WAL held instead.
    pub missing_wal: Option<MissingWal>,
    #[serde(skip)]
    first_commit_pg: Option<i64>,
    #[serde(skip)]
    last_commit_pg: Option<i64>,
    /// Database → its default tablespace, from commit records (`XACT_XINFO_HAS_DBINFO`).
    #[serde(skip)]
    db_tablespaces: BTreeMap<u32, u32>,
}

fn ser_lsns<S: serde::Serializer>(v: &[Lsn], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|l| l.to_string()))
}

impl SideActivity {
    /// The first commit time as PostgreSQL stores it (µs since 2000-01-01 UTC).
    pub fn first_commit_pg(&self) -> Option<i64> {
        self.first_commit_pg
    }
    /// The last commit time as PostgreSQL stores it.
    pub fn last_commit_pg(&self) -> Option<i64> {
        self.last_commit_pg
    }
    /// The default tablespace of database `db`, when a commit record of this side named it.
    pub fn db_tablespace(&self, db: u32) -> Option<u32> {
        self.db_tablespaces.get(&db).copied()
    }
    /// The listed transaction with this xid (top-level or subtransaction).
    pub fn transaction(&self, xid: u32) -> Option<&Transaction> {
        self.transactions
            .iter()
            .find(|t| t.xid == xid || t.subxacts.contains(&xid))
    }
}

/// A range of WAL after the fork that is not held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct MissingWal {
    /// From here (the fork)...
    #[serde(serialize_with = "ser_lsn")]
    pub from: Lsn,
    /// ...to the first record held.
    #[serde(serialize_with = "ser_lsn")]
    pub to: Lsn,
}

/// The positions that split the WAL a reader returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// The fork.
    pub fork: Lsn,
    /// Count pg_rewind's changed blocks from this LSN (the last common checkpoint record);
    /// `None`: do not count.
    pub blocks_from: Option<Lsn>,
}

/// Reads `reader` to the end of its WAL and returns what was written from `window.fork` on.
///
/// The reader may start before the fork (at the last common checkpoint): records before the
/// fork then attribute earlier work to transactions that commit after it, and feed the block
/// count from `window.blocks_from`; transactions that end before the fork are dropped.
/// `Err` only for I/O failures and foreign WAL, as [`WalReader::next_record`].
pub fn activity<S: SegmentSource>(
    reader: &mut WalReader<S>,
    window: &Window,
) -> Result<SideActivity, WalError> {
    let fork = window.fork;
    let mut out = SideActivity {
        from: fork,
        read_from: reader.position(),
        ..Default::default()
    };
    let mut pending: HashMap<u32, Touches> = HashMap::new();
    let mut top_of: HashMap<u32, u32> = HashMap::new();
    let mut without_xid = Touches::default();
    let mut blocks: BTreeSet<(RelFileLocator, u32)> = BTreeSet::new();
    // Prepared transactions listed, by xid → index in `out.transactions`.
    let mut prepared: HashMap<u32, usize> = HashMap::new();
    let mut last_next = reader.position();

    while let Some(rec) = reader.next_record()? {
        let lsn = rec.lsn();
        last_next = rec.next_lsn();
        let after = lsn >= fork;
        if after {
            out.reached_fork = true;
            out.records += 1;
        } else if rec.next_lsn() > fork {
            // A record that starts before the fork and ends after it cannot be on both sides
            // unchanged: the fork is not where this WAL says. Count it as after.
            out.reached_fork = true;
        }
        if let Some(from) = window.blocks_from {
            if lsn >= from {
                for b in rec.blocks() {
                    if b.fork == forknum::MAIN {
                        blocks.insert((b.rel, b.block));
                    }
                }
            }
        }
        if let Some(top) = rec.toplevel_xid() {
            if rec.xid() != 0 && top != rec.xid() {
                top_of.insert(rec.xid(), top);
            }
        }
        if rec.rmid() == RM_XACT_ID {
            let decoded = match xact::decode(&rec) {
                Ok(d) => d,
                Err(_) => {
                    if out.undecodable.len() < MAX_LISTED_UNDECODABLE {
                        out.undecodable.push(lsn);
                    }
                    continue;
                }
            };
            match decoded {
                Some(XactRecord::Assignment { xtop, subxacts }) => {
                    for s in subxacts.iter() {
                        top_of.insert(s, xtop);
                    }
                }
                Some(XactRecord::Commit(f)) => finish(
                    &mut out,
                    &mut pending,
                    &top_of,
                    rec.xid(),
                    TxStatus::Committed,
                    &f,
                    lsn,
                    after,
                ),
                Some(XactRecord::Abort(f)) => finish(
                    &mut out,
                    &mut pending,
                    &top_of,
                    rec.xid(),
                    TxStatus::Aborted,
                    &f,
                    lsn,
                    after,
                ),
                Some(XactRecord::CommitPrepared(f)) | Some(XactRecord::AbortPrepared(f)) => {
                    let status = if rec.info() & xact::XLOG_XACT_OPMASK == 0x30 {
                        TxStatus::CommittedPrepared
                    } else {
                        TxStatus::AbortedPrepared
                    };
                    let xid = f.twophase_xid.unwrap_or(rec.xid());
                    if let Some(&i) = prepared.get(&xid).filter(|_| after) {
                        // PREPARE was after the fork too: one entry, now finished.
                        let t = &mut out.transactions[i];
                        t.status = status;
                        t.lsn = Some(lsn);
                        t.time = Some(timestamptz_rfc3339(f.xact_time));
                        t.time_pg = Some(f.xact_time);
                        t.records += 1;
                        prepared.remove(&xid);
                        count_end(&mut out, status, f.xact_time);
                    } else {
                        finish(&mut out, &mut pending, &top_of, xid, status, &f, lsn, after);
                    }
                }
                Some(XactRecord::Prepare {
                    xid, prepared_at, ..
                }) => {
                    let xid = if xid != 0 { xid } else { rec.xid() };
                    let mut t = pending.remove(&xid).unwrap_or_default();
                    t.add(&rec, after);
                    if after {
                        out.prepares += 1;
                        if out.transactions.len() < MAX_LISTED_TRANSACTIONS {
                            prepared.insert(xid, out.transactions.len());
                        }
                        push(
                            &mut out,
                            Transaction {
                                xid,
                                top_xid: None,
                                subxacts: Vec::new(),
                                status: TxStatus::Prepared,
                                lsn: Some(lsn),
                                time: Some(timestamptz_rfc3339(prepared_at)),
                                time_pg: Some(prepared_at),
                                db: None,
                                started_before_fork: t.before_fork,
                                records: t.records_after_fork,
                                relations: t.into_changes(),
                            },
                        );
                    }
                }
                Some(XactRecord::Invalidations { .. }) | None => {
                    if rec.xid() != 0 {
                        pending.entry(rec.xid()).or_default().add(&rec, after);
                    }
                }
                Some(_) => {}
            }
            continue;
        }
        if rec.xid() != 0 {
            pending.entry(rec.xid()).or_default().add(&rec, after);
        } else if after && rec.block_count() > 0 {
            without_xid.add(&rec, true);
        }
    }

    out.end = reader.end().map_or(last_next, |e| e.lsn);
    let major = reader.version().map(|v| v.major);
    out.end_reason = reader.end().map(|e| e.message(major));
    out.wal_bytes = out.end.bytes_since(fork);

    // Open transactions: wrote after the fork, never ended. Subtransactions fold into their
    // top-level transaction when the WAL named it.
    let mut open: BTreeMap<u32, (Touches, Vec<u32>)> = BTreeMap::new();
    for (xid, t) in pending {
        if t.records_after_fork == 0 {
            continue;
        }
        let (top, sub) = match top_of.get(&xid) {
            Some(&top) => (top, Some(xid)),
            None => (xid, None),
        };
        let e = open.entry(top).or_default();
        e.0.merge(t);
        e.1.extend(sub);
    }
    for (xid, (t, mut subxacts)) in open {
        out.open += 1;
        subxacts.sort_unstable();
        push(
            &mut out,
            Transaction {
                xid,
                top_xid: None,
                subxacts,
                status: TxStatus::Open,
                lsn: None,
                time: None,
                time_pg: None,
                db: None,
                started_before_fork: t.before_fork,
                records: t.records_after_fork,
                relations: t.into_changes(),
            },
        );
    }
    out.without_xid = without_xid.into_changes();
    out.first_commit = out.first_commit_pg.map(timestamptz_rfc3339);
    out.last_commit = out.last_commit_pg.map(timestamptz_rfc3339);
    if let Some(from) = window.blocks_from {
        let rels: BTreeSet<RelFileLocator> = blocks.iter().map(|(r, _)| *r).collect();
        out.changed_blocks = Some(ChangedBlocks {
            from,
            blocks: blocks.len() as u64,
            relations: rels.len() as u64,
        });
    }
    Ok(out)
}

/// Appends a transaction unless the list is full.
fn push(out: &mut SideActivity, t: Transaction) {
    if out.transactions.len() < MAX_LISTED_TRANSACTIONS {
        out.transactions.push(t);
    } else {
        out.transactions_omitted += 1;
    }
}

/// Counts an end of transaction after the fork.
fn count_end(out: &mut SideActivity, status: TxStatus, time: i64) {
    if status.is_commit() {
        out.commits += 1;
        out.first_commit_pg = Some(out.first_commit_pg.map_or(time, |t| t.min(time)));
        out.last_commit_pg = Some(out.last_commit_pg.map_or(time, |t| t.max(time)));
    } else {
        out.aborts += 1;
    }
}

/// A commit or abort record of `xid`: collects the work of it and its subtransactions. Before
/// the fork the transaction is common history and is dropped.
#[allow(clippy::too_many_arguments)]
fn finish(
    out: &mut SideActivity,
    pending: &mut HashMap<u32, Touches>,
    top_of: &HashMap<u32, u32>,
    xid: u32,
    status: TxStatus,
    f: &XactFinish<'_>,
    lsn: Lsn,
    after: bool,
) {
    let mut t = pending.remove(&xid).unwrap_or_default();
    let subxacts: Vec<u32> = f.subxacts.iter().collect();
    for s in &subxacts {
        if let Some(st) = pending.remove(s) {
            t.merge(st);
        }
    }
    if let Some((db, spc)) = f.db_ts {
        out.db_tablespaces.insert(db, spc);
    }
    if !after {
        return;
    }
    count_end(out, status, f.xact_time);
    push(
        out,
        Transaction {
            xid,
            top_xid: top_of.get(&xid).copied(),
            subxacts,
            status,
            lsn: Some(lsn),
            time: Some(timestamptz_rfc3339(f.xact_time)),
            time_pg: Some(f.xact_time),
            db: f.db_ts.map(|(db, _)| db),
            started_before_fork: t.before_fork,
            records: t.records_after_fork + 1,
            relations: t.into_changes(),
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_follows_heapam_xlog_and_nbtxlog() {
        assert_eq!(classify(10, 0x00), Change::Insert);
        assert_eq!(classify(10, 0x80), Change::Insert); // INSERT+INIT
        assert_eq!(classify(10, 0x10), Change::Delete);
        assert_eq!(classify(10, 0x20), Change::Update);
        assert_eq!(classify(10, 0x40), Change::Update);
        assert_eq!(classify(10, 0xC0), Change::Update); // HOT_UPDATE+INIT
        assert_eq!(classify(10, 0x60), Change::Other); // LOCK
        assert_eq!(classify(9, 0x50), Change::Insert); // MULTI_INSERT
        assert_eq!(classify(9, 0xD0), Change::Insert); // MULTI_INSERT+INIT
        assert_eq!(classify(9, 0x10), Change::Other); // PRUNE
        assert_eq!(classify(11, 0x00), Change::Insert);
        assert_eq!(classify(11, 0x30), Change::Other); // SPLIT_L
        assert_eq!(classify(11, 0x70), Change::Delete);
        assert_eq!(classify(11, 0xC0), Change::Delete);
        assert_eq!(classify(15, 0x00), Change::Other); // sequence
    }
}
