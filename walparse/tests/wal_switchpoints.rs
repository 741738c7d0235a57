//! Every timeline switchpoint of every history file (samples 11–18, fixtures 13–18) is the end
//! of a record on the parent timeline: read along the child's history, the record before the
//! switchpoint ends exactly there (8-aligned) and the child's first record links back to it.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use walparse::{first_record_lsn_in_segment, DirSource, Lsn, WalReader, WalSegSize};

/// Checks the switchpoints of every `.history` file in `dirs[0]`; returns how many were checked.
fn check_dirs(dirs: &[PathBuf], seg: WalSegSize, ctx: &str) -> usize {
    let mut checked = 0;
    let Ok(rd) = fs::read_dir(&dirs[0]) else {
        return 0;
    };
    let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let Some(stem) = name.strip_suffix(".history") else {
            continue;
        };
        let tli = u32::from_str_radix(stem, 16).unwrap();
        let spans = history_spans(&fs::read_to_string(&f).unwrap(), tli);
        for (i, child) in spans.iter().enumerate().skip(1) {
            let s = child.begin;
            let parent = spans[i - 1].tli;
            // Start in the segment holding the byte before the switchpoint, on the file the
            // history selects (the child's copy, or the parent's when it is the only one).
            let segno = Lsn(s.0 - 1).segno(seg);
            let src = DirSource::new(dirs.iter());
            let start = [child.tli, parent]
                .into_iter()
                .find_map(|t| first_record_lsn_in_segment(&src, t, segno, seg).unwrap());
            let Some(start) = start.filter(|&l| l < s) else {
                eprintln!("{ctx}: {name}: no WAL before switchpoint {s} is present");
                continue;
            };
            let mut r = WalReader::new(&src, start, &spans[..=i], seg);
            let mut before = None;
            let mut at = None;
            while let Some(rec) = r.next_record().unwrap() {
                if rec.lsn() >= s {
                    at = Some((rec.lsn(), rec.prev()));
                    break;
                }
                before = Some((rec.lsn(), rec.next_lsn()));
            }
            let (last, next) =
                before.unwrap_or_else(|| panic!("{ctx}: {name}: no record before {s}"));
            assert_eq!(
                next, s,
                "{ctx}: {name}: the record at {last} on timeline {parent} ends at the switchpoint"
            );
            if let Some((lsn, prev)) = at {
                assert_eq!(
                    (lsn, prev),
                    (s, last),
                    "{ctx}: {name}: first record of timeline {}",
                    child.tli
                );
            } else {
                eprintln!(
                    "{ctx}: {name}: timeline {} WAL not present after {s}: {:?}",
                    child.tli,
                    r.end()
                );
            }
            checked += 1;
        }
    }
    checked
}

#[test]
fn sample_switchpoints_end_parent_records() {
    let mut n = 0;
    for major in 11..=18 {
        let dir = unpack_sample(major, "main");
        n += check_dirs(&[dir.path().to_path_buf()], MB, &format!("v{major}"));
    }
    // v15 has 00000002.history (1 switch) and 00000003.history (2); the others one each.
    assert_eq!(n, 7 + 1 + 2);
}

#[test]
fn fixture_switchpoints_end_parent_records() {
    let mut n = 0;
    for s in pgdiverge_fixtures::scenarios() {
        let sc = fixtures_dir().join(&s.name);
        let seg = WalSegSize::new(s.wal_segsize_mb() << 20).unwrap();
        for e in fs::read_dir(&sc).unwrap() {
            let cluster = e.unwrap().path();
            if !cluster.join("global/pg_control").is_file() {
                continue;
            }
            let mut dirs = vec![cluster.join("pg_wal")];
            let archive: &Path = &sc.join("archive");
            if archive.is_dir() {
                dirs.push(archive.to_path_buf());
            }
            n += check_dirs(&dirs, seg, &cluster.display().to_string());
        }
    }
    eprintln!("checked {n} fixture switchpoints");
    assert!(n >= 20, "only {n} fixture switchpoints checked");
}
