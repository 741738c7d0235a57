//! Each end-of-WAL reason, on copies of the real v15 sample segments with bytes zeroed or
//! flipped; `.partial` selection; the backward walk; errors for files that are not our WAL.

mod common;

use std::fs;
use std::path::Path;

use common::*;
use walparse::page::PageError;
use walparse::record::{record_crc, DecodeError};
use walparse::segment::{DirSource, FoundSegment};
use walparse::{
    segment_file_name, BackwardReader, EndReason, Lsn, TliSpan, WalEnd, WalError, WalReader,
};

const TL1: [TliSpan; 1] = [TliSpan {
    tli: 1,
    begin: Lsn::INVALID,
    end: None,
}];

/// Applies `f` to the bytes of the timeline-1 file at `lsn` (from that LSN on).
fn patch(dir: &Path, lsn: u64, f: impl FnOnce(&mut [u8])) {
    let lsn = Lsn(lsn);
    let path = dir.join(segment_file_name(1, lsn.segno(MB), MB));
    let mut bytes = fs::read(&path).unwrap();
    f(&mut bytes[lsn.segment_offset(MB) as usize..]);
    fs::write(&path, bytes).unwrap();
}

/// Reads timeline 1 from `start`; returns the LSNs read and the end.
fn read_all(dir: &Path, start: u64) -> (Vec<Lsn>, WalEnd) {
    let mut r = WalReader::new(DirSource::new([dir]), Lsn(start), &TL1, MB);
    let mut lsns = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        lsns.push(rec.lsn());
    }
    (lsns, *r.end().unwrap())
}

/// The end when reading from 0/800068 after applying `f` at `at`.
fn end_after(at: u64, f: impl FnOnce(&mut [u8])) -> (Vec<Lsn>, WalEnd) {
    let dir = unpack_sample(15, "main");
    patch(dir.path(), at, f);
    read_all(dir.path(), 0x800068)
}

// Records at the start of segment 8 of the v15 sample (see pg_waldump's listing):
// 0/800068 Heap 233, 0/800158 Standby 90, 0/8001B8 Heap 188, ..., 0/800A90 Heap2 8256 bytes
// (continued on page 0/802000).

#[test]
fn bad_crc() {
    let (lsns, end) = end_after(0x800158 + 40, |b| b[0] ^= 0x55);
    assert_eq!(lsns, [Lsn(0x800068)]);
    assert_eq!(end.lsn, Lsn(0x800158));
    assert!(matches!(end.reason, EndReason::BadCrc { .. }), "{end}");
    assert!(end
        .to_string()
        .starts_with("incorrect resource manager data checksum in record at 0/800158"));
}

#[test]
fn incorrect_prev_link() {
    let (lsns, end) = end_after(0x8001B8 + 8, |b| {
        b[..8].copy_from_slice(&0x800150u64.to_le_bytes())
    });
    assert_eq!(lsns.len(), 2);
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0x8001B8),
            reason: EndReason::IncorrectPrev {
                prev: Lsn(0x800150),
                expected: Some(Lsn(0x800158))
            }
        }
    );
}

#[test]
fn invalid_rmgr() {
    let (_, end) = end_after(0x8001B8 + 17, |b| b[0] = 22);
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0x8001B8),
            reason: EndReason::InvalidRmgr { rmid: 22 }
        }
    );
}

#[test]
fn zero_length() {
    let (lsns, end) = end_after(0x8001B8, |b| b[..4].fill(0));
    assert_eq!(lsns.len(), 2);
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0x8001B8),
            reason: EndReason::InvalidRecordLength { tot_len: 0 }
        }
    );
    assert_eq!(
        end.to_string(),
        "invalid record length at 0/8001B8: expected at least 24, got 0"
    );
}

#[test]
fn too_long() {
    let (_, end) = end_after(0x8001B8, |b| {
        b[..4].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes())
    });
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0x8001B8),
            reason: EndReason::TooLong {
                tot_len: 0x7FFF_FFF0
            }
        }
    );
}

#[test]
fn bad_block_data_with_valid_crc() {
    // Block id 0 of the first record becomes 40 ("invalid block_id"); the CRC is recomputed so
    // only the block decoding can fail.
    let (lsns, end) = end_after(0x800068, |b| {
        b[24] = 40;
        let crc = record_crc(&b[..233]);
        b[20..24].copy_from_slice(&crc.to_le_bytes());
    });
    assert!(lsns.is_empty());
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0x800068),
            reason: EndReason::BadBlockData(DecodeError::InvalidBlockId { id: 40 })
        }
    );
}

/// Damage to the header of page 0/802000, which continues the record at 0/800A90.
fn page_damage(f: impl FnOnce(&mut [u8])) -> WalEnd {
    let (lsns, end) = end_after(0x802000, f);
    assert_eq!(lsns.last(), Some(&Lsn(0x8007B8)));
    assert_eq!(end.lsn, Lsn(0x800A90));
    end
}

#[test]
fn zeroed_page_in_a_continued_record() {
    let end = page_damage(|b| b[..8192].fill(0));
    assert_eq!(
        end.reason,
        EndReason::BadPage {
            page: Lsn(0x802000),
            tli: 1,
            error: PageError::BadMagic { found: 0 }
        }
    );
}

#[test]
fn missing_contrecord_flag() {
    let end = page_damage(|b| b[2] &= !1);
    assert_eq!(
        end.reason,
        EndReason::NoContrecordFlag {
            page: Lsn(0x802000)
        }
    );
}

#[test]
fn wrong_contrecord_length() {
    let end = page_damage(|b| b[16] = b[16].wrapping_add(1));
    assert!(matches!(
        end.reason,
        EndReason::InvalidContrecordLength {
            page: Lsn(0x802000),
            ..
        }
    ));
}

#[test]
fn invalid_info_bits() {
    let end = page_damage(|b| b[2] |= 0x10);
    assert!(
        matches!(
            end.reason,
            EndReason::BadPage {
                error: PageError::InvalidInfoBits { info: 0x15 },
                ..
            }
        ),
        "{end}"
    );
}

#[test]
fn timeline_going_backwards() {
    let end = page_damage(|b| b[4..8].fill(0));
    assert!(matches!(
        end.reason,
        EndReason::BadPage {
            error: PageError::TimelineBackwards {
                tli: 0,
                previous: 1
            },
            ..
        }
    ));
}

#[test]
fn unexpected_pageaddr() {
    let end = page_damage(|b| b[8..16].copy_from_slice(&0x702000u64.to_le_bytes()));
    assert!(matches!(
        end.reason,
        EndReason::BadPage {
            error: PageError::UnexpectedPageAddr {
                found: Lsn(0x702000)
            },
            ..
        }
    ));
}

#[test]
fn missing_and_truncated_segments() {
    // The 2.5 MB message at 0/892968 continues into segment 9.
    let dir = unpack_sample(15, "main");
    let seg9 = dir.path().join("000000010000000000000009");
    let full = fs::read(&seg9).unwrap();
    fs::remove_file(&seg9).unwrap();
    let (lsns, end) = read_all(dir.path(), 0x800068);
    assert_eq!(lsns.last(), Some(&Lsn(0x892938)));
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0x892968),
            reason: EndReason::MissingSegment { tli: 1, segno: 9 }
        }
    );

    fs::write(&seg9, &full[..0x80000]).unwrap();
    let (_, end) = read_all(dir.path(), 0x892968);
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0x892968),
            reason: EndReason::BadPage {
                page: Lsn(0x980000),
                tli: 1,
                error: PageError::Truncated
            }
        }
    );
}

#[test]
fn positions_postgres_refuses() {
    let dir = unpack_sample(15, "main");
    // Inside the long page header.
    let (_, end) = read_all(dir.path(), 0x800010);
    assert_eq!(end.reason, EndReason::InvalidRecordOffset);
    // Segment 9 begins with a continuation: no record starts after its header.
    let (_, end) = read_all(dir.path(), 0x900000);
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0x900028),
            reason: EndReason::ContrecordRequested
        }
    );
    // A random-access start in the middle of a record: its "header" is garbage.
    let (lsns, _) = read_all(dir.path(), 0x800070);
    assert!(lsns.is_empty());
}

#[test]
fn foreign_files_are_errors() {
    let dir = unpack_sample(15, "main");
    let mut r = WalReader::new(DirSource::new([dir.path()]), Lsn(0x800068), &TL1, MB)
        .with_system_identifier(42);
    assert!(matches!(
        r.next_record(),
        Err(WalError::WrongSystemId {
            found: 7710951575618446016,
            expected: 42,
            ..
        })
    ));
    patch(dir.path(), 0x800000, |b| {
        b[0..2].copy_from_slice(&0xABCDu16.to_le_bytes())
    });
    let mut r = WalReader::new(DirSource::new([dir.path()]), Lsn(0x800068), &TL1, MB);
    match r.next_record() {
        Err(e @ WalError::NotWal { magic: 0xABCD, .. }) => {
            assert!(e.to_string().contains("000000010000000000000008"), "{e}")
        }
        other => panic!("{:?}", other.map(|r| r.map(|r| r.lsn()))),
    }
}

#[test]
fn partial_only_when_no_complete_file() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let name = "00000001000000000000000E";
    fs::write(a.path().join(format!("{name}.partial")), b"p").unwrap();
    let src = DirSource::new([a.path(), b.path()]);
    assert_eq!(
        src.find(1, 0xE, MB),
        Some(FoundSegment {
            path: a.path().join(format!("{name}.partial")),
            partial: true
        })
    );
    fs::write(b.path().join(name), b"c").unwrap();
    assert_eq!(
        src.find(1, 0xE, MB),
        Some(FoundSegment {
            path: b.path().join(name),
            partial: false
        })
    );
    assert_eq!(src.find(2, 0xE, MB), None);

    // Reading timeline 1 of the v15 sample ends in its .partial at the switchpoint 0/E000A0.
    let dir = unpack_sample(15, "main");
    let (lsns, end) = read_all(dir.path(), 0xD24788);
    assert_eq!(lsns, [Lsn(0xD24788), Lsn(0xD24800), Lsn(0xE00028)]);
    assert_eq!(
        end,
        WalEnd {
            lsn: Lsn(0xE000A0),
            reason: EndReason::InvalidRecordLength { tot_len: 0 }
        }
    );
}

#[test]
fn backward_walk_visits_the_forward_records_in_reverse() {
    let dir = unpack_sample(15, "main");
    let history = newest_history(dir.path());
    let mut fwd = Vec::new();
    let mut r = WalReader::new(DirSource::new([dir.path()]), Lsn(0x800068), &history, MB);
    while let Some(rec) = r.next_record().unwrap() {
        fwd.push((rec.lsn(), rec.tot_len()));
    }
    let last = fwd.last().unwrap().0;
    assert_eq!(last, Lsn(0x1000028));
    let mut back = BackwardReader::new(DirSource::new([dir.path()]), last, &history, MB);
    let mut seen = Vec::new();
    while let Some(rec) = back.prev_record().unwrap() {
        if let Some(&(p, _)) = seen.last() {
            assert!(rec.lsn() < p, "xl_prev must strictly decrease");
        }
        seen.push((rec.lsn(), rec.tot_len()));
    }
    seen.reverse();
    assert_eq!(seen, fwd);
    // The first record's xl_prev (0/7FDFF0) lies in segment 7, which is not in the sample.
    assert_eq!(
        back.end().unwrap(),
        &WalEnd {
            lsn: Lsn(0x7FDFF0),
            reason: EndReason::MissingSegment { tli: 1, segno: 7 }
        }
    );
}

/// Flipping any of many bytes (page headers, record headers, block headers, payloads, across a
/// page boundary) gives records and an end, never a panic; everything before the damage is read.
#[test]
fn damage_sweep_never_panics() {
    let clean = unpack_sample(15, "main");
    let first_page_records = {
        let (lsns, _) = read_all(clean.path(), 0x800068);
        lsns.into_iter().take(40).collect::<Vec<_>>()
    };
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut offsets: Vec<usize> = (0..48).chain(0x1FF0..0x2030).collect();
    offsets.extend((0..60).map(|_| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % 0x6000) as usize
    }));
    let dir = unpack_sample(15, "main");
    let path = dir.path().join("000000010000000000000008");
    let original = fs::read(&path).unwrap();
    for off in offsets {
        let mut bytes = original.clone();
        bytes[off] ^= 0xA5;
        fs::write(&path, &bytes).unwrap();
        let mut r = WalReader::new(DirSource::new([dir.path()]), Lsn(0x800068), &TL1, MB);
        let mut got = Vec::new();
        loop {
            match r.next_record() {
                Ok(Some(rec)) => {
                    let _ = rec.blocks().count();
                    got.push(rec.lsn());
                    if got.len() == 40 {
                        break;
                    }
                }
                Ok(None) => break,
                // Only the long header identifies the file (magic, system id, sizes).
                Err(e) => {
                    assert!(off < 40, "offset {off:#x}: {e}");
                    break;
                }
            }
        }
        // Records that end before the damaged byte are read as before.
        let damaged = Lsn(0x800000 + off as u64);
        for (a, b) in got.iter().zip(&first_page_records) {
            assert!(a == b || *b >= damaged, "offset {off:#x}: {a} vs {b}");
        }
        if let (true, Some(end)) = (got.len() < 40, r.end()) {
            assert!(
                end.lsn <= damaged || end.lsn.0 < 0x800000 + 0x6000 + 8192,
                "offset {off:#x}: {end}"
            );
        }
    }
}
