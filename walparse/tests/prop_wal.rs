//! Properties of the WAL readers over WAL made by the test-only writer (`support/walwriter.rs`):
//! any list of records — empty to larger than a segment, block references with and without
//! full-page images, crossing page and segment boundaries, `XLOG_SWITCH`, every version's magic,
//! 1–4 MB segments, 1–64 kB pages — is read back exactly; a segment truncated or zero-filled at
//! any point gives exactly the records before the damage and the end PostgreSQL's reader reports;
//! the backward reader visits the same records in reverse.

mod support;

use proptest::prelude::*;
use support::walwriter::*;
use walparse::page::PageError;
use walparse::version::{BimgScheme, VERSIONS};
use walparse::{
    BackwardReader, Compression, DirSource, EndReason, Lsn, ReadMode, RelFileLocator, TliSpan,
    WalEnd, WalError, WalReader, WalSegSize,
};

const SYSID: u64 = 7_310_000_000_000_000_001;

/// One generated WAL: layout parameters and records.
#[derive(Clone, Debug)]
struct Case {
    version: usize,
    seg_mb: u32,
    blcksz: u32,
    first_segno: u64,
    recs: Vec<RecSpec>,
}

fn image(v15: bool) -> impl Strategy<Value = ImageSpec> {
    let methods = if v15 {
        vec![Compression::Pglz, Compression::Lz4, Compression::Zstd]
    } else {
        vec![Compression::Pglz]
    };
    prop_oneof![
        Just(ImageSpec::Full),
        (1u16..4096)
            .prop_flat_map(|o| (Just(o), 1u16..(8192 - o)))
            .prop_map(|(offset, len)| ImageSpec::Hole { offset, len }),
        (
            1u16..8192,
            proptest::sample::select(methods),
            proptest::option::of((1u16..4096, 1u16..4096)),
        )
            .prop_map(|(stored, method, hole)| ImageSpec::Compressed {
                stored,
                method,
                hole
            }),
    ]
}

fn block(v15: bool) -> impl Strategy<Value = BlockSpec> {
    (
        (any::<u32>(), any::<u32>(), any::<u32>()),
        any::<bool>(),
        0u8..4,
        any::<u32>(),
        any::<bool>(),
        proptest::option::weighted(0.4, image(v15)),
        prop_oneof![3 => Just(0u16), 3 => 1u16..200, 1 => 200u16..9000],
        any::<u64>(),
    )
        .prop_map(
            |((spc, db, rel), same_rel, fork, block, will_init, image, data_len, seed)| BlockSpec {
                id: 0,
                rel: RelFileLocator { spc, db, rel },
                same_rel,
                fork,
                block,
                will_init,
                image,
                data_len,
                seed,
            },
        )
}

fn record(v15: bool) -> impl Strategy<Value = RecSpec> {
    let plain = (
        1u8..=21,
        any::<u32>(),
        proptest::collection::vec(block(v15), 0..4),
        proptest::collection::vec(1u8..=8, 4),
        proptest::option::weighted(0.2, any::<u16>()),
        proptest::option::weighted(0.2, any::<u32>()),
        prop_oneof![
            40 => 0u32..300,
            12 => 300u32..30_000,
            1 => 1_050_000u32..1_300_000, // larger than a 1 MB segment
        ],
        any::<u64>(),
    )
        .prop_map(
            |(rmid, xid, mut blocks, ids, origin, toplevel_xid, main_len, seed)| {
                // Strictly ascending ids from 0..=31, with gaps.
                let mut id = 0u8;
                for (b, step) in blocks.iter_mut().zip(ids) {
                    id += step;
                    b.id = id - 1;
                }
                RecSpec {
                    rmid,
                    info: 0,
                    xid,
                    blocks,
                    origin,
                    toplevel_xid,
                    main_len,
                    seed,
                }
            },
        );
    prop_oneof![30 => plain, 1 => Just(RecSpec::switch())]
}

fn case() -> impl Strategy<Value = Case> {
    (
        0..VERSIONS.len(),
        prop_oneof![6 => Just(1u32), 1 => Just(2), 1 => Just(4)],
        prop_oneof![
            6 => Just(8192u32),
            1 => Just(1024),
            1 => Just(2048),
            1 => Just(4096),
            1 => Just(16384),
            1 => Just(65536)
        ],
        1u64..0x300,
    )
        .prop_flat_map(|(version, seg_mb, blcksz, first_segno)| {
            let v15 = VERSIONS[version].bimg == BimgScheme::V15;
            proptest::collection::vec(record(v15), 1..30).prop_map(move |recs| Case {
                version,
                seg_mb,
                blcksz,
                first_segno,
                recs,
            })
        })
}

fn write(c: &Case) -> WalWriter {
    let seg = WalSegSize::new(c.seg_mb << 20).unwrap();
    let mut w = WalWriter::new(&VERSIONS[c.version], seg, c.blcksz, SYSID, 1, c.first_segno);
    for r in &c.recs {
        w.push(r);
    }
    w
}

/// Records read: LSN and bytes.
type Got = Vec<(Lsn, Vec<u8>)>;

const TL1: [TliSpan; 1] = [TliSpan {
    tli: 1,
    begin: Lsn::INVALID,
    end: None,
}];

/// Reads everything from the writer's start; the LSNs and bytes of each record, and the end.
fn read(w: &WalWriter, src: MemSource) -> (Got, Result<WalEnd, WalError>) {
    let mut r = WalReader::new(src, w.start, &TL1, w.seg_size);
    let mut got = Vec::new();
    loop {
        match r.next_record() {
            Ok(Some(rec)) => got.push((rec.lsn(), rec.raw().to_vec())),
            Ok(None) => return (got, Ok(*r.end().unwrap())),
            Err(e) => return (got, Err(e)),
        }
    }
}

fn expected_clean(w: &WalWriter) -> WalEnd {
    let (lsn, kind) = w.clean_end();
    let reason = match kind {
        CleanEnd::ZeroLength => EndReason::InvalidRecordLength { tot_len: 0 },
        CleanEnd::ZeroPage => EndReason::BadPage {
            page: lsn,
            tli: 1,
            error: PageError::BadMagic { found: 0 },
        },
        CleanEnd::MissingSegment => EndReason::MissingSegment {
            tli: 1,
            segno: lsn.segno(w.seg_size),
        },
    };
    WalEnd { lsn, reason }
}

fn assert_prefix(w: &WalWriter, got: &[(Lsn, Vec<u8>)], n: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), n, "records read");
    for (g, e) in got.iter().zip(&w.written) {
        prop_assert_eq!(g.0, e.lsn);
        prop_assert!(g.1 == e.raw, "bytes of the record at {}", e.lsn);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The reader returns exactly the records written — positions, bytes, block references,
    /// main data — and ends where the writer stopped, for the reason PostgreSQL gives.
    #[test]
    fn reads_back_exactly_what_was_written(c in case()) {
        let w = write(&c);
        let mut r = WalReader::new(w.source(), w.start, &TL1, w.seg_size);
        let mut i = 0;
        while let Some(rec) = r.next_record().unwrap() {
            let e = &w.written[i];
            prop_assert_eq!(rec.lsn(), e.lsn);
            prop_assert_eq!(rec.end_lsn(), e.end);
            prop_assert_eq!(rec.next_lsn(), e.next);
            prop_assert!(rec.raw() == &e.raw[..]);
            prop_assert!(rec.main_data() == &e.main[..]);
            prop_assert_eq!(rec.rmid(), c.recs[i].rmid);
            prop_assert_eq!(rec.xid(), c.recs[i].xid);
            prop_assert_eq!(rec.origin(), c.recs[i].origin);
            let top = c.recs[i].toplevel_xid.filter(|_| VERSIONS[c.version].has_toplevel_xid_block);
            prop_assert_eq!(rec.toplevel_xid(), top);
            prop_assert_eq!(rec.block_count(), e.blocks.len());
            for (b, x) in rec.blocks().zip(&e.blocks) {
                prop_assert_eq!(b.id, x.id);
                prop_assert_eq!(b.rel, x.rel);
                prop_assert_eq!(b.fork, x.fork);
                prop_assert_eq!(b.block, x.block);
                prop_assert_eq!(b.will_init, x.will_init);
                prop_assert_eq!(b.image.map(|i| i.length), x.image_len);
                if let Some(img) = b.image {
                    prop_assert_eq!((img.hole_offset, img.hole_length), x.hole);
                    prop_assert_eq!(Some(img.compression), x.compression);
                    prop_assert!(img.apply);
                }
                prop_assert!(b.image_bytes == &x.image_bytes[..]);
                prop_assert!(b.data == &x.data[..]);
            }
            i += 1;
        }
        prop_assert_eq!(i, w.written.len());
        prop_assert_eq!(*r.end().unwrap(), expected_clean(&w));
        prop_assert_eq!(r.version().map(|v| v.major), Some(VERSIONS[c.version].major));
        prop_assert_eq!(r.wal_block_size(), Some(c.blcksz));
        prop_assert_eq!(r.system_identifier(), Some(SYSID));
    }

    /// A segment cut at any byte: the records on complete pages before the cut, then "the file
    /// ends before page X" at the first record that needs the cut page.
    #[test]
    fn truncated_segment_gives_exact_prefix(c in case(), which in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
        let w = write(&c);
        let segnos: Vec<u64> = w.segs.keys().copied().collect();
        let segno = segnos[which.index(segnos.len())];
        let seg_start = w.seg_size.segment_start(segno);
        // Cut somewhere up to one page past the last byte written in this segment.
        let last = w.written.iter().filter(|x| x.end.segno(w.seg_size) >= segno && x.lsn.segno(w.seg_size) <= segno)
            .map(|x| x.end.0.min(seg_start.0 + w.seg_size.bytes()))
            .max().unwrap_or(seg_start.0);
        let span = (last - seg_start.0 + u64::from(c.blcksz)).min(w.seg_size.bytes());
        let cut = at.index(span as usize + 1) as u64;
        let mut src = w.source();
        src.segs.get_mut(&(1, segno)).unwrap().truncate(cut as usize);
        let qt = Lsn(seg_start.0 + cut - cut % u64::from(c.blcksz));
        let (got, end) = read(&w, src);
        let end = end.unwrap();
        let truncated = EndReason::BadPage { page: qt, tli: 1, error: PageError::Truncated };
        // The first record that needs a byte of a cut page (records after an XLOG_SWITCH in
        // an earlier segment do not).
        let seg_end = Lsn(seg_start.0 + w.seg_size.bytes());
        match w.written.iter().position(|x| x.end > qt && x.attempt < seg_end) {
            Some(k) => {
                assert_prefix(&w, &got, k)?;
                let x = &w.written[k];
                let lsn = if x.lsn < qt { x.lsn } else { x.attempt };
                prop_assert_eq!(end, WalEnd { lsn, reason: truncated });
            }
            None => {
                assert_prefix(&w, &got, w.written.len())?;
                let clean = expected_clean(&w);
                if clean.lsn >= qt && clean.lsn.segno(w.seg_size) == segno {
                    prop_assert_eq!(end, WalEnd { lsn: clean.lsn, reason: truncated });
                } else {
                    prop_assert_eq!(end, clean);
                }
            }
        }
    }

    /// A segment zero-filled from any byte on: the records before the first byte that changed,
    /// then the end PostgreSQL reports for what was zeroed (a page header, a record's length, its
    /// prev-link, a continuation page, or bytes under the CRC).
    #[test]
    fn zero_filled_segment_gives_exact_prefix(c in case(), which in any::<prop::sample::Index>(), at in any::<prop::sample::Index>()) {
        let w = write(&c);
        let segnos: Vec<u64> = w.segs.keys().copied().collect();
        let segno = segnos[which.index(segnos.len())];
        let seg_start = w.seg_size.segment_start(segno);
        let seg_len = w.seg_size.bytes();
        let last = w.written.iter().map(|x| x.end.0).max().unwrap().min(seg_start.0 + seg_len);
        let span = last.saturating_sub(seg_start.0).max(1);
        let p = Lsn(seg_start.0 + at.index(span as usize) as u64);
        let bytes = &w.segs[&segno];
        let off = p.segment_offset(w.seg_size) as usize;
        let Some(first_nz) = bytes[off..].iter().position(|&b| b != 0) else {
            return Ok(()); // nothing changes
        };
        let cpos = Lsn(p.0 + first_nz as u64);
        let mut src = w.source();
        src.segs.get_mut(&(1, segno)).unwrap()[off..].fill(0);
        let (got, end) = read(&w, src);
        let k = w.written.iter().position(|x| x.end > cpos).expect("a changed byte belongs to a record");
        assert_prefix(&w, &got, k)?;
        let x = &w.written[k];
        let page_of = |l: Lsn| Lsn(l.0 - l.0 % u64::from(c.blcksz));
        let hdr_page = page_of(cpos);
        let in_header = cpos.0 - hdr_page.0 < w.header_size(hdr_page);
        let is_seg_start = hdr_page.segment_offset(w.seg_size) == 0;
        if in_header {
            // A page header: the page's own error, or a continuation check on it; damage to the
            // long header's identity fields is an error (not this cluster's WAL).
            match end {
                Ok(e) => {
                    let lsn = if cpos < x.lsn { x.attempt } else { x.lsn };
                    prop_assert_eq!(e.lsn, lsn, "{}", e);
                    let ok = matches!(e.reason,
                        EndReason::BadPage { page, .. }
                        | EndReason::NoContrecordFlag { page }
                        | EndReason::InvalidContrecordLength { page, .. } if page == hdr_page);
                    prop_assert!(ok, "zeroed from {} (header of {}): {}", p, hdr_page, e);
                }
                Err(WalError::NotWal { .. }) => prop_assert!(is_seg_start && k == 0),
                Err(e @ (WalError::WrongSystemId { .. } | WalError::WrongSegmentSize { .. } | WalError::WrongBlockSize { .. })) => {
                    prop_assert!(is_seg_start && cpos.0 - hdr_page.0 >= 4, "zeroed from {}: {}", p, e);
                }
                Err(e) => prop_assert!(false, "zeroed from {}: {}", p, e),
            }
        } else {
            let e = end.unwrap();
            prop_assert_eq!(e.lsn, x.lsn, "{}", e);
            let i = x.byte_at(cpos).expect("a record byte");
            // The first header of a later page of this record that the zeroing reached.
            let zeroed_page = x.pieces.iter().skip(1).map(|&(l, _, _)| page_of(l))
                .find(|&pg| pg > cpos && pg.segno(w.seg_size) == segno);
            let new_len = {
                let mut b = [0u8; 4];
                for (j, byte) in b.iter_mut().enumerate() {
                    let l = x.lsn_of_byte(j);
                    *byte = if l >= p && l.segno(w.seg_size) == segno { 0 } else { x.raw[j] };
                }
                u32::from_le_bytes(b)
            };
            let prev_changed = (8..16).any(|j| {
                let l = x.lsn_of_byte(j);
                l >= p && l.segno(w.seg_size) == segno && x.raw[j] != 0
            });
            if i < 4 && new_len < 24 {
                prop_assert_eq!(e.reason, EndReason::InvalidRecordLength { tot_len: new_len });
            } else if i < 4 {
                let ok = matches!(e.reason, EndReason::IncorrectPrev { .. } | EndReason::BadCrc { .. }
                    | EndReason::BadPage { .. } | EndReason::InvalidContrecordLength { .. }
                    | EndReason::NoContrecordFlag { .. });
                prop_assert!(ok, "{}", e);
            } else {
                // A header split over two pages is checked once the second page is read.
                let split = x.pieces[0].2 < 24;
                let second = x.pieces.get(1).map(|&(l, _, _)| page_of(l));
                if split && zeroed_page.is_some() && zeroed_page == second {
                    prop_assert_eq!(e.reason, EndReason::BadPage { page: zeroed_page.unwrap(), tli: 1, error: PageError::BadMagic { found: 0 } });
                } else if prev_changed && k > 0 {
                    let ok = matches!(e.reason, EndReason::IncorrectPrev { expected: Some(l), .. } if l == w.written[k - 1].lsn);
                    prop_assert!(ok, "{}", e);
                } else if let Some(pg) = zeroed_page {
                    // The record's next page was zeroed: its header fails before the record is whole.
                    prop_assert_eq!(e.reason, EndReason::BadPage { page: pg, tli: 1, error: PageError::BadMagic { found: 0 } });
                } else {
                    let ok = matches!(e.reason, EndReason::BadCrc { .. });
                    prop_assert!(ok, "zeroed from {} (record byte {}): {}", p, i, e);
                }
            }
        }
    }

    /// The backward reader, from the last record, visits every record in reverse and stops at
    /// the first (whose `xl_prev` is invalid) without an end of WAL.
    #[test]
    fn backward_reader_is_the_reverse(c in case()) {
        let w = write(&c);
        let last = w.written.last().unwrap().lsn;
        let mut b = BackwardReader::new(w.source(), last, &TL1, w.seg_size);
        let mut lsns = Vec::new();
        while let Some(rec) = b.prev_record().unwrap() {
            lsns.push(rec.lsn());
            prop_assert!(rec.raw() == &w.written[w.written.len() - lsns.len()].raw[..]);
        }
        let expect: Vec<Lsn> = w.written.iter().rev().map(|x| x.lsn).collect();
        prop_assert_eq!(lsns, expect);
        prop_assert!(b.end().is_none());
    }
}

/// The same WAL as files: read with a map and with `read()`, from a directory, gives the same
/// records; a cut file gives the same prefix either way.
#[test]
fn files_read_the_same_mapped_and_read() {
    let v = walparse::WalVersion::for_major(15).unwrap();
    let seg = WalSegSize::new(1 << 20).unwrap();
    let mut w = WalWriter::new(v, seg, 8192, SYSID, 1, 3);
    for i in 0..400u64 {
        w.push(&RecSpec::plain(
            (i % 21 + 1) as u8,
            [10, 5000, 100, 9000][i as usize % 4],
            i,
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in w.files() {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let files = w.files();
    assert!(files.len() >= 2, "records cross a segment boundary");
    let read_with = |mode: ReadMode| {
        let src = DirSource::new([dir.path()]).with_read_mode(mode);
        let mut r = WalReader::new(src, w.start, &TL1, seg);
        let mut n = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            n.push((rec.lsn(), rec.raw().to_vec()));
        }
        (n, *r.end().unwrap())
    };
    let (a, end_a) = read_with(ReadMode::Mmap);
    let (b, end_b) = read_with(ReadMode::Read);
    assert_eq!(a.len(), w.written.len());
    assert_eq!(a, b);
    assert_eq!((end_a, end_b), (expected_clean(&w), expected_clean(&w)));
    // Cut the second file in the middle of a page.
    let (name, bytes) = &files[1];
    std::fs::write(dir.path().join(name), &bytes[..100_000]).unwrap();
    let (a, end_a) = read_with(ReadMode::Mmap);
    let (b, end_b) = read_with(ReadMode::Read);
    assert_eq!(a, b);
    assert_eq!(end_a, end_b);
    let qt = Lsn(w.seg_size.segment_start(4).0 + 98_304);
    assert!(
        matches!(end_a.reason, EndReason::BadPage { page, error: PageError::Truncated, .. } if page == qt),
        "{end_a}"
    );
    assert!(a.iter().all(|(l, _)| *l < qt));
}
