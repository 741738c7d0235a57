//! Timeline history files: the real files of the shared samples and the fixtures, PostgreSQL's
//! parsing rules and errors, and the timeline graph's findings.

use std::path::Path;

use pgdiverge_fixtures::{history_files, samples_dir};
use walparse::timeline::HistorySource;
use walparse::{
    common_ancestor, tli_of_point, ControlFile, GraphError, GraphFinding, HistoryError, Lsn,
    TimeLineId, TimelineGraph, TimelineHistory, TimelineKey, TliSpan,
};

fn lsn(s: &str) -> Lsn {
    s.parse().unwrap()
}

fn span(tli: TimeLineId, begin: &str, end: Option<&str>) -> TliSpan {
    TliSpan {
        tli,
        begin: lsn(begin),
        end: end.map(lsn),
    }
}

fn key(tli: TimeLineId, begin: &str) -> TimelineKey {
    TimelineKey {
        tli,
        begin: lsn(begin),
    }
}

/// The switchpoints the samples README lists (END_OF_RECOVERY at each), per version.
const SWITCHPOINTS: [(u32, &[&str]); 8] = [
    (11, &["0/D00098"]),
    (12, &["0/F000A0"]),
    (13, &["0/C000A0"]),
    (14, &["0/D000A0"]),
    (15, &["0/E000A0", "0/F000A0"]),
    (16, &["0/B000A0"]),
    (17, &["0/D000A0"]),
    (18, &["0/E000A0"]),
];

#[test]
fn sample_histories_give_the_readme_switchpoints() {
    for (ver, points) in SWITCHPOINTS {
        let dir = samples_dir().join(format!("wal/v{ver}/main"));
        for (i, _) in points.iter().enumerate() {
            let tli = i as TimeLineId + 2;
            let path = dir.join(format!("{tli:08X}.history"));
            let h = TimelineHistory::read(&path, tli).unwrap_or_else(|e| panic!("{e}"));
            let expected: Vec<TliSpan> = (0..=i + 1)
                .map(|j| TliSpan {
                    tli: j as TimeLineId + 1,
                    begin: if j == 0 {
                        Lsn::INVALID
                    } else {
                        lsn(points[j - 1])
                    },
                    end: points.get(j).filter(|_| j <= i).map(|p| lsn(p)),
                })
                .collect();
            assert_eq!(h.spans(), expected, "v{ver} {}", path.display());
            for e in &h.entries {
                assert_eq!(e.reason, "no recovery target specified");
            }
            // Written back as PostgreSQL writes it: byte-identical, blank line included.
            assert_eq!(
                h.to_text().as_bytes(),
                std::fs::read(&path).unwrap(),
                "v{ver}"
            );
        }
    }
}

#[test]
fn v15_timeline_3_history_has_a_blank_line_and_line_numbers() {
    let path = samples_dir().join("wal/v15/main/00000003.history");
    let text = std::fs::read(&path).unwrap();
    assert_eq!(text.len(), 81);
    let h = TimelineHistory::parse(3, &text).unwrap();
    assert_eq!(h.entries.len(), 2);
    assert_eq!((h.entries[0].line, h.entries[1].line), (1, 3));
    assert_eq!(
        h.spans(),
        vec![
            span(1, "0/0", Some("0/E000A0")),
            span(2, "0/E000A0", Some("0/F000A0")),
            span(3, "0/F000A0", None),
        ]
    );
    assert_eq!(h.begin(), lsn("0/F000A0"));
    assert_eq!(h.tli_of_point(lsn("0/E0009F")), Some(1));
    assert_eq!(h.tli_of_point(lsn("0/E000A0")), Some(2));
    assert_eq!(h.tli_of_point(lsn("0/F000A0")), Some(3));
}

/// pg_control and the history files of each version agree: the checkpoint of each shutdown lies
/// on the timeline the history assigns to its LSN, and that is the newest history's timeline.
#[test]
fn histories_agree_with_pg_control_of_every_version() {
    for (ver, points) in SWITCHPOINTS {
        let dir = samples_dir().join(format!("wal/v{ver}/main"));
        let newest = points.len() as TimeLineId + 1;
        let h = TimelineHistory::read(&dir.join(format!("{newest:08X}.history")), newest).unwrap();
        let mut states = vec![("shutdown_tli1", 1), ("shutdown_tli2", 2)];
        if ver == 15 {
            states.push(("shutdown_tli3", 3));
        }
        for (state, tli) in states {
            let cf = ControlFile::read(
                &samples_dir().join(format!("pg_control/v{ver}/pg_control.{state}")),
            )
            .unwrap();
            assert_eq!(cf.checkpoint_copy.this_tli, tli, "v{ver} {state}");
            assert_eq!(h.tli_of_point(cf.checkpoint), Some(tli), "v{ver} {state}");
        }
        // A standby in archive recovery still had to replay timeline 1 up to its minimum
        // recovery point, which lies before the first switchpoint.
        let r = ControlFile::read(
            &samples_dir().join(format!("pg_control/v{ver}/pg_control.in_archive_recovery")),
        )
        .unwrap();
        assert_eq!(
            h.tli_of_point(r.min_recovery_point),
            Some(r.min_recovery_point_tli)
        );
    }
}

#[test]
fn graph_of_v15_samples() {
    let dir = samples_dir().join("wal/v15/main");
    let mut g = TimelineGraph::new();
    // The directory also holds segments, .partial and .backup files, which are skipped.
    assert_eq!(g.add_dir(&dir).unwrap(), 2);
    assert_eq!(g.histories().len(), 2);
    assert_eq!(g.findings(), vec![]);
    assert_eq!(
        g.timelines().collect::<Vec<_>>(),
        vec![key(1, "0/0"), key(2, "0/E000A0"), key(3, "0/F000A0")]
    );
    assert_eq!(
        g.ancestry(3).unwrap(),
        TimelineHistory::read(&dir.join("00000003.history"), 3)
            .unwrap()
            .spans()
    );
    assert_eq!(
        g.ancestry(2).unwrap(),
        vec![span(1, "0/0", Some("0/E000A0")), span(2, "0/E000A0", None)]
    );
    assert_eq!(g.ancestry(1).unwrap(), vec![span(1, "0/0", None)]);
    assert_eq!(
        g.ends(key(1, "0/0")),
        vec![(lsn("0/E000A0"), key(2, "0/E000A0"))]
    );
    assert_eq!(
        g.ends(key(2, "0/E000A0")),
        vec![(lsn("0/F000A0"), key(3, "0/F000A0"))]
    );
    assert_eq!(g.ends(key(3, "0/F000A0")), vec![]);
    assert_eq!(
        g.parent(key(3, "0/F000A0")).unwrap(),
        Some(key(2, "0/E000A0"))
    );
    // The old primary of timeline 2 (stopped at shutdown_tli2) against the promoted timeline 3.
    let f = common_ancestor(&g.ancestry(2).unwrap(), &g.ancestry(3).unwrap()).unwrap();
    assert_eq!((f.tli, f.lsn), (2, Some(lsn("0/F000A0"))));
    assert!(matches!(
        g.ancestry(4),
        Err(GraphError::MissingHistory { tli: 4 })
    ));
}

// ---------------------------------------------------------------------------------------------
// Parser rules (timeline.c readTimeLineHistory / pg_rewind's rewind_parseTimeLineHistory).

#[test]
fn comments_whitespace_and_reasons() {
    let text = b"# made by hand\n\n   \t\n  1 \t 0/10\tbefore 2000-01-01 00:00:00+00\r\n\t# 2 0/20\n3\t0/30\n5 0/40 at restore point \"x\"\t extra";
    let h = TimelineHistory::parse(7, text).unwrap();
    let got: Vec<_> = h
        .entries
        .iter()
        .map(|e| (e.parent_tli, e.switchpoint, e.reason.as_str(), e.line))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, lsn("0/10"), "before 2000-01-01 00:00:00+00", 4),
            (3, lsn("0/30"), "", 6),
            (5, lsn("0/40"), "at restore point \"x\"\t extra", 7),
        ]
    );
    assert_eq!(TimelineHistory::parse(2, b"").unwrap().entries, vec![]);
    assert_eq!(
        TimelineHistory::parse(2, b"\n# only\n").unwrap().spans(),
        vec![span(2, "0/0", None)]
    );
    // Upper- and lower-case hex, up to 8 digits per half.
    let h = TimelineHistory::parse(2, b"1\tFFFFFFFF/ffffffff\n").unwrap();
    assert_eq!(h.entries[0].switchpoint, Lsn(u64::MAX));
}

#[test]
fn errors_carry_postgres_message_and_line() {
    let err = |tli, text: &str| TimelineHistory::parse(tli, text.as_bytes()).unwrap_err();
    let e = err(3, "1\t0/10\tok\n\nx\t0/20\n");
    assert!(
        matches!(e, HistoryError::ExpectedTimelineId { tli: 3, line: 3 }),
        "{e:?}"
    );
    assert!(e.to_string().contains("syntax error in history file"));
    assert!(e.to_string().contains("expected a numeric timeline ID"));
    for bad in [
        "2",
        "2\t",
        "2\t0/",
        "2\t/10",
        "2\t0/1x",
        "2\t0 /10",
        "2\t0/ 10",
        "2\t123456789/0",
        "20/10",
        "2\tzz",
    ] {
        let e = err(3, &format!("1\t0/1\n{bad}\n"));
        assert!(
            matches!(e, HistoryError::ExpectedSwitchpoint { tli: 3, line: 2 }),
            "{bad:?}: {e:?}"
        );
        assert!(e
            .to_string()
            .contains("expected a write-ahead log switchpoint location"));
    }
    for bad in ["-1\t0/10", "+1\t0/10", "99999999999\t0/10"] {
        assert!(
            matches!(
                err(3, bad),
                HistoryError::ExpectedTimelineId { line: 1, .. }
            ),
            "{bad}"
        );
    }
    let e = err(5, "1\t0/10\n3\t0/20\n2\t0/30\n");
    assert!(
        matches!(
            e,
            HistoryError::NotIncreasing {
                tli: 5,
                line: 3,
                parent_tli: 2,
                previous_tli: 3
            }
        ),
        "{e:?}"
    );
    assert!(e
        .to_string()
        .contains("Timeline IDs must be in increasing sequence"));
    assert!(matches!(
        err(5, "1\t0/10\n1\t0/20\n"),
        HistoryError::NotIncreasing { line: 2, .. }
    ));
    let e = err(2, "1\t0/10\n\n2\t0/20\n");
    assert!(
        matches!(
            e,
            HistoryError::NotLessThanChild {
                tli: 2,
                line: 3,
                parent_tli: 2
            }
        ),
        "{e:?}"
    );
    assert!(e
        .to_string()
        .contains("Timeline IDs must be less than child timeline's ID"));
    let e = err(4, "1\t0/20\n2\t0/10\n");
    assert!(
        matches!(e, HistoryError::SwitchpointDecreases { line: 2, .. }),
        "{e:?}"
    );
    // Equal switchpoints are accepted (an empty timeline).
    TimelineHistory::parse(4, b"1\t0/20\n2\t0/20\n").unwrap();
}

#[test]
fn read_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("00000003.history");
    std::fs::write(&p, "1\t0/10\nbad\n").unwrap();
    let e = TimelineHistory::read(&p, 3).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("00000003.history") && msg.contains("line 2"),
        "{msg}"
    );
    match e {
        HistoryError::InFile { source, .. } => {
            assert!(matches!(
                *source,
                HistoryError::ExpectedTimelineId { line: 2, .. }
            ))
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        TimelineHistory::read(&dir.path().join("none"), 3),
        Err(HistoryError::Io { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// The graph's findings.

fn hist(tli: TimeLineId, text: &str) -> TimelineHistory {
    TimelineHistory::parse(tli, text.as_bytes()).unwrap()
}

#[test]
fn independent_promotions_are_distinct_timelines() {
    // Two standbys of timeline 1 promoted without a shared archive: both chose 2.
    let a = hist(2, "1\t0/3000000\tno recovery target specified\n");
    let b = hist(2, "1\t0/3000100\tno recovery target specified\n");
    let g = TimelineGraph::from_histories([a.clone(), b.clone()]);
    assert_eq!(
        g.findings(),
        vec![GraphFinding::IndependentPromotions {
            tli: 2,
            begins: vec![lsn("0/3000000"), lsn("0/3000100")],
        }]
    );
    assert!(matches!(
        g.ancestry(2),
        Err(GraphError::Ambiguous { tli: 2, .. })
    ));
    assert_eq!(g.ancestry_of(key(2, "0/3000100")).unwrap(), b.spans());
    // pg_rewind compares (tli, begin): the fork is on timeline 1 at the earlier switchpoint.
    let f = common_ancestor(&a.spans(), &b.spans()).unwrap();
    assert_eq!((f.tli, f.lsn), (1, Some(lsn("0/3000000"))));
    assert_eq!(
        g.ends(key(1, "0/0")),
        vec![
            (lsn("0/3000000"), key(2, "0/3000000")),
            (lsn("0/3000100"), key(2, "0/3000100"))
        ]
    );
}

#[test]
fn skipped_missing_and_conflicting_histories() {
    // 5 descends from 1 -> 3 -> 5: 2 and 4 were siblings this cluster never saw, and no
    // 00000003.history is present.
    let h5 = hist(5, "1\t0/100\n\n3\t0/200\n");
    let mut g = TimelineGraph::from_histories([h5.clone()]);
    assert_eq!(
        g.findings(),
        vec![
            GraphFinding::SkipsTimelines {
                timeline: key(5, "0/200"),
                gaps: vec![(2, 2), (4, 4)]
            },
            GraphFinding::MissingHistory {
                timeline: key(3, "0/100")
            },
        ]
    );
    // The ancestor's chain is still resolvable from the descendant's file.
    assert_eq!(
        g.ancestry(3).unwrap(),
        vec![span(1, "0/0", Some("0/100")), span(3, "0/100", None)]
    );
    assert_eq!(g.ancestry(5).unwrap(), h5.spans());
    // A timeline nothing describes cannot be resolved.
    assert_eq!(g.ancestry(4), Err(GraphError::MissingHistory { tli: 4 }));

    // A second copy of 00000005.history (say, the archive's) that puts 5 on timeline 2 at the
    // same point: the files disagree about 5's parent.
    g.add(
        hist(5, "1\t0/50\n2\t0/200\n"),
        Some("archive/00000005.history".into()),
    );
    let f = g.findings();
    assert!(
        f.contains(&GraphFinding::ConflictingParents {
            timeline: key(5, "0/200"),
            parents: vec![key(2, "0/50"), key(3, "0/100")],
        }),
        "{f:?}"
    );
    assert_eq!(
        g.ancestry(5),
        Err(GraphError::Conflict {
            timeline: key(5, "0/200")
        })
    );
    let files: Vec<&HistorySource> = g.files_of(key(5, "0/200"));
    assert_eq!(files.len(), 2);
    assert_eq!(
        files[1].path.as_deref(),
        Some(Path::new("archive/00000005.history"))
    );

    // The same file twice (pg_wal and archive) is no finding.
    let g = TimelineGraph::from_histories([h5.clone(), h5.clone(), hist(3, "1\t0/100\n")]);
    assert_eq!(
        g.findings(),
        vec![
            GraphFinding::SkipsTimelines {
                timeline: key(5, "0/200"),
                gaps: vec![(2, 2), (4, 4)]
            },
            GraphFinding::SkipsTimelines {
                timeline: key(3, "0/100"),
                gaps: vec![(2, 2)]
            }
        ]
    );
}

#[test]
fn tli_of_point_on_gapped_history_is_none() {
    let h = [span(1, "0/0", Some("0/100")), span(2, "0/200", None)];
    assert_eq!(tli_of_point(lsn("0/150"), &h), None);
    assert_eq!(tli_of_point(lsn("0/250"), &h), Some(2));
}

/// Every fixture scenario (`fixtures/*/scenario.json`): the history files each cluster holds in
/// `pg_wal/` and in the scenario's archives parse and do not conflict; each cluster's current
/// timeline resolves; its latest checkpoint lies on its own history; and every expected fork
/// that scenario.json says was found from the history files (`expected` and `other_pairs`) is
/// what pg_rewind's rule gives on the graph's ancestries.
#[test]
fn every_fixture_scenario_history() {
    // History files and pg_control are committed uncompressed: the committed directories serve.
    let scenarios = pgdiverge_fixtures::scenarios();
    assert!(!scenarios.is_empty(), "no fixture scenarios");
    let mut forks = 0;
    for s in scenarios {
        forks += check_fixture_scenario(&s.dir, &s.json);
    }
    eprintln!("checked {forks} expected history forks");
}

/// The highest timeline a cluster's pg_wal holds a history file for.
fn newest_history_tli(dir: &Path) -> TimeLineId {
    history_files(dir)
        .iter()
        .map(|(_, t)| *t)
        .max()
        .unwrap_or(1)
}

fn check_fixture_scenario(scenario: &Path, v: &serde_json::Value) -> usize {
    let archives = pgdiverge_fixtures::archive_dirs(scenario, v);
    let mut spans_of = std::collections::BTreeMap::new();
    for (name, _) in v["clusters"].as_object().expect("clusters") {
        let c = scenario.join(name);
        let mut g = TimelineGraph::new();
        for dir in std::iter::once(c.join("pg_wal")).chain(archives.iter().cloned()) {
            for (p, tli) in history_files(&dir) {
                g.add_file(&p, tli).unwrap_or_else(|e| panic!("{e}"));
            }
        }
        let f = g.findings();
        assert!(
            !f.iter()
                .any(|x| matches!(x, GraphFinding::ConflictingParents { .. })),
            "{}: {f:?}",
            c.display()
        );
        let cf = ControlFile::read(&c.join("global/pg_control")).unwrap();
        let tli = cf.current_tli().max(newest_history_tli(&c.join("pg_wal")));
        let spans = g
            .ancestry(tli)
            .unwrap_or_else(|e| panic!("{}: {e}", c.display()));
        assert_eq!(spans.last().unwrap().tli, tli);
        assert_eq!(
            tli_of_point(cf.checkpoint, &spans),
            Some(cf.checkpoint_copy.this_tli),
            "{}",
            c.display()
        );
        spans_of.insert(name.clone(), spans);
    }
    let mut pairs = vec![&v["expected"]];
    if let Some(others) = v["other_pairs"].as_array() {
        pairs.extend(others);
    }
    let mut checked = 0;
    for p in pairs {
        let found_by = p["fork_found_by"].as_str().unwrap_or("");
        if p["fork"].is_null() || !found_by.contains(".history of") {
            continue; // no fork, or one found by comparing WAL, not histories
        }
        let (src, tgt) = (p["source"].as_str().unwrap(), p["target"].as_str().unwrap());
        let f = common_ancestor(&spans_of[src], &spans_of[tgt])
            .unwrap_or_else(|| panic!("{}: no common ancestor", scenario.display()));
        let want_lsn: Lsn = p["fork"]["lsn"].as_str().unwrap().parse().unwrap();
        let want_tli = p["fork"]["timeline"].as_u64().unwrap() as TimeLineId;
        assert_eq!(
            (f.tli, f.lsn),
            (want_tli, Some(want_lsn)),
            "{} {src} vs {tgt}",
            scenario.display()
        );
        checked += 1;
    }
    checked
}
