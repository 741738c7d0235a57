//! `pgdiverge waldump` against PostgreSQL 15's own pg_waldump, run live on every PostgreSQL 15
//! fixture (each data directory, each timeline it holds) with the flags we support, and against
//! the pg_waldump of 13, 14, 16, 17 and 18 on their fixtures when `PGDIVERGE_PG_BINARIES` holds them;
//! plus golden text and JSON outputs, filters, and errors.
//!
//! Every line is compared byte for byte, descriptions (`rm_desc`) included. `compare_listings`
//! can tolerate a line whose description pgdiverge leaves at the record type's name (record
//! types `waldump_desc.rs` does not describe), but the fixtures hold none: the test requires
//! every line identical.

mod cli_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cli_common::*;
use serde_json::Value;

const PG_WALDUMP: &str = "/usr/lib/postgresql/15/bin/pg_waldump";

/// A directory with the cluster's segments as pg_waldump can open them: `.partial` files under
/// their plain name when no complete file exists (pg_waldump ignores `.partial`), as the fixture
/// generator did for its listings.
fn plain_wal_dir(cluster: &Path, dest: &Path) -> Vec<(u32, String)> {
    std::fs::create_dir_all(dest).unwrap();
    let mut firsts: std::collections::BTreeMap<u32, String> = Default::default();
    // Sorted: the first name of each timeline is its lowest.
    for name in pgdiverge_fixtures::waldump_links(&[&cluster.join("pg_wal")], dest) {
        let tli = u32::from_str_radix(&name[..8], 16).unwrap();
        firsts.entry(tli).or_insert(name);
    }
    firsts.into_iter().collect()
}

/// The LSN where segment file `name` starts (1 MB or 16 MB segments, from its size).
fn segment_start(dir: &Path, name: &str) -> String {
    let size = std::fs::metadata(dir.join(name)).unwrap().len();
    let log = u64::from_str_radix(&name[8..16], 16).unwrap();
    let seg = u64::from_str_radix(&name[16..24], 16).unwrap();
    let lsn = (log << 32) + seg * size;
    format!("{:X}/{:X}", lsn >> 32, lsn as u32)
}

/// The line without the program prefix of error lines (14 says "fatal", 15+ "error").
fn strip_prefix(l: &str) -> &str {
    l.strip_prefix("pg_waldump: error: ")
        .or_else(|| l.strip_prefix("pg_waldump: fatal: "))
        .or_else(|| l.strip_prefix("pgdiverge: "))
        .unwrap_or(l)
}

/// `(before "desc: ", type name, details, ", blkref ..." tail)` of a record line.
fn split_desc(l: &str) -> Option<(&str, &str, &str, &str)> {
    let i = l.find("desc: ")?;
    let rest = &l[i + 6..];
    let name_end = if rest.starts_with("UNKNOWN (") {
        rest.find(')').map_or(rest.len(), |j| j + 1)
    } else {
        rest.find(' ').unwrap_or(rest.len())
    };
    let tail_at = rest.find(", blkref #").unwrap_or(rest.len());
    let details = rest
        .get(name_end..tail_at)
        .unwrap_or("")
        .trim_start_matches(' ');
    Some((&l[..i], &rest[..name_end], details, &rest[tail_at..]))
}

/// Compares two listings line by line: equal, except that where pgdiverge prints no details
/// after the record type (types `waldump_desc.rs` does not describe), pg_waldump's details are
/// not compared. Returns the lines compared exactly and the ones compared without details.
fn compare_listings(ours: &str, theirs: &str, what: &str) -> (usize, usize) {
    let (o, t): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    assert_eq!(
        o.len(),
        t.len(),
        "{what}: line counts differ\nours:\n{ours}\ntheirs:\n{theirs}"
    );
    let (mut exact, mut loose) = (0, 0);
    for (a, b) in o.iter().zip(&t) {
        let (a, b) = (strip_prefix(a), strip_prefix(b));
        if a == b {
            exact += 1;
            continue;
        }
        match (split_desc(a), split_desc(b)) {
            (Some((ah, an, "", at)), Some((bh, bn, _, bt))) if (ah, an, at) == (bh, bn, bt) => {
                loose += 1
            }
            _ => panic!("{what}:\n  ours: {a}\ntheirs: {b}"),
        }
    }
    (exact, loose)
}

fn output_text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn run_both(dir: &Path, args: &[&str]) -> (String, String) {
    run_both_with(PG_WALDUMP, dir, args)
}

fn run_both_with(pg_waldump: &str, dir: &Path, args: &[&str]) -> (String, String) {
    let ours = Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .arg("waldump")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(
        ours.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    // Times in descriptions are UTC on our side.
    let theirs = Command::new(pg_waldump)
        .args(args)
        .current_dir(dir)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    (output_text(&ours), output_text(&theirs))
}

#[test]
fn waldump_matches_pg_waldump_15_on_every_pg15_fixture() {
    if !Path::new(PG_WALDUMP).exists() {
        eprintln!("skipped: {PG_WALDUMP} is not installed (apt-get install postgresql-15)");
        return;
    }
    let (compared, exact, loose) = compare_on_fixtures(PG_WALDUMP, 15);
    assert!(compared >= 100, "only {compared} comparisons");
    // Every line matches byte for byte, descriptions included.
    eprintln!("{compared} runs: {exact} lines identical, {loose} equal but for rm_desc details");
    assert_eq!(
        loose, 0,
        "{exact} identical, {loose} without rm_desc details: describe those record types in waldump_desc.rs"
    );
}

/// The same on the fixtures of 13, 14, 16, 17 and 18, with each major's own pg_waldump.
#[test]
fn waldump_matches_the_pg_waldump_of_each_major_on_its_fixtures() {
    let majors = pgdiverge_fixtures::other_pg_binaries();
    if majors.is_empty() {
        eprintln!("skipped: PGDIVERGE_PG_BINARIES is not set (fixtures/pg-binaries.sh)");
        return;
    }
    for (major, bin) in majors {
        let pg_waldump = bin.join("pg_waldump");
        let (compared, exact, loose) =
            compare_on_fixtures(&pg_waldump.to_string_lossy(), major.into());
        eprintln!("PostgreSQL {major}: {compared} runs, {exact} lines identical");
        assert!(
            compared >= 20,
            "PostgreSQL {major}: only {compared} comparisons"
        );
        assert_eq!(
            loose, 0,
            "PostgreSQL {major}: {loose} lines without rm_desc details"
        );
    }
}

/// Runs `pg_waldump` and `pgdiverge waldump` with the same flags on every timeline of every
/// data directory of every fixture of `major` and compares their listings; returns the runs,
/// the lines identical and the lines equal but for the description.
fn compare_on_fixtures(pg_waldump: &str, major: u64) -> (usize, usize, usize) {
    let tmp = tempfile::tempdir().unwrap();
    let (mut compared, mut exact, mut loose) = (0, 0, 0);
    for s in scenarios().iter().filter(|s| s.pg_version() == major) {
        for c in s.clusters() {
            let dest: PathBuf = tmp.path().join(&s.name).join(&c);
            for (tli, first) in plain_wal_dir(&s.dir.join(&c), &dest) {
                let start = segment_start(&dest, &first);
                let t = tli.to_string();
                let base = ["-p", ".", "-t", t.as_str(), "-s", start.as_str()];
                // A record LSN and an xid from the listing, for -e / -x.
                let (listing, _) = run_both_with(pg_waldump, &dest, &base);
                let lsns: Vec<&str> = listing
                    .lines()
                    .filter_map(|l| l.split("lsn: ").nth(1)?.split(',').next())
                    .collect();
                let xid = listing
                    .lines()
                    .filter_map(|l| l.split("tx: ").nth(1)?.split(',').next())
                    .map(str::trim)
                    .find(|x| *x != "0")
                    .unwrap_or("1")
                    .to_string();
                // A record past the first (pg_waldump fails earlier when -e cuts the first one)
                // and not the first on its page (there pg_waldump still checks the header of the
                // record at -e, a corner this test leaves out).
                let mid = lsns
                    .iter()
                    .skip(1.max(lsns.len() / 2))
                    .find(|l| {
                        let lo = u64::from_str_radix(l.split('/').nth(1).unwrap(), 16).unwrap();
                        lo % 8192 > 40
                    })
                    .copied()
                    .unwrap_or("FFFFFFFF/0")
                    .to_string();
                let variants: Vec<Vec<&str>> = vec![
                    vec![],
                    vec!["-b"],
                    vec!["--stats"],
                    vec!["--stats=record"],
                    vec!["-r", "Heap"],
                    vec!["-r", "Transaction", "-b"],
                    vec!["-x", xid.as_str()],
                    vec!["-n", "7"],
                    vec!["-e", mid.as_str()],
                    vec!["-q"],
                ];
                for v in variants {
                    let mut args = base.to_vec();
                    args.extend(v.iter().copied());
                    let (ours, theirs) = run_both_with(pg_waldump, &dest, &args);
                    let what = format!("{} {c} {pg_waldump} {}", s.name, args.join(" "));
                    let (e, l) = compare_listings(&ours, &theirs, &what);
                    exact += e;
                    loose += l;
                    compared += 1;
                }
            }
        }
    }
    (compared, exact, loose)
}

#[test]
fn waldump_stops_where_pg_waldump_does_with_startseg() {
    if !Path::new(PG_WALDUMP).exists() {
        eprintln!("skipped: {PG_WALDUMP} is not installed");
        return;
    }
    let s = scenario("01-split-brain");
    let wal = s.dir.join("old-primary/pg_wal");
    let mut segs: Vec<String> = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 24)
        .collect();
    segs.sort();
    let first = segs[0].clone();
    // STARTSEG alone reads that one segment; mid-record -s skips to the next record.
    for args in [
        vec![first.as_str()],
        vec!["-s", "0/1000030", first.as_str()],
    ] {
        let (ours, theirs) = run_both(&wal, &args);
        compare_listings(&ours, &theirs, &format!("{args:?}"));
    }
}

#[test]
fn waldump_golden_text_and_json() {
    let s = scenario("01-split-brain");
    let dir = s.dir.join("new-primary");
    for (name, args) in [
        (
            "01-new-primary-tl2.txt",
            vec!["waldump", "-p", ".", "-t", "2", "-s", "0/1001B60"],
        ),
        (
            "01-new-primary-tl2-b.txt",
            vec!["waldump", "-p", ".", "-t", "2", "-s", "0/1001B60", "-b"],
        ),
        (
            "01-new-primary-tl2-stats.txt",
            vec!["waldump", "-p", ".", "-t", "2", "--stats=record"],
        ),
        (
            "01-new-primary-tl2.jsonl",
            vec![
                "waldump",
                "-p",
                ".",
                "-t",
                "2",
                "-s",
                "0/1001B60",
                "--format",
                "json",
            ],
        ),
        (
            "01-new-primary-tl2-stats.json",
            vec![
                "waldump", "-p", ".", "-t", "2", "--stats", "--format", "json",
            ],
        ),
    ] {
        let out = pgdiverge_in(&dir, &args);
        assert_eq!(out.status.code(), Some(0));
        let mut text = String::from_utf8(out.stdout).unwrap();
        text.push_str(&String::from_utf8(out.stderr).unwrap());
        golden(&format!("waldump/{name}"), &text);
    }
}

#[test]
fn waldump_json_is_one_object_per_record_matching_the_text() {
    let s = scenario("09-three-timelines");
    let dir = s.dir.join("node-c");
    let text = ok(&dir, &["waldump", "-p", ".", "-t", "3"], 0);
    let json = ok(
        &dir,
        &["waldump", "-p", ".", "-t", "3", "--format", "json"],
        0,
    );
    let text_lsns: Vec<String> = text
        .lines()
        .filter_map(|l| l.split("lsn: ").nth(1)?.split(',').next())
        .map(|l| {
            // pg_waldump pads the low half to 8 digits; JSON uses PostgreSQL's %X/%X.
            let (hi, lo) = l.split_once('/').unwrap();
            format!("{hi}/{:X}", u32::from_str_radix(lo, 16).unwrap())
        })
        .collect();
    let objs: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert!(!objs.is_empty());
    assert_eq!(
        objs.iter()
            .map(|o| o["lsn"].as_str().unwrap().to_string())
            .collect::<Vec<_>>(),
        text_lsns
    );
    for o in &objs {
        assert_eq!(
            o["tot_len"].as_u64().unwrap(),
            o["rec_len"].as_u64().unwrap() + o["fpi_len"].as_u64().unwrap()
        );
    }
    assert!(objs.iter().any(|o| o["type"] == "END_OF_RECOVERY"));
}

#[test]
fn waldump_rmgr_list_and_errors() {
    let s = scenario("01-split-brain");
    let list = ok(&s.dir, &["waldump", "-r", "list"], 0);
    assert_eq!(list.lines().next(), Some("XLOG"));
    assert_eq!(list.lines().count(), 22);
    if Path::new(PG_WALDUMP).exists() {
        let theirs = Command::new(PG_WALDUMP)
            .args(["-r", "list"])
            .output()
            .unwrap();
        assert_eq!(list, String::from_utf8(theirs.stdout).unwrap());
    }
    for (args, needle) in [
        (
            vec!["waldump", "-p", "old-primary", "-r", "Bogus"],
            "resource manager \"Bogus\" does not exist",
        ),
        (vec!["waldump", "-p", "nowhere"], "nowhere"),
        (
            vec!["waldump", "-p", "old-primary", "-t", "7"],
            "no WAL segment file",
        ),
    ] {
        let out = pgdiverge_in(&s.dir, &args);
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(needle) && err.contains("; hint: "),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn waldump_reads_every_timeline_of_every_fixture_13_to_18() {
    // Without the other majors' pg_waldump (see the test above), check that each timeline's
    // files decode to records whose LSNs increase and whose prev-links chain, and that the JSON
    // agrees.
    let mut versions = std::collections::BTreeSet::new();
    for s in scenarios() {
        for c in s.clusters() {
            let wal = s.dir.join(&c).join("pg_wal");
            let mut tlis: Vec<String> = std::fs::read_dir(&wal)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.len() == 24 || n.ends_with(".partial"))
                .map(|n| u32::from_str_radix(&n[..8], 16).unwrap().to_string())
                .collect();
            tlis.sort();
            tlis.dedup();
            for t in &tlis {
                let args = ["waldump", "-p", ".", "-t", t.as_str(), "--format", "json"];
                let out = pgdiverge_in(&wal, &args);
                assert_eq!(out.status.code(), Some(0), "{} {c} tl{t}", s.name);
                let recs: Vec<Value> = String::from_utf8(out.stdout)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str(l).unwrap())
                    .collect();
                assert!(!recs.is_empty(), "{} {c} tl{t}: no record", s.name);
                for w in recs.windows(2) {
                    assert_eq!(w[1]["prev"], w[0]["lsn"], "{} {c} tl{t}", s.name);
                }
                versions.insert(s.pg_version());
            }
        }
    }
    assert!(
        versions.len() >= 6,
        "versions covered: {versions:?} (expected 13 to 18)"
    );
}
