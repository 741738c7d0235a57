//! `pgdiverge controldata DIR`: byte-for-byte equal to pg_controldata 15 (committed outputs of the
//! samples and fixtures, and the live tool when installed, run with `TZ=UTC LC_ALL=C`) and to the
//! pg_controldata of 13, 14, 16, 17 and 18 when `PGDIVERGE_PG_BINARIES` holds them, the
//! version-specific rows of 10–18, the JSON object, and errors.

use std::path::Path;
use std::process::{Command, Output};

use pgdiverge_fixtures::{control_datadir, live_pg_controldata, samples_dir, V15_CONTROL_STATES};

fn pgdiverge(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .args(args)
        .output()
        .unwrap()
}

fn sample_bytes(ver: u32, state: &str) -> Vec<u8> {
    std::fs::read(samples_dir().join(format!("pg_control/v{ver}/pg_control.{state}"))).unwrap()
}

/// `pgdiverge controldata` on `dir` with extra args; asserts success and returns stdout.
fn controldata(dir: &Path, extra: &[&str]) -> String {
    let mut args: Vec<&std::ffi::OsStr> = vec!["controldata".as_ref(), dir.as_os_str()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    let out = pgdiverge(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn v15_samples_equal_committed_pg_controldata_byte_for_byte() {
    for state in V15_CONTROL_STATES {
        let d = control_datadir(&sample_bytes(15, state));
        let want = std::fs::read_to_string(
            samples_dir().join(format!("pg_control/v15/pg_controldata-15.{state}.txt")),
        )
        .unwrap();
        assert_eq!(controldata(d.path(), &[]), want, "{state}");
    }
}

/// pg_controldata 15 reads pg_control version 1300, which 13–16 share: on those samples, and on
/// a v15 file with a damaged CRC (its warning included), the outputs are identical.
#[test]
fn samples_13_to_16_equal_live_pg_controldata_15_byte_for_byte() {
    let mut cases: Vec<(String, Vec<u8>)> = vec![];
    for ver in 13..=16 {
        for state in [
            "shutdown_tli1",
            "in_production_tli1",
            "in_archive_recovery",
            "shutdown_tli2",
        ] {
            cases.push((format!("v{ver} {state}"), sample_bytes(ver, state)));
        }
    }
    let mut bad = sample_bytes(15, "shutdown_tli2");
    bad[200] ^= 0x01; // track_commit_timestamp flips: a CRC mismatch
    cases.push(("v15 bad crc".into(), bad));
    for (what, bytes) in cases {
        let d = control_datadir(&bytes);
        let Some(want) = live_pg_controldata(d.path()) else {
            return;
        };
        assert_eq!(controldata(d.path(), &[]), want, "{what}");
    }
}

/// Every fixture cluster with a committed `<cluster>.pg_controldata.txt` beside it (written by
/// pg_controldata 15 for 13–16) and, when installed, the live tool.
#[test]
fn every_fixture_equals_pg_controldata_byte_for_byte() {
    // pg_control is committed uncompressed: the committed directories serve.
    let scenarios = pgdiverge_fixtures::scenarios();
    assert!(!scenarios.is_empty(), "no fixture scenarios");
    let mut n = 0;
    for s in scenarios {
        let s = s.dir;
        for c in std::fs::read_dir(&s).unwrap() {
            let c = c.unwrap().path();
            if !c.join("global/pg_control").is_file() {
                continue;
            }
            let name = c.file_name().unwrap().to_string_lossy().to_string();
            let committed = s.join(format!("{name}.pg_controldata.txt"));
            if !committed.is_file() {
                continue;
            }
            let got = controldata(&c, &[]);
            assert_eq!(
                got,
                std::fs::read_to_string(&committed).unwrap(),
                "{}",
                committed.display()
            );
            if let Some(live) = live_pg_controldata(&c) {
                assert_eq!(got, live, "{} (live)", c.display());
            }
            n += 1;
        }
    }
    eprintln!("compared {n} fixture clusters");
}

/// Each major's own pg_controldata (13, 14, 16, 17, 18 from `PGDIVERGE_PG_BINARIES`) on that major's
/// samples and fixtures: byte for byte, the rows 15 does not print included.
#[test]
fn other_majors_equal_their_own_pg_controldata_byte_for_byte() {
    let majors = pgdiverge_fixtures::other_pg_binaries();
    if majors.is_empty() {
        eprintln!("skipped: PGDIVERGE_PG_BINARIES is not set (fixtures/pg-binaries.sh)");
        return;
    }
    for (major, bin) in majors {
        let program = bin.join("pg_controldata");
        let mut n = 0;
        let samples = samples_dir().join(format!("pg_control/v{major}"));
        for f in std::fs::read_dir(&samples).into_iter().flatten() {
            let f = f.unwrap().path();
            let d = control_datadir(&std::fs::read(&f).unwrap());
            let want = pgdiverge_fixtures::pg_controldata_with(&program, d.path());
            assert_eq!(controldata(d.path(), &[]), want, "{}", f.display());
            n += 1;
        }
        for s in pgdiverge_fixtures::scenarios()
            .into_iter()
            .filter(|s| s.pg_version() == u64::from(major))
        {
            for c in s.cluster_names() {
                let dir = s.dir.join(&c);
                let want = pgdiverge_fixtures::pg_controldata_with(&program, &dir);
                assert_eq!(controldata(&dir, &[]), want, "{}", dir.display());
                n += 1;
            }
        }
        eprintln!("PostgreSQL {major}: {n} control files identical");
        assert!(n >= 4, "PostgreSQL {major}: only {n} control files");
    }
}

/// The rows a version's pg_controldata prints and 15's does not, in their places.
#[test]
fn version_specific_rows() {
    let text = |ver| {
        controldata(
            control_datadir(&sample_bytes(ver, "shutdown_tli2")).path(),
            &[],
        )
    };
    let v10 = text(10);
    assert!(v10.contains(
        "Latest checkpoint location:           0/5000028\nPrior checkpoint location:            0/40024B0\nLatest checkpoint's REDO location:    0/5000028\n"
    ), "{v10}");
    assert!(v10.contains("Float4 argument passing:              by value\nFloat8 argument passing:              by value\n"));
    assert!(!v10.contains("max_wal_senders"));
    assert!(v10.contains("Bytes per WAL segment:                16777216\n"));
    let v11 = text(11);
    assert!(!v11.contains("Prior checkpoint"));
    assert!(v11.contains("wal_log_hints setting:                on\n"));
    let v12 = text(12);
    assert!(v12.contains("max_wal_senders setting:              3\n"));
    assert!(v12.contains("Float4 argument passing:"));
    assert!(!text(13).contains("Float4"));
    let v18 = text(18);
    assert!(v18.contains(
        "Data page checksum version:           1\nDefault char data signedness:         signed\nMock authentication nonce:            "
    ), "{v18}");
    for (ver, lines) in [(10, 51), (11, 50), (12, 51), (15, 50), (17, 50), (18, 51)] {
        assert_eq!(text(ver).lines().count(), lines, "v{ver}");
    }
}

#[test]
fn json_object_is_stable_and_complete() {
    let json = |bytes: &[u8]| -> serde_json::Value {
        let d = control_datadir(bytes);
        serde_json::from_str(&controldata(d.path(), &["--format", "json"])).unwrap()
    };
    let v15 = json(&sample_bytes(15, "shutdown_tli2"));
    let keys: Vec<&str> = v15
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let want = [
        "path",
        "crc",
        "major_version",
        "pg_control_version",
        "catalog_version_no",
        "system_identifier",
        "state",
        "state_code",
        "time",
        "time_utc",
        "checkpoint",
        "prev_checkpoint",
        "checkpoint_copy",
        "unlogged_lsn",
        "min_recovery_point",
        "min_recovery_point_tli",
        "backup_start_point",
        "backup_end_point",
        "backup_end_required",
        "wal_level",
        "wal_log_hints",
        "max_connections",
        "max_worker_processes",
        "max_wal_senders",
        "max_prepared_xacts",
        "max_locks_per_xact",
        "track_commit_timestamp",
        "max_align",
        "float_format",
        "blcksz",
        "relseg_size",
        "xlog_blcksz",
        "xlog_seg_size",
        "name_data_len",
        "index_max_keys",
        "toast_max_chunk_size",
        "loblksize",
        "float4_by_val",
        "float8_by_val",
        "data_checksum_version",
        "default_char_signedness",
        "mock_authentication_nonce",
    ];
    let mut sorted_want = want.to_vec();
    sorted_want.sort();
    let mut sorted_keys = keys.clone();
    sorted_keys.sort();
    assert_eq!(sorted_keys, sorted_want);
    assert_eq!(v15["crc"]["ok"], true);
    assert_eq!(v15["crc"]["stored"], 0xE6867DAFu32);
    assert_eq!(v15["major_version"], 15);
    assert_eq!(v15["system_identifier"], "7710951575618446016");
    assert_eq!(v15["state"], "shut down");
    assert_eq!(v15["checkpoint"], "0/F00028");
    assert_eq!(v15["prev_checkpoint"], serde_json::Value::Null);
    assert_eq!(
        v15["checkpoint_copy"]["redo_wal_file"],
        "00000002000000000000000F"
    );
    assert_eq!(v15["checkpoint_copy"]["next_xid"], "0:735");
    assert_eq!(v15["checkpoint_copy"]["next_full_xid"], 735);
    assert_eq!(v15["checkpoint_copy"]["time_utc"], "2026-11-22T11:10:24Z");
    assert_eq!(v15["checkpoint_copy"]["wal_level"], serde_json::Value::Null);
    assert_eq!(v15["unlogged_lsn"], "0/3E8");
    assert_eq!(v15["wal_level"], "replica");
    assert_eq!(v15["float4_by_val"], serde_json::Value::Null);
    assert!(v15["mock_authentication_nonce"]
        .as_str()
        .unwrap()
        .starts_with("e20bb8d1"));

    let v10 = json(&sample_bytes(10, "shutdown_tli2"));
    assert_eq!(v10["prev_checkpoint"], "0/40024B0");
    assert_eq!(v10["float4_by_val"], true);
    assert_eq!(v10["max_wal_senders"], serde_json::Value::Null);
    let v17 = json(&sample_bytes(17, "shutdown_tli2"));
    assert_eq!(v17["checkpoint_copy"]["wal_level"], "replica");
    let v18 = json(&sample_bytes(18, "shutdown_tli2"));
    assert_eq!(v18["default_char_signedness"], true);
    assert_eq!(v18["major_version"], 18);

    let mut bad = sample_bytes(15, "shutdown_tli2");
    bad[100] ^= 0x01;
    let b = json(&bad);
    assert_eq!(b["crc"]["ok"], false);
    assert_eq!(b["crc"]["stored"], 0xE6867DAFu32);
    assert_ne!(b["crc"]["computed"], b["crc"]["stored"]);
}

#[test]
fn unreadable_inputs_fail_with_the_file_named() {
    let check = |dir: &Path, needle: &str| {
        let out = pgdiverge(&["controldata".as_ref(), dir.as_os_str()]);
        // 3, could not analyse, as for every command (pg_controldata itself exits 1).
        assert_eq!(out.status.code(), Some(3));
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("global/pg_control"), "{err}");
        assert!(err.contains(needle), "{err}");
    };
    let empty = tempfile::tempdir().unwrap();
    check(empty.path(), "No such file");
    let short = control_datadir(&sample_bytes(15, "shutdown_tli2")[..200]);
    check(short.path(), "has 200 bytes, need 296");
    let mut unknown = sample_bytes(15, "shutdown_tli2");
    unknown[8..12].copy_from_slice(&942u32.to_le_bytes());
    check(
        control_datadir(&unknown).path(),
        "unknown pg_control_version 942",
    );
}
