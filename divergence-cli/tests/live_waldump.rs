//! `pgdiverge waldump` against pg_waldump 15 on record types the fixtures do not hold: commits
//! and aborts that drop relations and statistics, subtransactions, invalidations. Made by a real
//! PostgreSQL 15 server; only with `PGDIVERGE_LIVE_PG=1` (`.ci/run` sets it).

use std::process::Command;

mod live_common;
use live_common::{as_postgres, chown_to_postgres, enabled, initdb, run_ok, start, BIN};

const PORT: &str = "54918";

#[test]
fn descriptions_of_drops_subtransactions_and_invalidations_match_pg_waldump() {
    if !enabled() {
        eprintln!("live_waldump: skipped (set PGDIVERGE_LIVE_PG=1 to run)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    chown_to_postgres(root);
    let data = root.join("data");
    initdb(&data);
    let sock = root.to_string_lossy().into_owned();
    let psql = |sql: &str| {
        let out = run_ok(
            as_postgres(&[
                &format!("{BIN}/psql"),
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &sock,
                "-p",
                PORT,
                "-c",
                sql,
                "postgres",
            ]),
            sql,
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let start_lsn;
    {
        let _server = start(&data, root, PORT);
        start_lsn = psql("select pg_current_wal_insert_lsn()");
        for sql in [
            "create table t1(a int); insert into t1 values (1); drop table t1",
            "begin; create table t2(a int); rollback",
            "begin; create table t3(a int primary key); savepoint s1; insert into t3 values (1); \
             savepoint s2; insert into t3 values (2); release s2; commit",
            "begin; insert into t3 select g from generate_series(10, 100) g; savepoint s; \
             insert into t3 values (5); rollback to s; commit",
        ] {
            psql(sql);
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
    for needle in [
        "; rels: ",
        "; dropped stats: ",
        "; subxacts: ",
        "; inval msgs: ",
    ] {
        assert!(t.contains(needle), "pg_waldump printed no {needle:?}: {t}");
    }
    let (tl, ol): (Vec<&str>, Vec<&str>) = (t.lines().collect(), o.lines().collect());
    assert_eq!(tl.len(), ol.len(), "line counts");
    for (a, b) in ol.iter().zip(&tl) {
        assert_eq!(a, b);
    }
}
