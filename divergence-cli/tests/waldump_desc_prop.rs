//! `pgdiverge waldump`'s descriptions read record payloads at fixed offsets; on hostile bytes
//! (any resource manager, any info bits, any main data, any data for block 0) they must give a
//! description or none, never panic. Records of every described major, 13 to 18.

use proptest::prelude::*;
use walparse::record::Record;
use walparse::{Lsn, WalVersion};

/// A record as xloginsert.c lays it out: the 24-byte header, block 0's header (with data, a new
/// relation; its data must not be empty) if any, the main data header (short form up to 255 bytes), block 0's data, the
/// main data. The CRC is not set: `Record::decode` does not check it.
fn raw_record(rmid: u8, info: u8, main: &[u8], block0: Option<&[u8]>) -> Vec<u8> {
    let mut body = Vec::new();
    if let Some(data) = block0 {
        body.push(0u8); // block id 0
        body.push(0x20); // BKPBLOCK_HAS_DATA, main fork
        body.extend_from_slice(&(data.len() as u16).to_le_bytes());
        for v in [1663u32, 5, 16384, 7] {
            body.extend_from_slice(&v.to_le_bytes()); // spc, db, rel, then the block number
        }
    }
    if !main.is_empty() {
        if main.len() <= 255 {
            body.extend_from_slice(&[255, main.len() as u8]);
        } else {
            body.push(254);
            body.extend_from_slice(&(main.len() as u32).to_le_bytes());
        }
    }
    if let Some(data) = block0 {
        body.extend_from_slice(data);
    }
    body.extend_from_slice(main);
    let tot_len = 24 + body.len() as u32;
    let mut raw = Vec::with_capacity(tot_len as usize);
    raw.extend_from_slice(&tot_len.to_le_bytes());
    raw.extend_from_slice(&700u32.to_le_bytes()); // xl_xid
    raw.extend_from_slice(&0x0100_0000u64.to_le_bytes()); // xl_prev
    raw.extend_from_slice(&[info, rmid, 0, 0]);
    raw.extend_from_slice(&0u32.to_le_bytes()); // xl_crc
    raw.extend_from_slice(&body);
    raw
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20000))]

    #[test]
    fn descriptions_never_panic_on_hostile_payloads(
        major in 13u32..=18,
        rmid in 0u8..=21,
        info in any::<u8>(),
        // Mostly short payloads: the layouts are read within their first few dozen bytes.
        main in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..32),
            prop::collection::vec(any::<u8>(), 0..400),
        ],
        block0 in prop::option::of(prop::collection::vec(any::<u8>(), 1..64)),
    ) {
        let raw = raw_record(rmid, info, &main, block0.as_deref());
        let lsn = Lsn(0x0100_0028);
        let end = Lsn(lsn.0 + raw.len() as u64);
        let version = WalVersion::for_major(major).unwrap();
        let rec = Record::decode(&raw, lsn, end, end.maxalign(), version).unwrap();
        prop_assert_eq!(rec.main_data(), &main[..]);
        let _ = pgdiverge::waldump_desc::describe(&rec);
        let line = pgdiverge::waldump::render_record(&rec, true);
        prop_assert!(line.starts_with("rmgr: "));
    }
}

/// The writer above makes records the decoder reads back as written, so the property does test
/// the descriptions (not a decode error): a sequence record's relation is described.
#[test]
fn the_records_written_here_are_described() {
    let mut main = Vec::new();
    for v in [1663u32, 5, 16384] {
        main.extend_from_slice(&v.to_le_bytes());
    }
    let raw = raw_record(15, 0x00, &main, Some(&[1, 2, 3]));
    let lsn = Lsn(0x0100_0028);
    let end = Lsn(lsn.0 + raw.len() as u64);
    let rec = Record::decode(
        &raw,
        lsn,
        end,
        end.maxalign(),
        WalVersion::for_major(15).unwrap(),
    )
    .unwrap();
    assert_eq!(
        pgdiverge::waldump_desc::describe(&rec).as_deref(),
        Some("rel 1663/5/16384")
    );
    assert_eq!(rec.block(0).unwrap().data, &[1, 2, 3]);
}
