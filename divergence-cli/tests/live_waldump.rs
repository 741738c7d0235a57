//! `pgdiverge waldump` against pg_waldump on record types the fixtures do not hold: commits
//! and aborts that drop relations and statistics, subtransactions, invalidations, two-phase
//! commit, replication origins, `wal_level = logical`, and the records of every built-in resource
//! manager. Made by real PostgreSQL 15 servers, and by 13, 14, 16, 17 and 18 when
//! `PGDIVERGE_PG_BINARIES` holds them (`fixtures/pg-binaries.sh`); only with
//! `PGDIVERGE_LIVE_PG=1` (`.ci/run` sets both).

use std::path::Path;
use std::process::Command;

mod live_common;
use live_common::{
    as_postgres, chown_to_postgres, enabled, initdb_with, other_majors, run_ok, start_with, BIN,
};

/// Runs `scripts` (each one psql session, read from a file) on a fresh cluster of the programs
/// in `bin` with `conf` appended to its postgresql.conf, stops it, and requires `pgdiverge
/// waldump` to print exactly that version's pg_waldump's lines for the WAL they wrote — and
/// pg_waldump to have printed each of `needles`, so the records meant to be covered were really
/// written. In the scripts `@ROOT@` stands for the server's directory, in which `ts/` is an
/// empty directory for a tablespace; a script starting with `&` runs in the background (the
/// next one starts a second later; all are waited for before the server stops).
fn same_lines_as_pg_waldump(bin: &str, port: &str, conf: &str, scripts: &[&str], needles: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    chown_to_postgres(root);
    let data = root.join("data");
    initdb_with(bin, &data);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(data.join("postgresql.conf"))
        .unwrap();
    std::io::Write::write_all(&mut f, conf.as_bytes()).unwrap();
    let sock = root.to_string_lossy().into_owned();
    std::fs::create_dir(root.join("ts")).unwrap();
    chown_to_postgres(&root.join("ts"));
    let psql_cmd = |args: &[&str]| {
        let mut v = vec![
            format!("{bin}/psql"),
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
        (as_postgres(&refs), v.join(" "))
    };
    let psql = |args: &[&str]| {
        let (c, what) = psql_cmd(args);
        let out = run_ok(c, &what);
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let start_lsn;
    {
        let _server = start_with(bin, &data, root, port);
        start_lsn = psql(&["-c", "select pg_current_wal_insert_lsn()"]);
        let mut background = Vec::new();
        for (i, sql) in scripts.iter().enumerate() {
            let file = root.join(format!("script{i}.sql"));
            let (sql, in_background) = match sql.strip_prefix('&') {
                Some(sql) => (sql, true),
                None => (*sql, false),
            };
            std::fs::write(&file, sql.replace("@ROOT@", &sock)).unwrap();
            let file = file.to_string_lossy().into_owned();
            if in_background {
                let (mut c, what) = psql_cmd(&["-f", &file]);
                background.push((c.spawn().unwrap(), what));
                std::thread::sleep(std::time::Duration::from_secs(1));
            } else {
                psql(&["-f", &file]);
            }
        }
        for (child, what) in background {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{what}: {out:?}");
        }
    }
    let wal = data.join("pg_wal");
    // Both layouts: block references on the record's line, and -b's one line each.
    for extra in [&[][..], &["-b"][..]] {
        let theirs = Command::new(format!("{bin}/pg_waldump"))
            .args(extra)
            .arg("-p")
            .arg(&wal)
            .args(["-s", &start_lsn])
            .env("TZ", "UTC")
            .output()
            .unwrap();
        let ours = Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
            .arg("waldump")
            .args(extra)
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
        assert_eq!(tl.len(), ol.len(), "line counts {bin} {extra:?}");
        for (a, b) in ol.iter().zip(&tl) {
            assert_eq!(a, b, "{bin} {extra:?}");
        }
    }
}

#[test]
fn descriptions_of_drops_subtransactions_and_invalidations_match_pg_waldump() {
    if !enabled() {
        eprintln!("live_waldump: skipped (set PGDIVERGE_LIVE_PG=1 to run)");
        return;
    }
    same_lines_as_pg_waldump(
        BIN,
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
        BIN,
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

/// Every built-in resource manager's records as pg_waldump 15 describes them: the index access
/// methods (hash, GIN with its pending list and posting trees, GiST, SP-GiST, BRIN, and bloom's
/// generic records), sequences, tablespaces, databases, the relation map, multixacts, commit
/// timestamps, replication origins, logical messages, restore points, heap truncation and
/// speculative insertion, relation truncation, freezing, subtransactions in running-xacts
/// snapshots (listed, and overflowed), B-tree page recycling, opportunistic index deletion — on
/// PostgreSQL 15 and every other major at hand (13, 14, 16, 17, 18).
#[test]
fn descriptions_of_every_resource_manager_match_pg_waldump() {
    if !enabled() {
        eprintln!("live_waldump: skipped (set PGDIVERGE_LIVE_PG=1 to run)");
        return;
    }
    let majors = [(15, BIN.to_string())].into_iter().chain(other_majors());
    for (i, (major, bin)) in majors.enumerate() {
        eprintln!("live_waldump: PostgreSQL {major} ({bin})");
        every_resource_manager(&bin, &(54930 + i).to_string());
    }
}

/// Subtransactions open in another session while a checkpoint logs the running transactions.
const SUBXACTS: &str = "&begin; select txid_current();
    do $$ begin for i in 1..@N@ loop
      begin insert into fz values (i); exception when others then null; end;
    end loop; end $$;
    select pg_sleep(3); commit;";

/// B-tree page deletion and recycling, bottom-up deletion, and the hash and GiST indexes'
/// opportunistic deletion of dead tuples.
const INDEX_CHURN: &str = "create table bd(a int primary key) with (autovacuum_enabled = off);
    insert into bd select generate_series(1, 20000);
    delete from bd where a > 100;
    vacuum bd; vacuum bd;
    insert into bd select generate_series(20001, 40000);
    create table bt(a int, b int) with (autovacuum_enabled = off, fillfactor = 100);
    create index bt_a on bt(a); create index bt_b on bt(b);
    insert into bt select g, 0 from generate_series(1, 2000) g;
    update bt set b = b + 1; update bt set b = b + 1; update bt set b = b + 1;
    update bt set b = b + 1; update bt set b = b + 1; update bt set b = b + 1;
    create table hx(a int, p point) with (autovacuum_enabled = off);
    create index hx_h on hx using hash(a); create index hx_g on hx using gist(p);
    insert into hx select 1, point(g % 10, g % 10) from generate_series(1, 5000) g;
    delete from hx;
    set enable_seqscan = off; set enable_bitmapscan = off;
    select count(*) from hx where a = 1;
    select count(*) from hx where p <@ box '((0,0),(10,10))';
    insert into hx select 1, point(g % 10, g % 10) from generate_series(1, 5000) g;
    reset enable_seqscan; reset enable_bitmapscan;
    delete from hx; vacuum hx;
    insert into hx select 2, point(g, g) from generate_series(1, 20000) g;";

/// The bloom extension's generic WAL records, where the installation has bloom.
const BLOOM: &str = "create extension bloom;
    create table bl(a int, b int);
    create index on bl using bloom(a, b);
    insert into bl values (1, 2), (3, 4);";

fn every_resource_manager(bin: &str, port: &str) {
    let (five, seventy) = (SUBXACTS.replace("@N@", "5"), SUBXACTS.replace("@N@", "70"));
    let share = Path::new(bin).join("..").join("share");
    let has_bloom = ["extension", "postgresql/extension"]
        .iter()
        .any(|d| share.join(d).join("bloom.control").is_file());
    // Record types (and a few details every version prints alike) that must be in the WAL.
    let mut needles = vec![
        "desc: LOG rel ",
        "desc: INIT_META_PAGE num_tuples ",
        "desc: SPLIT_ALLOCATE_PAGE new_bucket ",
        "desc: SQUEEZE_PAGE prevblkno ",
        "desc: INSERT isdata: ",
        "desc: VACUUM_DATA_LEAF_PAGE ",
        "desc: DELETE_LISTPAGE ndeleted: ",
        "desc: PAGE_SPLIT page_split: ",
        "desc: PAGE_DELETE deleteXid ",
        "desc: DELETE delete: ",
        "desc: PICKSPLIT ",
        "desc: ADD_NODE ",
        "desc: SPLIT_TUPLE ",
        "desc: VACUUM_REDIRECT ",
        "desc: VACUUM_ONE_PAGE ntuples ",
        "desc: CREATE_INDEX v1 ",
        "desc: DESUMMARIZE pagesPerRange ",
        "desc: RESTORE_POINT rp1",
        "desc: MESSAGE transactional",
        "desc: UPDATE database ",
        "desc: CREATE pg_tblspc/",
        "desc: ASSIGNMENT xtop ",
        "; subxid ov",
        "desc: DROP dir ",
        "desc: TRUNCATE ",
        "desc: HEAP_CONFIRM off",
        "desc: SET set ",
        "desc: DROP drop ",
        "desc: CREATE_ID ",
        "desc: ZERO_MEM_PAGE ",
        " to 1 blocks flags ",
        "desc: UNLINK_PAGE ",
        "desc: REUSE_PAGE rel",
        "desc: META_CLEANUP ",
    ];
    if has_bloom {
        needles.push("rmgr: Generic ");
    }
    same_lines_as_pg_waldump(
        bin,
        port,
        "wal_level = logical\ntrack_commit_timestamp = on\nwal_keep_size = 1GB\n\
         max_prepared_transactions = 4\n",
        &[
            "create sequence sq; select nextval('sq'); select setval('sq', 100);
             create table h(a int, b int[], c tsvector, d point, e text);
             create index on h using hash(a);
             create index on h using gin(b);
             create index on h using gist(d);
             create index on h using brin(a);
             create index on h using spgist(e);
             insert into h select g, array[g, g+1], to_tsvector('english', 'word' || g),
               point(g, g), 'text' || g from generate_series(1, 2000) g;
             delete from h where a % 3 = 0;
             update h set a = a + 1 where a % 5 = 0;
             vacuum h;
             select pg_create_restore_point('rp1');
             select pg_logical_emit_message(true, 'pfx', 'hello');
             select pg_logical_emit_message(false, 'pfx', 'world');
             vacuum full pg_class;
             create tablespace tsp location '@ROOT@/ts';
             create table tt(a int) tablespace tsp; insert into tt values (1); drop table tt;
             drop tablespace tsp;
             select pg_switch_wal();
             create database db2; drop database db2;",
            "create table g(a int, b int[]) with (autovacuum_enabled = off);
             create index g_gin on g using gin(b) with (fastupdate = on);
             insert into g select g, array[1, 2, g % 10] from generate_series(1, 5000) g;
             select gin_clean_pending_list('g_gin');
             delete from g where a % 2 = 0;
             vacuum g;
             create table sp(t text);
             create index on sp using spgist(t);
             insert into sp select 'abcdefgh' || g from generate_series(1, 3000) g;
             insert into sp select 'zz' || g || 'yy' from generate_series(1, 300) g;
             insert into sp select 'ab' from generate_series(1, 50) g;
             delete from sp;
             vacuum sp;
             create table gi(p point);
             create index on gi using gist(p);
             insert into gi select point(g, g) from generate_series(1, 5000) g;
             delete from gi;
             vacuum gi;
             insert into gi select point(g, g) from generate_series(1, 5000) g;
             create table hh(a int) with (autovacuum_enabled = off);
             create index on hh using hash(a);
             insert into hh select 1 from generate_series(1, 3000);
             delete from hh where ctid > '(5,0)';
             vacuum hh;
             create table br(a int);
             create index br_i on br using brin(a) with (pages_per_range = 1);
             insert into br select g from generate_series(1, 2000) g;
             update br set a = a + 1 where a < 100;
             select brin_summarize_new_values('br_i');
             select brin_desummarize_range('br_i', 0);
             create table tr(a int); insert into tr select generate_series(1, 10000);
             delete from tr where a > 10; vacuum tr;
             truncate tr restart identity cascade;
             create table up(a int primary key, b int);
             insert into up values (1, 1);
             insert into up values (1, 2) on conflict (a) do update set b = 3;
             insert into up values (2, 2) on conflict do nothing;
             select pg_replication_origin_create('o2');
             select pg_replication_origin_advance('o2', '0/12345');
             select pg_replication_origin_drop('o2');
             create table lu(a int primary key, b int); insert into lu values (1, 1);
             begin; select * from lu for share; savepoint s; update lu set b = 2 where a = 1;
             commit;
             create table pb(a int primary key, b text);
             insert into pb select g, 'x' from generate_series(1, 3000) g;
             update pb set b = 'y' where a % 7 = 0;
             delete from pb where a % 11 = 0;
             vacuum pb;
             begin; insert into pb values (-1); rollback;
             begin; insert into pb values (-2); prepare transaction 'p1';
             commit prepared 'p1';
             create table fz(a int); insert into fz select generate_series(1, 1000);
             vacuum freeze fz;
             update fz set a = a + 1 where a < 10; vacuum freeze fz;
             checkpoint;",
            &five,
            "checkpoint;",
            &seventy,
            "checkpoint;",
            // The subtransactions' sessions end first, so that the deleted index entries
            // below are dead to every snapshot.
            "select pg_sleep(3);",
            INDEX_CHURN,
            if has_bloom { BLOOM } else { "select 1;" },
        ],
        &needles,
    );
}
