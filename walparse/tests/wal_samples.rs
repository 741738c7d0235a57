//! Walks every record of the shared v11–v18 sample WAL across timelines and checks the key LSNs
//! of samples/README.md and the test vectors of postgres-formats.md §8.2.

mod common;

use common::*;
use walparse::record::{Compression, RelFileLocator};
use walparse::rmgr::xact::{self, XactRecord};
use walparse::rmgr::xlog::{self, XlogRecord};
use walparse::{
    first_record_lsn_in_segment, read_record_at, DirSource, EndReason, Lsn, PageHeader, TliSpan,
    WalReader,
};

struct Expect {
    major: u32,
    first: u64,
    torn: u64,
    overwrite: u64,
    message: u64,
    switch: u64,
    switchpoints: &'static [u64],
    end: u64,
}

/// samples/README.md, "Key LSNs".
const EXPECT: [Expect; 8] = [
    Expect {
        major: 11,
        first: 0x700458,
        torn: 0xC00740,
        overwrite: 0xC24018,
        message: 0x7A5538,
        switch: 0xA097F8,
        switchpoints: &[0xD00098],
        end: 0xE00098,
    },
    Expect {
        major: 12,
        first: 0x900EB8,
        torn: 0xE00798,
        overwrite: 0xE24018,
        message: 0x9B58C0,
        switch: 0xC19B80,
        switchpoints: &[0xF000A0],
        end: 0x10000A0,
    },
    Expect {
        major: 13,
        first: 0x600058,
        torn: 0xB000D8,
        overwrite: 0xB24018,
        message: 0x707428,
        switch: 0x96B6D8,
        switchpoints: &[0xC000A0],
        end: 0xD000A0,
    },
    Expect {
        major: 14,
        first: 0x700048,
        torn: 0xC00C78,
        overwrite: 0xC24018,
        message: 0x841150,
        switch: 0xAA5400,
        switchpoints: &[0xD000A0],
        end: 0xE000A0,
    },
    Expect {
        major: 15,
        first: 0x800068,
        torn: 0xD00C10,
        overwrite: 0xD24018,
        message: 0x892968,
        switch: 0xAF6C18,
        switchpoints: &[0xE000A0, 0xF000A0],
        end: 0x10000A0,
    },
    Expect {
        major: 16,
        first: 0x500030,
        torn: 0xA00C28,
        overwrite: 0xA24018,
        message: 0x6303A0,
        switch: 0x894650,
        switchpoints: &[0xB000A0],
        end: 0xC000A0,
    },
    Expect {
        major: 17,
        first: 0x801918,
        torn: 0xC00C48,
        overwrite: 0xC24018,
        message: 0x872D70,
        switch: 0xAD7020,
        switchpoints: &[0xD000A0],
        end: 0xE000A0,
    },
    Expect {
        major: 18,
        first: 0x800828,
        torn: 0xD00C48,
        overwrite: 0xD24018,
        message: 0x89C830,
        switch: 0xB00AF0,
        switchpoints: &[0xE000A0],
        end: 0xF000A0,
    },
];

#[test]
fn walks_every_version_across_timelines() {
    for e in &EXPECT {
        let dir = unpack_sample(e.major, "main");
        let history = newest_history(dir.path());
        assert_eq!(history.len(), e.switchpoints.len() + 1, "v{}", e.major);
        // The first record of the first archived segment, found as pg_waldump does.
        let first_seg = Lsn(e.first).segno(MB);
        assert_eq!(
            first_record_lsn_in_segment(DirSource::new([dir.path()]), 1, first_seg, MB).unwrap(),
            Some(Lsn(e.first)),
            "v{}",
            e.major
        );
        let mut r = WalReader::new(DirSource::new([dir.path()]), Lsn(e.first), &history, MB);
        let (mut n, mut prev, mut seen_split_header, mut eors) =
            (0, Lsn::INVALID, false, Vec::new());
        let (mut saw_overwrite, mut saw_message, mut checkpoints) = (false, false, 0);
        let mut max_len = 0;
        while let Some(rec) = r.next_record().unwrap() {
            n += 1;
            let lsn = rec.lsn();
            assert!(lsn > prev, "v{}: {lsn} after {prev}", e.major);
            if prev.is_valid() {
                assert_eq!(rec.prev(), prev, "v{}: prev-link at {lsn}", e.major);
            }
            assert_ne!(
                lsn,
                Lsn(e.torn),
                "v{}: the torn record must not be returned",
                e.major
            );
            assert_eq!(rec.raw().len(), rec.tot_len() as usize);
            assert_eq!(walparse::record::record_crc(rec.raw()), rec.crc());
            max_len = max_len.max(rec.tot_len());
            if lsn.page_offset(8192) > 8192 - 24 {
                seen_split_header = true; // the 24-byte header itself crossed a page
            }
            // Every record's blocks decode and account for the whole record.
            let blocks: usize = rec
                .blocks()
                .map(|b| b.data.len() + b.image_bytes.len())
                .sum();
            assert!(blocks + rec.main_data().len() < rec.tot_len() as usize);
            assert_eq!(rec.blocks().count(), rec.block_count());
            if rec.rmid() == 0 {
                match xlog::decode(&rec).unwrap() {
                    XlogRecord::CheckpointShutdown(cp) | XlogRecord::CheckpointOnline(cp) => {
                        checkpoints += 1;
                        let tli = history.iter().find(|s| s.contains(lsn)).unwrap().tli;
                        assert_eq!(cp.this_tli, tli, "v{}: checkpoint at {lsn}", e.major);
                        assert_eq!(cp.prev_tli, tli);
                        assert!(cp.redo <= lsn);
                        assert!(cp.time > 1_795_000_000, "2026 timestamps");
                        assert_eq!(cp.wal_level.is_some(), e.major >= 17);
                        if rec.info() & 0xF0 == 0 {
                            assert_eq!(cp.redo, lsn, "shutdown checkpoint redo is itself");
                        }
                    }
                    XlogRecord::OverwriteContrecord(o) => {
                        assert_eq!(lsn, Lsn(e.overwrite), "v{}", e.major);
                        assert_eq!(o.overwritten_lsn, Lsn(e.torn));
                        saw_overwrite = true;
                    }
                    XlogRecord::EndOfRecovery(eor) => {
                        eors.push(lsn.0);
                        assert_eq!(eor.prev_tli + 1, eor.this_tli);
                        let span = history.iter().find(|s| s.tli == eor.this_tli).unwrap();
                        assert_eq!(span.begin, lsn, "END_OF_RECOVERY at the switchpoint");
                        assert_eq!(eor.wal_level.is_some(), e.major >= 17);
                    }
                    XlogRecord::Switch => {
                        assert_eq!(rec.next_lsn().segment_offset(MB), 0);
                        if lsn == Lsn(e.switch) {
                            assert_eq!(prev, Lsn(e.message), "v{}", e.major);
                        }
                    }
                    _ => {}
                }
            }
            if lsn == Lsn(e.message) {
                assert_eq!(rec.rmgr_name(), "LogicalMessage");
                assert!(rec.tot_len() > 2_500_000);
                saw_message = true;
            }
            if rec.rmid() == 1 {
                xact::decode(&rec).unwrap_or_else(|err| panic!("v{}: {err}", e.major));
            }
            prev = lsn;
        }
        assert!(saw_overwrite && saw_message, "v{}", e.major);
        assert!(
            seen_split_header,
            "v{}: no record header split across pages",
            e.major
        );
        assert!(
            max_len > 2 * 1024 * 1024,
            "v{}: the message spans segments",
            e.major
        );
        assert!(checkpoints >= 3, "v{}", e.major);
        assert_eq!(r.overwritten_record(), Some(Lsn(e.torn)));
        assert_eq!(eors, e.switchpoints, "v{}", e.major);
        let end = r.end().unwrap();
        assert_eq!(end.lsn, Lsn(e.end), "v{}", e.major);
        assert_eq!(
            end.reason,
            EndReason::InvalidRecordLength { tot_len: 0 },
            "v{}",
            e.major
        );
        assert!(n > 1000, "v{}: {n} records", e.major);
    }
}

fn one(dir: &std::path::Path, lsn: u64, history: &[TliSpan]) -> walparse::OwnedRecord {
    read_record_at(DirSource::new([dir]), Lsn(lsn), history, MB)
        .unwrap()
        .unwrap_or_else(|end| panic!("no record at {}: {end}", Lsn(lsn)))
}

#[test]
fn v15_spec_vectors() {
    let dir = unpack_sample(15, "main");
    let d = dir.path();
    let history = newest_history(d);

    let seg9 = std::fs::read(d.join("000000010000000000000009")).unwrap();
    let h = PageHeader::parse(&seg9).unwrap();
    assert_eq!(
        (h.magic, h.info, h.tli, h.pageaddr, h.rem_len),
        (0xD110, 7, 1, Lsn(0x900000), 2053206)
    );
    let long = h.long.unwrap();
    assert_eq!(
        (long.sysid, long.seg_size, long.blcksz),
        (7710951575618446016, 1048576, 8192)
    );
    // No record starts in segment 9: the 2.5 MB message covers it.
    assert_eq!(
        first_record_lsn_in_segment(DirSource::new([d]), 1, 9, MB).unwrap(),
        None
    );
    assert_eq!(
        first_record_lsn_in_segment(DirSource::new([d]), 1, 0xA, MB).unwrap(),
        Some(Lsn(0xAF6C18))
    );

    let msg = one(d, 0x892968, &history);
    let m = msg.record();
    assert_eq!((m.rmid(), m.tot_len()), (21, 2500062));
    assert_eq!(m.next_lsn(), Lsn(0xAF6C18));
    assert!(m.main_data().len() > 2_500_000);

    let sw = one(d, 0xAF6C18, &history);
    let s = sw.record();
    assert!(s.is_xlog_switch());
    assert_eq!(
        (s.tot_len(), s.prev(), s.crc()),
        (24, Lsn(0x892968), 0x7DF03648)
    );
    assert_eq!(s.next_lsn(), Lsn(0xB00000));

    let be = one(d, 0xB000D8, &history);
    assert_eq!(be.record().tot_len(), 34);
    assert_eq!(
        xlog::decode(&be.record()).unwrap(),
        XlogRecord::BackupEnd(Lsn(0xB00028))
    );

    let lz4 = one(d, 0xC000D8, &history);
    let b = lz4.record().block(0).unwrap();
    let img = b.image.unwrap();
    assert_eq!(
        xlog::type_name(lz4.record().info(), 15),
        Some("FPI_FOR_HINT")
    );
    assert_eq!(
        (img.bimg_info, img.length, img.hole_offset, img.hole_length),
        (0x0B, 1664, 244, 28)
    );
    assert_eq!((img.compression, img.apply), (Compression::Lz4, true));
    assert_eq!(
        b.rel,
        RelFileLocator {
            spc: 1663,
            db: 5,
            rel: 1249
        }
    );
    assert_eq!((b.block, b.image_bytes.len()), (55, 1664));

    let zstd = one(d, 0xC028E8, &history);
    let img = zstd.record().blocks().find_map(|b| b.image).unwrap();
    assert_eq!(
        (img.bimg_info, img.length, img.hole_offset, img.hole_length),
        (0x13, 3340, 504, 8)
    );
    assert_eq!(img.compression, Compression::Zstd);

    let commit = one(d, 0x892660, &history);
    let c = commit.record();
    assert_eq!((c.info(), c.main_data().len()), (0x81, 440));
    let Some(XactRecord::Commit(f)) = xact::decode(&c).unwrap() else {
        panic!("commit")
    };
    assert_eq!(f.xinfo, 0x14D);
    assert_eq!(
        f.dropped_rels.iter().collect::<Vec<_>>(),
        [RelFileLocator {
            spc: 1663,
            db: 5,
            rel: 16391
        }]
    );
    assert_eq!((f.dropped_stats, f.invalidations), (1, 24));
    assert!(f.xact_time > 0);

    let abort = one(d, 0x888EF8, &history);
    let a = abort.record();
    assert_eq!((a.tot_len(), a.info(), a.main_data().len()), (34, 0x20, 8));
    assert!(matches!(xact::decode(&a).unwrap(), Some(XactRecord::Abort(f)) if f.xinfo == 0));

    let seg_d = std::fs::read(d.join("00000001000000000000000D")).unwrap();
    let p = PageHeader::parse(&seg_d[0x24000..]).unwrap();
    assert_eq!((p.info, p.pageaddr, p.rem_len), (0x000C, Lsn(0xD24000), 0));
    assert!(p.is_overwrite_contrecord());
    let ow = one(d, 0xD24018, &history);
    assert_eq!(ow.record().crc(), 0x5131C1BB);
    let XlogRecord::OverwriteContrecord(o) = xlog::decode(&ow.record()).unwrap() else {
        panic!()
    };
    assert_eq!(o.overwritten_lsn, Lsn(0xD00C10));

    let seg_e = std::fs::read(d.join("00000002000000000000000E")).unwrap();
    let p0 = PageHeader::parse(&seg_e).unwrap();
    assert_eq!((p0.info, p0.tli, p0.pageaddr), (0x0006, 1, Lsn(0xE00000)));
    let p1 = PageHeader::parse(&seg_e[0x2000..]).unwrap();
    assert_eq!((p1.info, p1.tli, p1.rem_len), (0x0005, 2, 673));
    let eor = one(d, 0xE000A0, &history);
    assert_eq!(
        (eor.record().crc(), eor.record().prev()),
        (0x2DD0F327, Lsn(0xE00028))
    );
    let XlogRecord::EndOfRecovery(x) = xlog::decode(&eor.record()).unwrap() else {
        panic!()
    };
    assert_eq!((x.this_tli, x.prev_tli, x.wal_level), (2, 1, None));

    // The shutdown checkpoint in the TLI-2 .partial file: read on timeline 2's history, where no
    // complete 00000002000000000000000F exists.
    let tl2 = &history[..2];
    let tl2 = [
        tl2[0],
        TliSpan {
            end: None,
            ..tl2[1]
        },
    ];
    let mut r = WalReader::new(DirSource::new([d]), Lsn(0xF00028), &tl2, MB);
    let cp = r.next_record().unwrap().unwrap();
    assert_eq!((cp.tot_len(), cp.crc()), (114, 0x1BA9AC78));
    let XlogRecord::CheckpointShutdown(c) = xlog::decode(&cp).unwrap() else {
        panic!()
    };
    assert_eq!(
        (c.redo, c.this_tli, c.prev_tli, c.next_xid, c.next_oid, c.time),
        (Lsn(0xF00028), 2, 2, 735, 16394, 1795345824)
    );
    assert!(r.current_segment().unwrap().is_partial());
    assert!(r
        .current_segment()
        .unwrap()
        .path()
        .ends_with("00000002000000000000000F.partial"));
    // After the switchpoint 0/F000A0 the TLI-2 .partial holds zeros: its WAL ends there.
    assert!(r.next_record().unwrap().is_none());
    assert_eq!(r.end().unwrap().lsn, Lsn(0xF000A0));
}

#[test]
fn other_versions_spec_vectors() {
    let d11 = unpack_sample(11, "main");
    let h11 = newest_history(d11.path());
    let cp = one(d11.path(), 0xD00028, &h11);
    assert_eq!(
        (cp.record().tot_len(), cp.record().next_lsn()),
        (106, Lsn(0xD00098))
    );
    let XlogRecord::CheckpointShutdown(c) = xlog::decode(&cp.record()).unwrap() else {
        panic!()
    };
    assert_eq!((c.redo, c.this_tli), (Lsn(0xD00028), 1));
    let eor = one(d11.path(), 0xD00098, &h11);
    let XlogRecord::EndOfRecovery(x) = xlog::decode(&eor.record()).unwrap() else {
        panic!()
    };
    assert_eq!((x.this_tli, x.prev_tli), (2, 1));

    let d17 = unpack_sample(17, "main");
    let redo = one(d17.path(), 0x814730, &newest_history(d17.path()));
    assert_eq!(redo.record().tot_len(), 30);
    assert_eq!(
        xlog::decode(&redo.record()).unwrap(),
        XlogRecord::CheckpointRedo(1)
    );

    let d18 = unpack_sample(18, "main");
    let eor = one(d18.path(), 0xE000A0, &newest_history(d18.path()));
    assert_eq!(
        (eor.record().tot_len(), eor.record().crc()),
        (50, 0x3661A2E4)
    );
    let XlogRecord::EndOfRecovery(x) = xlog::decode(&eor.record()).unwrap() else {
        panic!()
    };
    assert_eq!((x.this_tli, x.prev_tli, x.wal_level), (2, 1, Some(1)));
}

#[test]
fn logical_samples_origin_toplevel_2pc() {
    // samples/README.md "The logical scenario": (major, toplevel-xid part begins, end).
    let parts = [
        (11, 0x76A488, 0x76A5B0),
        (12, 0x756970, 0x756A98),
        (13, 0x6D6F10, 0x6D7038),
        (14, 0x808668, 0x808798),
        (15, 0x617290, 0x6173C0),
        (16, 0x5F5DC0, 0x5F5EF0),
        (17, 0x5F0618, 0x5F0748),
        (18, 0x8648D0, 0x864A00),
    ];
    for (major, from, to) in parts {
        let dir = unpack_sample(major, "logical");
        let mut r = WalReader::new(DirSource::new([dir.path()]), Lsn(from), &[], MB);
        let (mut origin, mut toplevel, mut assignment) = (false, false, false);
        while let Some(rec) = r.next_record().unwrap() {
            if rec.lsn() >= Lsn(to) {
                break;
            }
            if let Some(x) = rec.toplevel_xid() {
                assert!(major >= 14);
                toplevel = x > 0;
            }
            if rec.origin() == Some(1) {
                origin = true;
            }
            if rec.rmid() == 1 {
                match xact::decode(&rec).unwrap() {
                    Some(XactRecord::Assignment { xtop, subxacts }) => {
                        assignment = subxacts.len() == 1 && xtop > 0;
                    }
                    Some(XactRecord::Commit(f)) if f.xinfo & 0x20 != 0 => {
                        assert_eq!(f.origin.unwrap().0, Lsn(0xABCDEF), "v{major}");
                        assert_eq!(f.origin.unwrap().1, 631152000000000);
                    }
                    _ => {}
                }
            }
        }
        assert!(origin && assignment, "v{major}");
        assert_eq!(toplevel, major >= 14, "v{major}");
    }

    // v15 vectors of postgres-formats.md §8.2.
    let dir = unpack_sample(15, "logical");
    let d = dir.path();
    let asg = one(d, 0x617290, &[]);
    assert_eq!(asg.record().toplevel_xid(), Some(728));
    let Some(XactRecord::Assignment { xtop, subxacts }) = xact::decode(&asg.record()).unwrap()
    else {
        panic!()
    };
    assert_eq!(
        (xtop, subxacts.iter().collect::<Vec<_>>()),
        (728, vec![729])
    );
    let heap = one(d, 0x617338, &[]);
    let h = heap.record();
    assert_eq!(
        (h.tot_len(), h.xid(), h.origin(), h.main_data().len()),
        (62, 730, Some(1), 3)
    );
    let b = h.block(0).unwrap();
    assert_eq!(
        (b.rel, b.block, b.data.len(), b.has_data),
        (
            RelFileLocator {
                spc: 1663,
                db: 5,
                rel: 16384
            },
            0,
            10,
            true
        )
    );
    let cp = one(d, 0x6170D0, &[]);
    assert_eq!((cp.record().info(), cp.record().xid()), (0xB0, 0));
    let Some(XactRecord::CommitPrepared(f)) = xact::decode(&cp.record()).unwrap() else {
        panic!()
    };
    assert_eq!(
        (f.xinfo, f.twophase_xid, f.gid),
        (0xD1, Some(726), Some(&b"specwork_gid"[..]))
    );
    let co = one(d, 0x617378, &[]);
    let Some(XactRecord::Commit(f)) = xact::decode(&co.record()).unwrap() else {
        panic!()
    };
    assert_eq!(f.xinfo, 0x21);
}

#[test]
fn recycled_segment_is_unexpected_pageaddr() {
    let dir = unpack(&samples_dir().join("wal/v15/recycled"));
    let tl = [TliSpan {
        tli: 3,
        begin: Lsn::INVALID,
        end: None,
    }];
    let mut r = WalReader::new(DirSource::new([dir.path()]), Lsn(0x1300028), &tl, MB);
    assert!(r.next_record().unwrap().is_none());
    let end = r.end().unwrap();
    assert_eq!(end.lsn, Lsn(0x1300028));
    assert!(matches!(
        end.reason,
        EndReason::BadPage {
            page: Lsn(0x1300000),
            tli: 3,
            error: walparse::page::PageError::UnexpectedPageAddr {
                found: Lsn(0xE00000)
            }
        }
    ));
}
