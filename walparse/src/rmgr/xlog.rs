//! XLOG resource manager (rmid 0) payloads: checkpoints, switch, end-of-recovery,
//! overwrite-contrecord, parameter change and the small ones.
//!
//! Layouts from `src/include/catalog/pg_control.h` (`CheckPoint`, info values) and
//! `src/include/access/xlog_internal.h` (postgres-formats.md §5.2–5.5). Each major's layout is a
//! row referenced from [`crate::version::VERSIONS`].

use super::PayloadError;
use crate::lsn::{Lsn, TimeLineId};
use crate::record::{u32_at, u64_at, Record, RM_XLOG_ID};

fn i32_at(b: &[u8], off: usize) -> i32 {
    u32_at(b, off) as i32
}
fn i64_at(b: &[u8], off: usize) -> i64 {
    u64_at(b, off) as i64
}

/// Where `nextXid` lives in a `CheckPoint`.
#[derive(Clone, Copy, Debug)]
pub enum NextXidLayout {
    /// 10–11: `nextXidEpoch` u32 and `nextXid` u32.
    EpochAndXid {
        /// Offset of the epoch.
        epoch: usize,
        /// Offset of the 32-bit xid.
        xid: usize,
    },
    /// 12+: `FullTransactionId` u64.
    Full {
        /// Offset of the 64-bit value.
        off: usize,
    },
}

/// Field offsets of `CheckPoint` in one major.
#[derive(Clone, Copy, Debug)]
pub struct CheckpointLayout {
    /// `sizeof(CheckPoint)`.
    pub size: usize,
    /// `nextXid`.
    pub next_xid: NextXidLayout,
    /// `nextOid`.
    pub next_oid: usize,
    /// `nextMulti`.
    pub next_multi: usize,
    /// `nextMultiOffset`.
    pub next_multi_offset: usize,
    /// `oldestXid`.
    pub oldest_xid: usize,
    /// `oldestXidDB`.
    pub oldest_xid_db: usize,
    /// `oldestMulti`.
    pub oldest_multi: usize,
    /// `oldestMultiDB`.
    pub oldest_multi_db: usize,
    /// `time`.
    pub time: usize,
    /// `oldestCommitTsXid`.
    pub oldest_commit_ts_xid: usize,
    /// `newestCommitTsXid`.
    pub newest_commit_ts_xid: usize,
    /// `oldestActiveXid`.
    pub oldest_active_xid: usize,
    /// `wal_level` (17+).
    pub wal_level: Option<usize>,
}

/// `CheckPoint` of 10–11.
pub const CHECKPOINT_V10: CheckpointLayout = CheckpointLayout {
    size: 80,
    next_xid: NextXidLayout::EpochAndXid { epoch: 20, xid: 24 },
    next_oid: 28,
    next_multi: 32,
    next_multi_offset: 36,
    oldest_xid: 40,
    oldest_xid_db: 44,
    oldest_multi: 48,
    oldest_multi_db: 52,
    time: 56,
    oldest_commit_ts_xid: 64,
    newest_commit_ts_xid: 68,
    oldest_active_xid: 72,
    wal_level: None,
};
/// `CheckPoint` of 12–16.
pub const CHECKPOINT_V12: CheckpointLayout = CheckpointLayout {
    size: 88,
    next_xid: NextXidLayout::Full { off: 24 },
    next_oid: 32,
    next_multi: 36,
    next_multi_offset: 40,
    oldest_xid: 44,
    oldest_xid_db: 48,
    oldest_multi: 52,
    oldest_multi_db: 56,
    time: 64,
    oldest_commit_ts_xid: 72,
    newest_commit_ts_xid: 76,
    oldest_active_xid: 80,
    wal_level: None,
};
/// `CheckPoint` of 17–18 (adds `wal_level` in the old epoch slot).
pub const CHECKPOINT_V17: CheckpointLayout = CheckpointLayout {
    wal_level: Some(20),
    ..CHECKPOINT_V12
};

/// A checkpoint (`CheckPoint`), from an XLOG checkpoint record or pg_control's `checkPointCopy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// `redo`: where replay starts.
    pub redo: Lsn,
    /// `ThisTimeLineID`.
    pub this_tli: TimeLineId,
    /// `PrevTimeLineID` (differs only in an end-of-recovery checkpoint starting a timeline).
    pub prev_tli: TimeLineId,
    /// `fullPageWrites`.
    pub full_page_writes: bool,
    /// `nextXid` as a full xid: epoch << 32 | xid (10–11: from `nextXidEpoch` and `nextXid`).
    pub next_xid: u64,
    /// `nextOid`.
    pub next_oid: u32,
    /// `nextMulti`.
    pub next_multi: u32,
    /// `nextMultiOffset`.
    pub next_multi_offset: u32,
    /// `oldestXid`.
    pub oldest_xid: u32,
    /// `oldestXidDB`.
    pub oldest_xid_db: u32,
    /// `oldestMulti`.
    pub oldest_multi: u32,
    /// `oldestMultiDB`.
    pub oldest_multi_db: u32,
    /// `time`: seconds since 1970 (`pg_time_t`).
    pub time: i64,
    /// `oldestCommitTsXid`.
    pub oldest_commit_ts_xid: u32,
    /// `newestCommitTsXid`.
    pub newest_commit_ts_xid: u32,
    /// `oldestActiveXid`.
    pub oldest_active_xid: u32,
    /// `wal_level` (17+).
    pub wal_level: Option<i32>,
}

impl Checkpoint {
    /// Reads a `CheckPoint` laid out as `layout`; `None` if `b` is shorter than `layout.size`.
    pub fn parse(b: &[u8], layout: &CheckpointLayout) -> Option<Checkpoint> {
        if b.len() < layout.size {
            return None;
        }
        let next_xid = match layout.next_xid {
            NextXidLayout::EpochAndXid { epoch, xid } => {
                (u64::from(u32_at(b, epoch)) << 32) | u64::from(u32_at(b, xid))
            }
            NextXidLayout::Full { off } => u64_at(b, off),
        };
        Some(Checkpoint {
            redo: Lsn(u64_at(b, 0)),
            this_tli: u32_at(b, 8),
            prev_tli: u32_at(b, 12),
            full_page_writes: b[16] != 0,
            next_xid,
            next_oid: u32_at(b, layout.next_oid),
            next_multi: u32_at(b, layout.next_multi),
            next_multi_offset: u32_at(b, layout.next_multi_offset),
            oldest_xid: u32_at(b, layout.oldest_xid),
            oldest_xid_db: u32_at(b, layout.oldest_xid_db),
            oldest_multi: u32_at(b, layout.oldest_multi),
            oldest_multi_db: u32_at(b, layout.oldest_multi_db),
            time: i64_at(b, layout.time),
            oldest_commit_ts_xid: u32_at(b, layout.oldest_commit_ts_xid),
            newest_commit_ts_xid: u32_at(b, layout.newest_commit_ts_xid),
            oldest_active_xid: u32_at(b, layout.oldest_active_xid),
            wal_level: layout.wal_level.map(|o| i32_at(b, o)),
        })
    }
}

/// Field offsets of `xl_parameter_change` in one major.
#[derive(Clone, Copy, Debug)]
pub struct ParameterChangeLayout {
    /// `sizeof(xl_parameter_change)`.
    pub size: usize,
    /// `max_wal_senders` (12+).
    pub max_wal_senders: Option<usize>,
    /// `max_prepared_xacts`.
    pub max_prepared_xacts: usize,
    /// `max_locks_per_xact`.
    pub max_locks_per_xact: usize,
    /// `wal_level`.
    pub wal_level: usize,
    /// `wal_log_hints`.
    pub wal_log_hints: usize,
    /// `track_commit_timestamp`.
    pub track_commit_timestamp: usize,
}

/// `xl_parameter_change` of 10–11.
pub const PARAM_V10: ParameterChangeLayout = ParameterChangeLayout {
    size: 24,
    max_wal_senders: None,
    max_prepared_xacts: 8,
    max_locks_per_xact: 12,
    wal_level: 16,
    wal_log_hints: 20,
    track_commit_timestamp: 21,
};
/// `xl_parameter_change` of 12+.
pub const PARAM_V12: ParameterChangeLayout = ParameterChangeLayout {
    size: 28,
    max_wal_senders: Some(8),
    max_prepared_xacts: 12,
    max_locks_per_xact: 16,
    wal_level: 20,
    wal_log_hints: 24,
    track_commit_timestamp: 25,
};

/// `XLOG_PARAMETER_CHANGE`: settings that differ from pg_control at startup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParameterChange {
    /// `MaxConnections`.
    pub max_connections: i32,
    /// `max_worker_processes`.
    pub max_worker_processes: i32,
    /// `max_wal_senders` (12+).
    pub max_wal_senders: Option<i32>,
    /// `max_prepared_xacts`.
    pub max_prepared_xacts: i32,
    /// `max_locks_per_xact`.
    pub max_locks_per_xact: i32,
    /// `wal_level` (0 minimal, 1 replica, 2 logical).
    pub wal_level: i32,
    /// `wal_log_hints`.
    pub wal_log_hints: bool,
    /// `track_commit_timestamp`.
    pub track_commit_timestamp: bool,
}

/// Layout of `xl_end_of_recovery` in one major.
#[derive(Clone, Copy, Debug)]
pub struct EndOfRecoveryLayout {
    /// `sizeof(xl_end_of_recovery)`.
    pub size: usize,
    /// `wal_level` (17+).
    pub wal_level: Option<usize>,
}
/// `xl_end_of_recovery` of 10–16.
pub const EOR_V10: EndOfRecoveryLayout = EndOfRecoveryLayout {
    size: 16,
    wal_level: None,
};
/// `xl_end_of_recovery` of 17+.
pub const EOR_V17: EndOfRecoveryLayout = EndOfRecoveryLayout {
    size: 24,
    wal_level: Some(16),
};

/// `XLOG_END_OF_RECOVERY`: the first record of a new timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndOfRecovery {
    /// `end_time` (µs since 2000-01-01).
    pub end_time: i64,
    /// `ThisTimeLineID`: the new timeline.
    pub this_tli: TimeLineId,
    /// `PrevTimeLineID`: its parent.
    pub prev_tli: TimeLineId,
    /// `wal_level` (17+).
    pub wal_level: Option<i32>,
}

/// `XLOG_OVERWRITE_CONTRECORD`: a torn record was abandoned and overwritten.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverwriteContrecord {
    /// LSN of the abandoned record.
    pub overwritten_lsn: Lsn,
    /// When (µs since 2000-01-01).
    pub overwrite_time: i64,
}

/// A decoded XLOG record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum XlogRecord<'a> {
    /// `XLOG_CHECKPOINT_SHUTDOWN` (0x00).
    CheckpointShutdown(Checkpoint),
    /// `XLOG_CHECKPOINT_ONLINE` (0x10).
    CheckpointOnline(Checkpoint),
    /// `XLOG_NOOP` (0x20).
    Noop,
    /// `XLOG_NEXTOID` (0x30).
    NextOid(u32),
    /// `XLOG_SWITCH` (0x40).
    Switch,
    /// `XLOG_BACKUP_END` (0x50): the backup's start LSN.
    BackupEnd(Lsn),
    /// `XLOG_PARAMETER_CHANGE` (0x60).
    ParameterChange(ParameterChange),
    /// `XLOG_RESTORE_POINT` (0x70).
    RestorePoint {
        /// `rp_time`.
        time: i64,
        /// `rp_name`, up to its NUL.
        name: &'a [u8],
    },
    /// `XLOG_FPW_CHANGE` (0x80).
    FpwChange(bool),
    /// `XLOG_END_OF_RECOVERY` (0x90).
    EndOfRecovery(EndOfRecovery),
    /// `XLOG_FPI_FOR_HINT` (0xA0).
    FpiForHint,
    /// `XLOG_FPI` (0xB0).
    Fpi,
    /// `XLOG_FPI_MULTI` (0xC0, v10 only).
    FpiMulti,
    /// `XLOG_OVERWRITE_CONTRECORD` (0xD0).
    OverwriteContrecord(OverwriteContrecord),
    /// `XLOG_CHECKPOINT_REDO` (0xE0, 17+): the `wal_level`.
    CheckpointRedo(i32),
    /// Another info value.
    Unknown(u8),
}

/// pg_waldump's name of an XLOG record type (`xlog_identify`).
pub fn type_name(info: u8, major: u32) -> Option<&'static str> {
    Some(match info & 0xF0 {
        0x00 => "CHECKPOINT_SHUTDOWN",
        0x10 => "CHECKPOINT_ONLINE",
        0x20 => "NOOP",
        0x30 => "NEXTOID",
        0x40 => "SWITCH",
        0x50 => "BACKUP_END",
        0x60 => "PARAMETER_CHANGE",
        0x70 => "RESTORE_POINT",
        0x80 => "FPW_CHANGE",
        0x90 => "END_OF_RECOVERY",
        0xA0 => "FPI_FOR_HINT",
        0xB0 => "FPI",
        0xC0 if major == 10 => "FPI_MULTI",
        0xD0 => "OVERWRITE_CONTRECORD",
        0xE0 if major >= 17 => "CHECKPOINT_REDO",
        _ => return None,
    })
}

/// Decodes an XLOG record's payload with the layouts of the record's version.
pub fn decode<'a>(rec: &Record<'a>) -> Result<XlogRecord<'a>, PayloadError> {
    let lsn = rec.lsn();
    if rec.rmid() != RM_XLOG_ID {
        return Err(PayloadError::WrongRmgr {
            lsn,
            rmid: rec.rmid(),
        });
    }
    let v = rec.version();
    let d = rec.main_data();
    let need = |n: usize| {
        if d.len() < n {
            Err(PayloadError::TooShort {
                lsn,
                need: n,
                got: d.len(),
            })
        } else {
            Ok(())
        }
    };
    Ok(match rec.info() & 0xF0 {
        0x00 | 0x10 => {
            need(v.checkpoint.size)?;
            let cp = Checkpoint::parse(d, v.checkpoint).ok_or(PayloadError::TooShort {
                lsn,
                need: v.checkpoint.size,
                got: d.len(),
            })?;
            if rec.info() & 0xF0 == 0 {
                XlogRecord::CheckpointShutdown(cp)
            } else {
                XlogRecord::CheckpointOnline(cp)
            }
        }
        0x20 => XlogRecord::Noop,
        0x30 => {
            need(4)?;
            XlogRecord::NextOid(u32_at(d, 0))
        }
        0x40 => XlogRecord::Switch,
        0x50 => {
            need(8)?;
            XlogRecord::BackupEnd(Lsn(u64_at(d, 0)))
        }
        0x60 => {
            let l = v.parameter_change;
            need(l.size)?;
            XlogRecord::ParameterChange(ParameterChange {
                max_connections: i32_at(d, 0),
                max_worker_processes: i32_at(d, 4),
                max_wal_senders: l.max_wal_senders.map(|o| i32_at(d, o)),
                max_prepared_xacts: i32_at(d, l.max_prepared_xacts),
                max_locks_per_xact: i32_at(d, l.max_locks_per_xact),
                wal_level: i32_at(d, l.wal_level),
                wal_log_hints: d[l.wal_log_hints] != 0,
                track_commit_timestamp: d[l.track_commit_timestamp] != 0,
            })
        }
        0x70 => {
            need(72)?;
            let name = &d[8..72];
            let n = name.iter().position(|&c| c == 0).unwrap_or(name.len());
            XlogRecord::RestorePoint {
                time: i64_at(d, 0),
                name: &name[..n],
            }
        }
        0x80 => {
            need(1)?;
            XlogRecord::FpwChange(d[0] != 0)
        }
        0x90 => {
            let l = v.end_of_recovery;
            need(l.size)?;
            XlogRecord::EndOfRecovery(EndOfRecovery {
                end_time: i64_at(d, 0),
                this_tli: u32_at(d, 8),
                prev_tli: u32_at(d, 12),
                wal_level: l.wal_level.map(|o| i32_at(d, o)),
            })
        }
        0xA0 => XlogRecord::FpiForHint,
        0xB0 => XlogRecord::Fpi,
        0xC0 if v.major == 10 => XlogRecord::FpiMulti,
        0xD0 => {
            need(16)?;
            XlogRecord::OverwriteContrecord(OverwriteContrecord {
                overwritten_lsn: Lsn(u64_at(d, 0)),
                overwrite_time: i64_at(d, 8),
            })
        }
        0xE0 if v.major >= 17 => {
            need(4)?;
            XlogRecord::CheckpointRedo(i32_at(d, 0))
        }
        other => XlogRecord::Unknown(other),
    })
}
