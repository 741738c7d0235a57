//! pg_control against the WAL and history files the same server wrote, for every version with
//! WAL (samples 11–18, fixtures 13–18): the system identifier equals the WAL long page headers',
//! the WAL's major version equals pg_control's, the latest checkpoint location holds a checkpoint
//! record whose payload equals `checkPointCopy` field by field, and the checkpoint lies on the
//! timeline the history assigns to it.

use std::path::PathBuf;

use pgdiverge_fixtures::{history_files, samples_dir};
use walparse::rmgr::xlog::{decode, XlogRecord};
use walparse::{ControlFile, DirSource, TimeLineId, TimelineGraph, TliSpan, WalReader};

/// The history of the newest timeline whose file is in `dirs`.
fn newest_history(dirs: &[PathBuf]) -> (TimeLineId, Vec<TliSpan>) {
    let mut g = TimelineGraph::new();
    let mut newest = 1;
    for d in dirs {
        for (p, tli) in history_files(d) {
            g.add_file(&p, tli).unwrap();
            newest = newest.max(tli);
        }
    }
    (newest, g.ancestry(newest).unwrap())
}

/// Checks `cf` against the WAL in `dirs` read along `spans`; returns the checkpoint's kind.
fn check_against_wal(cf: &ControlFile, dirs: &[PathBuf], spans: &[TliSpan], what: &str) -> bool {
    let seg = cf.wal_seg_size().unwrap();
    let mut r = WalReader::new(DirSource::new(dirs.to_vec()), cf.checkpoint, spans, seg);
    let decoded = match r.next_record() {
        Ok(Some(rec)) => {
            assert_eq!(rec.lsn(), cf.checkpoint, "{what}");
            match decode(&rec).unwrap() {
                XlogRecord::CheckpointShutdown(cp) => Some((true, cp)),
                XlogRecord::CheckpointOnline(cp) => Some((false, cp)),
                other => panic!("{what}: {} is {other:?}, not a checkpoint", cf.checkpoint),
            }
        }
        Ok(None) => None,
        Err(e) => panic!("{what}: {e}"),
    };
    let (shutdown, cp) =
        decoded.unwrap_or_else(|| panic!("{what}: no record at {}: {:?}", cf.checkpoint, r.end()));
    assert_eq!(cp, cf.checkpoint_copy, "{what}: checkPointCopy vs record");
    assert_eq!(
        r.system_identifier(),
        Some(cf.system_identifier),
        "{what}: sysid"
    );
    assert_eq!(
        r.version().unwrap().major,
        cf.major_version(),
        "{what}: major"
    );
    assert_eq!(
        walparse::tli_of_point(cf.checkpoint, spans),
        Some(cf.checkpoint_copy.this_tli),
        "{what}: checkpoint timeline on the history"
    );
    shutdown
}

/// Samples 11–18: `pg_control.shutdown_tli2` (and v15's `shutdown_tli3`) against the WAL of the
/// same cluster, decompressed from `wal/vNN/main/`.
#[test]
fn sample_shutdown_checkpoints_are_in_the_wal() {
    for ver in 11..=18 {
        let src = samples_dir().join(format!("wal/v{ver}/main"));
        let tmp = pgdiverge_fixtures::unzstd_dir(&src);
        let dirs = vec![tmp.path().to_path_buf()];
        let (newest, spans) = newest_history(&dirs);
        let state = if ver == 15 {
            "shutdown_tli3"
        } else {
            "shutdown_tli2"
        };
        let cf =
            ControlFile::read(&samples_dir().join(format!("pg_control/v{ver}/pg_control.{state}")))
                .unwrap();
        assert_eq!(
            cf.current_tli(),
            newest,
            "v{ver}: timeline = newest history file's"
        );
        let what = format!("v{ver} {state}");
        assert!(
            check_against_wal(&cf, &dirs, &spans, &what),
            "{what}: shutdown checkpoint"
        );
        assert_eq!(cf.checkpoint, cf.checkpoint_copy.redo);
        // The shutdown checkpoint is the last record: the end of WAL the README lists is the
        // next page/segment after it. The checkpoint LSN is 8-aligned and after the switchpoint.
        assert!(cf.checkpoint >= spans.last().unwrap().begin);
        assert_eq!(cf.checkpoint.0 % 8, 0);
    }
}

/// Every cluster of every fixture scenario: pg_control against its own pg_wal (plus the
/// scenario's archives).
#[test]
fn every_fixture_control_file_agrees_with_its_wal() {
    let root = pgdiverge_fixtures::unpacked_root();
    let mut n = 0;
    let mut majors = std::collections::BTreeSet::new();
    for sc in pgdiverge_fixtures::scenarios() {
        let s = root.join(&sc.name);
        let v = &sc.json;
        let archives = pgdiverge_fixtures::archive_dirs(&s, v);
        for (name, _) in v["clusters"].as_object().unwrap() {
            let c = s.join(name);
            let cf = ControlFile::read(&c.join("global/pg_control")).unwrap();
            let mut dirs = vec![c.join("pg_wal")];
            dirs.extend(archives.iter().cloned());
            // The cluster's own history: the timeline pg_control says it is on.
            let mut g = TimelineGraph::new();
            for d in &dirs {
                for (p, tli) in history_files(d) {
                    g.add_file(&p, tli).unwrap();
                }
            }
            let spans = g.ancestry(cf.current_tli()).unwrap();
            check_against_wal(&cf, &dirs, &spans, &c.display().to_string());
            majors.insert(cf.major_version());
            n += 1;
        }
    }
    eprintln!("checked {n} fixture clusters of majors {majors:?}");
    assert!(n >= 40, "only {n} fixture clusters checked");
    assert_eq!(
        majors.into_iter().collect::<Vec<_>>(),
        vec![13, 14, 15, 16, 17, 18]
    );
}
