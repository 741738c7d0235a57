//! The floor of any whole-WAL check on this machine: map every segment file that holds a range
//! of WAL and compute one CRC-32C over all of its bytes, nothing else — no page headers, no
//! record boundaries, no decoding. A reader that verifies every record's CRC (pg_waldump,
//! `pgdiverge scan`) must at least bring these bytes in and run a CRC over them, so no such
//! reader can beat this process on the same range; `benches/vs-postgres.sh` times it beside
//! them to show how far a target ratio is from what the machine allows.
//!
//!   pgdiverge-floor DIR START END [THREADS] [populate] [sum]
//!
//! DIR is a pg_wal directory of timeline 1 with 16 MB segments; START and END are LSNs
//! (`X/Y`). THREADS (default 1) split the segments into contiguous shares. `populate` maps with
//! MAP_POPULATE (the fastest way to bring a whole segment in, measured in benches/README.md).
//! `sum` replaces the CRC by a plain sum of the bytes as 64-bit words: what reading every byte
//! costs without any checksum, to tell how much of the floor a faster CRC could save.

use std::fs::File;
use std::path::Path;

use walparse::{segment_file_name, Lsn, WalSegSize};

/// A plain sum of `b` as little-endian 64-bit words (the tail bytes added one by one).
fn sum_of(b: &[u8]) -> u32 {
    let mut chunks = b.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut chunks {
        acc = acc.wrapping_add(u64::from_le_bytes(c.try_into().unwrap()));
    }
    for &x in chunks.remainder() {
        acc = acc.wrapping_add(u64::from(x));
    }
    (acc ^ (acc >> 32)) as u32
}

fn crc_of_range(
    dir: &Path,
    seg: WalSegSize,
    segnos: &[u64],
    start: Lsn,
    end: Lsn,
    (populate, sum): (bool, bool),
) -> (u32, u64) {
    let (mut crc, mut bytes) = (0u32, 0u64);
    for &s in segnos {
        let path = dir.join(segment_file_name(1, s, seg));
        let file = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut opts = memmap2::MmapOptions::new();
        if populate {
            opts.populate();
        }
        // SAFETY: a read-only map of a file nothing writes during the benchmark.
        let map = unsafe { opts.map(&file) }.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let base = seg.segment_start(s).0;
        let lo = start.0.saturating_sub(base).min(map.len() as u64) as usize;
        let hi = end.0.saturating_sub(base).min(map.len() as u64) as usize;
        crc = if sum {
            crc ^ sum_of(&map[lo..hi])
        } else {
            crc32c::crc32c_append(crc, &map[lo..hi])
        };
        bytes += (hi - lo) as u64;
    }
    (crc, bytes)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: pgdiverge-floor DIR START END [THREADS] [populate]");
        std::process::exit(2);
    }
    let dir = Path::new(&args[1]);
    let start: Lsn = args[2].parse().expect("START");
    let end: Lsn = args[3].parse().expect("END");
    let threads: usize = args
        .get(4)
        .map_or(1, |t| t.parse().expect("THREADS"))
        .max(1);
    let populate = args.iter().skip(5).any(|a| a == "populate");
    let sum = args.iter().skip(5).any(|a| a == "sum");
    let seg = WalSegSize::new(16 << 20).unwrap();
    let segnos: Vec<u64> = (start.segno(seg)..=Lsn(end.0 - 1).segno(seg)).collect();
    let share = segnos.len().div_ceil(threads);
    let results: Vec<(u32, u64)> = std::thread::scope(|sc| {
        let handles: Vec<_> = segnos
            .chunks(share)
            .map(|part| sc.spawn(move || crc_of_range(dir, seg, part, start, end, (populate, sum))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let bytes: u64 = results.iter().map(|r| r.1).sum();
    let fold = results.iter().fold(0u32, |a, r| a ^ r.0);
    println!("bytes: {bytes}\ncrc fold: {fold:08X}");
}
