//! Seed inputs for every target, cut from the real files in `fixtures/` and
//! `shared/docs/samples` (segments of PostgreSQL 11–18, pg_control of 10–18, history files).
//! `seed.sh` writes them to `corpus/<target>/`; `tests/corpus.rs` uses them directly.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use walparse::version::VERSIONS;
use walparse::{first_record_lsn_in_segment, segment_file_name, Lsn, TliSpan, WalReader};

use crate::{compare_files, fixtures_dir, samples_dir, MemSource, StreamInput, PAGE, SEG};

/// One seed: target, file name, bytes.
pub type Seed = (&'static str, String, Vec<u8>);

fn unzstd(path: &Path) -> Option<Vec<u8>> {
    let f = fs::File::open(path).ok()?;
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(f)
        .ok()?
        .read_to_end(&mut out)
        .ok()?;
    Some(out)
}

fn sorted_dir(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Two consecutive timeline-1 segments of 1 MiB: (label, first segno, bytes, bytes).
fn segment_pairs() -> Vec<(String, u64, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for v in 11..=18 {
        let dir = samples_dir().join(format!("wal/v{v}/main"));
        let files = sorted_dir(&dir);
        for w in files.windows(2) {
            let name = |p: &Path| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            };
            let (a, b) = (name(&w[0]), name(&w[1]));
            let (Some(a), Some(b)) = (a.strip_suffix(".zst"), b.strip_suffix(".zst")) else {
                continue;
            };
            if a.len() != 24 || b.len() != 24 || !a.starts_with("00000001") {
                continue;
            }
            let (Ok(sa), Ok(sb)) = (
                u64::from_str_radix(&a[16..], 16),
                u64::from_str_radix(&b[16..], 16),
            ) else {
                continue;
            };
            if sb != sa + 1 {
                continue;
            }
            if let (Some(x), Some(y)) = (unzstd(&w[0]), unzstd(&w[1])) {
                out.push((format!("v{v}-{a}"), sa, x, y));
                break;
            }
        }
    }
    let wal = fixtures_dir().join("01-split-brain/old-primary/pg_wal");
    let (a, b) = (
        wal.join(segment_file_name(1, 0x10, SEG)),
        wal.join(segment_file_name(1, 0x11, SEG)),
    );
    if let (Ok(x), Ok(y)) = (fs::read(a), fs::read(b)) {
        out.push(("fixture-01".to_string(), 0x10, x, y));
    }
    out
}

/// Records read forward from the start of the pair: (lsn, end, raw).
fn records_of(segno: u64, a: &[u8], b: &[u8]) -> (u32, Vec<(Lsn, Lsn, Vec<u8>)>) {
    let src = MemSource {
        segs: vec![((1, segno), a.to_vec()), ((1, segno + 1), b.to_vec())],
    };
    let tl1 = [TliSpan {
        tli: 1,
        begin: Lsn::INVALID,
        end: None,
    }];
    let Ok(Some(first)) = first_record_lsn_in_segment(&src, 1, segno, SEG) else {
        return (0, Vec::new());
    };
    let mut r = WalReader::new(src, first, &tl1, SEG);
    let mut out = Vec::new();
    while let Ok(Some(rec)) = r.next_record() {
        out.push((rec.lsn(), rec.end_lsn(), rec.raw().to_vec()));
    }
    let major = r.version().map_or(15, |v| v.major);
    (major, out)
}

fn page(seg: &[u8], i: usize) -> &[u8] {
    &seg[(i * PAGE).min(seg.len())..((i + 1) * PAGE).min(seg.len())]
}

/// Every seed of every target.
pub fn all() -> Vec<Seed> {
    let mut out: Vec<Seed> = Vec::new();
    let pages_per_seg = (SEG.bytes() as usize / PAGE) as u16;
    for (label, segno, a, b) in segment_pairs() {
        let seg_start = SEG.segment_start(segno);
        let (major, recs) = records_of(segno, &a, &b);
        let vidx = VERSIONS.iter().position(|v| v.major == major).unwrap_or(5) as u8;
        // Page headers of the first pages.
        for i in 0..3usize {
            let lsn = seg_start.0 + (i * PAGE) as u64;
            let mut s = lsn.to_le_bytes().to_vec();
            s.extend_from_slice(&lsn.saturating_sub(PAGE as u64).to_le_bytes());
            s.extend_from_slice(&1u32.to_le_bytes());
            s.extend_from_slice(&page(&a, i)[..64]);
            out.push(("page_header", format!("{label}-page{i}"), s));
        }
        // Records: the first of each (rmid, info, has blocks) up to 16 kB.
        let mut kinds = Vec::new();
        for (lsn, _, raw) in &recs {
            let key = (raw[17], raw[16], raw.len() > 60);
            if raw.len() > 16 << 10 || kinds.contains(&key) {
                continue;
            }
            kinds.push(key);
            let mut s = vec![vidx];
            s.extend_from_slice(raw);
            out.push(("record", format!("{label}-{:X}", lsn.0), s));
        }
        // Stream: the first pages, and the pages around the segment boundary.
        let head_start = recs.first().map_or(40, |r| (r.0 .0 - seg_start.0) as u32);
        let head: Vec<(u16, &[u8])> = (0..3u16).map(|i| (i, page(&a, usize::from(i)))).collect();
        let segno16 = segno as u16;
        out.push((
            "stream",
            format!("{label}-head"),
            StreamInput::encode(head_start, 1 | 2, segno16, &head),
        ));
        let boundary_page = Lsn(seg_start.0 + SEG.bytes() - 3 * PAGE as u64);
        let window_end = Lsn(seg_start.0 + SEG.bytes() + 2 * PAGE as u64);
        let mut win: Vec<(u16, &[u8])> = vec![(0, page(&a, 0))];
        for i in pages_per_seg - 3..pages_per_seg {
            win.push((i, page(&a, usize::from(i))));
        }
        for i in 0..2u16 {
            win.push((128 + i, page(&b, usize::from(i))));
        }
        if let Some(r) = recs.iter().find(|r| r.0 >= boundary_page) {
            let start = (r.0 .0 - seg_start.0) as u32;
            out.push((
                "stream",
                format!("{label}-boundary"),
                StreamInput::encode(start, 4, segno16, &win),
            ));
        }
        // Backward: from the last record wholly inside each window.
        if let Some(r) = recs.iter().rev().find(|r| r.1 <= window_end) {
            let start = (r.0 .0 - seg_start.0) as u32;
            out.push((
                "backward",
                format!("{label}-boundary"),
                StreamInput::encode(start, 4, segno16, &win),
            ));
        }
        let head_end = Lsn(seg_start.0 + 3 * PAGE as u64);
        if let Some(r) = recs.iter().rev().find(|r| r.1 <= head_end) {
            let start = (r.0 .0 - seg_start.0) as u32;
            out.push((
                "backward",
                format!("{label}-head"),
                StreamInput::encode(start, 1 | 2, segno16, &head),
            ));
        }
    }
    // History files.
    let mut histories = Vec::new();
    for scen in sorted_dir(&fixtures_dir()) {
        for sub in sorted_dir(&scen) {
            for dir in [sub.join("pg_wal"), sub.clone()] {
                for f in sorted_dir(&dir) {
                    let name = f
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .into_owned();
                    if let Some(stem) = name.strip_suffix(".history") {
                        if let (Ok(tli), Ok(text)) = (u32::from_str_radix(stem, 16), fs::read(&f)) {
                            if !histories.iter().any(|(_, t): &(u32, Vec<u8>)| *t == text) {
                                histories.push((tli, text));
                            }
                        }
                    }
                }
            }
        }
    }
    let mut joined = 2u32.to_le_bytes().to_vec();
    for (i, (tli, text)) in histories.iter().enumerate() {
        let mut s = tli.to_le_bytes().to_vec();
        s.extend_from_slice(text);
        out.push(("history", format!("fixture-{i}-tli{tli}"), s));
        if i > 0 {
            joined.push(0xFF);
        }
        joined.extend_from_slice(text);
    }
    out.push(("history", "joined".to_string(), joined));
    // pg_control of every version and state.
    for v in 10..=18 {
        for f in sorted_dir(&samples_dir().join(format!("pg_control/v{v}"))) {
            let name = f
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if let (true, Ok(b)) = (name.starts_with("pg_control."), fs::read(&f)) {
                out.push(("control", format!("v{v}-{name}"), b));
            }
        }
    }
    // compare: each file overwritten with a few of its own bytes flipped, and the small files
    // replaced whole.
    for (i, (name, bytes)) in compare_files().iter().enumerate() {
        let safe = name.replace('/', "_");
        for off in [0u32, 20, 0x68, 0x2000, 0x2018] {
            if (off as usize) + 8 > bytes.len() {
                continue;
            }
            let mut s = vec![i as u8, 1];
            s.extend_from_slice(&off.to_le_bytes());
            s.extend(
                bytes[off as usize..off as usize + 8]
                    .iter()
                    .map(|b| b ^ 0x20),
            );
            out.push(("compare", format!("{safe}-flip{off:X}"), s));
        }
        if bytes.len() <= 8192 {
            let mut s = vec![i as u8, 0, 0, 0, 0, 0];
            s.extend_from_slice(bytes);
            out.push(("compare", format!("{safe}-whole"), s));
        }
        let mut s = vec![i as u8, 2];
        s.extend_from_slice(&0x3000u32.to_le_bytes());
        s.extend_from_slice(&[0; 8]);
        out.push(("compare", format!("{safe}-cut"), s));
    }
    out
}

/// Writes every seed to `dir/<target>/<name>`; returns how many.
pub fn write_all(dir: &Path) -> std::io::Result<usize> {
    let seeds = all();
    for (t, name, bytes) in &seeds {
        let d = dir.join(t);
        fs::create_dir_all(&d)?;
        fs::write(d.join(name), bytes)?;
    }
    Ok(seeds.len())
}
