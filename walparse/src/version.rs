//! The major-version table: how each PostgreSQL major from 10 to 18 lays out its WAL.
//!
//! The version of a segment is read from its page magic (`XLOG_PAGE_MAGIC` in
//! `src/include/access/xlog_internal.h`), never assumed. Every version difference the readers and
//! decoders need is a column of [`VERSIONS`]; adding a major means adding a row.

use crate::rmgr::xact::XactLayout;
use crate::rmgr::xlog::{CheckpointLayout, EndOfRecoveryLayout, ParameterChangeLayout};

/// How full-page-image flags (`bimg_info`) are encoded (`src/include/access/xlogrecord.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BimgScheme {
    /// 10–14: 0x01 HAS_HOLE, 0x02 IS_COMPRESSED (pglz), 0x04 APPLY.
    V10,
    /// 15+: 0x01 HAS_HOLE, 0x02 APPLY, 0x04 PGLZ, 0x08 LZ4, 0x10 ZSTD.
    V15,
}

/// Everything that differs between majors for reading WAL.
#[derive(Debug)]
pub struct WalVersion {
    /// The major version (10, 11, ..., 18).
    pub major: u32,
    /// `XLOG_PAGE_MAGIC`.
    pub page_magic: u16,
    /// Whether block id 252 (`XLR_BLOCK_ID_TOPLEVEL_XID`) exists (14+); older readers reject it.
    pub has_toplevel_xid_block: bool,
    /// Whether resource manager ids 128..=255 are custom rmgrs (15+); before, ids above 21 are invalid.
    pub custom_rmgrs: bool,
    /// The `bimg_info` bit assignment.
    pub bimg: BimgScheme,
    /// `CheckPoint` layout (`src/include/catalog/pg_control.h`).
    pub checkpoint: &'static CheckpointLayout,
    /// `xl_parameter_change` layout (`xlog_internal.h`).
    pub parameter_change: &'static ParameterChangeLayout,
    /// `xl_end_of_recovery` layout (`xlog_internal.h`).
    pub end_of_recovery: &'static EndOfRecoveryLayout,
    /// Commit/abort record layout (`src/include/access/xact.h`).
    pub xact: &'static XactLayout,
}

use crate::rmgr::xact::{XACT_V10, XACT_V15, XACT_V18};
use crate::rmgr::xlog::{CHECKPOINT_V10, CHECKPOINT_V12, CHECKPOINT_V17};
use crate::rmgr::xlog::{EOR_V10, EOR_V17, PARAM_V10, PARAM_V12};

const fn row(
    major: u32,
    page_magic: u16,
    checkpoint: &'static CheckpointLayout,
    parameter_change: &'static ParameterChangeLayout,
    end_of_recovery: &'static EndOfRecoveryLayout,
    xact: &'static XactLayout,
) -> WalVersion {
    WalVersion {
        major,
        page_magic,
        has_toplevel_xid_block: major >= 14,
        custom_rmgrs: major >= 15,
        bimg: if major >= 15 {
            BimgScheme::V15
        } else {
            BimgScheme::V10
        },
        checkpoint,
        parameter_change,
        end_of_recovery,
        xact,
    }
}

/// One row per supported major version (postgres-formats.md §0.1, §2.5).
pub static VERSIONS: [WalVersion; 9] = [
    row(10, 0xD097, &CHECKPOINT_V10, &PARAM_V10, &EOR_V10, &XACT_V10),
    row(11, 0xD098, &CHECKPOINT_V10, &PARAM_V10, &EOR_V10, &XACT_V10),
    row(12, 0xD101, &CHECKPOINT_V12, &PARAM_V12, &EOR_V10, &XACT_V10),
    row(13, 0xD106, &CHECKPOINT_V12, &PARAM_V12, &EOR_V10, &XACT_V10),
    row(14, 0xD10D, &CHECKPOINT_V12, &PARAM_V12, &EOR_V10, &XACT_V10),
    row(15, 0xD110, &CHECKPOINT_V12, &PARAM_V12, &EOR_V10, &XACT_V15),
    row(16, 0xD113, &CHECKPOINT_V12, &PARAM_V12, &EOR_V10, &XACT_V15),
    row(17, 0xD116, &CHECKPOINT_V17, &PARAM_V12, &EOR_V17, &XACT_V15),
    row(18, 0xD118, &CHECKPOINT_V17, &PARAM_V12, &EOR_V17, &XACT_V18),
];

impl WalVersion {
    /// The row for a major version, if supported.
    pub fn for_major(major: u32) -> Option<&'static WalVersion> {
        VERSIONS.iter().find(|v| v.major == major)
    }

    /// The row for a WAL page magic, if it is one of 10–18.
    pub fn for_page_magic(magic: u16) -> Option<&'static WalVersion> {
        VERSIONS.iter().find(|v| v.page_magic == magic)
    }

    /// Whether `rmid` is a valid resource manager id for this version (`RmgrIdIsValid` in 15+,
    /// `rmid <= RM_MAX_ID` before; xlogreader.c `ValidXLogRecordHeader`).
    pub fn rmid_is_valid(&self, rmid: u8) -> bool {
        rmid <= RM_MAX_BUILTIN_ID || (self.custom_rmgrs && rmid >= RM_MIN_CUSTOM_ID)
    }
}

/// The major version that writes WAL pages with this `xlp_magic`, if it is one of 10–18.
pub fn major_from_page_magic(magic: u16) -> Option<u32> {
    WalVersion::for_page_magic(magic).map(|v| v.major)
}

/// The highest built-in resource manager id (`RM_MAX_BUILTIN_ID`, LogicalMessage), 10–18.
pub const RM_MAX_BUILTIN_ID: u8 = 21;
/// The lowest custom resource manager id (`RM_MIN_CUSTOM_ID`), 15+.
pub const RM_MIN_CUSTOM_ID: u8 = 128;

/// Built-in resource manager names as pg_waldump prints them (`src/include/access/rmgrlist.h`);
/// identical in 10–18.
const RMGR_NAMES: [&str; 22] = [
    "XLOG",
    "Transaction",
    "Storage",
    "CLOG",
    "Database",
    "Tablespace",
    "MultiXact",
    "RelMap",
    "Standby",
    "Heap2",
    "Heap",
    "Btree",
    "Hash",
    "Gin",
    "Gist",
    "Sequence",
    "SPGist",
    "BRIN",
    "CommitTs",
    "ReplicationOrigin",
    "Generic",
    "LogicalMessage",
];

/// The resource manager's name as pg_waldump prints it. Custom rmgrs (128..=255, 15+) are
/// `"Custom"` (pg_waldump prints `custom###`); any other unknown id is `"Unknown"`.
pub fn rmgr_name(rmid: u8, major: u32) -> &'static str {
    match RMGR_NAMES.get(usize::from(rmid)) {
        Some(name) => name,
        None if WalVersion::for_major(major).is_some_and(|v| v.rmid_is_valid(rmid)) => "Custom",
        None => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_table() {
        let expect = [
            (0xD097, 10),
            (0xD098, 11),
            (0xD101, 12),
            (0xD106, 13),
            (0xD10D, 14),
            (0xD110, 15),
            (0xD113, 16),
            (0xD116, 17),
            (0xD118, 18),
        ];
        for (magic, major) in expect {
            assert_eq!(major_from_page_magic(magic), Some(major));
        }
        assert_eq!(major_from_page_magic(0), None);
        assert_eq!(major_from_page_magic(0xD111), None);
    }

    #[test]
    fn rmgr_names_and_validity() {
        assert_eq!(rmgr_name(0, 15), "XLOG");
        assert_eq!(rmgr_name(10, 11), "Heap");
        assert_eq!(rmgr_name(21, 18), "LogicalMessage");
        assert_eq!(rmgr_name(128, 15), "Custom");
        assert_eq!(rmgr_name(128, 14), "Unknown");
        assert_eq!(rmgr_name(22, 18), "Unknown");
        let v14 = WalVersion::for_major(14).unwrap();
        let v15 = WalVersion::for_major(15).unwrap();
        assert!(!v14.rmid_is_valid(22) && !v14.rmid_is_valid(200));
        assert!(!v15.rmid_is_valid(127) && v15.rmid_is_valid(128) && v15.rmid_is_valid(255));
    }
}
