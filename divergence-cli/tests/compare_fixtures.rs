//! `compare` on every fixture scenario (`fixtures/*/scenario.json`): verdict, fork LSN and fork
//! timeline equal what the scenario states from PostgreSQL's own output, in both argument
//! orders; where pg_rewind ran, our model of it gives its outcome, divergence point and last
//! common checkpoint, and we disagree with it only where it is blind (same-timeline divergence).

//!
//! The committed scenarios store WAL compressed; each is read from the unpacked copy that
//! `pgdiverge_fixtures::Scenario::unpacked` makes (the committed files are never touched).

use std::path::Path;

use pgdiverge::report::{Side, Verdict};
use pgdiverge::{compare, Cluster, OpenOptions, Options, Report};
use serde_json::Value;

/// Every scenario: its name, its unpacked directory and its scenario.json.
fn scenarios() -> Vec<(String, std::path::PathBuf, Value)> {
    pgdiverge_fixtures::scenarios()
        .into_iter()
        .map(|s| {
            let dir = s.unpacked();
            (s.name, dir, s.json)
        })
        .collect()
}

/// The pair a scenario is about: expected source and target, else its first two clusters.
fn pair(s: &Value) -> (String, String) {
    let e = &s["expected"];
    if let (Some(a), Some(b)) = (e["source"].as_str(), e["target"].as_str()) {
        return (a.to_string(), b.to_string());
    }
    let keys: Vec<String> = s["clusters"]
        .as_object()
        .expect("clusters")
        .keys()
        .cloned()
        .collect();
    (keys[0].clone(), keys[1].clone())
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

fn verdict_str(v: Verdict) -> &'static str {
    v.as_str()
}

fn check_expected(name: &str, order: &str, r: &Report, s: &Value) {
    let e = &s["expected"];
    assert_eq!(
        verdict_str(r.verdict),
        e["verdict"].as_str().unwrap(),
        "{name} ({order}): verdict; reasons {:#?}",
        r.reasons
    );
    match (&r.fork, e["fork"].is_null()) {
        (None, true) => {}
        (Some(f), false) => {
            assert_eq!(
                f.lsn.to_string(),
                e["fork"]["lsn"].as_str().unwrap(),
                "{name} ({order}): fork lsn"
            );
            assert_eq!(
                u64::from(f.timeline),
                e["fork"]["timeline"].as_u64().unwrap(),
                "{name} ({order}): fork timeline"
            );
        }
        (f, _) => panic!("{name} ({order}): fork {f:?}, expected {}", e["fork"]),
    }
}

#[test]
fn compare_matches_every_scenario_in_both_orders() {
    let all = scenarios();
    assert!(!all.is_empty(), "no fixtures/*/scenario.json found");
    let mut checked = Vec::new();
    for (name, dir, s) in &all {
        let name = name.clone();
        let (src, tgt) = pair(s);
        let a = open(dir, &src, s);
        let b = open(dir, &tgt, s);
        let ab = compare(&a, &b, &Options::default());
        let ba = compare(&b, &a, &Options::default());
        check_expected(&name, "source first", &ab, s);
        check_expected(&name, "target first", &ba, s);
        assert_eq!(ab.verdict, ba.verdict, "{name}: argument order");
        assert_eq!(ab.fork, ba.fork, "{name}: argument order");
        // When the clusters tell the direction, it is the scenario's.
        if !ab.direction_chosen {
            let e = &s["expected"];
            if let Some(t) = e["target"].as_str() {
                if ab.verdict != Verdict::InSync {
                    assert_eq!(
                        ab.target_side,
                        Some(Side::B),
                        "{name}: target should be {t}"
                    );
                    assert_eq!(
                        ba.target_side,
                        Some(Side::A),
                        "{name}: target should be {t}"
                    );
                }
            }
        }
        checked.push(name);
    }
    eprintln!("checked {} scenarios: {checked:?}", checked.len());
}

/// Parses `--target-pgdata=X` / `--source-pgdata=Y` from the scenario's pg_rewind command.
fn rewind_pair(cmd: &str) -> Option<(String, String)> {
    let arg = |flag: &str| {
        cmd.split_whitespace()
            .find_map(|w| w.strip_prefix(flag))
            .map(|v| v.trim_matches('\'').trim_end_matches('/').to_string())
    };
    Some((arg("--source-pgdata=")?, arg("--target-pgdata=")?))
}

#[test]
fn pg_rewind_model_agrees_with_pg_rewind() {
    let mut checked = Vec::new();
    let mut blind = Vec::new();
    for (name, dir, s) in scenarios() {
        let pr = &s["pg_rewind"];
        if pr["ran"].as_bool() != Some(true) {
            continue;
        }
        let Some((src, tgt)) = pr["command"].as_str().and_then(rewind_pair) else {
            continue;
        };
        let a = open(&dir, &src, &s);
        let b = open(&dir, &tgt, &s);
        // Keep the side pg_rewind used as its source.
        let r = compare(
            &a,
            &b,
            &Options {
                keep: Some(Side::A),
            },
        );
        assert_eq!(r.source_side, Side::A, "{name}: direction");
        let p = r.pg_rewind.as_ref().expect("a prediction");
        assert_eq!(
            p.outcome,
            pr["outcome"].as_str().unwrap(),
            "{name}: pg_rewind outcome; we predicted {p:#?}"
        );
        if let Some(l) = pr["diverged_lsn"].as_str() {
            let d = p.diverged.as_ref().expect("pg_rewind printed a divergence");
            assert_eq!(d.lsn.to_string(), l, "{name}: diverged lsn");
            assert_eq!(
                u64::from(d.timeline),
                pr["diverged_timeline"].as_u64().unwrap(),
                "{name}: diverged timeline"
            );
        } else {
            assert!(
                p.diverged.is_none(),
                "{name}: pg_rewind printed no divergence"
            );
        }
        match pr["last_common_checkpoint"].as_str() {
            Some(l) => assert_eq!(
                p.last_common_checkpoint.as_ref().map(|c| c.lsn.to_string()),
                Some(l.to_string()),
                "{name}: last common checkpoint"
            ),
            None => assert!(p.last_common_checkpoint.is_none(), "{name}"),
        }
        // Our verdict against pg_rewind's: same answer, or we name why pg_rewind is wrong.
        if p.agrees {
            let ok = match p.outcome {
                "rewind" => r.verdict == Verdict::Rewind,
                "no-rewind-required" => {
                    matches!(r.verdict, Verdict::Follow | Verdict::InSync)
                        || r.has_reason("follow-wal-removed")
                }
                // A dry run refuses a crashed target or source that a real run handles
                // (crash recovery, or --source-server against the running source).
                "refused" => {
                    r.verdict == Verdict::Rebuild
                        || r.has_reason("target-not-shut-down-cleanly")
                        || p.message.as_deref()
                            == Some("source data directory must be shut down cleanly")
                }
                _ => r.verdict == Verdict::Rebuild,
            };
            assert!(
                ok,
                "{name}: verdict {:?} vs pg_rewind {}",
                r.verdict, p.outcome
            );
        } else {
            assert_eq!(p.outcome, "no-rewind-required", "{name}");
            assert!(
                matches!(p.disagreement, Some("same-timeline-divergence")),
                "{name}: {p:?}"
            );
            assert!(
                r.fork.is_some(),
                "{name}: we must name the fork pg_rewind misses"
            );
            blind.push(name.clone());
        }
        checked.push(name);
    }
    eprintln!("pg_rewind agreement checked on {checked:?}; pg_rewind wrong (same-timeline divergence) on {blind:?}");
}

#[test]
fn keep_chooses_the_direction_only_when_the_clusters_cannot() {
    let all = scenarios();
    if let Some((_, dir, s)) = all.iter().find(|x| x.0 == "06-same-timeline") {
        let (x, y) = pair(s);
        let a = open(dir, &x, s);
        let b = open(dir, &y, s);
        let mut seen = Vec::new();
        for keep in [Side::A, Side::B] {
            let r = compare(&a, &b, &Options { keep: Some(keep) });
            assert!(r.direction_chosen);
            assert_eq!(r.source_side, keep);
            assert_eq!(r.target_side, Some(keep.other()));
            assert_eq!(r.directions.len(), 2, "both directions are shown");
            seen.push((r.verdict, r.fork.clone()));
        }
        assert_eq!(
            seen[0], seen[1],
            "--keep changes the direction, not the verdict or fork"
        );
    }
    if let Some((_, dir, s)) = all.iter().find(|x| x.0 == "01-split-brain") {
        let a = open(dir, "new-primary", s);
        let b = open(dir, "old-primary", s);
        let r = compare(
            &a,
            &b,
            &Options {
                keep: Some(Side::B),
            },
        );
        assert!(!r.direction_chosen);
        assert_eq!(
            r.source_side,
            Side::A,
            "the promoted side is kept whatever --keep says"
        );
        assert!(r.has_finding("keep-ignored"));
        assert!(r.directions.is_empty());
    }
}
