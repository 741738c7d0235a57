//! `pgdiverge waldump` against pg_waldump 15 on record types the fixtures do not hold: commits
//! and aborts that drop relations and statistics, subtransactions, invalidations, two-phase
//! commit, replication origins, `wal_level = logical`. Made by real PostgreSQL 15 servers; only
//! with `PGDIVERGE_LIVE_PG=1` (`.ci/run` sets it).

use std::process::Command;

mod live_common;
use live_common::{as_postgres, chown_to_postgres, enabled, initdb, run_ok, start, BIN};

/// Runs `scripts` (each one psql session, read from a file) on a fresh PostgreSQL 15 cluster with
/// `conf` appended to its postgresql.conf, stops it, and requires `pgdiverge waldump` to print
/// exactly pg_waldump's lines for the WAL they wrote — and pg_waldump to have printed each of
/// `needles`, so the records meant to be covered were really written.
fn same_lines_as_pg_waldump(port: &str, conf: &str, scripts: &[&str], needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    chown_to_postgres(root);
    let data = root.join("data");
    initdb(&data);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .unwrap();
    std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
    let sock = root.to_string_lossy().into_owned();
    let psql = |args: &[&str]| {
        let mut v = vec![
            format!("{BIN}/psql"),
            "-X".into(),
            "-q".into(),
            "-At".into(),
            "-v".into(),
            "ON_ERROR_STOP=1".into(),
            "-h".into(),
            sock.clone(),
            "-p".into(),
            port.into(),
            "-d".into(),
            "postgres".into(),
        ];
        v.extend(args.iter().map(|a| a.to_string()));
        let refs: Vec<&str> = v.iter().map(String::as_str).collect();
        let out = run_ok(as_postgres(&refs), &v.join(" "));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let start_lsn;
    {
        let _server = start(&data, root, port);
        start_lsn = psql(&["-c", "select pg_current_wal_insert_lsn()"]);
        let file = root.join("script.sql");
        for sql in scripts {
            std::fs::write(&file, sql).unwrap();
            psql(&["-f", &file.to_string_lossy()]);
        }
    }
    let wal = data.join("pg_wal");
    let theirs = Command::new(format!("{BIN}/pg_waldump"))
        .arg("-p")
        .arg(&wal)
        .args(["-s", &start_lsn])
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let ours = Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .arg("waldump")
        .arg("-p")
        .arg(&wal)
        .args(["-s", &start_lsn])
        .output()
        .unwrap();
    let (t, o) = (
        String::from_utf8_lossy(&theirs.stdout),
        String::from_utf8_lossy(&ours.stdout),
    );
    for needle in needles {
        assert!(t.contains(needle), "pg_waldump printed no {needle:?}: {t}");
    }
    let (tl, ol): (Vec<&str>, Vec<&str>) = (t.lines().collect(), o.lines().collect());
    assert_eq!(tl.len(), ol.len(), "line counts");
    for (a, b) in ol.iter().zip(&tl) {
        assert_eq!(a, b);
    }
}

#[test]
fn descriptions_of_drops_subtransactions_and_invalidations_match_pg_waldump() {
    if !enabled() {
        eprintln!("live_waldump: skipped (set PGDIVERGE_LIVE_PG=1 to run)");
        return;
    }
    same_lines_as_pg_waldump(
        "54918",
        "",
        &[
            "create table t1(a int); insert into t1 values (1); drop table t1;",
            "begin; create table t2(a int); rollback;",
            "begin; create table t3(a int primary key); savepoint s1; insert into t3 values (1); \
             savepoint s2; insert into t3 values (2); release s2; commit;",
            "begin; insert into t3 select g from generate_series(10, 100) g; savepoint s; \
             insert into t3 values (5); rollback to s; commit;",
        ],
        &[
            "; rels: ",
            "; dropped stats: ",
            "; subxacts: ",
            "; inval msgs: ",
        ],
    );
}

/// Two-phase commit (PREPARE, COMMIT_PREPARED, ABORT_PREPARED, with dropped relations,
/// statistics and subtransactions), replication origins on commits, prepares and aborts of
/// prepared transactions, and the NEW_CID records of `wal_level = logical`.
#[test]
fn descriptions_of_prepared_transactions_and_replication_origins_match_pg_waldump() {
    if !enabled() {
        eprintln!("live_waldump: skipped (set PGDIVERGE_LIVE_PG=1 to run)");
        return;
    }
    same_lines_as_pg_waldump(
        "54919",
        "max_prepared_transactions = 4\nwal_level = logical\n",
        &[
            "create table p(a int);
             begin; insert into p values (1); prepare transaction 'g1';
             commit prepared 'g1';
             begin; create table p2(a int); savepoint s; insert into p2 values (1); release s;
             prepare transaction 'g2';
             rollback prepared 'g2';
             select pg_replication_origin_create('o1');",
            "select pg_replication_origin_session_setup('o1');
             begin; select pg_replication_origin_xact_setup('0/ABCDEF', '2026-01-02 03:04:05+00');
             insert into p values (2); commit;
             begin; select pg_replication_origin_xact_setup('0/ABCDF2', '2026-01-02 03:04:08+00');
             create table p4(a int); savepoint s; insert into p4 values (1); release s;
             prepare transaction 'g4';
             select pg_replication_origin_xact_setup('0/ABCDF3', '2026-01-02 03:04:09+00');
             rollback prepared 'g4';
             begin; select pg_replication_origin_xact_setup('0/ABCDF4', '2026-01-02 03:04:10+00');
             create table p5(a int); prepare transaction 'g5';
             select pg_replication_origin_xact_setup('0/ABCDF5', '2026-01-02 03:04:11+00');
             commit prepared 'g5';
             begin; select pg_replication_origin_xact_setup('0/ABCDF6', '2026-01-02 03:04:12+00');
             drop table p5; commit;",
        ],
        &[
            "desc: PREPARE gid g1: ",
            "desc: COMMIT_PREPARED ",
            "; rels(abort): ",
            "; abort dropped stats: ",
            "desc: ABORT_PREPARED ",
            "; origin: node 1, lsn 0/ABCDEF, at 2026-01-02 03:04:05.000000 UTC",
            "; origin: node 1, lsn 0/ABCDF2, at ",
            "; origin: node 1, lsn 0/ABCDF3, at ",
            "; origin: node 1, lsn 0/ABCDF5, at ",
            "; origin: node 1, lsn 0/ABCDF6, at ",
            "desc: NEW_CID rel ",
        ],
    );
}
