//! Decoders for the resource-manager payloads the analysis needs, and pg_waldump's record-type
//! names (`rm_identify`).

pub mod xact;
pub mod xlog;

use crate::lsn::Lsn;
use crate::record::Record;

/// rmid of the Transaction resource manager.
pub const RM_XACT_ID: u8 = 1;

/// Why a record's payload does not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The record belongs to another resource manager.
    #[error("record at {lsn} has rmid {rmid}, not the decoder's resource manager")]
    WrongRmgr {
        /// The record.
        lsn: Lsn,
        /// Its rmid.
        rmid: u8,
    },
    /// The main data is shorter than its layout needs.
    #[error("record at {lsn}: main data has {got} bytes, its layout needs {need}")]
    TooShort {
        /// The record.
        lsn: Lsn,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        got: usize,
    },
    /// A count in the payload is negative or runs past the data.
    #[error("record at {lsn}: invalid count {count} at main-data offset {offset}")]
    BadCount {
        /// The record.
        lsn: Lsn,
        /// Offset of the count in the main data.
        offset: usize,
        /// The count.
        count: i32,
    },
}

/// The record type's name as pg_waldump prints it after `desc:` (`rm_identify`), for the
/// resource managers decoded here and the stable names of others; `None` when unknown.
pub fn record_type_name(rec: &Record<'_>) -> Option<&'static str> {
    let info = rec.info() & !crate::record::XLR_INFO_MASK;
    let major = rec.version().major;
    match rec.rmid() {
        0 => xlog::type_name(info, major),
        RM_XACT_ID => xact::type_name(rec.info()),
        2 => match info {
            0x10 => Some("CREATE"),
            0x20 => Some("TRUNCATE"),
            _ => None,
        },
        3 => match info {
            0x00 => Some("ZEROPAGE"),
            0x10 => Some("TRUNCATE"),
            _ => None,
        },
        8 => match info {
            0x00 => Some("LOCK"),
            0x10 => Some("RUNNING_XACTS"),
            0x20 => Some("INVALIDATIONS"),
            _ => None,
        },
        10 => match info & 0x70 {
            0x00 => Some(if info & 0x80 != 0 {
                "INSERT+INIT"
            } else {
                "INSERT"
            }),
            0x10 => Some("DELETE"),
            0x20 => Some(if info & 0x80 != 0 {
                "UPDATE+INIT"
            } else {
                "UPDATE"
            }),
            0x30 => Some("TRUNCATE"),
            0x40 => Some(if info & 0x80 != 0 {
                "HOT_UPDATE+INIT"
            } else {
                "HOT_UPDATE"
            }),
            // heapdesc.c heap_identify names it with the prefix, unlike its neighbours.
            0x50 => Some("HEAP_CONFIRM"),
            0x60 => Some("LOCK"),
            0x70 => Some("INPLACE"),
            _ => None,
        },
        21 => match info {
            0x00 => Some("MESSAGE"),
            _ => None,
        },
        _ => None,
    }
}
