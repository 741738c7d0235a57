//! Our model of `pg_rewind --dry-run` against the real one of every major at hand — the
//! machine's 15, and 13, 14, 16, 17 and 18 when `PGDIVERGE_PG_BINARIES` holds them
//! (`fixtures/pg-binaries.sh`) — on pairs made by real servers of that major: a split brain (a
//! copy promoted to timeline 2, both sides wrote) and a same-timeline divergence (a copy started
//! without `standby.signal`, both sides wrote on timeline 1, which pg_rewind cannot see). Same
//! outcome, divergence point and last common checkpoint; our verdict is pg_rewind's where it can
//! see the fork, and names the fork where it cannot. Only with `PGDIVERGE_LIVE_PG=1`.

mod live_common;

use std::path::Path;

use live_common::{
    as_postgres, chown_to_postgres, enabled, initdb_with, other_majors, run_ok, start_with, BIN,
};
use pgdiverge::report::{Side, Verdict};
use pgdiverge::{compare, Cluster, OpenOptions, Options};

/// Runs `sql` with the psql in `bin` against the server on `sock`/`port`.
fn psql(bin: &str, sock: &Path, port: &str, sql: &str) {
    run_ok(
        as_postgres(&[
            &format!("{bin}/psql"),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            &sock.to_string_lossy(),
            "-p",
            port,
            "-c",
            sql,
            "postgres",
        ]),
        sql,
    );
}

/// Makes `a` (the old primary) and `b` (its copy) in `root` and lets both write after the
/// copy: with `promote`, `b` is promoted first (timeline 2); without, `b` is started as a
/// primary on the same timeline.
fn diverged_pair(bin: &str, root: &Path, port: &str, promote: bool) {
    let (a, b) = (root.join("a"), root.join("b"));
    initdb_with(bin, &a);
    std::fs::write(a.join("postgresql.auto.conf"), "wal_keep_size = 1GB\n").unwrap();
    {
        let _s = start_with(bin, &a, root, port);
        psql(
            bin,
            root,
            port,
            "create table t(a int); insert into t select generate_series(1, 1000)",
        );
    }
    run_ok(
        as_postgres(&["cp", "-a", &a.to_string_lossy(), &b.to_string_lossy()]),
        "cp",
    );
    {
        if promote {
            run_ok(
                as_postgres(&["touch", &b.join("standby.signal").to_string_lossy()]),
                "touch",
            );
        }
        let _s = start_with(bin, &b, root, port);
        if promote {
            run_ok(
                as_postgres(&[
                    &format!("{bin}/pg_ctl"),
                    "-D",
                    &b.to_string_lossy(),
                    "-w",
                    "promote",
                ]),
                "promote",
            );
        }
        psql(bin, root, port, "insert into t values (-1); checkpoint");
    }
    {
        let _s = start_with(bin, &a, root, port);
        psql(bin, root, port, "insert into t values (-2), (-3)");
    }
}

/// What `pg_rewind --dry-run` said, as `fixtures/lib/facts.py` reads it: outcome, divergence
/// point and last common checkpoint.
struct Said {
    outcome: &'static str,
    diverged: Option<(String, u32)>,
    last_common_checkpoint: Option<String>,
    text: String,
}

fn pg_rewind_dry_run(bin: &str, target: &Path, source: &Path) -> Said {
    let out = as_postgres(&[
        &format!("{bin}/pg_rewind"),
        &format!("--target-pgdata={}", target.display()),
        &format!("--source-pgdata={}", source.display()),
        "--dry-run",
    ])
    .output()
    .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let after = |prefix: &str| {
        text.lines()
            .find_map(|l| l.split_once(prefix).map(|(_, rest)| rest.to_string()))
    };
    let diverged = after("servers diverged at WAL location ").map(|rest| {
        let (lsn, tli) = rest.split_once(" on timeline ").unwrap();
        (lsn.to_string(), tli.trim().parse().unwrap())
    });
    let last_common_checkpoint = after("rewinding from last common checkpoint at ")
        .map(|rest| rest.split(' ').next().unwrap().to_string());
    let outcome = match (out.status.success(), text.contains("no rewind required")) {
        (true, true) => "no-rewind-required",
        (true, false) => "rewind",
        (false, _) => "error",
    };
    Said {
        outcome,
        diverged,
        last_common_checkpoint,
        text,
    }
}

fn check(bin: &str, major: u32, port: &str, promote: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    chown_to_postgres(root);
    diverged_pair(bin, root, port, promote);
    let (a, b) = (root.join("a"), root.join("b"));
    let said = pg_rewind_dry_run(bin, &a, &b);
    let what = format!(
        "PostgreSQL {major}, {}: pg_rewind said\n{}",
        if promote {
            "promoted copy"
        } else {
            "same timeline"
        },
        said.text
    );
    let open = |dir: &Path| Cluster::open(dir, &OpenOptions::default()).unwrap();
    // pg_rewind's source is kept: the copy, b.
    let r = compare(
        &open(&b),
        &open(&a),
        &Options {
            keep: Some(Side::A),
        },
    );
    let p = r.pg_rewind.as_ref().expect("a prediction of pg_rewind");
    assert_eq!(p.outcome, said.outcome, "{what}\nwe predicted {p:#?}");
    assert_eq!(
        p.diverged.as_ref().map(|d| (d.lsn.to_string(), d.timeline)),
        said.diverged,
        "{what}"
    );
    assert_eq!(
        p.last_common_checkpoint.as_ref().map(|c| c.lsn.to_string()),
        said.last_common_checkpoint,
        "{what}"
    );
    if promote {
        assert_eq!(said.outcome, "rewind", "{what}");
        assert!(p.agrees, "{what}");
        assert_eq!(r.verdict, Verdict::Rewind, "{what}");
        assert_eq!(
            r.fork.as_ref().map(|f| f.lsn.to_string()),
            said.diverged.map(|d| d.0),
            "{what}"
        );
    } else {
        // The blind spot: pg_rewind sees one timeline and nothing to do.
        assert_eq!(said.outcome, "no-rewind-required", "{what}");
        assert!(!p.agrees, "{what}");
        assert_eq!(p.disagreement, Some("same-timeline-divergence"), "{what}");
        assert!(r.fork.is_some(), "{what}: we must name the fork");
        assert_ne!(r.verdict, Verdict::InSync, "{what}");
    }
}

#[test]
fn our_pg_rewind_model_matches_pg_rewind_of_every_major() {
    if !enabled() {
        eprintln!("live_rewind: skipped (set PGDIVERGE_LIVE_PG=1 to run)");
        return;
    }
    let majors = [(15, BIN.to_string())].into_iter().chain(other_majors());
    for (i, (major, bin)) in majors.enumerate() {
        eprintln!("live_rewind: PostgreSQL {major} ({bin})");
        let port = (54950 + i).to_string();
        check(&bin, major, &port, true);
        check(&bin, major, &port, false);
    }
}
