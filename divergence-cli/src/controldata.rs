//! `pgdiverge controldata DIR`: a data directory's `global/pg_control`, printed exactly in
//! pg_controldata's layout (for the version that wrote the file) or as a stable JSON object.
//!
//! The text follows `src/bin/pg_controldata/pg_controldata.c` line by line: the same labels
//! padded to column 38, the same values and the same warnings for a bad CRC or an invalid segment
//! size. One difference: pg_controldata prints the two times in the local time zone of the machine
//! it runs on (`strftime("%c")`), pgdiverge prints them in UTC, so the output does not depend on
//! the environment (run pg_controldata with `TZ=UTC LC_ALL=C` to compare byte for byte).

use std::path::{Path, PathBuf};

use serde::Serialize;
use walparse::control::{ControlError, ControlFile, CrcMismatch};
use walparse::{segment_file_name, Lsn, WalLevel};

use crate::pgtime::{ctime_utc, rfc3339_utc};

/// A control file as read for display: the fields and the CRC finding, if the CRC is bad.
#[derive(Clone, Debug)]
pub struct ControlData {
    /// The file read (`DIR/global/pg_control`).
    pub path: PathBuf,
    /// Its fields.
    pub control: ControlFile,
    /// `Some` when the stored CRC does not match (after PostgreSQL's re-reads).
    pub crc_mismatch: Option<CrcMismatch>,
}

impl ControlData {
    /// Reads `data_dir/global/pg_control` as pg_controldata does: a CRC mismatch (after the
    /// re-reads of `get_controlfile`) is not an error but a finding; a missing or short file or
    /// an unknown version is.
    pub fn load(data_dir: &Path) -> Result<ControlData, ControlError> {
        let path = data_dir.join("global").join("pg_control");
        let (control, crc_mismatch) = match ControlFile::read(&path) {
            Ok(c) => (c, None),
            Err(ControlError::BadCrc { .. }) => ControlFile::read_unchecked(&path)?,
            Err(e) => return Err(e),
        };
        Ok(ControlData {
            path,
            control,
            crc_mismatch,
        })
    }
}

/// pg_controldata's label column: every label is padded to 38 characters.
const LABEL_WIDTH: usize = 38;

fn on_off(b: bool) -> &'static str {
    if b {
        "on"
    } else {
        "off"
    }
}

fn by_value(b: bool) -> &'static str {
    if b {
        "by value"
    } else {
        "by reference"
    }
}

/// The WAL file holding the checkpoint's redo point, as pg_controldata names it; `???` when the
/// stored segment size is not valid (pg_controldata prints `???` only for 0).
fn redo_wal_file(c: &ControlFile) -> String {
    match c.wal_seg_size() {
        Some(seg) => {
            let k = &c.checkpoint_copy;
            segment_file_name(k.this_tli, k.redo.segno(seg), seg)
        }
        None => "???".to_string(),
    }
}

fn nonce_hex(c: &ControlFile) -> String {
    c.mock_authentication_nonce
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `(label, value)` rows pg_controldata of the file's major version prints, in order.
/// Version-specific rows (`Prior checkpoint location` in 10, `max_wal_senders` from 12,
/// `Float4 argument passing` in 10–12, `Default char data signedness` from 18) appear when the
/// file has the field.
pub fn rows(c: &ControlFile) -> Vec<(&'static str, String)> {
    let k = &c.checkpoint_copy;
    let mut r: Vec<(&'static str, String)> = vec![
        (
            "pg_control version number:",
            c.pg_control_version.to_string(),
        ),
        ("Catalog version number:", c.catalog_version_no.to_string()),
        (
            "Database system identifier:",
            c.system_identifier.to_string(),
        ),
        ("Database cluster state:", c.state.as_str().to_string()),
        ("pg_control last modified:", ctime_utc(c.time)),
        ("Latest checkpoint location:", c.checkpoint.to_string()),
    ];
    if let Some(prev) = c.prev_checkpoint {
        r.push(("Prior checkpoint location:", prev.to_string()));
    }
    r.extend([
        ("Latest checkpoint's REDO location:", k.redo.to_string()),
        ("Latest checkpoint's REDO WAL file:", redo_wal_file(c)),
        ("Latest checkpoint's TimeLineID:", k.this_tli.to_string()),
        (
            "Latest checkpoint's PrevTimeLineID:",
            k.prev_tli.to_string(),
        ),
        (
            "Latest checkpoint's full_page_writes:",
            on_off(k.full_page_writes).to_string(),
        ),
        (
            "Latest checkpoint's NextXID:",
            format!("{}:{}", k.next_xid >> 32, k.next_xid as u32),
        ),
        ("Latest checkpoint's NextOID:", k.next_oid.to_string()),
        (
            "Latest checkpoint's NextMultiXactId:",
            k.next_multi.to_string(),
        ),
        (
            "Latest checkpoint's NextMultiOffset:",
            k.next_multi_offset.to_string(),
        ),
        ("Latest checkpoint's oldestXID:", k.oldest_xid.to_string()),
        (
            "Latest checkpoint's oldestXID's DB:",
            k.oldest_xid_db.to_string(),
        ),
        (
            "Latest checkpoint's oldestActiveXID:",
            k.oldest_active_xid.to_string(),
        ),
        (
            "Latest checkpoint's oldestMultiXid:",
            k.oldest_multi.to_string(),
        ),
        (
            "Latest checkpoint's oldestMulti's DB:",
            k.oldest_multi_db.to_string(),
        ),
        (
            "Latest checkpoint's oldestCommitTsXid:",
            k.oldest_commit_ts_xid.to_string(),
        ),
        (
            "Latest checkpoint's newestCommitTsXid:",
            k.newest_commit_ts_xid.to_string(),
        ),
        ("Time of latest checkpoint:", ctime_utc(k.time)),
        (
            "Fake LSN counter for unlogged rels:",
            c.unlogged_lsn.to_string(),
        ),
        (
            "Minimum recovery ending location:",
            c.min_recovery_point.to_string(),
        ),
        (
            "Min recovery ending loc's timeline:",
            c.min_recovery_point_tli.to_string(),
        ),
        ("Backup start location:", c.backup_start_point.to_string()),
        ("Backup end location:", c.backup_end_point.to_string()),
        (
            "End-of-backup record required:",
            if c.backup_end_required { "yes" } else { "no" }.to_string(),
        ),
        ("wal_level setting:", c.wal_level.as_str().to_string()),
        (
            "wal_log_hints setting:",
            on_off(c.wal_log_hints).to_string(),
        ),
        ("max_connections setting:", c.max_connections.to_string()),
        (
            "max_worker_processes setting:",
            c.max_worker_processes.to_string(),
        ),
    ]);
    if let Some(s) = c.max_wal_senders {
        r.push(("max_wal_senders setting:", s.to_string()));
    }
    r.extend([
        (
            "max_prepared_xacts setting:",
            c.max_prepared_xacts.to_string(),
        ),
        (
            "max_locks_per_xact setting:",
            c.max_locks_per_xact.to_string(),
        ),
        (
            "track_commit_timestamp setting:",
            on_off(c.track_commit_timestamp).to_string(),
        ),
        ("Maximum data alignment:", c.max_align.to_string()),
        ("Database block size:", c.blcksz.to_string()),
        (
            "Blocks per segment of large relation:",
            c.relseg_size.to_string(),
        ),
        ("WAL block size:", c.xlog_blcksz.to_string()),
        ("Bytes per WAL segment:", c.xlog_seg_size.to_string()),
        (
            "Maximum length of identifiers:",
            c.name_data_len.to_string(),
        ),
        ("Maximum columns in an index:", c.index_max_keys.to_string()),
        (
            "Maximum size of a TOAST chunk:",
            c.toast_max_chunk_size.to_string(),
        ),
        ("Size of a large-object chunk:", c.loblksize.to_string()),
        ("Date/time type storage:", "64-bit integers".to_string()),
    ]);
    if let Some(f4) = c.float4_by_val {
        r.push(("Float4 argument passing:", by_value(f4).to_string()));
    }
    r.push((
        "Float8 argument passing:",
        by_value(c.float8_by_val).to_string(),
    ));
    r.push((
        "Data page checksum version:",
        c.data_checksum_version.to_string(),
    ));
    if let Some(signed) = c.default_char_signedness {
        r.push((
            "Default char data signedness:",
            if signed { "signed" } else { "unsigned" }.to_string(),
        ));
    }
    r.push(("Mock authentication nonce:", nonce_hex(c)));
    r
}

/// The whole text pg_controldata prints, warnings included.
pub fn render_text(d: &ControlData) -> String {
    let c = &d.control;
    let mut out = String::new();
    if d.crc_mismatch.is_some() {
        out.push_str(
            "WARNING: Calculated CRC checksum does not match value stored in file.\n\
             Either the file is corrupt, or it has a different layout than this program\n\
             is expecting.  The results below are untrustworthy.\n\n",
        );
    }
    if c.wal_seg_size().is_none() {
        let n = c.xlog_seg_size;
        let unit = if n == 1 { "byte" } else { "bytes" };
        out.push_str(&format!(
            "WARNING: invalid WAL segment size\n\
             The WAL segment size stored in the file, {n} {unit}, is not a power of two\n\
             between 1 MB and 1 GB.  The file is corrupt and the results below are\n\
             untrustworthy.\n\n"
        ));
    }
    for (label, value) in rows(c) {
        out.push_str(&format!("{label:<LABEL_WIDTH$}{value}\n"));
    }
    out
}

/// The CRC of the file, for JSON.
#[derive(Clone, Debug, Serialize)]
pub struct CrcJson {
    /// True when the stored CRC matches the computed one.
    pub ok: bool,
    /// The stored CRC.
    pub stored: u32,
    /// The CRC-32C computed over the struct up to the CRC field.
    pub computed: u32,
}

/// `checkPointCopy`, for JSON.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointJson {
    /// `redo` (`X/X`).
    pub redo: String,
    /// The WAL file holding `redo`.
    pub redo_wal_file: String,
    /// `ThisTimeLineID`.
    pub timeline: u32,
    /// `PrevTimeLineID`.
    pub prev_timeline: u32,
    /// `fullPageWrites`.
    pub full_page_writes: bool,
    /// `nextXid` as pg_controldata prints it, `epoch:xid`.
    pub next_xid: String,
    /// `nextXid` as a 64-bit full transaction id.
    pub next_full_xid: u64,
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
    /// `oldestActiveXid`.
    pub oldest_active_xid: u32,
    /// `oldestMulti`.
    pub oldest_multi: u32,
    /// `oldestMultiDB`.
    pub oldest_multi_db: u32,
    /// `oldestCommitTsXid`.
    pub oldest_commit_ts_xid: u32,
    /// `newestCommitTsXid`.
    pub newest_commit_ts_xid: u32,
    /// `time`, seconds since the Unix epoch.
    pub time: i64,
    /// `time` in RFC 3339, UTC.
    pub time_utc: String,
    /// `wal_level` (17+; `null` before).
    pub wal_level: Option<String>,
}

/// The JSON object of `pgdiverge controldata --format json`: every field, named after
/// PostgreSQL's struct members in snake case. LSNs are `X/X` strings, the system identifier a
/// decimal string (it exceeds 2^53), fields a version lacks `null`.
#[derive(Clone, Debug, Serialize)]
pub struct ControlDataJson {
    /// The file read.
    pub path: String,
    /// The CRC check.
    pub crc: CrcJson,
    /// The major version that wrote the file (see `ControlFile::major_version`).
    pub major_version: u32,
    /// `pg_control_version`.
    pub pg_control_version: u32,
    /// `catalog_version_no`.
    pub catalog_version_no: u32,
    /// `system_identifier`, decimal.
    pub system_identifier: String,
    /// `state` as pg_controldata prints it.
    pub state: String,
    /// `state`, the stored number.
    pub state_code: u32,
    /// `time`, seconds since the Unix epoch.
    pub time: i64,
    /// `time` in RFC 3339, UTC.
    pub time_utc: String,
    /// `checkPoint`.
    pub checkpoint: String,
    /// `prevCheckPoint` (10 only).
    pub prev_checkpoint: Option<String>,
    /// `checkPointCopy`.
    pub checkpoint_copy: CheckpointJson,
    /// `unloggedLSN`.
    pub unlogged_lsn: String,
    /// `minRecoveryPoint`.
    pub min_recovery_point: String,
    /// `minRecoveryPointTLI`.
    pub min_recovery_point_tli: u32,
    /// `backupStartPoint`.
    pub backup_start_point: String,
    /// `backupEndPoint`.
    pub backup_end_point: String,
    /// `backupEndRequired`.
    pub backup_end_required: bool,
    /// `wal_level`.
    pub wal_level: String,
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
    /// `floatFormat`.
    pub float_format: f64,
    /// `blcksz`.
    pub blcksz: u32,
    /// `relseg_size`.
    pub relseg_size: u32,
    /// `xlog_blcksz`.
    pub xlog_blcksz: u32,
    /// `xlog_seg_size`.
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
    /// `data_checksum_version`.
    pub data_checksum_version: u32,
    /// `default_char_signedness` (18+): true = signed.
    pub default_char_signedness: Option<bool>,
    /// `mock_authentication_nonce`, lower-case hex.
    pub mock_authentication_nonce: String,
}

fn lsn(l: Lsn) -> String {
    l.to_string()
}

impl ControlDataJson {
    /// The JSON view of `d`.
    pub fn new(d: &ControlData) -> ControlDataJson {
        let c = &d.control;
        let k = &c.checkpoint_copy;
        let computed = d.crc_mismatch.map_or(c.crc, |m| m.computed);
        ControlDataJson {
            path: d.path.display().to_string(),
            crc: CrcJson {
                ok: d.crc_mismatch.is_none(),
                stored: c.crc,
                computed,
            },
            major_version: c.major_version(),
            pg_control_version: c.pg_control_version,
            catalog_version_no: c.catalog_version_no,
            system_identifier: c.system_identifier.to_string(),
            state: c.state.as_str().to_string(),
            state_code: c.state.raw(),
            time: c.time,
            time_utc: rfc3339_utc(c.time),
            checkpoint: lsn(c.checkpoint),
            prev_checkpoint: c.prev_checkpoint.map(lsn),
            checkpoint_copy: CheckpointJson {
                redo: lsn(k.redo),
                redo_wal_file: redo_wal_file(c),
                timeline: k.this_tli,
                prev_timeline: k.prev_tli,
                full_page_writes: k.full_page_writes,
                next_xid: format!("{}:{}", k.next_xid >> 32, k.next_xid as u32),
                next_full_xid: k.next_xid,
                next_oid: k.next_oid,
                next_multi: k.next_multi,
                next_multi_offset: k.next_multi_offset,
                oldest_xid: k.oldest_xid,
                oldest_xid_db: k.oldest_xid_db,
                oldest_active_xid: k.oldest_active_xid,
                oldest_multi: k.oldest_multi,
                oldest_multi_db: k.oldest_multi_db,
                oldest_commit_ts_xid: k.oldest_commit_ts_xid,
                newest_commit_ts_xid: k.newest_commit_ts_xid,
                time: k.time,
                time_utc: rfc3339_utc(k.time),
                wal_level: k
                    .wal_level
                    .map(|w| WalLevel::from_raw(w).as_str().to_string()),
            },
            unlogged_lsn: lsn(c.unlogged_lsn),
            min_recovery_point: lsn(c.min_recovery_point),
            min_recovery_point_tli: c.min_recovery_point_tli,
            backup_start_point: lsn(c.backup_start_point),
            backup_end_point: lsn(c.backup_end_point),
            backup_end_required: c.backup_end_required,
            wal_level: c.wal_level.as_str().to_string(),
            wal_log_hints: c.wal_log_hints,
            max_connections: c.max_connections,
            max_worker_processes: c.max_worker_processes,
            max_wal_senders: c.max_wal_senders,
            max_prepared_xacts: c.max_prepared_xacts,
            max_locks_per_xact: c.max_locks_per_xact,
            track_commit_timestamp: c.track_commit_timestamp,
            max_align: c.max_align,
            float_format: c.float_format,
            blcksz: c.blcksz,
            relseg_size: c.relseg_size,
            xlog_blcksz: c.xlog_blcksz,
            xlog_seg_size: c.xlog_seg_size,
            name_data_len: c.name_data_len,
            index_max_keys: c.index_max_keys,
            toast_max_chunk_size: c.toast_max_chunk_size,
            loblksize: c.loblksize,
            float4_by_val: c.float4_by_val,
            float8_by_val: c.float8_by_val,
            data_checksum_version: c.data_checksum_version,
            default_char_signedness: c.default_char_signedness,
            mock_authentication_nonce: nonce_hex(c),
        }
    }
}

/// The JSON text (pretty-printed, one trailing newline).
pub fn render_json(d: &ControlData) -> String {
    let mut s = serde_json::to_string_pretty(&ControlDataJson::new(d))
        .expect("plain data always serializes");
    s.push('\n');
    s
}
