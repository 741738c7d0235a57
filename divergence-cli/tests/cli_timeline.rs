//! `pgdiverge timeline` on every fixture scenario: golden text (Unicode and ASCII), Mermaid, dot
//! and JSON; the tree checked against what the generator recorded (each cluster's timeline, the
//! fork LSN); the dot output rendered by Graphviz when `dot` is installed.

mod cli_common;

use cli_common::*;
use serde_json::Value;

/// All systems' `key` arrays, concatenated.
fn all(v: &Value, key: &str) -> Vec<Value> {
    v["systems"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t[key].as_array().unwrap().clone())
        .collect()
}

fn args_for<'a>(s: &'a Scenario, clusters: &'a [String], extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["timeline"];
    args.extend(clusters.iter().map(String::as_str));
    for a in s.json["archives"].as_array().into_iter().flatten() {
        args.push("--archive");
        args.push(a.as_str().unwrap());
    }
    args.extend_from_slice(extra);
    args
}

#[test]
fn timeline_every_fixture_all_formats() {
    for s in scenarios() {
        let clusters = s.clusters();
        for (fmt, ext) in [
            (&["--format", "text"][..], "txt"),
            (&["--format", "text", "--ascii"][..], "ascii.txt"),
            (&["--format", "mermaid"][..], "mmd"),
            (&["--format", "dot"][..], "dot"),
            (&["--format", "json"][..], "json"),
        ] {
            let out = ok(&s.dir, &args_for(s, &clusters, fmt), 0);
            golden(&format!("timeline/{}.{ext}", s.name), &normalize(&out));
            if ext == "ascii.txt" {
                assert!(out.is_ascii(), "{}: {out}", s.name);
            }
        }
        let v: Value = serde_json::from_str(&ok(
            &s.dir,
            &args_for(s, &clusters, &["--format", "json"]),
            0,
        ))
        .unwrap();
        let (v_clusters, v_timelines) = (all(&v, "clusters"), all(&v, "timelines"));
        // Clusters of different systems are drawn apart.
        let ids: std::collections::BTreeSet<String> = clusters
            .iter()
            .map(|c| {
                let j: Value =
                    serde_json::from_str(&ok(&s.dir, &["inspect", c, "--format", "json"], 0))
                        .unwrap();
                j["system_identifier"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(
            v["systems"].as_array().unwrap().len(),
            ids.len(),
            "{}",
            s.name
        );
        // Every cluster sits on the timeline the generator recorded, in argument order.
        for (i, c) in clusters.iter().enumerate() {
            let want = &s.json["clusters"][c]["timeline"];
            if want.is_u64() {
                assert_eq!(&v_clusters[i]["timeline"], want, "{} {c}", s.name);
            }
            assert_eq!(v_clusters[i]["name"], c.as_str());
        }
        // When the sides are on different timelines, the recorded fork is where one begins.
        let tlis: std::collections::BTreeSet<u64> = v_clusters
            .iter()
            .map(|c| c["timeline"].as_u64().unwrap())
            .collect();
        if let Some(fork) = s.json["expected"]["fork"]["lsn"].as_str() {
            if tlis.len() > 1 {
                assert!(
                    v_timelines.iter().any(|t| t["begin"] == fork),
                    "{}: no timeline begins at the fork {fork}: {v}",
                    s.name
                );
            }
        }
    }
}

#[test]
fn timeline_marks_writes_past_the_fork() {
    let s = scenario("01-split-brain");
    let text = ok(&s.dir, &["timeline", "old-primary", "new-primary"], 0);
    let fork = s.json["expected"]["fork"]["lsn"].as_str().unwrap();
    // The old primary kept writing on timeline 1 after timeline 2 forked off it.
    let line = text.lines().find(|l| l.contains("old-primary")).unwrap();
    assert!(
        line.contains(&format!("past the fork to timeline 2 at {fork}")),
        "{text}"
    );
    assert!(text.contains(&format!("{fork} ──▶ timeline 2")), "{text}");
    let ascii = ok(
        &s.dir,
        &["timeline", "--ascii", "old-primary", "new-primary"],
        0,
    );
    assert!(ascii.contains(&format!("{fork} --> timeline 2")), "{ascii}");
    // A non-UTF-8 locale selects ASCII by itself.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .args(["timeline", "old-primary", "new-primary"])
        .current_dir(&s.dir)
        .env("LC_ALL", "C")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), ascii);
}

#[test]
fn timeline_keeps_independent_promotions_apart() {
    let s = scenario("12e-double-promotion");
    let v: Value = serde_json::from_str(&ok(
        &s.dir,
        &["timeline", "standby-b", "standby-c", "--format", "json"],
        0,
    ))
    .unwrap();
    let v = &v["systems"][0];
    let twos: Vec<&Value> = v["timelines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["tli"] == 2)
        .collect();
    assert_eq!(twos.len(), 2, "{v}");
    assert_ne!(
        v["clusters"][0]["timeline_begin"],
        v["clusters"][1]["timeline_begin"]
    );
    assert!(
        v["findings"][0]
            .as_str()
            .unwrap()
            .contains("independent promotions"),
        "{v}"
    );
}

#[test]
fn timeline_dot_renders_with_graphviz() {
    if !have("dot") {
        eprintln!("skipped: Graphviz `dot` is not installed (apt-get install graphviz)");
        return;
    }
    for s in scenarios() {
        let dot = ok(&s.dir, &args_for(s, &s.clusters(), &["--format", "dot"]), 0);
        let mut child = std::process::Command::new("dot")
            .arg("-Tsvg")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(dot.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.is_empty(),
            "{}: dot: {err}\n{dot}",
            s.name
        );
        // Graphviz writes '-' in text as "&#45;".
        let svg = String::from_utf8(out.stdout).unwrap().replace("&#45;", "-");
        assert!(
            svg.contains("<svg") && svg.contains("timeline 1"),
            "{}",
            s.name
        );
        for c in s.clusters() {
            assert!(svg.contains(&c), "{}: {c} not drawn", s.name);
        }
    }
}

#[test]
fn unrelated_clusters_are_separate_trees() {
    let s = scenario("07-unrelated");
    let text = ok(&s.dir, &["timeline", "cluster-a", "cluster-b"], 0);
    assert_eq!(text.matches("system identifier ").count(), 2, "{text}");
    assert!(text.contains("they never were one cluster"), "{text}");
    let dot = ok(
        &s.dir,
        &["timeline", "cluster-a", "cluster-b", "--format", "dot"],
        0,
    );
    assert_eq!(dot.matches("subgraph cluster_s").count(), 2, "{dot}");
}

#[test]
fn mermaid_is_a_flowchart_with_every_cluster() {
    let s = scenario("09-three-timelines");
    let m = ok(
        &s.dir,
        &[
            "timeline", "node-a", "node-b", "node-c", "--format", "mermaid",
        ],
        0,
    );
    assert!(m.starts_with("flowchart LR\n"));
    for c in ["node-a", "node-b", "node-c"] {
        assert!(m.contains(&format!("([\"{c}<br/>")), "{m}");
    }
    assert_eq!(m.matches(" -->|\"fork at ").count(), 2, "{m}");
}
