//! `global/pg_control` (`ControlFileData`) of PostgreSQL 10–18: one typed [`ControlFile`], read
//! through a per-version layout table keyed by `pg_control_version`.
//!
//! Rules from PostgreSQL's `src/include/catalog/pg_control.h` (the struct, `DBState`, `CheckPoint`),
//! `src/common/controldata_utils.c` (`get_controlfile`: CRC and byte-order checks) and
//! `src/bin/pg_controldata/pg_controldata.c` (the printed names). Offsets are in
//! `postgres-formats.md` §7.3 and were confirmed by CRC on real files of every version.
//!
//! Every layout is x86-64 little-endian (the only one PostgreSQL ships samples for here): a file
//! written by a big-endian server is reported as an unknown version with `byte_swapped` set, as
//! PostgreSQL itself warns.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::lsn::{Lsn, TimeLineId, WalSegSize};
use crate::rmgr::xlog::{
    Checkpoint, CheckpointLayout, CHECKPOINT_V10, CHECKPOINT_V12, CHECKPOINT_V17,
};

/// The size of `global/pg_control` on disk (`PG_CONTROL_FILE_SIZE`); only the first
/// `sizeof(ControlFileData)` (288–296) bytes carry data.
pub const PG_CONTROL_FILE_SIZE: usize = 8192;

/// Length of the mock authentication nonce (`MOCK_AUTH_NONCE_LEN`).
pub const MOCK_AUTH_NONCE_LEN: usize = 32;

/// How many times [`ControlFile::read`] re-reads a file whose CRC does not match, in case the
/// server was writing it: `get_controlfile` in `controldata_utils.c` (14.13+/15.15+/18) retries 10
/// times, 10 ms apart.
const CRC_RETRIES: u32 = 10;

/// Where each `ControlFileData` member lies in one `pg_control_version` (§7.3). A new major
/// version adds a row to [`LAYOUTS`].
#[derive(Clone, Copy, Debug)]
pub struct ControlLayout {
    /// The `pg_control_version` this row describes.
    pub pg_control_version: u32,
    /// The major versions that write it (first, last).
    pub majors: (u32, u32),
    /// `sizeof(ControlFileData)`: a file shorter than this is rejected.
    pub size: usize,
    /// `offsetof(ControlFileData, crc)`: the CRC covers `[0, crc)`.
    pub crc: usize,
    /// `prevCheckPoint` (10 only).
    pub prev_checkpoint: Option<usize>,
    /// `checkPointCopy`.
    pub checkpoint_copy: usize,
    /// The layout of `checkPointCopy`: the same rows as the checkpoint WAL record's payload.
    pub checkpoint_layout: &'static CheckpointLayout,
    /// `unloggedLSN`.
    pub unlogged_lsn: usize,
    /// `minRecoveryPoint`.
    pub min_recovery_point: usize,
    /// `minRecoveryPointTLI`.
    pub min_recovery_point_tli: usize,
    /// `backupStartPoint`.
    pub backup_start_point: usize,
    /// `backupEndPoint`.
    pub backup_end_point: usize,
    /// `backupEndRequired`.
    pub backup_end_required: usize,
    /// `wal_level`.
    pub wal_level: usize,
    /// `wal_log_hints`.
    pub wal_log_hints: usize,
    /// `MaxConnections`.
    pub max_connections: usize,
    /// `max_worker_processes`.
    pub max_worker_processes: usize,
    /// `max_wal_senders` (12+).
    pub max_wal_senders: Option<usize>,
    /// `max_prepared_xacts`.
    pub max_prepared_xacts: usize,
    /// `max_locks_per_xact`.
    pub max_locks_per_xact: usize,
    /// `track_commit_timestamp`.
    pub track_commit_timestamp: usize,
    /// `maxAlign`.
    pub max_align: usize,
    /// `floatFormat` (f64).
    pub float_format: usize,
    /// `blcksz`; `relseg_size`, `xlog_blcksz`, `xlog_seg_size`, `nameDataLen`, `indexMaxKeys`,
    /// `toast_max_chunk_size` and `loblksize` follow as consecutive u32.
    pub blcksz: usize,
    /// `float4ByVal` (10–12).
    pub float4_by_val: Option<usize>,
    /// `float8ByVal`.
    pub float8_by_val: usize,
    /// `data_checksum_version`.
    pub data_checksum_version: usize,
    /// `default_char_signedness` (18+).
    pub default_char_signedness: Option<usize>,
    /// `mock_authentication_nonce` (32 bytes).
    pub mock_authentication_nonce: usize,
}

/// The 10–11 rows differ only by `prevCheckPoint`, which shifts everything after `checkPoint` by 8.
const fn layout_v10_v11(version: u32, major: u32, shift: usize) -> ControlLayout {
    // `shift` is 8 for v10 (prevCheckPoint present) and 0 for v11.
    ControlLayout {
        pg_control_version: version,
        majors: (major, major),
        size: 288 + shift,
        crc: 280 + shift,
        prev_checkpoint: if shift == 8 { Some(40) } else { None },
        checkpoint_copy: 40 + shift,
        checkpoint_layout: &CHECKPOINT_V10,
        unlogged_lsn: 120 + shift,
        min_recovery_point: 128 + shift,
        min_recovery_point_tli: 136 + shift,
        backup_start_point: 144 + shift,
        backup_end_point: 152 + shift,
        backup_end_required: 160 + shift,
        wal_level: 164 + shift,
        wal_log_hints: 168 + shift,
        max_connections: 172 + shift,
        max_worker_processes: 176 + shift,
        max_wal_senders: None,
        max_prepared_xacts: 180 + shift,
        max_locks_per_xact: 184 + shift,
        track_commit_timestamp: 188 + shift,
        max_align: 192 + shift,
        float_format: 200 + shift,
        blcksz: 208 + shift,
        float4_by_val: Some(240 + shift),
        float8_by_val: 241 + shift,
        data_checksum_version: 244 + shift,
        default_char_signedness: None,
        mock_authentication_nonce: 248 + shift,
    }
}

/// PostgreSQL 12's row; 13–18 are derived from it.
const LAYOUT_1201: ControlLayout = ControlLayout {
    pg_control_version: 1201,
    majors: (12, 12),
    size: 296,
    crc: 288,
    prev_checkpoint: None,
    checkpoint_copy: 40,
    checkpoint_layout: &CHECKPOINT_V12,
    unlogged_lsn: 128,
    min_recovery_point: 136,
    min_recovery_point_tli: 144,
    backup_start_point: 152,
    backup_end_point: 160,
    backup_end_required: 168,
    wal_level: 172,
    wal_log_hints: 176,
    max_connections: 180,
    max_worker_processes: 184,
    max_wal_senders: Some(188),
    max_prepared_xacts: 192,
    max_locks_per_xact: 196,
    track_commit_timestamp: 200,
    max_align: 204,
    float_format: 208,
    blcksz: 216,
    float4_by_val: Some(248),
    float8_by_val: 249,
    data_checksum_version: 252,
    default_char_signedness: None,
    mock_authentication_nonce: 256,
};

/// 13 removed `float4ByVal`; `float8ByVal` moved into its byte.
const LAYOUT_1300: ControlLayout = ControlLayout {
    pg_control_version: 1300,
    majors: (13, 16),
    float4_by_val: None,
    float8_by_val: 248,
    ..LAYOUT_1201
};

/// 17 stored `wal_level` in `CheckPoint` padding (same size, new version number).
const LAYOUT_1700: ControlLayout = ControlLayout {
    pg_control_version: 1700,
    majors: (17, 17),
    checkpoint_layout: &CHECKPOINT_V17,
    ..LAYOUT_1300
};

/// 18 added `default_char_signedness`, which moved the nonce and the CRC.
const LAYOUT_1800: ControlLayout = ControlLayout {
    pg_control_version: 1800,
    majors: (18, 18),
    default_char_signedness: Some(256),
    mock_authentication_nonce: 257,
    crc: 292,
    ..LAYOUT_1700
};

/// Every `pg_control_version` walparse reads, oldest first.
pub const LAYOUTS: &[ControlLayout] = &[
    layout_v10_v11(1002, 10, 8),
    layout_v10_v11(1100, 11, 0),
    LAYOUT_1201,
    LAYOUT_1300,
    LAYOUT_1700,
    LAYOUT_1800,
];

// The sizes and CRC offsets of §7.2, checked at compile time.
const _: () = {
    assert!(LAYOUTS[0].size == 296 && LAYOUTS[0].crc == 288);
    assert!(LAYOUTS[1].size == 288 && LAYOUTS[1].crc == 280);
    assert!(LAYOUTS[2].size == 296 && LAYOUTS[2].crc == 288);
    assert!(LAYOUTS[3].size == 296 && LAYOUTS[3].crc == 288);
    assert!(LAYOUTS[4].size == 296 && LAYOUTS[4].crc == 288);
    assert!(LAYOUTS[5].size == 296 && LAYOUTS[5].crc == 292);
    // The CRC follows the nonce (4-aligned: 18's nonce starts at 257 and the CRC at 292).
    let mut i = 0;
    while i < LAYOUTS.len() {
        let l = &LAYOUTS[i];
        assert!(l.crc >= l.mock_authentication_nonce + MOCK_AUTH_NONCE_LEN);
        assert!(l.crc < l.mock_authentication_nonce + MOCK_AUTH_NONCE_LEN + 4);
        assert!(l.checkpoint_copy + l.checkpoint_layout.size == l.unlogged_lsn);
        assert!(l.crc + 4 <= l.size);
        i += 1;
    }
};

impl ControlLayout {
    /// The row for `pg_control_version`, if walparse knows it.
    pub fn for_version(pg_control_version: u32) -> Option<&'static ControlLayout> {
        LAYOUTS
            .iter()
            .find(|l| l.pg_control_version == pg_control_version)
    }
}

/// The released catalog version of each major that shares `pg_control_version` 1300. The
/// catalog version is frozen at release and only grows during the next major's development, so a
/// value ≤ an entry and > the previous entry comes from that major (or its pre-release builds).
const CATALOG_1300: &[(u32, u32)] = &[
    (202007201, 13),
    (202107181, 14),
    (202209061, 15),
    (202307071, 16),
];

/// `DBState`, the cluster state (`pg_control.h`); values are the same in 10–18.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DbState {
    /// `DB_STARTUP` (0).
    Startup,
    /// `DB_SHUTDOWNED` (1): cleanly shut down.
    Shutdowned,
    /// `DB_SHUTDOWNED_IN_RECOVERY` (2): a cleanly stopped standby.
    ShutdownedInRecovery,
    /// `DB_SHUTDOWNING` (3).
    Shutdowning,
    /// `DB_IN_CRASH_RECOVERY` (4).
    InCrashRecovery,
    /// `DB_IN_ARCHIVE_RECOVERY` (5): a running standby or PITR.
    InArchiveRecovery,
    /// `DB_IN_PRODUCTION` (6): a running primary, or one that crashed.
    InProduction,
    /// Any other value.
    Unknown(u32),
}

impl DbState {
    /// The state for a stored value.
    pub fn from_raw(v: u32) -> DbState {
        match v {
            0 => DbState::Startup,
            1 => DbState::Shutdowned,
            2 => DbState::ShutdownedInRecovery,
            3 => DbState::Shutdowning,
            4 => DbState::InCrashRecovery,
            5 => DbState::InArchiveRecovery,
            6 => DbState::InProduction,
            other => DbState::Unknown(other),
        }
    }

    /// The stored value.
    pub fn raw(self) -> u32 {
        match self {
            DbState::Startup => 0,
            DbState::Shutdowned => 1,
            DbState::ShutdownedInRecovery => 2,
            DbState::Shutdowning => 3,
            DbState::InCrashRecovery => 4,
            DbState::InArchiveRecovery => 5,
            DbState::InProduction => 6,
            DbState::Unknown(v) => v,
        }
    }

    /// pg_controldata's text for this state (`dbState()` in `pg_controldata.c`).
    pub fn as_str(self) -> &'static str {
        match self {
            DbState::Startup => "starting up",
            DbState::Shutdowned => "shut down",
            DbState::ShutdownedInRecovery => "shut down in recovery",
            DbState::Shutdowning => "shutting down",
            DbState::InCrashRecovery => "in crash recovery",
            DbState::InArchiveRecovery => "in archive recovery",
            DbState::InProduction => "in production",
            DbState::Unknown(_) => "unrecognized status code",
        }
    }

    /// True for the states pg_rewind accepts in a target: shut down cleanly (1) or shut down in
    /// recovery (2) (`pg_rewind.c`).
    pub fn is_clean_shutdown(self) -> bool {
        matches!(self, DbState::Shutdowned | DbState::ShutdownedInRecovery)
    }
}

impl fmt::Display for DbState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `WalLevel` (`xlog.h`): the same values in pg_control, checkpoints (17+) and WAL records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WalLevel {
    /// `WAL_LEVEL_MINIMAL` (0).
    Minimal,
    /// `WAL_LEVEL_REPLICA` (1).
    Replica,
    /// `WAL_LEVEL_LOGICAL` (2).
    Logical,
    /// Any other value.
    Unknown(i32),
}

impl WalLevel {
    /// The level for a stored value.
    pub fn from_raw(v: i32) -> WalLevel {
        match v {
            0 => WalLevel::Minimal,
            1 => WalLevel::Replica,
            2 => WalLevel::Logical,
            other => WalLevel::Unknown(other),
        }
    }

    /// The stored value.
    pub fn raw(self) -> i32 {
        match self {
            WalLevel::Minimal => 0,
            WalLevel::Replica => 1,
            WalLevel::Logical => 2,
            WalLevel::Unknown(v) => v,
        }
    }

    /// pg_controldata's text (`wal_level_str()` in `pg_controldata.c`).
    pub fn as_str(self) -> &'static str {
        match self {
            WalLevel::Minimal => "minimal",
            WalLevel::Replica => "replica",
            WalLevel::Logical => "logical",
            WalLevel::Unknown(_) => "unrecognized wal_level",
        }
    }
}

impl fmt::Display for WalLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stored CRC of a control file does not match the one computed over its bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CrcMismatch {
    /// The CRC stored in the file.
    pub stored: u32,
    /// The CRC-32C computed over `[0, offsetof(crc))`.
    pub computed: u32,
}

/// The file a control-file error is about, if it was read from a path.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ControlSource(pub Option<PathBuf>);

impl fmt::Display for ControlSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(p) => write!(f, "{}", p.display()),
            None => f.write_str("pg_control"),
        }
    }
}

/// Why a `pg_control` file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The file could not be opened or read.
    #[error("{path}: could not read control file: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file is shorter than `sizeof(ControlFileData)` of its version (or than the 12 bytes
    /// that hold the version).
    #[error("{file}: control file has {len} bytes, need {needed}{}", version_suffix(*.pg_control_version))]
    TooShort {
        /// The file.
        file: ControlSource,
        /// Its length.
        len: usize,
        /// The bytes needed.
        needed: usize,
        /// The version, when the file was long enough to hold it.
        pg_control_version: Option<u32>,
    },
    /// `pg_control_version` is not one walparse knows.
    #[error("{file}: unknown pg_control_version {pg_control_version}{}", if *.byte_swapped { " (possible byte ordering mismatch: the file may have been written by a server of the other endianness)" } else { "" })]
    UnknownVersion {
        /// The file.
        file: ControlSource,
        /// The stored version.
        pg_control_version: u32,
        /// PostgreSQL's byte-order test (`controldata_utils.c`): `version % 65536 == 0 &&
        /// version / 65536 != 0`.
        byte_swapped: bool,
    },
    /// The CRC does not match.
    #[error("{file}: incorrect checksum in control file: stored {:#010X}, computed {:#010X}", .mismatch.stored, .mismatch.computed)]
    BadCrc {
        /// The file.
        file: ControlSource,
        /// The stored and computed CRCs.
        mismatch: CrcMismatch,
        /// The file's `pg_control_version`.
        pg_control_version: u32,
    },
}

fn version_suffix(v: Option<u32>) -> String {
    v.map(|v| format!(" for pg_control_version {v}"))
        .unwrap_or_default()
}

impl ControlError {
    fn with_path(self, path: &Path) -> ControlError {
        let src = ControlSource(Some(path.to_path_buf()));
        match self {
            ControlError::TooShort {
                len,
                needed,
                pg_control_version,
                ..
            } => ControlError::TooShort {
                file: src,
                len,
                needed,
                pg_control_version,
            },
            ControlError::UnknownVersion {
                pg_control_version,
                byte_swapped,
                ..
            } => ControlError::UnknownVersion {
                file: src,
                pg_control_version,
                byte_swapped,
            },
            ControlError::BadCrc {
                mismatch,
                pg_control_version,
                ..
            } => ControlError::BadCrc {
                file: src,
                mismatch,
                pg_control_version,
            },
            other => other,
        }
    }
}

/// `ControlFileData`: every field pg_controldata prints, plus the raw values it does not.
/// Fields a version lacks are `None`.
#[derive(Clone, Debug, PartialEq)]
pub struct ControlFile {
    /// `system_identifier`: random per initdb; equals `xlp_sysid` in the cluster's WAL.
    pub system_identifier: u64,
    /// `pg_control_version` (1002, 1100, 1201, 1300, 1700, 1800).
    pub pg_control_version: u32,
    /// `catalog_version_no` (YYYYMMDDN).
    pub catalog_version_no: u32,
    /// `state`.
    pub state: DbState,
    /// `time`: last update, seconds since the Unix epoch.
    pub time: i64,
    /// `checkPoint`: the LSN of the latest checkpoint record.
    pub checkpoint: Lsn,
    /// `prevCheckPoint` (10 only).
    pub prev_checkpoint: Option<Lsn>,
    /// `checkPointCopy`: a byte copy of the payload of the record at `checkpoint`, parsed by
    /// the same code as that record ([`crate::rmgr::xlog::Checkpoint`]).
    pub checkpoint_copy: Checkpoint,
    /// `unloggedLSN`: the fake LSN counter for unlogged relations.
    pub unlogged_lsn: Lsn,
    /// `minRecoveryPoint`.
    pub min_recovery_point: Lsn,
    /// `minRecoveryPointTLI`.
    pub min_recovery_point_tli: TimeLineId,
    /// `backupStartPoint`.
    pub backup_start_point: Lsn,
    /// `backupEndPoint`.
    pub backup_end_point: Lsn,
    /// `backupEndRequired`.
    pub backup_end_required: bool,
    /// `wal_level`.
    pub wal_level: WalLevel,
    /// `wal_log_hints`.
    pub wal_log_hints: bool,
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
    /// `track_commit_timestamp`.
    pub track_commit_timestamp: bool,
    /// `maxAlign`.
    pub max_align: u32,
    /// `floatFormat` (1234567.0 in every compatible build).
    pub float_format: f64,
    /// `blcksz`: the data page size.
    pub blcksz: u32,
    /// `relseg_size`: blocks per segment of a large relation.
    pub relseg_size: u32,
    /// `xlog_blcksz`: the WAL page size.
    pub xlog_blcksz: u32,
    /// `xlog_seg_size`, as stored (see [`ControlFile::wal_seg_size`]).
    pub xlog_seg_size: u32,
    /// `nameDataLen`.
    pub name_data_len: u32,
    /// `indexMaxKeys`.
    pub index_max_keys: u32,
    /// `toast_max_chunk_size`.
    pub toast_max_chunk_size: u32,
    /// `loblksize`.
    pub loblksize: u32,
    /// `float4ByVal` (10–12).
    pub float4_by_val: Option<bool>,
    /// `float8ByVal`.
    pub float8_by_val: bool,
    /// `data_checksum_version` (0 = off).
    pub data_checksum_version: u32,
    /// `default_char_signedness` (18+).
    pub default_char_signedness: Option<bool>,
    /// `mock_authentication_nonce`.
    pub mock_authentication_nonce: [u8; MOCK_AUTH_NONCE_LEN],
    /// `crc`, as stored.
    pub crc: u32,
}

impl ControlFile {
    /// Parses `bytes` (the start of `global/pg_control`) and verifies its CRC-32C as
    /// `get_controlfile` does. Bytes past `sizeof(ControlFileData)` are ignored.
    pub fn parse(bytes: &[u8]) -> Result<ControlFile, ControlError> {
        let (cf, mismatch) = ControlFile::parse_unchecked(bytes)?;
        match mismatch {
            None => Ok(cf),
            Some(mismatch) => Err(ControlError::BadCrc {
                file: ControlSource(None),
                mismatch,
                pg_control_version: cf.pg_control_version,
            }),
        }
    }

    /// Parses `bytes` without rejecting a bad CRC, for forensics: the mismatch, if any, is
    /// returned beside the fields (pg_controldata likewise prints a damaged file after a
    /// warning). A wrong size or an unknown version is still an error.
    pub fn parse_unchecked(
        bytes: &[u8],
    ) -> Result<(ControlFile, Option<CrcMismatch>), ControlError> {
        const VERSION_END: usize = 12;
        if bytes.len() < VERSION_END {
            return Err(ControlError::TooShort {
                file: ControlSource(None),
                len: bytes.len(),
                needed: VERSION_END,
                pg_control_version: None,
            });
        }
        let version = u32_at(bytes, 8);
        let layout = ControlLayout::for_version(version).ok_or(ControlError::UnknownVersion {
            file: ControlSource(None),
            pg_control_version: version,
            byte_swapped: version % 65536 == 0 && version / 65536 != 0,
        })?;
        if bytes.len() < layout.size {
            return Err(ControlError::TooShort {
                file: ControlSource(None),
                len: bytes.len(),
                needed: layout.size,
                pg_control_version: Some(version),
            });
        }
        let b = &bytes[..layout.size];
        let l = layout;
        let stored = u32_at(b, l.crc);
        let computed = crc32c::crc32c(&b[..l.crc]);
        let mismatch = (stored != computed).then_some(CrcMismatch { stored, computed });

        let checkpoint_copy = Checkpoint::parse(&b[l.checkpoint_copy..], l.checkpoint_layout)
            .expect("layout table: checkPointCopy lies inside the struct");
        let mut nonce = [0u8; MOCK_AUTH_NONCE_LEN];
        nonce.copy_from_slice(
            &b[l.mock_authentication_nonce..l.mock_authentication_nonce + MOCK_AUTH_NONCE_LEN],
        );
        let cf = ControlFile {
            system_identifier: u64_at(b, 0),
            pg_control_version: version,
            catalog_version_no: u32_at(b, 12),
            state: DbState::from_raw(u32_at(b, 16)),
            time: i64_at(b, 24),
            checkpoint: Lsn(u64_at(b, 32)),
            prev_checkpoint: l.prev_checkpoint.map(|o| Lsn(u64_at(b, o))),
            checkpoint_copy,
            unlogged_lsn: Lsn(u64_at(b, l.unlogged_lsn)),
            min_recovery_point: Lsn(u64_at(b, l.min_recovery_point)),
            min_recovery_point_tli: u32_at(b, l.min_recovery_point_tli),
            backup_start_point: Lsn(u64_at(b, l.backup_start_point)),
            backup_end_point: Lsn(u64_at(b, l.backup_end_point)),
            backup_end_required: b[l.backup_end_required] != 0,
            wal_level: WalLevel::from_raw(i32_at(b, l.wal_level)),
            wal_log_hints: b[l.wal_log_hints] != 0,
            max_connections: i32_at(b, l.max_connections),
            max_worker_processes: i32_at(b, l.max_worker_processes),
            max_wal_senders: l.max_wal_senders.map(|o| i32_at(b, o)),
            max_prepared_xacts: i32_at(b, l.max_prepared_xacts),
            max_locks_per_xact: i32_at(b, l.max_locks_per_xact),
            track_commit_timestamp: b[l.track_commit_timestamp] != 0,
            max_align: u32_at(b, l.max_align),
            float_format: f64::from_bits(u64_at(b, l.float_format)),
            blcksz: u32_at(b, l.blcksz),
            relseg_size: u32_at(b, l.blcksz + 4),
            xlog_blcksz: u32_at(b, l.blcksz + 8),
            xlog_seg_size: u32_at(b, l.blcksz + 12),
            name_data_len: u32_at(b, l.blcksz + 16),
            index_max_keys: u32_at(b, l.blcksz + 20),
            toast_max_chunk_size: u32_at(b, l.blcksz + 24),
            loblksize: u32_at(b, l.blcksz + 28),
            float4_by_val: l.float4_by_val.map(|o| b[o] != 0),
            float8_by_val: b[l.float8_by_val] != 0,
            data_checksum_version: u32_at(b, l.data_checksum_version),
            default_char_signedness: l.default_char_signedness.map(|o| b[o] != 0),
            mock_authentication_nonce: nonce,
            crc: stored,
        };
        Ok((cf, mismatch))
    }

    /// Reads and parses `path` (usually `DATADIR/global/pg_control`), verifying the CRC. Like
    /// `get_controlfile`, a CRC mismatch is re-read up to 10 times, 10 ms apart, in case a running
    /// server was rewriting the file. Errors name the file.
    pub fn read(path: &Path) -> Result<ControlFile, ControlError> {
        let mut attempt = 0;
        loop {
            let bytes = read_control_bytes(path)?;
            match ControlFile::parse(&bytes) {
                Err(ControlError::BadCrc { .. }) if attempt < CRC_RETRIES => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                r => return r.map_err(|e| e.with_path(path)),
            }
        }
    }

    /// Reads `path` without rejecting a bad CRC (see [`ControlFile::parse_unchecked`]).
    pub fn read_unchecked(path: &Path) -> Result<(ControlFile, Option<CrcMismatch>), ControlError> {
        let bytes = read_control_bytes(path)?;
        ControlFile::parse_unchecked(&bytes).map_err(|e| e.with_path(path))
    }

    /// The layout row this file was read with.
    pub fn layout(&self) -> &'static ControlLayout {
        ControlLayout::for_version(self.pg_control_version)
            .expect("a parsed ControlFile has a known version")
    }

    /// The major PostgreSQL version that wrote the file. `pg_control_version` decides it except
    /// for 1300 (13–16), where the catalog version does: it is frozen when a major is released
    /// and only grows during the next one's development, so the major is the first whose
    /// released catalog version is ≥ this one. A 1300 file newer than 16's catalog version is a
    /// 17 development build from before 17 bumped the control version.
    pub fn major_version(&self) -> u32 {
        if self.pg_control_version != 1300 {
            return self.layout().majors.0;
        }
        CATALOG_1300
            .iter()
            .find(|(cat, _)| self.catalog_version_no <= *cat)
            .map_or(17, |(_, major)| *major)
    }

    /// `xlog_seg_size` if it is a valid segment size (`IsValidWalSegSize`).
    pub fn wal_seg_size(&self) -> Option<WalSegSize> {
        WalSegSize::new(self.xlog_seg_size)
    }

    /// The timeline the cluster is on, as pg_rewind ≥ 16 determines it: the newer of the
    /// checkpoint's timeline and `minRecoveryPointTLI` (after a fast promotion the latter is the
    /// new timeline until the first checkpoint on it completes).
    pub fn current_tli(&self) -> TimeLineId {
        self.checkpoint_copy
            .this_tli
            .max(self.min_recovery_point_tli)
    }
}

fn read_control_bytes(path: &Path) -> Result<Vec<u8>, ControlError> {
    let io = |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // Bounded: only the fixed-size file is read, however large the path's file is.
    let mut bytes = Vec::with_capacity(PG_CONTROL_FILE_SIZE);
    file.take(PG_CONTROL_FILE_SIZE as u64)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    Ok(bytes)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn i32_at(b: &[u8], off: usize) -> i32 {
    i32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

fn i64_at(b: &[u8], off: usize) -> i64 {
    i64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_unique_and_cover_10_to_18() {
        let mut majors: Vec<u32> = LAYOUTS
            .iter()
            .flat_map(|l| l.majors.0..=l.majors.1)
            .collect();
        majors.sort();
        assert_eq!(majors, (10..=18).collect::<Vec<_>>());
        for (i, a) in LAYOUTS.iter().enumerate() {
            for b in &LAYOUTS[i + 1..] {
                assert_ne!(a.pg_control_version, b.pg_control_version);
            }
        }
    }

    #[test]
    fn checkpoint_rows_are_the_wal_reader_rows() {
        // pg_control's checkPointCopy and the checkpoint record share one layout per major.
        for l in LAYOUTS {
            for major in l.majors.0..=l.majors.1 {
                let wal = crate::version::WalVersion::for_major(major).unwrap();
                // `CheckpointLayout` has no `PartialEq`; its `Debug` lists every offset.
                let (a, b) = (
                    format!("{:?}", wal.checkpoint),
                    format!("{:?}", l.checkpoint_layout),
                );
                assert_eq!(a, b, "{major}");
            }
        }
    }

    #[test]
    fn byte_swapped_version_is_flagged() {
        let mut b = vec![0u8; 296];
        b[8..12].copy_from_slice(&1300u32.to_be_bytes());
        match ControlFile::parse(&b) {
            Err(ControlError::UnknownVersion {
                pg_control_version,
                byte_swapped: true,
                ..
            }) => assert_eq!(pg_control_version, 1300u32.swap_bytes()),
            other => panic!("{other:?}"),
        }
    }
}
