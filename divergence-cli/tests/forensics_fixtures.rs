//! The lost-transactions report on every fixture scenario (`fixtures/*/scenario.json`), checked
//! against what the generator recorded while the real servers ran:
//!
//! - every xid in `divergent_commits` of a side is in that side's lost list, committed, with its
//!   relation (relfilenode and database OID) — or, where the side no longer holds the WAL after
//!   the fork, inside the range the report names as missing;
//! - no `pre_fork_xids` entry is in any side's list;
//! - commit timestamps fall inside the recorded `commit_window`;
//! - the rewind block estimate against the `block N` lines of `pg_rewind --dry-run --debug`
//!   (PostgreSQL 15 scenarios where pg_rewind rewound), within the tolerance of
//!   [`within_tolerance`].
//!
//! The scenarios' WAL segments are stored zstd-compressed: the tests read the copies that
//! `pgdiverge-fixtures` unpacks.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use pgdiverge::forensics::{self, LostReport, SideLost, TxStatus};
use pgdiverge::report::Side;
use pgdiverge::{compare, Cluster, OpenOptions, Options};
use serde_json::Value;
use walparse::Lsn;

fn fixtures_dir() -> PathBuf {
    pgdiverge_fixtures::root()
}

/// Every committed scenario, sorted; panics when there are none (a missing fixture fails).
fn scenarios() -> Vec<pgdiverge_fixtures::Scenario> {
    let all = pgdiverge_fixtures::scenarios();
    assert!(!all.is_empty(), "no fixtures found");
    all
}

fn open(dir: &Path, name: &str, s: &Value) -> Cluster {
    let archives = pgdiverge_fixtures::archive_dirs(dir, s);
    Cluster::open(
        &dir.join(name),
        &OpenOptions {
            archives,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{}: open {name}: {e}", dir.display()))
}

/// `2026-12-06 18:21:38.209316+00` → µs since 2000-01-01 UTC (PostgreSQL's `TimestampTz`).
fn parse_pg_time(s: &str) -> i64 {
    let s = s.trim().trim_end_matches("+00");
    let (date, time) = s.split_once(' ').expect("date and time");
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let micros: i64 = format!("{frac:0<6}")[..6].parse().unwrap();
    // Howard Hinnant's days_from_civil.
    let (y, m, day) = (if d[1] <= 2 { d[0] - 1 } else { d[0] }, d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days_unix = era * 146097 + doe - 719468;
    let secs = days_unix * 86400 + t[0] * 3600 + t[1] * 60 + t[2] - 946_684_800;
    secs * 1_000_000 + micros
}

/// One pair a scenario states an answer for: `expected`, then each of `other_pairs`.
struct Pair {
    source: String,
    target: String,
    fork: Option<(String, u64)>,
    pg_rewind: Value,
}

fn pairs(s: &Value) -> Vec<Pair> {
    let mut out = Vec::new();
    let mut add = |e: &Value, pg: &Value| {
        let (Some(source), Some(target)) = (e["source"].as_str(), e["target"].as_str()) else {
            return;
        };
        let fork = e["fork"]["lsn"]
            .as_str()
            .map(|l| (l.to_string(), e["fork"]["timeline"].as_u64().unwrap()));
        out.push(Pair {
            source: source.into(),
            target: target.into(),
            fork,
            pg_rewind: pg.clone(),
        });
    };
    add(&s["expected"], &s["pg_rewind"]);
    for p in s["other_pairs"].as_array().into_iter().flatten() {
        add(p, &p["pg_rewind"]);
    }
    out
}

/// Runs compare (keeping the source, as the scenario says) and the lost report for a pair:
/// A = target, B = source.
fn lost_for(dir: &Path, s: &Value, p: &Pair) -> LostReport {
    let target = open(dir, &p.target, s);
    let source = open(dir, &p.source, s);
    let report = compare(
        &target,
        &source,
        &Options {
            keep: Some(Side::B),
        },
    );
    forensics::lost(&target, &source, &report)
}

fn side(r: &LostReport, s: Side) -> &SideLost {
    r.sides.iter().find(|x| x.side == s).expect("side listed")
}

/// The documented tolerance of the rewind block estimate (JSON.md, "lost"): pg_rewind's page
/// map is a subset of ours — it leaves out blocks past the end of the source's or the target's
/// file (truncated or extended instead) and the blocks of files it copies whole — so ours is
/// never lower, and at most a quarter (at least 2 blocks) higher.
fn within_tolerance(ours: u64, pg_rewind: u64) -> bool {
    ours >= pg_rewind && ours - pg_rewind <= (pg_rewind / 4).max(2)
}

/// Counts the `block N` lines of pg_rewind --debug (filemap.c `print_filemap`: one per block
/// in a file's page map).
fn pg_rewind_blocks(path: &Path) -> Option<u64> {
    let text = pgdiverge_fixtures::read_oracle(path).ok()?;
    Some(
        text.lines()
            .filter(|l| {
                l.strip_prefix("pg_rewind: block ")
                    .is_some_and(|n| n.trim().parse::<u32>().is_ok())
            })
            .count() as u64,
    )
}

#[test]
fn divergent_commits_are_listed_on_their_side_and_nothing_from_before_the_fork() {
    let all = scenarios();
    assert!(!all.is_empty(), "no fixtures found");
    let mut checked_xids = 0;
    let mut checked_scenarios = Vec::new();
    for sc in &all {
        let s = &sc.json;
        let name = s["name"].as_str().unwrap_or("?").to_string();
        let dir = sc.unpacked();
        for p in pairs(s) {
            let Some((fork_lsn, fork_tli)) = &p.fork else {
                continue; // no fork (unrelated, one side behind): see the next test
            };
            let r = lost_for(&dir, s, &p);
            let ctx = format!("{name} ({} -> {})", p.target, p.source);
            let fork = r
                .fork
                .unwrap_or_else(|| panic!("{ctx}: no fork in the lost report"));
            assert_eq!(fork.lsn.to_string(), *fork_lsn, "{ctx}: fork");
            assert_eq!(u64::from(fork.timeline), *fork_tli, "{ctx}: fork timeline");
            assert_eq!(r.target, Some(Side::A), "{ctx}: target");
            for (cluster, label) in [(&p.target, Side::A), (&p.source, Side::B)] {
                let sl = side(&r, label);
                let act = sl
                    .activity
                    .as_ref()
                    .unwrap_or_else(|| panic!("{ctx}: {cluster}: {:?}", sl.error));
                for x in s["pre_fork_xids"].as_array().into_iter().flatten() {
                    let xid = x.as_u64().unwrap() as u32;
                    assert!(
                        act.transaction(xid).is_none(),
                        "{ctx}: {cluster}: pre-fork xid {xid} listed as lost"
                    );
                }
                let window = &s["commit_window"][cluster.as_str()];
                for c in s["divergent_commits"][cluster.as_str()]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let xid = c["xid"].as_u64().unwrap() as u32;
                    let after: Lsn = c["lsn_after"].as_str().unwrap().parse().unwrap();
                    if let Some(m) = act.missing_wal.filter(|m| after <= m.to) {
                        // Committed in WAL this side no longer holds: the report says so.
                        assert!(m.from == fork.lsn && after > m.from, "{ctx}: {xid} {m:?}");
                        assert!(act.transaction(xid).is_none());
                        continue;
                    }
                    let t = act
                        .transaction(xid)
                        .unwrap_or_else(|| panic!("{ctx}: {cluster}: xid {xid} not listed"));
                    assert_eq!(t.status, TxStatus::Committed, "{ctx}: {cluster}: xid {xid}");
                    let rel = c["relfilenode"].as_u64().unwrap() as u32;
                    let db = c["db_oid"].as_u64().unwrap() as u32;
                    assert!(
                        t.relations
                            .iter()
                            .any(|r| r.relfilenode == rel && r.db == db && r.inserts > 0),
                        "{ctx}: {cluster}: xid {xid} has no insert into {db}/{rel}: {:?}",
                        t.relations
                    );
                    assert!(t.lsn.is_some_and(|l| l >= fork.lsn && l < after));
                    let time = t.time_pg.expect("commit time");
                    let (from, to) = (
                        parse_pg_time(window["from"].as_str().unwrap()),
                        parse_pg_time(window["to"].as_str().unwrap()),
                    );
                    assert!(
                        from <= time && time <= to,
                        "{ctx}: {cluster}: xid {xid} committed at {:?}, outside {window}",
                        t.time
                    );
                    checked_xids += 1;
                }
                // The SQL names every relation of the side's writes, in its database.
                if act.commits > 0 {
                    assert!(sl.relation_names_sql.iter().any(|q| q
                        .sql
                        .contains("pg_filenode_relation(v.spc, v.relfilenode)")
                        && q.relations.iter().any(|f| f.spc == 0)));
                }
            }
            // The other argument order gives the same lists, labelled the other way.
            let t = open(&dir, &p.target, s);
            let so = open(&dir, &p.source, s);
            let rep = compare(
                &so,
                &t,
                &Options {
                    keep: Some(Side::A),
                },
            );
            let rev = forensics::lost(&so, &t, &rep);
            assert_eq!(rev.target, Some(Side::B), "{ctx}: reversed");
            let xids = |sl: &SideLost| -> Vec<(u32, TxStatus)> {
                sl.activity
                    .iter()
                    .flat_map(|a| a.transactions.iter().map(|t| (t.xid, t.status)))
                    .collect()
            };
            assert_eq!(xids(side(&r, Side::A)), xids(side(&rev, Side::B)), "{ctx}");
            assert_eq!(xids(side(&r, Side::B)), xids(side(&rev, Side::A)), "{ctx}");
            assert_eq!(
                r.rewind_cost.map(|c| c.blocks),
                rev.rewind_cost.map(|c| c.blocks)
            );
            checked_scenarios.push(ctx);
        }
    }
    assert!(checked_xids >= 50, "only {checked_xids} xids checked");
    eprintln!(
        "checked {checked_xids} divergent commits in: {}",
        checked_scenarios.join(", ")
    );
}

#[test]
fn no_fork_means_nothing_lost() {
    let mut seen = 0;
    for sc in &scenarios() {
        let s = &sc.json;
        for p in pairs(s) {
            if p.fork.is_some() {
                continue;
            }
            let name = s["name"].as_str().unwrap_or("?");
            let dir = sc.unpacked();
            let r = lost_for(&dir, s, &p);
            assert!(r.fork.is_none(), "{name}");
            assert!(r.sides.is_empty() && r.loss_window.is_none() && r.rewind_cost.is_none());
            assert!(r.note.as_deref().is_some_and(|n| n.starts_with("no fork")));
            seen += 1;
        }
    }
    assert!(
        seen >= 2,
        "expected the unrelated and lagging-standby scenarios"
    );
}

#[test]
fn rewind_block_estimate_agrees_with_pg_rewind() {
    let mut compared = Vec::new();
    for sc in &scenarios() {
        let (src, s) = (&sc.dir, &sc.json);
        let name = s["name"].as_str().unwrap_or("?").to_string();
        for p in pairs(s) {
            if p.pg_rewind["outcome"].as_str() != Some("rewind") {
                continue;
            }
            let Some(file) = p.pg_rewind["output_file"].as_str() else {
                continue;
            };
            let Some(pg) = pg_rewind_blocks(&src.join(file)) else {
                panic!("{name}: cannot read {file}");
            };
            let dir = sc.unpacked();
            let r = lost_for(&dir, s, &p);
            let cost = r
                .rewind_cost
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: no rewind cost"));
            assert_eq!(
                r.last_common_checkpoint.map(|l| l.to_string()).as_deref(),
                p.pg_rewind["last_common_checkpoint"].as_str(),
                "{name}: last common checkpoint"
            );
            assert_eq!(cost.from, r.last_common_checkpoint.unwrap());
            assert_eq!(cost.bytes, cost.blocks * u64::from(cost.block_size));
            assert!(
                within_tolerance(cost.blocks, pg),
                "{name} ({}): estimate {} blocks, pg_rewind lists {pg}",
                p.target,
                cost.blocks
            );
            // The fixtures are stripped: no full size.
            assert_eq!(cost.data_directory_bytes, None);
            assert!(cost.data_directory.starts_with("unknown"));
            compared.push(format!("{name}/{}: {} vs {pg}", p.target, cost.blocks));
        }
    }
    assert!(compared.len() >= 5, "compared only {compared:?}");
    eprintln!("block estimates vs pg_rewind: {}", compared.join("; "));
}

#[test]
fn data_directory_size_sums_a_complete_directory_only() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    fs::create_dir_all(d.join("base/5")).unwrap();
    fs::create_dir_all(d.join("global")).unwrap();
    fs::create_dir_all(d.join("wal-elsewhere")).unwrap();
    fs::write(d.join("base/5/16384"), vec![0u8; 8192 * 3]).unwrap();
    fs::write(d.join("global/pg_filenode.map"), vec![0u8; 512]).unwrap();
    fs::write(
        d.join("wal-elsewhere/000000010000000000000001"),
        vec![0u8; 1000],
    )
    .unwrap();
    // pg_wal as a symlink is followed (a base backup includes the WAL it needs).
    std::os::unix::fs::symlink(d.join("wal-elsewhere"), d.join("pg_wal")).unwrap();
    let (bytes, what) = forensics::data_directory_size(d);
    // wal-elsewhere is counted twice: as itself and through pg_wal.
    assert_eq!(bytes, Some(8192 * 3 + 512 + 2000), "{what}");
    assert_eq!(what, "complete");
    let stripped = fixtures_dir().join("01-split-brain/old-primary");
    let (bytes, what) = forensics::data_directory_size(&stripped);
    assert_eq!(bytes, None);
    assert!(what.starts_with("unknown"), "{what}");
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
}

#[test]
fn lost_and_compare_lost_on_the_classic_split_brain() {
    let d = pgdiverge_fixtures::scenario("01-split-brain").unpacked();
    let s: Value =
        serde_json::from_str(&fs::read_to_string(d.join("scenario.json")).unwrap()).unwrap();
    let (a, b) = (d.join("old-primary"), d.join("new-primary"));
    let out = bin().arg("lost").arg(&a).arg(&b).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    for c in s["divergent_commits"]["old-primary"].as_array().unwrap() {
        assert!(
            text.contains(&format!("xid {} committed at ", c["xid"])),
            "{text}"
        );
    }
    assert!(text.contains("Loss window: a rewind of A throws away 3 committed transactions"));
    assert!(text.contains("pg_filenode_relation(v.spc, v.relfilenode)"));
    assert!(text.contains("Rewind cost (estimate): 2 blocks of 8192 bytes = 16384 bytes"));

    let out = bin()
        .args(["lost", "--format", "json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["fork"]["lsn"], s["expected"]["fork"]["lsn"]);
    assert_eq!(j["target"], "A");
    assert_eq!(j["loss_window"]["commits"], 3);
    assert_eq!(j["rewind_cost"]["blocks"], 2);
    assert_eq!(j["rewind_cost"]["data_directory_bytes"], Value::Null);
    let txs = j["sides"][0]["activity"]["transactions"]
        .as_array()
        .unwrap();
    assert_eq!(txs.len(), 3);
    assert_eq!(txs[0]["status"], "committed");
    assert!(txs[0]["time"].as_str().unwrap().ends_with('Z'));

    // compare --lost: the compare report with a "lost" member, and compare's exit code.
    let out = bin()
        .args(["compare", "--lost", "--format", "json"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(11), "rewind");
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["verdict"], "rewind");
    assert_eq!(j["lost"]["loss_window"]["commits"], 3);
    let out = bin()
        .args(["compare", "--lost"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("REWIND") && text.contains("Lost transactions:"),
        "{text}"
    );
    // Without --lost, no lost report.
    let out = bin().arg("compare").arg(&a).arg(&b).output().unwrap();
    assert!(!String::from_utf8(out.stdout)
        .unwrap()
        .contains("Lost transactions:"));
}

#[test]
fn lost_on_a_directory_that_is_not_a_cluster_cannot_analyse() {
    let tmp = tempfile::tempdir().unwrap();
    let d = fixtures_dir().join("01-split-brain");
    let out = bin()
        .arg("lost")
        .arg(tmp.path())
        .arg(d.join("new-primary"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not analyse"));
}

#[test]
fn time_parser_matches_the_report_format() {
    let t = parse_pg_time("2026-12-06 18:21:38.2345+00");
    assert_eq!(
        pgdiverge::pgtime::timestamptz_rfc3339(t),
        "2026-12-06T18:21:38.234500Z"
    );
    assert_eq!(parse_pg_time("2000-01-01 00:00:00+00"), 0);
}
