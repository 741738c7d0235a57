//! A segment file truncated by another process while it is mapped: no SIGBUS, the lost pages
//! read as zeros, the segment says so, and a reader stops at the end of what is left.

use std::fs::OpenOptions;
use std::io::Write;

use walparse::segment::{DirSource, ReadMode, Segment};
use walparse::{Lsn, WalReader, WalSegSize};

const MB: usize = 1 << 20;

fn patterned(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8 + 1).collect()
}

#[test]
fn truncation_under_a_map_reads_zeros_instead_of_killing_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("000000010000000000000001");
    std::fs::write(&path, patterned(MB)).unwrap();
    let seg = Segment::open(&path, 1, 1, false, ReadMode::Mmap, MB as u64).unwrap();
    // Touch a page before the truncation: it stays readable either way.
    assert_eq!(seg.bytes()[100], patterned(MB)[100]);
    assert!(!seg.truncated_while_mapped());

    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(8192)
        .unwrap();

    let bytes = seg.bytes();
    assert_eq!(bytes.len(), MB, "the map keeps its length");
    // Past the new end: zeros, where an unguarded map would have raised SIGBUS.
    assert!(bytes[MB / 2..MB / 2 + 4096].iter().all(|&b| b == 0));
    assert!(bytes[MB - 1] == 0);
    assert!(seg.truncated_while_mapped());
    // Before it: the file's bytes.
    assert_eq!(&bytes[..8192], &patterned(MB)[..8192]);
    drop(seg);

    // A later map of the same (now short) file is not marked.
    let again = Segment::open(&path, 1, 1, false, ReadMode::Mmap, MB as u64).unwrap();
    assert_eq!(again.bytes().len(), 8192);
    assert!(!again.truncated_while_mapped());
}

#[test]
fn a_real_segment_truncated_while_read_gives_a_prefix_of_its_records() {
    // A segment of fixture 11-split-brain-pg13 with a few hundred records, copied so that the
    // truncation touches only the copy.
    let wal = pgdiverge_fixtures::scenario("11-split-brain-pg13")
        .unpacked()
        .join("old-primary/pg_wal");
    let name = "000000010000000000000010";
    // The fixtures are made with 1 MB segments.
    let seg_size = WalSegSize::new(MB as u32).unwrap();
    let segno = 0x10;
    let src = wal.join(name);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&std::fs::read(&src).unwrap()).unwrap();
    drop(f);
    let start = seg_size.segment_start(segno);

    let all: Vec<Lsn> = {
        let source = DirSource::new([dir.path()]);
        let mut r = WalReader::new(source, start, &[], seg_size);
        std::iter::from_fn(|| r.next_record().unwrap().map(|rec| rec.lsn())).collect()
    };
    assert!(all.len() > 100, "{} records", all.len());

    let source = DirSource::new([dir.path()]).with_read_mode(ReadMode::Mmap);
    let mut r = WalReader::new(source, start, &[], seg_size);
    let mut seen = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        seen.push(rec.lsn());
        if seen.len() == 10 {
            // Cut the file after its first two pages while the reader holds it mapped (the
            // tenth record is still on the first page).
            assert!(rec_in_first_page(seen[9], start));
            OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(16384)
                .unwrap();
        }
    }
    assert!(seen.len() >= 10 && seen.len() < all.len());
    assert_eq!(seen[..], all[..seen.len()], "a prefix of the records");
    assert!(r.end().is_some(), "the reader reports an end of WAL");
}

fn rec_in_first_page(lsn: Lsn, start: Lsn) -> bool {
    lsn.0 - start.0 < 8192
}
