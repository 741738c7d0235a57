//! Differential tests against pg_waldump 15: every record's LSN, prev, rmgr, lengths, xid and
//! block references, and the end of WAL, on the v15 sample and on every PostgreSQL 15 fixture.
//! pg_waldump is run when installed; otherwise its committed listings are used.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use walparse::display::WaldumpLine;
use walparse::{
    first_record_lsn_in_segment, DirSource, EndReason, Lsn, TliSpan, WalEnd, WalReader, WalSegSize,
};

/// Reads timeline `tli` alone from `start` and compares with pg_waldump's listing `dump`,
/// record by record, then the end of WAL. Returns the number of records compared.
fn compare_timeline(dirs: &[&Path], tli: u32, seg: WalSegSize, dump: &Dump, ctx: &str) -> usize {
    assert!(!dump.records.is_empty(), "{ctx}: empty pg_waldump listing");
    let spans = [TliSpan {
        tli,
        begin: Lsn::INVALID,
        end: None,
    }];
    let mut r = WalReader::new(
        DirSource::new(dirs.iter().copied()),
        dump.records[0].lsn,
        &spans,
        seg,
    );
    for (i, d) in dump.records.iter().enumerate() {
        match r.next_record().unwrap() {
            Some(rec) => assert_same_record(&rec, d, ctx),
            None => panic!("{ctx}: ended at {:?} before record {i} {}", r.end(), d.lsn),
        }
    }
    let extra = r.next_record().unwrap().map(|rec| rec.lsn());
    let Some(err) = dump.error.as_deref() else {
        // pg_waldump given only a start segment stops at that segment's end without an error
        // (its endptr): a listing without an error line is cut there, and so we may read on.
        let last = dump.records.last().unwrap().lsn;
        if let Some(x) = extra {
            assert!(
                x.segno(seg) > last.segno(seg),
                "{ctx}: we read {x} inside the listed segment"
            );
        }
        return dump.records.len();
    };
    assert_eq!(extra, None, "{ctx}: we read a record pg_waldump did not");
    let end: WalEnd = *r.end().unwrap();
    match error_lsn(err) {
        Some(lsn) => assert_eq!(end.lsn, lsn, "{ctx}: end of WAL {end} vs pg_waldump {err}"),
        None => {
            // Page-level and file errors carry no record LSN: check the kind of reason.
            let kind_ok = match end.reason {
                EndReason::BadPage { error, .. } => {
                    let e = format!("{error:?}");
                    (err.contains("magic") && e.starts_with("BadMagic"))
                        || (err.contains("pageaddr") && e.starts_with("UnexpectedPageAddr"))
                        || (err.contains("info bits") && e.contains("Info"))
                        || (err.contains("timeline") && e.starts_with("TimelineBackwards"))
                        || (err.contains("could not read") && e.starts_with("Truncated"))
                }
                EndReason::MissingSegment { .. } => {
                    err.contains("could not find") || err.contains("could not open")
                }
                EndReason::NoContrecordFlag { .. } => err.contains("contrecord flag"),
                EndReason::InvalidContrecordLength { .. } => err.contains("contrecord length"),
                _ => false,
            };
            assert!(
                kind_ok,
                "{ctx}: our end {end} ({:?}) vs pg_waldump {err}",
                end.reason
            );
        }
    }
    dump.records.len()
}

#[test]
fn v15_sample_matches_pg_waldump_per_timeline() {
    let dir = unpack_sample(15, "main");
    let starts = [(1, Lsn(0x800068)), (2, Lsn(0xE000A0)), (3, Lsn(0xF000A0))];
    let mut dumps = Vec::new();
    for (tli, start) in starts {
        let text = match pg_waldump() {
            Some(bin) => run_waldump(&bin, &[dir.path()], tli, Some(start)),
            None => {
                let p = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join(format!("tests/data/v15-main.tl{tli}.waldump.txt.zst"));
                String::from_utf8(unzstd(&p)).unwrap()
            }
        };
        let dump = parse_waldump(&text);
        let n = compare_timeline(
            &[dir.path()],
            tli,
            MB,
            &dump,
            &format!("v15 sample tli {tli}"),
        );
        assert!(n >= 5, "tli {tli}: only {n} records");
        dumps.push(dump);
    }
    assert_eq!(
        dumps[0].records.len() + dumps[1].records.len() + dumps[2].records.len(),
        2657
    );

    // The same WAL read in one pass along 00000003.history equals the three listings stitched
    // at the switchpoints.
    let history = newest_history(dir.path());
    assert_eq!(history.len(), 3);
    let mut stitched = Vec::new();
    for (i, span) in history.iter().enumerate() {
        stitched.extend(
            dumps[i]
                .records
                .iter()
                .filter(|d| span.contains(d.lsn))
                .cloned(),
        );
    }
    let mut r = WalReader::new(DirSource::new([dir.path()]), Lsn(0x800068), &history, MB);
    let mut named = 0;
    for d in &stitched {
        let rec = r.next_record().unwrap().expect("record");
        assert_same_record(&rec, d, "v15 stitched");
        // Our pg_waldump-layout line: identical up to the description, the same record type
        // name, and the same block references.
        let ours = WaldumpLine(&rec).to_string();
        let (our_head, our_desc) = ours.split_once("desc: ").unwrap();
        let (their_head, their_desc) = d.line.split_once("desc: ").unwrap();
        assert_eq!(our_head, their_head);
        let our_type = our_desc.split(' ').next().unwrap();
        if !our_type.starts_with("UNKNOWN") {
            assert_eq!(
                our_type,
                their_desc.split([' ', ',']).next().unwrap(),
                "{}",
                d.line
            );
            named += 1;
        }
        if let Some(i) = their_desc.find(", blkref #") {
            assert!(ours.ends_with(&their_desc[i..]), "{ours}\n{}", d.line);
        }
    }
    assert!(named > 1000, "{named}");
    assert!(r.next_record().unwrap().is_none());
    assert_eq!(r.end().unwrap().lsn, Lsn(0x10000A0));
}

/// Every PostgreSQL 15 fixture: each `<cluster>.tlN.waldump.txt.zst` listing (pg_waldump over
/// the timeline-N segments that cluster holds, from its first segment) against our reader over
/// the same files; live pg_waldump output when installed.
#[test]
fn pg15_fixtures_match_pg_waldump() {
    let mut compared = 0;
    for s in pgdiverge_fixtures::scenarios() {
        if s.pg_version() != 15 {
            continue;
        }
        let sc = fixtures_dir().join(&s.name);
        let seg = WalSegSize::new(s.wal_segsize_mb() << 20).unwrap();
        let mut listings: Vec<_> = fs::read_dir(&sc)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".waldump.txt.zst"))
            .collect();
        listings.sort();
        for listing in listings {
            let name = listing.file_name().unwrap().to_str().unwrap().to_string();
            let (cluster, rest) = name.split_once(".tl").unwrap();
            let tli: u32 = rest.split('.').next().unwrap().parse().unwrap();
            let wal = sc.join(cluster).join("pg_wal");
            if !wal.is_dir() {
                continue;
            }
            let text = match pg_waldump() {
                Some(bin) => run_waldump(&bin, &[&wal], tli, None),
                None => String::from_utf8(unzstd(&listing)).unwrap(),
            };
            let dump = parse_waldump(&text);
            let ctx = format!("{}: {cluster} tli {tli}", sc.display());
            if dump.records.is_empty() {
                eprintln!("{ctx}: pg_waldump read no record: {:?}", dump.error);
                continue;
            }
            // pg_waldump started at its first segment (XLogFindNextRecord): so must we.
            let first = dump.records[0].lsn;
            assert_eq!(
                first_record_lsn_in_segment(DirSource::new([&wal]), tli, first.segno(seg), seg)
                    .unwrap(),
                Some(first),
                "{ctx}: first record of the segment"
            );
            compared += compare_timeline(&[&wal], tli, seg, &dump, &ctx);
        }
    }
    eprintln!("compared {compared} records of PostgreSQL 15 fixtures");
    assert!(compared > 1000, "only {compared} fixture records compared");
}
