//! `pgdiverge inspect` on every data directory of every fixture scenario: golden text and JSON,
//! and the facts checked against the scenario's records and PostgreSQL's own tools' outputs
//! (pg_controldata and pg_waldump 15 listings taken when the fixtures were made).

mod cli_common;

use cli_common::*;
use serde_json::Value;

/// `Latest checkpoint location:` etc. from a stored pg_controldata output.
fn controldata_field(text: &str, key: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with(key))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

#[test]
fn inspect_every_fixture_text_and_json() {
    let mut checked = 0;
    for s in scenarios() {
        let archives = s.archives();
        for c in s.clusters() {
            let mut args = vec!["inspect", c.as_str()];
            for a in &archives {
                args.push("--archive");
                args.push(a.as_str());
            }
            let text = ok(&s.dir, &args, 0);
            golden(&format!("inspect/{}__{c}.txt", s.name), &normalize(&text));
            args.extend(["--format", "json"]);
            let json = ok(&s.dir, &args, 0);
            golden(&format!("inspect/{}__{c}.json", s.name), &normalize(&json));
            let v: Value = serde_json::from_str(&json).unwrap();

            // The timeline the generator recorded for this cluster.
            let want_tli = &s.json["clusters"][&c]["timeline"];
            if want_tli.is_u64() {
                assert_eq!(&v["timeline"], want_tli, "{} {c}", s.name);
            }
            // pg_controldata's identity and checkpoint (where PostgreSQL 15's tool could read it).
            let cd = cli_common::fixtures_dir()
                .join(&s.name)
                .join(format!("{c}.pg_controldata.txt"));
            if let Ok(cd) = std::fs::read_to_string(&cd) {
                assert_eq!(
                    controldata_field(&cd, "Database system identifier").as_deref(),
                    v["system_identifier"].as_str(),
                    "{} {c}",
                    s.name
                );
                assert_eq!(
                    controldata_field(&cd, "Latest checkpoint location").as_deref(),
                    v["checkpoint"].as_str(),
                    "{} {c}",
                    s.name
                );
                assert_eq!(
                    controldata_field(&cd, "Latest checkpoint's REDO location").as_deref(),
                    v["redo"].as_str(),
                    "{} {c}",
                    s.name
                );
            }
            // pg_waldump's listing of the cluster's own timeline ends where our end of WAL is:
            // its last line is "... invalid record length at <end>: wanted 24, got 0".
            let tli = v["timeline"].as_u64().unwrap() as u32;
            if let (Some(listing), Some(end)) =
                (stored_listing(s, &c, tli), v["wal"]["end"].as_str())
            {
                let last = listing.lines().last().unwrap_or("");
                if let Some(at) = last
                    .split("invalid record length at ")
                    .nth(1)
                    .and_then(|r| r.split(':').next())
                {
                    assert_eq!(at, end, "{} {c}: pg_waldump: {last}", s.name);
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} data directories inspected");
}

#[test]
fn inspect_shows_partial_files_symlinks_and_archive_status() {
    let s = scenario("05-wal-archived");
    let v: Value = serde_json::from_str(&ok(
        &s.dir,
        &[
            "inspect",
            "new-primary",
            "--archive",
            "archive",
            "--format",
            "json",
        ],
        0,
    ))
    .unwrap();
    let partial = v["wal"]["partial"].as_array().unwrap();
    assert!(
        partial
            .iter()
            .any(|p| p.as_str().unwrap().ends_with(".partial")),
        "{v}"
    );
    assert!(v["wal"]["archive_files"][0].as_u64().unwrap() > 0);
    assert!(
        v["wal"]["archive_done"].as_u64().unwrap() > 0,
        "05 archives: .done files"
    );

    let s = scenario("12a-pgwal-symlink");
    let v: Value = serde_json::from_str(&ok(
        &s.dir,
        &["inspect", "old-primary", "--format", "json"],
        0,
    ))
    .unwrap();
    assert_eq!(v["wal"]["symlink"], true);

    let s = scenario("03-no-checksums");
    let text = ok(&s.dir, &["inspect", "old-primary"], 0);
    assert!(
        text.contains("cannot be rewound (needs data checksums or wal_log_hints)"),
        "{text}"
    );
    let s = scenario("10-crashed-old-primary");
    let v: Value = serde_json::from_str(&ok(
        &s.dir,
        &["inspect", "old-primary", "--format", "json"],
        0,
    ))
    .unwrap();
    assert_eq!(v["clean_shutdown"], false);
    assert_eq!(v["rewind"]["can_be_target"], false);
}

#[test]
fn inspect_finds_a_gap_between_segments() {
    // A copy of a cluster whose last segment is moved two segments further: the two segment
    // names in between are a gap (and reading stops at the first).
    let tmp = tempfile::tempdir().unwrap();
    let s = scenario("01-split-brain");
    let copy = tmp.path().join("d");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(s.dir.join("old-primary"))
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    let wal = copy.join("pg_wal");
    let mut segs: Vec<String> = std::fs::read_dir(&wal)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 24 && n.starts_with("00000001"))
        .collect();
    segs.sort();
    assert!(segs.len() >= 2, "{segs:?}");
    let last = segs.last().unwrap().clone();
    let seg = u32::from_str_radix(&last[16..], 16).unwrap();
    let name = |n: u32| format!("{}{:08X}", &last[..16], n);
    std::fs::rename(wal.join(&last), wal.join(name(seg + 2))).unwrap();
    let v: Value =
        serde_json::from_str(&ok(tmp.path(), &["inspect", "d", "--format", "json"], 0)).unwrap();
    let gaps = v["wal"]["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{v}");
    assert_eq!(gaps[0]["first_missing"], name(seg).as_str());
    assert_eq!(gaps[0]["last_missing"], name(seg + 1).as_str());
    assert_eq!(gaps[0]["segments"], 2);
    let text = ok(tmp.path(), &["inspect", "d"], 0);
    assert!(
        text.contains(&format!(
            "{} .. {} missing (2 segments)",
            name(seg),
            name(seg + 1)
        )),
        "{text}"
    );
}

#[test]
fn inspect_errors_are_one_line_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    for (arg, what) in [
        ("missing", "not a directory"),
        ("empty", "not a PostgreSQL data directory"),
    ] {
        let out = pgdiverge_in(tmp.path(), &["inspect", arg]);
        assert_eq!(out.status.code(), Some(3));
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("pgdiverge: "), "{err}");
        assert!(err.contains(what) && err.contains(arg), "{err}");
        assert!(err.contains("; hint: "), "{err}");
    }
}
