//! Transaction resource manager (rmid 1) payloads: commit, abort, prepare, commit/abort
//! prepared, assignment.
//!
//! Layout from `src/include/access/xact.h`; parsing as `src/backend/access/rmgrdesc/xactdesc.c`
//! `ParseCommitRecord` / `ParseAbortRecord` (postgres-formats.md §5.6).

use super::{PayloadError, RM_XACT_ID};
use crate::lsn::Lsn;
use crate::record::{u32_at, u64_at, Record, RelFileLocator};

/// Per-major differences of commit/abort records.
#[derive(Clone, Copy, Debug)]
pub struct XactLayout {
    /// Size of one dropped-statistics item (`xl_xact_stats_item`); 0 before 15, where the
    /// `XACT_XINFO_HAS_DROPPED_STATS` bit does not exist.
    pub dropped_stats_item: usize,
}
/// 10–14.
pub const XACT_V10: XactLayout = XactLayout {
    dropped_stats_item: 0,
};
/// 15–17.
pub const XACT_V15: XactLayout = XactLayout {
    dropped_stats_item: 12,
};
/// 18 (64-bit object ids in stats items).
pub const XACT_V18: XactLayout = XactLayout {
    dropped_stats_item: 16,
};

/// `XLOG_XACT_OPMASK`.
pub const XLOG_XACT_OPMASK: u8 = 0x70;
/// `XLOG_XACT_HAS_INFO`: an `xinfo` word follows `xact_time`.
pub const XLOG_XACT_HAS_INFO: u8 = 0x80;
/// `XACT_XINFO_HAS_DBINFO`.
pub const XINFO_HAS_DBINFO: u32 = 0x01;
/// `XACT_XINFO_HAS_SUBXACTS`.
pub const XINFO_HAS_SUBXACTS: u32 = 0x02;
/// `XACT_XINFO_HAS_RELFILENODES` / `_RELFILELOCATORS`.
pub const XINFO_HAS_RELFILELOCATORS: u32 = 0x04;
/// `XACT_XINFO_HAS_INVALS` (commit only).
pub const XINFO_HAS_INVALS: u32 = 0x08;
/// `XACT_XINFO_HAS_TWOPHASE`.
pub const XINFO_HAS_TWOPHASE: u32 = 0x10;
/// `XACT_XINFO_HAS_ORIGIN`.
pub const XINFO_HAS_ORIGIN: u32 = 0x20;
/// `XACT_XINFO_HAS_AE_LOCKS`.
pub const XINFO_HAS_AE_LOCKS: u32 = 0x40;
/// `XACT_XINFO_HAS_GID` (11+).
pub const XINFO_HAS_GID: u32 = 0x80;
/// `XACT_XINFO_HAS_DROPPED_STATS` (15+).
pub const XINFO_HAS_DROPPED_STATS: u32 = 0x100;

/// A list of xids stored in the record (zero-copy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XidList<'a>(&'a [u8]);

impl<'a> XidList<'a> {
    /// Number of xids.
    pub fn len(&self) -> usize {
        self.0.len() / 4
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The xids.
    pub fn iter(&self) -> impl Iterator<Item = u32> + 'a {
        self.0.chunks_exact(4).map(|c| u32_at(c, 0))
    }
}

/// A list of relations stored in the record (zero-copy).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelList<'a>(&'a [u8]);

impl<'a> RelList<'a> {
    /// Number of relations.
    pub fn len(&self) -> usize {
        self.0.len() / 12
    }
    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// The relations.
    pub fn iter(&self) -> impl Iterator<Item = RelFileLocator> + 'a {
        self.0.chunks_exact(12).map(|c| RelFileLocator::read(c, 0))
    }
}

/// The end of a transaction: commit, abort, commit prepared, abort prepared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XactFinish<'a> {
    /// `xact_time` (µs since 2000-01-01).
    pub xact_time: i64,
    /// `xinfo` (0 without `XLOG_XACT_HAS_INFO`).
    pub xinfo: u32,
    /// Database and tablespace (`HAS_DBINFO`).
    pub db_ts: Option<(u32, u32)>,
    /// Subtransactions.
    pub subxacts: XidList<'a>,
    /// Relations dropped by this commit/abort.
    pub dropped_rels: RelList<'a>,
    /// Number of dropped-statistics items (15+).
    pub dropped_stats: u32,
    /// The dropped-statistics items themselves (`xl_xact_stats_item`, `XactLayout`'s size each).
    pub dropped_stats_items: &'a [u8],
    /// Number of invalidation messages (commit only).
    pub invalidations: u32,
    /// The invalidation messages themselves (`SharedInvalidationMessage`, 16 bytes each).
    pub invalidation_msgs: &'a [u8],
    /// The prepared transaction's xid (`HAS_TWOPHASE`; `xl_xid` is 0 then).
    pub twophase_xid: Option<u32>,
    /// The prepared transaction's GID (`HAS_GID`, 11+, `wal_level=logical`), without its NUL.
    pub gid: Option<&'a [u8]>,
    /// Origin LSN and timestamp (`HAS_ORIGIN`).
    pub origin: Option<(Lsn, i64)>,
}

/// A decoded Transaction record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum XactRecord<'a> {
    /// `XLOG_XACT_COMMIT`.
    Commit(XactFinish<'a>),
    /// `XLOG_XACT_PREPARE`: the start of the two-phase state (`xl_xact_prepare`).
    Prepare {
        /// The prepared transaction's xid.
        xid: u32,
        /// Its database.
        database: u32,
        /// `prepared_at` (µs since 2000-01-01).
        prepared_at: i64,
    },
    /// `XLOG_XACT_ABORT`.
    Abort(XactFinish<'a>),
    /// `XLOG_XACT_COMMIT_PREPARED`.
    CommitPrepared(XactFinish<'a>),
    /// `XLOG_XACT_ABORT_PREPARED`.
    AbortPrepared(XactFinish<'a>),
    /// `XLOG_XACT_ASSIGNMENT`.
    Assignment {
        /// The top-level xid.
        xtop: u32,
        /// The subtransactions assigned.
        subxacts: XidList<'a>,
    },
    /// `XLOG_XACT_INVALIDATIONS` (14+): invalidation messages logged before commit for
    /// logical decoding.
    Invalidations {
        /// The messages (`SharedInvalidationMessage`, 16 bytes each).
        msgs: &'a [u8],
    },
}

/// pg_waldump's name of a Transaction record type (`xact_identify`).
pub fn type_name(info: u8) -> Option<&'static str> {
    Some(match info & XLOG_XACT_OPMASK {
        0x00 => "COMMIT",
        0x10 => "PREPARE",
        0x20 => "ABORT",
        0x30 => "COMMIT_PREPARED",
        0x40 => "ABORT_PREPARED",
        0x50 => "ASSIGNMENT",
        0x60 => "INVALIDATION",
        _ => return None,
    })
}

struct Reader<'a> {
    d: &'a [u8],
    pos: usize,
    lsn: Lsn,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PayloadError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.d.len())
            .ok_or(PayloadError::TooShort {
                lsn: self.lsn,
                need: self.pos.saturating_add(n),
                got: self.d.len(),
            })?;
        let s = &self.d[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, PayloadError> {
        self.take(4).map(|b| u32_at(b, 0))
    }
    /// An `int` count followed by `count * item` bytes.
    fn counted(&mut self, item: usize) -> Result<(u32, &'a [u8]), PayloadError> {
        let offset = self.pos;
        let count = self.u32()? as i32;
        let bad = PayloadError::BadCount {
            lsn: self.lsn,
            offset,
            count,
        };
        let n = usize::try_from(count).map_err(|_| bad)?;
        let bytes = n.checked_mul(item).ok_or(bad)?;
        if bytes > self.d.len() - self.pos {
            return Err(bad);
        }
        Ok((count as u32, self.take(bytes)?))
    }
}

fn parse_finish<'a>(rec: &Record<'a>, is_commit: bool) -> Result<XactFinish<'a>, PayloadError> {
    let mut r = Reader {
        d: rec.main_data(),
        pos: 0,
        lsn: rec.lsn(),
    };
    let xact_time = u64_at(r.take(8)?, 0) as i64;
    let xinfo = if rec.info() & XLOG_XACT_HAS_INFO != 0 {
        r.u32()?
    } else {
        0
    };
    let mut f = XactFinish {
        xact_time,
        xinfo,
        db_ts: None,
        subxacts: XidList::default(),
        dropped_rels: RelList::default(),
        dropped_stats: 0,
        dropped_stats_items: &[],
        invalidations: 0,
        invalidation_msgs: &[],
        twophase_xid: None,
        gid: None,
        origin: None,
    };
    if xinfo & XINFO_HAS_DBINFO != 0 {
        f.db_ts = Some((r.u32()?, r.u32()?));
    }
    if xinfo & XINFO_HAS_SUBXACTS != 0 {
        f.subxacts = XidList(r.counted(4)?.1);
    }
    if xinfo & XINFO_HAS_RELFILELOCATORS != 0 {
        f.dropped_rels = RelList(r.counted(12)?.1);
    }
    let stats_item = rec.version().xact.dropped_stats_item;
    if stats_item != 0 && xinfo & XINFO_HAS_DROPPED_STATS != 0 {
        (f.dropped_stats, f.dropped_stats_items) = r.counted(stats_item)?;
    }
    if is_commit && xinfo & XINFO_HAS_INVALS != 0 {
        (f.invalidations, f.invalidation_msgs) = r.counted(16)?;
    }
    if xinfo & XINFO_HAS_TWOPHASE != 0 {
        f.twophase_xid = Some(r.u32()?);
        if xinfo & XINFO_HAS_GID != 0 {
            let rest = &r.d[r.pos..];
            let n = rest
                .iter()
                .position(|&c| c == 0)
                .ok_or(PayloadError::TooShort {
                    lsn: r.lsn,
                    need: r.d.len() + 1,
                    got: r.d.len(),
                })?;
            f.gid = Some(r.take(n + 1)?.split_last().map_or(&[][..], |(_, g)| g));
        }
    }
    if xinfo & XINFO_HAS_ORIGIN != 0 {
        let o = r.take(16)?;
        f.origin = Some((Lsn(u64_at(o, 0)), u64_at(o, 8) as i64));
    }
    Ok(f)
}

/// Decodes a Transaction record's main data with the layout of the record's version.
pub fn decode<'a>(rec: &Record<'a>) -> Result<Option<XactRecord<'a>>, PayloadError> {
    if rec.rmid() != RM_XACT_ID {
        return Err(PayloadError::WrongRmgr {
            lsn: rec.lsn(),
            rmid: rec.rmid(),
        });
    }
    Ok(Some(match rec.info() & XLOG_XACT_OPMASK {
        0x00 => XactRecord::Commit(parse_finish(rec, true)?),
        0x10 => {
            let mut r = Reader {
                d: rec.main_data(),
                pos: 0,
                lsn: rec.lsn(),
            };
            let h = r.take(24)?;
            XactRecord::Prepare {
                xid: u32_at(h, 8),
                database: u32_at(h, 12),
                prepared_at: u64_at(h, 16) as i64,
            }
        }
        0x20 => XactRecord::Abort(parse_finish(rec, false)?),
        0x30 => XactRecord::CommitPrepared(parse_finish(rec, true)?),
        0x40 => XactRecord::AbortPrepared(parse_finish(rec, false)?),
        0x50 => {
            let mut r = Reader {
                d: rec.main_data(),
                pos: 0,
                lsn: rec.lsn(),
            };
            let xtop = r.u32()?;
            XactRecord::Assignment {
                xtop,
                subxacts: XidList(r.counted(4)?.1),
            }
        }
        // xl_xact_invals: int nmsgs, then the messages.
        0x60 => {
            let mut r = Reader {
                d: rec.main_data(),
                pos: 0,
                lsn: rec.lsn(),
            };
            XactRecord::Invalidations {
                msgs: r.counted(16)?.1,
            }
        }
        _ => return Ok(None),
    }))
}
