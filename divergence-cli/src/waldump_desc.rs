//! pg_waldump's record descriptions (`rm_desc`, `src/backend/access/rmgrdesc/*.c` of
//! PostgreSQL 15) for the record types a diverged cluster mostly holds: XLOG checkpoints and
//! friends, Standby RUNNING_XACTS/LOCK/INVALIDATIONS, Transaction COMMIT/ABORT (but prepared
//! transactions and replication origins) and INVALIDATIONS, Heap and Heap2
//! DML, Btree, Storage CREATE, CLOG, Database CREATE_FILE_COPY.
//!
//! Only WAL written by PostgreSQL 15 is described (other majors word several of these
//! differently, e.g. 16's `off: 3, flags: 0x00`); anything not covered returns `None`, and the
//! listing then shows the record type alone. Times are printed in UTC.

use walparse::record::Record;
use walparse::rmgr::xact::{self, XactFinish, XactRecord};
use walparse::rmgr::xlog::{self, XlogRecord};

use crate::pgtime::timestamptz_to_str;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn i32_at(b: &[u8], off: usize) -> Option<i32> {
    u32_at(b, off).map(|v| v as i32)
}

/// heapdesc.c `out_infobits`.
fn infobits(bits: u8) -> String {
    let mut s = String::new();
    for (bit, name) in [
        (0x01, "IS_MULTI "),
        (0x02, "LOCK_ONLY "),
        (0x04, "EXCL_LOCK "),
        (0x08, "KEYSHR_LOCK "),
        (0x10, "KEYS_UPDATED "),
    ] {
        if bits & bit != 0 {
            s.push_str(name);
        }
    }
    s
}

/// `relpathperm` for the default and global tablespaces (others need the catalog version).
fn relpath(spc: u32, db: u32, rel: u32, fork: u32) -> Option<String> {
    let suffix = match fork {
        0 => "",
        1 => "_fsm",
        2 => "_vm",
        3 => "_init",
        _ => return None,
    };
    match spc {
        1664 => Some(format!("global/{rel}{suffix}")),
        1663 => Some(format!("base/{db}/{rel}{suffix}")),
        _ => None,
    }
}

/// standbydesc.c `standby_desc_invalidations`: the invalidation messages (16-byte
/// `SharedInvalidationMessage`s), or "" when there are none. `None` for message kinds whose
/// wording has not been checked against pg_waldump (relmap, unknown ids).
fn invalidations(msgs: &[u8], db: u32, ts: u32, relcache_init_file: bool) -> Option<String> {
    if msgs.is_empty() {
        return Some(String::new());
    }
    let mut s = String::new();
    if relcache_init_file {
        s.push_str(&format!("; relcache init file inval dbid {db} tsid {ts}"));
    }
    s.push_str("; inval msgs:");
    for m in msgs.chunks_exact(16) {
        // sinval.h: an int8 id first; catalog, relcache and snapshot messages carry their OID
        // at offset 8 (after the database OID at 4).
        let id = m[0] as i8;
        match id {
            0.. => s.push_str(&format!(" catcache {id}")),
            -1 => s.push_str(&format!(" catalog {}", u32_at(m, 8)?)),
            -2 => s.push_str(&format!(" relcache {}", u32_at(m, 8)?)),
            -3 => s.push_str(" smgr"),
            -5 => s.push_str(&format!(" snapshot {}", u32_at(m, 8)?)),
            _ => return None,
        }
    }
    Some(s)
}

/// xactdesc.c `xact_desc_commit` / `xact_desc_abort` (15): time; dropped relations;
/// subtransactions; dropped statistics; invalidations (commit); apply_feedback and sync flags.
/// `None` for prepared transactions and replication origins, whose wording has not been checked
/// against pg_waldump here.
fn xact_finish(f: &XactFinish<'_>, commit: bool) -> Option<String> {
    // xact.h XACT_COMPLETION_* flags in xinfo.
    const APPLY_FEEDBACK: u32 = 1 << 29;
    const UPDATE_RELCACHE_FILE: u32 = 1 << 30;
    const FORCE_SYNC: u32 = 1 << 31;
    if f.twophase_xid.is_some() || f.origin.is_some() {
        return None;
    }
    let mut s = timestamptz_to_str(f.xact_time);
    if !f.dropped_rels.is_empty() {
        s.push_str("; rels:");
        for r in f.dropped_rels.iter() {
            s.push(' ');
            s.push_str(&relpath(r.spc, r.db, r.rel, 0)?);
        }
    }
    if !f.subxacts.is_empty() {
        s.push_str("; subxacts:");
        for x in f.subxacts.iter() {
            s.push_str(&format!(" {x}"));
        }
    }
    if !f.dropped_stats_items.is_empty() {
        // xl_xact_stats_item (15–17): int kind, Oid dboid, Oid objoid.
        s.push_str("; dropped stats:");
        for it in f.dropped_stats_items.chunks_exact(12) {
            s.push_str(&format!(
                " {}/{}/{}",
                i32_at(it, 0)?,
                u32_at(it, 4)?,
                u32_at(it, 8)?
            ));
        }
    }
    if !commit {
        return Some(s);
    }
    let (db, ts) = f.db_ts.unwrap_or((0, 0));
    s.push_str(&invalidations(
        f.invalidation_msgs,
        db,
        ts,
        f.xinfo & UPDATE_RELCACHE_FILE != 0,
    )?);
    if f.xinfo & APPLY_FEEDBACK != 0 {
        s.push_str("; apply_feedback");
    }
    if f.xinfo & FORCE_SYNC != 0 {
        s.push_str("; sync");
    }
    Some(s)
}

/// pg_waldump 15's description of `r` after its type name, when this module knows it.
pub fn describe(r: &Record<'_>) -> Option<String> {
    if r.version().major != 15 {
        return None;
    }
    let d = r.main_data();
    let info = r.info() & 0xF0;
    match r.rmid() {
        0 => match xlog::decode(r).ok()? {
            XlogRecord::CheckpointShutdown(c) | XlogRecord::CheckpointOnline(c) => Some(format!(
                "redo {}; tli {}; prev tli {}; fpw {}; xid {}:{}; oid {}; multi {}; offset {}; oldest xid {} in DB {}; oldest multi {} in DB {}; oldest/newest commit timestamp xid: {}/{}; oldest running xid {}; {}",
                c.redo,
                c.this_tli,
                c.prev_tli,
                c.full_page_writes,
                c.next_xid >> 32,
                c.next_xid as u32,
                c.next_oid,
                c.next_multi,
                c.next_multi_offset,
                c.oldest_xid,
                c.oldest_xid_db,
                c.oldest_multi,
                c.oldest_multi_db,
                c.oldest_commit_ts_xid,
                c.newest_commit_ts_xid,
                c.oldest_active_xid,
                if info == 0x00 { "shutdown" } else { "online" }
            )),
            XlogRecord::NextOid(oid) => Some(oid.to_string()),
            XlogRecord::Switch
            | XlogRecord::Noop
            | XlogRecord::Fpi
            | XlogRecord::FpiForHint => Some(String::new()),
            XlogRecord::BackupEnd(lsn) => Some(lsn.to_string()),
            XlogRecord::FpwChange(b) => Some(b.to_string()),
            XlogRecord::EndOfRecovery(e) => Some(format!(
                "tli {}; prev tli {}; time {}",
                e.this_tli,
                e.prev_tli,
                timestamptz_to_str(e.end_time)
            )),
            XlogRecord::ParameterChange(p) => Some(format!(
                "max_connections={} max_worker_processes={} max_wal_senders={} max_prepared_xacts={} max_locks_per_xact={} wal_level={} wal_log_hints={} track_commit_timestamp={}",
                p.max_connections,
                p.max_worker_processes,
                p.max_wal_senders?,
                p.max_prepared_xacts,
                p.max_locks_per_xact,
                match p.wal_level {
                    0 => "minimal",
                    1 => "replica",
                    2 => "logical",
                    _ => "?",
                },
                if p.wal_log_hints { "on" } else { "off" },
                if p.track_commit_timestamp { "on" } else { "off" },
            )),
            _ => None,
        },
        1 => match xact::decode(r).ok()?? {
            XactRecord::Commit(f) => xact_finish(&f, true),
            XactRecord::Abort(f) => xact_finish(&f, false),
            // xact_desc: XLOG_XACT_INVALIDATIONS, no database, no init-file flag.
            XactRecord::Invalidations { msgs } => invalidations(msgs, 0, 0, false),
            _ => None,
        },
        // smgrdesc.c: XLOG_SMGR_CREATE.
        2 if info == 0x10 => relpath(u32_at(d, 0)?, u32_at(d, 4)?, u32_at(d, 8)?, u32_at(d, 12)?),
        // clogdesc.c: ZEROPAGE / TRUNCATE carry the page number.
        3 if info == 0x00 => Some(format!("page {}", i32_at(d, 0)?)),
        // dbasedesc.c: XLOG_DBASE_CREATE_FILE_COPY.
        4 if info == 0x00 => Some(format!(
            "copy dir {}/{} to {}/{}",
            u32_at(d, 12)?,
            u32_at(d, 8)?,
            u32_at(d, 4)?,
            u32_at(d, 0)?
        )),
        // standbydesc.c
        8 => match info {
            0x00 => {
                let n = usize::try_from(i32_at(d, 0)?).ok()?;
                let mut s = String::new();
                for i in 0..n {
                    let at = 4 + i * 12;
                    s.push_str(&format!(
                        "xid {} db {} rel {} ",
                        u32_at(d, at)?,
                        u32_at(d, at + 4)?,
                        u32_at(d, at + 8)?
                    ));
                }
                Some(s)
            }
            0x10 => {
                let xcnt = usize::try_from(i32_at(d, 0)?).ok()?;
                let subxcnt = usize::try_from(i32_at(d, 4)?).ok()?;
                let overflow = *d.get(8)? != 0;
                let mut s = format!(
                    "nextXid {} latestCompletedXid {} oldestRunningXid {}",
                    u32_at(d, 12)?,
                    u32_at(d, 20)?,
                    u32_at(d, 16)?
                );
                if xcnt > 0 {
                    s.push_str(&format!("; {xcnt} xacts:"));
                    for i in 0..xcnt {
                        s.push_str(&format!(" {}", u32_at(d, 24 + 4 * i)?));
                    }
                }
                if overflow {
                    s.push_str("; subxid overflowed");
                }
                if subxcnt > 0 {
                    s.push_str(&format!("; {subxcnt} subxacts:"));
                    for i in 0..subxcnt {
                        s.push_str(&format!(" {}", u32_at(d, 24 + 4 * (xcnt + i))?));
                    }
                }
                Some(s)
            }
            // XLOG_INVALIDATIONS: xl_invalidations {dbId, tsId, bool relcacheInitFileInval,
            // int nmsgs, msgs[]}.
            0x20 => {
                let n = usize::try_from(i32_at(d, 12)?).ok()?;
                let msgs = d.get(16..16 + n.checked_mul(16)?)?;
                invalidations(msgs, u32_at(d, 0)?, u32_at(d, 4)?, *d.get(8)? != 0)
            }
            _ => None,
        },
        // heapdesc.c heap2_desc
        9 => match info & 0x70 {
            0x10 => Some(format!(
                "latestRemovedXid {} nredirected {} ndead {}",
                u32_at(d, 0)?,
                u16_at(d, 4)?,
                u16_at(d, 6)?
            )),
            0x20 => Some(format!("nunused {}", u16_at(d, 0)?)),
            0x30 => Some(format!("cutoff xid {} ntuples {}", u32_at(d, 0)?, u16_at(d, 4)?)),
            0x40 => Some(format!("cutoff xid {} flags 0x{:02X}", u32_at(d, 0)?, d.get(4)?)),
            0x50 => Some(format!("{} tuples flags 0x{:02X}", u16_at(d, 2)?, d.first()?)),
            _ => None,
        },
        // heapdesc.c heap_desc
        10 => match info & 0x70 {
            0x00 => Some(format!("off {} flags 0x{:02X}", u16_at(d, 0)?, d.get(2)?)),
            0x10 => Some(format!(
                "off {} flags 0x{:02X} {}",
                u16_at(d, 4)?,
                d.get(7)?,
                infobits(*d.get(6)?)
            )),
            0x20 | 0x40 => Some(format!(
                "off {} xmax {} flags 0x{:02X} {}; new off {} xmax {}",
                u16_at(d, 4)?,
                u32_at(d, 0)?,
                d.get(7)?,
                infobits(*d.get(6)?),
                u16_at(d, 12)?,
                u32_at(d, 8)?
            )),
            0x60 => Some(format!(
                "off {}: xid {}: flags 0x{:02X} {}",
                u16_at(d, 4)?,
                u32_at(d, 0)?,
                d.get(7)?,
                infobits(*d.get(6)?)
            )),
            0x70 => Some(format!("off {}", u16_at(d, 0)?)),
            _ => None,
        },
        // nbtdesc.c
        11 => match info {
            0x00 | 0x10 | 0x20 | 0x50 => Some(format!("off {}", u16_at(d, 0)?)),
            0x30 | 0x40 => Some(format!(
                "level {}, firstrightoff {}, newitemoff {}, postingoff {}",
                u32_at(d, 0)?,
                u16_at(d, 4)?,
                u16_at(d, 6)?,
                u16_at(d, 8)?
            )),
            0x60 => Some(format!("nintervals {}", u16_at(d, 0)?)),
            0x70 => Some(format!(
                "latestRemovedXid {}; ndeleted {}; nupdated {}",
                u32_at(d, 0)?,
                u16_at(d, 4)?,
                u16_at(d, 6)?
            )),
            0xA0 => Some(format!("lev {}", u32_at(d, 4)?)),
            0xC0 => Some(format!("ndeleted {}; nupdated {}", u16_at(d, 0)?, u16_at(d, 2)?)),
            _ => None,
        },
        _ => None,
    }
}
