//! pg_control of every major 10–18 from the shared samples: CRC, the §8.1 test vectors of
//! `postgres-formats.md`, every field against pg_controldata 15 (committed output and, when the
//! binary is installed, live), every PostgreSQL 15 fixture, and damaged files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgdiverge_fixtures::{
    control_datadir, live_pg_controldata, parse_pg_controldata, samples_dir, PG_CONTROLDATA_15,
    V15_CONTROL_STATES,
};
use walparse::control::{ControlLayout, LAYOUTS};
use walparse::{ControlError, ControlFile, DbState, Lsn, WalLevel};

fn control_path(ver: u32, state: &str) -> PathBuf {
    samples_dir().join(format!("pg_control/v{ver}/pg_control.{state}"))
}

fn load(ver: u32, state: &str) -> ControlFile {
    let p = control_path(ver, state);
    ControlFile::read(&p).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_sample_parses_with_good_crc_and_its_version() {
    let expected_version = |v: u32| match v {
        10 => 1002,
        11 => 1100,
        12 => 1201,
        13..=16 => 1300,
        17 => 1700,
        _ => 1800,
    };
    let mut n = 0;
    for ver in 10..=18 {
        let dir = samples_dir().join(format!("pg_control/v{ver}"));
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap();
            if !name.starts_with("pg_control.") {
                continue;
            }
            let cf = ControlFile::read(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(cf.pg_control_version, expected_version(ver), "{name}");
            assert_eq!(cf.major_version(), ver, "{}", path.display());
            // Build constants that were the same in every sample (§7.3).
            assert_eq!(cf.max_align, 8);
            assert_eq!(cf.float_format, 1234567.0);
            assert_eq!(
                (cf.blcksz, cf.relseg_size, cf.xlog_blcksz),
                (8192, 131072, 8192)
            );
            assert_eq!((cf.name_data_len, cf.index_max_keys), (64, 32));
            assert_eq!((cf.toast_max_chunk_size, cf.loblksize), (1996, 2048));
            assert!(cf.float8_by_val);
            assert_eq!(cf.float4_by_val, (ver <= 12).then_some(true));
            assert_eq!(cf.max_wal_senders.is_some(), ver >= 12);
            assert_eq!(cf.prev_checkpoint.is_some(), ver == 10);
            assert_eq!(cf.default_char_signedness.is_some(), ver >= 18);
            assert_eq!(cf.checkpoint_copy.wal_level.is_some(), ver >= 17);
            let seg = if ver == 10 { 16 << 20 } else { 1 << 20 };
            assert_eq!(cf.wal_seg_size().map(|s| s.get()), Some(seg));
            // The rest of the 8192-byte file is zero after the struct.
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes.len(), 8192);
            assert!(bytes[cf.layout().size..].iter().all(|&b| b == 0));
            n += 1;
        }
    }
    assert_eq!(n, 38);
}

/// §8.1 of postgres-formats.md, every row.
#[test]
fn test_vectors_8_1() {
    let c = load(10, "shutdown_tli2");
    assert_eq!(c.system_identifier, 7710951957239640868);
    assert_eq!(c.pg_control_version, 1002);
    assert_eq!(c.catalog_version_no, 201707211);
    assert_eq!(c.state, DbState::Shutdowned);
    assert_eq!(c.checkpoint, Lsn(0x5000028));
    assert_eq!(c.prev_checkpoint, Some(Lsn(0x40024B0)));
    let k = &c.checkpoint_copy;
    assert_eq!((k.redo, k.this_tli, k.prev_tli), (Lsn(0x5000028), 2, 2));
    assert_eq!(c.xlog_seg_size, 16777216);
    assert_eq!((c.float4_by_val, c.float8_by_val), (Some(true), true));
    assert_eq!(c.crc, 0xCF50877B);

    let c = load(11, "shutdown_tli2");
    assert_eq!(c.pg_control_version, 1100);
    assert_eq!(
        (
            c.checkpoint,
            c.checkpoint_copy.redo,
            c.checkpoint_copy.this_tli
        ),
        (Lsn(0xE00028), Lsn(0xE00028), 2)
    );
    assert!(c.wal_log_hints);
    assert_eq!(c.xlog_seg_size, 1048576);
    assert_eq!(c.crc, 0x4DB79D06);
    let c = load(11, "in_archive_recovery");
    assert_eq!(
        (c.state, c.min_recovery_point, c.min_recovery_point_tli),
        (DbState::InArchiveRecovery, Lsn(0xD00028), 1)
    );

    let c = load(12, "shutdown_tli2");
    assert_eq!(c.pg_control_version, 1201);
    assert_eq!(c.max_wal_senders, Some(3));
    assert_eq!(c.data_checksum_version, 1);
    assert_eq!(c.crc, 0x8DEA04D7);

    let c = load(13, "shutdown_tli2");
    assert_eq!((c.catalog_version_no, c.crc), (202007201, 0xA16A2A9B));
    let c = load(14, "shutdown_tli2");
    assert_eq!(
        (c.catalog_version_no, c.wal_log_hints, c.crc),
        (202107181, true, 0xF02DDB35)
    );

    let c = load(15, "shutdown_tli2");
    assert_eq!(c.system_identifier, 7710951575618446016);
    let k = &c.checkpoint_copy;
    assert_eq!(
        (c.checkpoint, k.redo, k.this_tli, k.prev_tli),
        (Lsn(0xF00028), Lsn(0xF00028), 2, 2)
    );
    assert_eq!(k.next_xid, 735);
    assert_eq!(k.time, 1795345824);
    assert_eq!(c.unlogged_lsn, Lsn(1000));
    assert_eq!(c.mock_authentication_nonce[..4], [0xe2, 0x0b, 0xb8, 0xd1]);
    assert_eq!(c.mock_authentication_nonce[28..], [0x8b, 0x18, 0x75, 0x30]);
    assert_eq!(c.crc, 0xE6867DAF);
    let c = load(15, "in_archive_recovery");
    assert_eq!(
        (c.state, c.min_recovery_point, c.min_recovery_point_tli),
        (DbState::InArchiveRecovery, Lsn(0xE00028), 1)
    );
    assert_eq!(load(15, "in_production_tli1").state, DbState::InProduction);

    let c = load(16, "shutdown_tli2");
    assert_eq!((c.catalog_version_no, c.crc), (202307071, 0x4D363E11));
    let c = load(17, "shutdown_tli2");
    assert_eq!(c.pg_control_version, 1700);
    assert_eq!(
        c.checkpoint_copy.wal_level.map(WalLevel::from_raw),
        Some(WalLevel::Replica)
    );
    assert_eq!(c.crc, 0xCC262C6D);
    let c = load(18, "shutdown_tli2");
    assert_eq!(c.pg_control_version, 1800);
    assert_eq!(
        (c.data_checksum_version, c.default_char_signedness),
        (1, Some(true))
    );
    assert_eq!(c.crc, 0x86BB292F);
}

/// Cross-version facts the README of the samples states for each scenario step.
#[test]
fn states_and_timelines_per_step_all_versions() {
    for ver in 10..=18 {
        let s1 = load(ver, "shutdown_tli1");
        assert_eq!(s1.state, DbState::Shutdowned);
        assert_eq!(s1.checkpoint_copy.this_tli, 1);
        let p = load(ver, "in_production_tli1");
        assert_eq!(p.state, DbState::InProduction);
        let r = load(ver, "in_archive_recovery");
        assert_eq!(r.state, DbState::InArchiveRecovery);
        assert!(r.min_recovery_point.is_valid());
        assert_eq!(r.min_recovery_point_tli, 1);
        let s2 = load(ver, "shutdown_tli2");
        assert_eq!(s2.state, DbState::Shutdowned);
        assert_eq!((s2.checkpoint_copy.this_tli, s2.current_tli()), (2, 2));
        // A shutdown checkpoint's redo is the checkpoint record itself.
        assert_eq!(s2.checkpoint, s2.checkpoint_copy.redo);
        for c in [&s1, &p, &r, &s2] {
            assert_eq!(c.system_identifier, s1.system_identifier);
            assert_eq!(c.wal_level, WalLevel::Replica);
            // v18 enables checksums by default; the samples used -k for 12, 15 and 17.
            let checksums = matches!(ver, 12 | 15 | 17 | 18);
            assert_eq!(c.data_checksum_version, u32::from(checksums), "v{ver}");
            assert_eq!(c.wal_log_hints, matches!(ver, 11 | 14 | 16), "v{ver}");
        }
        assert_eq!(s2.max_connections, 50);
    }
}

// ---------------------------------------------------------------------------------------------
// pg_controldata 15, line by line.

/// C's `strftime("%c")` in the C locale for a UTC `time_t`: `Sun Nov 22 11:10:24 2026`.
fn ctime_utc(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let wd = (days + 4).rem_euclid(7) as usize;
    const WD: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MO: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        WD[wd],
        MO[(m - 1) as usize],
        d,
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        y
    )
}

fn on_off(b: bool) -> String {
    if b { "on" } else { "off" }.to_string()
}

/// What pg_controldata 15 prints for `c`, label → value, computed independently of pgdiverge's
/// renderer.
fn expected_fields(c: &ControlFile) -> BTreeMap<String, String> {
    let k = &c.checkpoint_copy;
    let seg = c.wal_seg_size().expect("valid segment size");
    let segno = k.redo.segno(seg);
    let redo_file = format!(
        "{:08X}{:08X}{:08X}",
        k.this_tli,
        segno / seg.segments_per_xlogid(),
        segno % seg.segments_per_xlogid()
    );
    let nonce: String = c
        .mock_authentication_nonce
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let rows: Vec<(&str, String)> = vec![
        (
            "pg_control version number",
            c.pg_control_version.to_string(),
        ),
        ("Catalog version number", c.catalog_version_no.to_string()),
        (
            "Database system identifier",
            c.system_identifier.to_string(),
        ),
        ("Database cluster state", c.state.as_str().to_string()),
        ("pg_control last modified", ctime_utc(c.time)),
        ("Latest checkpoint location", c.checkpoint.to_string()),
        ("Latest checkpoint's REDO location", k.redo.to_string()),
        ("Latest checkpoint's REDO WAL file", redo_file),
        ("Latest checkpoint's TimeLineID", k.this_tli.to_string()),
        ("Latest checkpoint's PrevTimeLineID", k.prev_tli.to_string()),
        (
            "Latest checkpoint's full_page_writes",
            on_off(k.full_page_writes),
        ),
        (
            "Latest checkpoint's NextXID",
            format!("{}:{}", k.next_xid >> 32, k.next_xid as u32),
        ),
        ("Latest checkpoint's NextOID", k.next_oid.to_string()),
        (
            "Latest checkpoint's NextMultiXactId",
            k.next_multi.to_string(),
        ),
        (
            "Latest checkpoint's NextMultiOffset",
            k.next_multi_offset.to_string(),
        ),
        ("Latest checkpoint's oldestXID", k.oldest_xid.to_string()),
        (
            "Latest checkpoint's oldestXID's DB",
            k.oldest_xid_db.to_string(),
        ),
        (
            "Latest checkpoint's oldestActiveXID",
            k.oldest_active_xid.to_string(),
        ),
        (
            "Latest checkpoint's oldestMultiXid",
            k.oldest_multi.to_string(),
        ),
        (
            "Latest checkpoint's oldestMulti's DB",
            k.oldest_multi_db.to_string(),
        ),
        (
            "Latest checkpoint's oldestCommitTsXid",
            k.oldest_commit_ts_xid.to_string(),
        ),
        (
            "Latest checkpoint's newestCommitTsXid",
            k.newest_commit_ts_xid.to_string(),
        ),
        ("Time of latest checkpoint", ctime_utc(k.time)),
        (
            "Fake LSN counter for unlogged rels",
            c.unlogged_lsn.to_string(),
        ),
        (
            "Minimum recovery ending location",
            c.min_recovery_point.to_string(),
        ),
        (
            "Min recovery ending loc's timeline",
            c.min_recovery_point_tli.to_string(),
        ),
        ("Backup start location", c.backup_start_point.to_string()),
        ("Backup end location", c.backup_end_point.to_string()),
        (
            "End-of-backup record required",
            if c.backup_end_required { "yes" } else { "no" }.to_string(),
        ),
        ("wal_level setting", c.wal_level.as_str().to_string()),
        ("wal_log_hints setting", on_off(c.wal_log_hints)),
        ("max_connections setting", c.max_connections.to_string()),
        (
            "max_worker_processes setting",
            c.max_worker_processes.to_string(),
        ),
        (
            "max_wal_senders setting",
            c.max_wal_senders.unwrap().to_string(),
        ),
        (
            "max_prepared_xacts setting",
            c.max_prepared_xacts.to_string(),
        ),
        (
            "max_locks_per_xact setting",
            c.max_locks_per_xact.to_string(),
        ),
        (
            "track_commit_timestamp setting",
            on_off(c.track_commit_timestamp),
        ),
        ("Maximum data alignment", c.max_align.to_string()),
        ("Database block size", c.blcksz.to_string()),
        (
            "Blocks per segment of large relation",
            c.relseg_size.to_string(),
        ),
        ("WAL block size", c.xlog_blcksz.to_string()),
        ("Bytes per WAL segment", c.xlog_seg_size.to_string()),
        ("Maximum length of identifiers", c.name_data_len.to_string()),
        ("Maximum columns in an index", c.index_max_keys.to_string()),
        (
            "Maximum size of a TOAST chunk",
            c.toast_max_chunk_size.to_string(),
        ),
        ("Size of a large-object chunk", c.loblksize.to_string()),
        ("Date/time type storage", "64-bit integers".to_string()),
        (
            "Float8 argument passing",
            if c.float8_by_val {
                "by value"
            } else {
                "by reference"
            }
            .to_string(),
        ),
        (
            "Data page checksum version",
            c.data_checksum_version.to_string(),
        ),
        ("Mock authentication nonce", nonce),
    ];
    rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn assert_matches_controldata(c: &ControlFile, text: &str, what: &str) {
    let got = expected_fields(c);
    let want = parse_pg_controldata(text);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: labels"
    );
    for (label, v) in &want {
        assert_eq!(&got[label], v, "{what}: {label}");
    }
}

#[test]
fn v15_every_field_equals_committed_pg_controldata_output() {
    for state in V15_CONTROL_STATES {
        let c = load(15, state);
        let txt = samples_dir().join(format!("pg_control/v15/pg_controldata-15.{state}.txt"));
        let text = std::fs::read_to_string(&txt).unwrap();
        assert_eq!(text.lines().count(), 50, "{state}");
        assert_matches_controldata(&c, &text, state);
    }
}

/// Runs pg_controldata 15 on a copy of `control` placed as `global/pg_control` of a temporary
/// data directory, in UTC and the C locale, so that its times are comparable.
fn live_controldata(control: &Path) -> String {
    let dir = control_datadir(&std::fs::read(control).unwrap());
    live_pg_controldata(dir.path()).expect("pg_controldata 15 is installed")
}

#[test]
fn v15_every_field_equals_live_pg_controldata() {
    if !Path::new(PG_CONTROLDATA_15).exists() {
        eprintln!("skipped: {PG_CONTROLDATA_15} is not installed");
        return;
    }
    for state in V15_CONTROL_STATES {
        let path = control_path(15, state);
        let text = live_controldata(&path);
        assert_matches_controldata(&load(15, state), &text, state);
    }
}

/// The fixtures: `fixtures/<scenario>/<cluster>/global/pg_control` of every scenario with a
/// `scenario.json`. Every one pg_controldata 15 can read (pg_control version 1300: PostgreSQL
/// 13–16, PostgreSQL 15 above all) is compared field by field with the committed
/// `<cluster>.pg_controldata.txt` beside it and, when installed, with the live tool.
#[test]
fn every_pg15_fixture_equals_pg_controldata() {
    // pg_control is committed uncompressed: the committed directories serve.
    let scenarios = pgdiverge_fixtures::scenarios();
    assert!(!scenarios.is_empty(), "no fixture scenarios");
    let (mut checked, mut with_committed) = (0, 0);
    for s in scenarios {
        let s = s.dir;
        for cluster in std::fs::read_dir(&s).unwrap() {
            let cluster = cluster.unwrap().path();
            let control = cluster.join("global/pg_control");
            if !control.is_file() {
                continue;
            }
            let c = ControlFile::read(&control).unwrap_or_else(|e| panic!("{e}"));
            // pg_controldata 15 reads pg_control version 1300, shared by 13–16.
            if c.pg_control_version != 1300 {
                continue;
            }
            let what = control.display().to_string();
            // Committed output: `<scenario>/<cluster>.pg_controldata.txt`.
            let cname = cluster.file_name().unwrap().to_string_lossy().to_string();
            let committed = s.join(format!("{cname}.pg_controldata.txt"));
            if committed.is_file() {
                let text = std::fs::read_to_string(&committed).unwrap();
                assert_matches_controldata(&c, &text, &committed.display().to_string());
                with_committed += 1;
            }
            if Path::new(PG_CONTROLDATA_15).exists() {
                assert_matches_controldata(&c, &live_controldata(&control), &what);
            }
            checked += 1;
        }
    }
    eprintln!(
        "checked {checked} fixture control files of 13–16, {with_committed} with committed output"
    );
}

// ---------------------------------------------------------------------------------------------
// Damaged files.

fn bytes(ver: u32, state: &str) -> Vec<u8> {
    std::fs::read(control_path(ver, state)).unwrap()
}

#[test]
fn truncated_file_is_too_short_for_every_version() {
    for ver in 10..=18 {
        let b = bytes(ver, "shutdown_tli2");
        let size = ControlFile::parse(&b).unwrap().layout().size;
        match ControlFile::parse(&b[..size - 1]) {
            Err(ControlError::TooShort {
                len,
                needed,
                pg_control_version: Some(_),
                ..
            }) => assert_eq!((len, needed), (size - 1, size)),
            other => panic!("v{ver}: {other:?}"),
        }
        assert!(matches!(
            ControlFile::parse(&b[..11]),
            Err(ControlError::TooShort {
                needed: 12,
                pg_control_version: None,
                ..
            })
        ));
        // Exactly the struct is enough; the zero tail is not needed.
        ControlFile::parse(&b[..size]).unwrap();
    }
}

#[test]
fn any_flipped_byte_under_the_crc_is_a_crc_error() {
    for ver in [10, 11, 15, 18] {
        let b = bytes(ver, "shutdown_tli2");
        let layout = ControlFile::parse(&b).unwrap().layout();
        for off in (0..layout.crc + 4).filter(|&o| !(8..12).contains(&o)) {
            let mut m = b.clone();
            m[off] ^= 0x40;
            match ControlFile::parse(&m) {
                Err(ControlError::BadCrc { mismatch, .. }) => {
                    assert_ne!(mismatch.stored, mismatch.computed);
                    let (cf, mm) = ControlFile::parse_unchecked(&m).unwrap();
                    assert_eq!(mm, Some(mismatch));
                    assert_eq!(cf.crc, mismatch.stored);
                }
                other => panic!("v{ver} offset {off}: {other:?}"),
            }
        }
        // Bytes after the CRC are not covered, as in PostgreSQL.
        let mut m = b.clone();
        m[layout.size + 100] = 0xFF;
        ControlFile::parse(&m).unwrap();
    }
}

#[test]
fn read_names_the_file_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pg_control");
    let mut b = bytes(15, "shutdown_tli2");
    b[100] ^= 1;
    std::fs::write(&p, &b).unwrap();
    let e = ControlFile::read(&p).unwrap_err();
    assert!(matches!(e, ControlError::BadCrc { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.starts_with(&p.display().to_string()), "{msg}");
    assert!(msg.contains("0xE6867DAF"), "{msg}");
    let (cf, mm) = ControlFile::read_unchecked(&p).unwrap();
    assert!(mm.is_some());
    assert_eq!(cf.system_identifier, 7710951575618446016);

    let missing = dir.path().join("nope");
    let e = ControlFile::read(&missing).unwrap_err();
    assert!(matches!(e, ControlError::Io { .. }));
    assert!(e.to_string().contains("nope"));
}

#[test]
fn unknown_version_is_its_own_error() {
    let mut b = bytes(15, "shutdown_tli2");
    b[8..12].copy_from_slice(&1900u32.to_le_bytes());
    match ControlFile::parse(&b) {
        Err(ControlError::UnknownVersion {
            pg_control_version: 1900,
            byte_swapped: false,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Written by a big-endian server: PostgreSQL's byte-order test fires.
    b[8..12].copy_from_slice(&1300u32.to_be_bytes());
    match ControlFile::parse(&b) {
        Err(
            e @ ControlError::UnknownVersion {
                byte_swapped: true, ..
            },
        ) => assert!(e.to_string().contains("byte ordering")),
        other => panic!("{other:?}"),
    }
    assert!(ControlLayout::for_version(1300).is_some());
    assert_eq!(LAYOUTS.len(), 6);
}

#[test]
fn major_version_from_catalog_version_for_1300() {
    let mut c = load(15, "shutdown_tli2");
    for (cat, major) in [
        (202007201, 13),
        (202001011, 13),
        (202007202, 14),
        (202107181, 14),
        (202209061, 15),
        (202307071, 16),
        (202310001, 17),
    ] {
        c.catalog_version_no = cat;
        assert_eq!(c.major_version(), major, "{cat}");
    }
}

#[test]
fn ctime_formatter_matches_pg_controldata_sample() {
    // Guards the test's own formatter against the committed output.
    assert_eq!(ctime_utc(1795345824), "Sun Nov 22 11:10:24 2026");
    assert_eq!(ctime_utc(0), "Thu Jan  1 00:00:00 1970");
}
