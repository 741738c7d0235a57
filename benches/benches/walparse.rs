//! walparse's hot path on one real 16 MB pgbench segment (see `benches/src/lib.rs` for where it
//! comes from): page headers, record header + CRC, full record decode, the whole segment read
//! end to end (and how its bytes are brought in), and the backward `xl_prev` walk.

use std::hint::black_box;
use std::io::Read;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pgdiverge_benches::{any_segment, pgbench_segment, records_of};
use walparse::page::{self, LatestPage, PageExpect};
use walparse::record::{record_crc, RecordHeader};
use walparse::{BackwardReader, DirSource, Lsn, PageHeader, ReadMode, Record, TliSpan, WalReader};

fn small(c: &mut Criterion) {
    let Some(seg) = any_segment() else {
        eprintln!("skipped: no real WAL segment found");
        return;
    };
    eprintln!("input: {}", seg.what);
    let recs = records_of(&seg);
    let blcksz = 8192usize;
    let start = seg.seg_size.segment_start(seg.segno);
    let version = recs.version;

    let mut g = c.benchmark_group("page_header");
    g.throughput(Throughput::Elements((seg.bytes.len() / blcksz) as u64));
    g.bench_function("parse+validate every page", |b| {
        b.iter(|| {
            let mut latest = LatestPage::default();
            let expect = PageExpect {
                magic: version.page_magic,
                sysid: None,
                seg_size: seg.seg_size,
                blcksz: blcksz as u32,
            };
            let mut ok = 0u32;
            for (i, p) in seg.bytes.chunks_exact(blcksz).enumerate() {
                let h = PageHeader::parse(p).expect("a page header");
                let at = Lsn(start.0 + (i * blcksz) as u64);
                ok += u32::from(page::validate(&h, at, &expect, &mut latest).is_ok());
            }
            black_box(ok)
        })
    });
    g.finish();

    let raw = |r: &pgdiverge_benches::RawRecord| &recs.bytes[r.off..r.off + r.len];
    let mut g = c.benchmark_group("record");
    g.throughput(Throughput::Elements(recs.records.len() as u64));
    g.bench_function("header+crc", |b| {
        b.iter(|| {
            let mut ok = 0u32;
            for r in &recs.records {
                let bytes = raw(r);
                let h = RecordHeader::parse(bytes).expect("a header");
                ok += u32::from(record_crc(bytes) == h.crc);
            }
            black_box(ok)
        })
    });
    g.bench_function("crc only (crc32c, ceiling)", |b| {
        b.iter(|| {
            let mut x = 0u32;
            for r in &recs.records {
                x ^= crc32c::crc32c(raw(r));
            }
            black_box(x)
        })
    });
    // The record CRC as PostgreSQL computes it (body, then header), two ways: walparse's
    // `record_crc` (one SSE 4.2 call for records under 792 bytes) and the crate's two calls.
    g.bench_function("record_crc (walparse)", |b| {
        b.iter(|| {
            let mut x = 0u32;
            for r in &recs.records {
                x ^= record_crc(raw(r));
            }
            black_box(x)
        })
    });
    g.bench_function("record crc (crc32c crate, body then header)", |b| {
        b.iter(|| {
            let mut x = 0u32;
            for r in &recs.records {
                let bytes = raw(r);
                x ^= crc32c::crc32c_append(crc32c::crc32c(&bytes[24..]), &bytes[..20]);
            }
            black_box(x)
        })
    });
    g.bench_function("full decode (header, blocks)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for r in &recs.records {
                let rec = Record::decode(raw(r), r.lsn, r.end, r.next, version).expect("decodes");
                for blk in rec.blocks() {
                    n += blk.block as usize + blk.data.len();
                }
                n += rec.main_data().len();
            }
            black_box(n)
        })
    });
    g.finish();
}

fn segment(c: &mut Criterion) {
    let Some(seg) = pgbench_segment() else {
        return;
    };
    let recs = records_of(&seg);
    let spans = [TliSpan {
        tli: seg.tli,
        begin: Lsn::INVALID,
        end: None,
    }];
    let boundary = seg.seg_size.segment_start(seg.segno + 1);
    let path = seg
        .dir
        .join(seg.what.rsplit('/').next().expect("a file name"));

    let mut g = c.benchmark_group("segment_16MB");
    g.throughput(Throughput::Bytes(seg.bytes.len() as u64));
    g.sample_size(20);
    for (name, mode) in [
        ("scan mmap", ReadMode::Mmap),
        ("scan read()", ReadMode::Read),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let source = DirSource::new([&seg.dir]).with_read_mode(mode);
                let mut r = WalReader::new(&source, recs.first, &spans, seg.seg_size);
                let mut n = 0u64;
                while r.position() < boundary {
                    match r.next_record().expect("read") {
                        Some(rec) => n += u64::from(rec.tot_len()),
                        None => break,
                    }
                }
                black_box(n)
            })
        });
    }
    g.bench_function("backward xl_prev walk", |b| {
        b.iter(|| {
            let source = DirSource::new([&seg.dir]);
            let mut r = BackwardReader::new(&source, recs.last, &spans, seg.seg_size);
            let mut n = 0u32;
            while let Some(rec) = r.prev_record().expect("read") {
                if rec.lsn() <= recs.first {
                    break;
                }
                n += 1;
            }
            black_box(n)
        })
    });
    // Bringing the bytes in: each variant opens the file and touches every byte (CRC-32C).
    let mut buf = vec![0u8; seg.bytes.len()];
    let open = || std::fs::File::open(&path).expect("open the segment");
    g.bench_function("bytes: mmap", |b| {
        b.iter(|| {
            // SAFETY: a read-only private map of a file nobody writes during the benchmark.
            let m = unsafe { memmap2::Mmap::map(&open()) }.expect("map");
            black_box(crc32c::crc32c(&m))
        })
    });
    g.bench_function("bytes: mmap MAP_POPULATE", |b| {
        b.iter(|| {
            // SAFETY: as above.
            let m = unsafe { memmap2::MmapOptions::new().populate().map(&open()) }.expect("map");
            black_box(crc32c::crc32c(&m))
        })
    });
    g.bench_function("bytes: mmap MADV_SEQUENTIAL", |b| {
        b.iter(|| {
            // SAFETY: as above.
            let m = unsafe { memmap2::Mmap::map(&open()) }.expect("map");
            m.advise(memmap2::Advice::Sequential).expect("madvise");
            black_box(crc32c::crc32c(&m))
        })
    });
    g.bench_function("bytes: read() into a reused buffer", |b| {
        b.iter(|| {
            open().read_exact(&mut buf).expect("read");
            black_box(crc32c::crc32c(&buf))
        })
    });
    g.bench_function("bytes: read() into a new buffer", |b| {
        b.iter(|| {
            let mut v = Vec::with_capacity(seg.bytes.len());
            open().read_to_end(&mut v).expect("read");
            black_box(crc32c::crc32c(&v))
        })
    });
    g.finish();
}

criterion_group!(benches, small, segment);
criterion_main!(benches);
