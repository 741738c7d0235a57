//! The bodies of the fuzz targets, shared by the cargo-fuzz binaries in `fuzz_targets/` and by
//! `tests/corpus.rs`, which feeds them every seed (and random mutations of it) on stable Rust.
//!
//! Every target turns any bytes into values or errors; a panic, a hang or an unbounded
//! allocation is a finding. Targets assert the few properties that must hold for any input
//! (e.g. a history file re-parses to itself, records come out in strictly increasing order).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use walparse::page::{self, LatestPage, PageExpect, PageHeader};
use walparse::rmgr::{record_type_name, xact, xlog};
use walparse::segment::{Segment, SegmentSource};
use walparse::timeline::TimelineGraph;
use walparse::version::VERSIONS;
use walparse::{
    common_ancestor, first_record_lsn_in_segment, segment_file_name, BackwardReader, ControlFile,
    Lsn, Record, TimelineHistory, TliSpan, WalError, WalReader, WalSegSize,
};

pub mod seeds;

/// The segment size of the stream inputs (and of most fixtures): 1 MiB.
pub const SEG: WalSegSize = match WalSegSize::new(1 << 20) {
    Some(s) => s,
    None => panic!("1 MiB is a valid segment size"),
};
/// The page size the stream inputs are chunked in.
pub const PAGE: usize = 8192;

/// The repository's `fixtures/`, unpacked (their WAL is committed zstd-compressed), or
/// `PGDIVERGE_FIXTURES`.
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("PGDIVERGE_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(pgdiverge_fixtures::unpacked_root)
}

/// `shared/docs/samples` beside the checkout (may be absent).
pub fn samples_dir() -> PathBuf {
    std::env::var_os("PGDIVERGE_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/docs/samples"))
}

/// Segments held in memory.
#[derive(Clone, Debug, Default)]
pub struct MemSource {
    /// (timeline, segment number) → bytes.
    pub segs: Vec<((u32, u64), Vec<u8>)>,
}

impl SegmentSource for MemSource {
    fn open_segment(
        &self,
        tli: u32,
        segno: u64,
        seg_size: WalSegSize,
    ) -> Result<Option<Segment>, WalError> {
        Ok(self
            .segs
            .iter()
            .find(|(k, _)| *k == (tli, segno))
            .map(|(_, b)| {
                let name = PathBuf::from(segment_file_name(tli, segno, seg_size));
                Segment::from_bytes(name, tli, segno, false, b.clone())
            }))
    }
}

const TL1: [TliSpan; 1] = [TliSpan {
    tli: 1,
    begin: Lsn::INVALID,
    end: None,
}];

/// A stream input: two consecutive 1 MiB segments of timeline 1 built from sparse pages.
///
/// Layout: `start: u32 LE` (offset of the first record from the first segment's start, taken
/// modulo 2 MiB), `flags: u8` (bit 0: no second segment; bit 1: cut the first segment after its
/// last page given; bit 2: the same for the second; bit 3: require system identifier
/// `0x0102030405060708`), `segno: u16 LE` (the first segment's number), then chunks `page: u16 LE` (modulo 256: pages 0–127 are the first
/// segment, 128–255 the second) followed by up to 8192 bytes of that page.
#[derive(Debug)]
pub struct StreamInput {
    /// The first segment's number.
    pub segno: u64,
    /// Where to start reading.
    pub start: Lsn,
    /// The segments.
    pub source: MemSource,
    /// Require this system identifier.
    pub sysid: Option<u64>,
}

impl StreamInput {
    /// Decodes a stream input (`None` if shorter than the 7-byte prefix).
    pub fn decode(data: &[u8]) -> Option<StreamInput> {
        if data.len() < 7 {
            return None;
        }
        let start = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as u64 % (2 << 20);
        let flags = data[4];
        let segno = u64::from(u16::from_le_bytes([data[5], data[6]]));
        let seg_len = SEG.bytes() as usize;
        let mut segs = [vec![0u8; seg_len], vec![0u8; seg_len]];
        let mut last_end = [0usize; 2];
        let mut rest = &data[7..];
        while rest.len() >= 2 {
            let page = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % 256;
            let n = (rest.len() - 2).min(PAGE);
            let (s, off) = (page / 128, (page % 128) * PAGE);
            segs[s][off..off + n].copy_from_slice(&rest[2..2 + n]);
            last_end[s] = last_end[s].max(off + n);
            rest = &rest[2 + n..];
        }
        let [mut a, mut b] = segs;
        if flags & 2 != 0 {
            a.truncate(last_end[0]);
        }
        if flags & 4 != 0 {
            b.truncate(last_end[1]);
        }
        let mut source = MemSource {
            segs: vec![((1, segno), a)],
        };
        if flags & 1 == 0 {
            source.segs.push(((1, segno + 1), b));
        }
        Some(StreamInput {
            segno,
            start: Lsn(SEG.segment_start(segno).0 + start),
            source,
            sysid: (flags & 8 != 0).then_some(0x0102_0304_0506_0708),
        })
    }

    /// Encodes: the inverse of [`StreamInput::decode`] for pages given as (index, bytes).
    pub fn encode(start: u32, flags: u8, segno: u16, pages: &[(u16, &[u8])]) -> Vec<u8> {
        let mut v = start.to_le_bytes().to_vec();
        v.push(flags);
        v.extend_from_slice(&segno.to_le_bytes());
        for (i, p) in pages {
            v.extend_from_slice(&i.to_le_bytes());
            v.extend_from_slice(&p[..p.len().min(PAGE)]);
        }
        v
    }
}

/// Everything a consumer does with a record: blocks, main data, the rmgr decoders, the name,
/// `pgdiverge waldump`'s rendering.
fn touch(rec: &Record<'_>) -> usize {
    let mut n = rec.main_data().len() + rec.rec_len() as usize;
    for b in rec.blocks() {
        n += b.data.len() + b.image_bytes.len() + usize::from(b.id);
    }
    if let Some(b) = rec.block(0) {
        n += b.block as usize;
    }
    n += record_type_name(rec).map_or(0, str::len);
    // `pgdiverge waldump`'s lines, descriptions included (they read record payloads at fixed
    // offsets), in both block-reference layouts.
    n += pgdiverge::waldump::render_record(rec, true).len();
    n += pgdiverge::waldump::render_record(rec, false).len();
    match rec.rmid() {
        0 => n += usize::from(xlog::decode(rec).is_ok()),
        1 => n += usize::from(matches!(xact::decode(rec), Ok(Some(_)))),
        _ => {}
    }
    n + rec.to_owned_record().record().raw().len()
}

/// Target `page_header`: `lsn: u64 LE`, `latest lsn: u64 LE`, `latest tli: u32 LE`, then the
/// page. Parses the header and validates it as the reader does (v15 magic, or the magic found
/// when it is a known one; 1 MiB segments; 8 kB pages).
pub fn page_header(data: &[u8]) {
    if data.len() < 20 {
        return;
    }
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap_or([0; 8]));
    let page_lsn = Lsn(u64_at(0));
    let mut latest = LatestPage {
        lsn: Lsn(u64_at(8)),
        tli: u32::from_le_bytes([data[16], data[17], data[18], data[19]]),
    };
    let page = &data[20..];
    let Some(h) = PageHeader::parse(page) else {
        return;
    };
    assert!(h.size() <= page.len());
    let magic = walparse::WalVersion::for_page_magic(h.magic).map_or(0xD110, |v| v.page_magic);
    for sysid in [None, Some(0x0102_0304_0506_0708), h.long.map(|l| l.sysid)] {
        let expect = PageExpect {
            magic,
            sysid,
            seg_size: SEG,
            blcksz: 8192,
        };
        let before = latest;
        if page::validate(&h, page_lsn, &expect, &mut latest).is_ok() {
            assert_eq!(h.pageaddr, page_lsn);
            assert_eq!((latest.lsn, latest.tli), (page_lsn, h.tli));
        } else {
            assert_eq!((latest.lsn, latest.tli), (before.lsn, before.tli));
        }
    }
}

/// Target `record`: `version index: u8` (modulo the number of versions), then one record's bytes.
/// Decodes it as `DecodeXLogRecord` does and uses every accessor on success.
pub fn record(data: &[u8]) {
    let Some((&v, raw)) = data.split_first() else {
        return;
    };
    let version = &VERSIONS[usize::from(v) % VERSIONS.len()];
    if raw.len() >= 24 {
        let _ = walparse::record::record_crc(raw);
    }
    let lsn = Lsn(0x0100_0028);
    let end = Lsn(lsn.0 + raw.len() as u64);
    if let Ok(rec) = Record::decode(raw, lsn, end, end.maxalign(), version) {
        assert_eq!(rec.tot_len() as usize, raw.len());
        assert!(rec.fpi_len() <= rec.tot_len());
        assert_eq!(rec.blocks().count(), rec.block_count());
        touch(&rec);
    }
}

/// Reads a stream forward; returns the record LSNs. Asserts that records are in strictly
/// increasing order and that each starts where the previous one said the next would.
fn read_forward(input: &StreamInput) -> Vec<Lsn> {
    let mut r = WalReader::new(input.source.clone(), input.start, &TL1, SEG);
    if let Some(s) = input.sysid {
        r = r.with_system_identifier(s);
    }
    let mut lsns: Vec<Lsn> = Vec::new();
    let mut expect_next: Option<Lsn> = None;
    loop {
        let seen = match r.next_record() {
            Ok(Some(rec)) => {
                assert!(rec.end_lsn() > rec.lsn() && rec.next_lsn() >= rec.end_lsn());
                touch(&rec);
                (rec.lsn(), rec.prev(), rec.next_lsn())
            }
            Ok(None) => {
                let end = r.end().expect("an end after Ok(None)");
                let _ = end.to_string();
                assert!(r.next_record().is_ok_and(|x| x.is_none()));
                break;
            }
            Err(e) => {
                let _ = e.to_string();
                break;
            }
        };
        let (lsn, prev, next) = seen;
        if let Some(p) = lsns.last() {
            assert!(lsn > *p);
            assert_eq!(prev, *p);
        }
        // The record starts where the previous one said the next would (after a page header),
        // unless a record whose continuation was overwritten was skipped.
        if let (Some(n), None) = (expect_next, r.overwritten_record()) {
            assert!(lsn >= n && lsn.0 - n.0 <= 40, "{lsn} vs {n}");
        }
        expect_next = Some(next);
        lsns.push(lsn);
    }
    lsns
}

/// Target `stream`: a [`StreamInput`] read forward, with continued records across pages and the
/// segment boundary, `XLOG_SWITCH` and every end of WAL; plus the first record of each segment.
pub fn stream(data: &[u8]) {
    let Some(input) = StreamInput::decode(data) else {
        return;
    };
    read_forward(&input);
    for segno in [input.segno, input.segno + 1] {
        if let Ok(Some(lsn)) = first_record_lsn_in_segment(&input.source, 1, segno, SEG) {
            assert_eq!(lsn.segno(SEG), segno, "{lsn}");
        }
    }
}

/// Target `backward`: a [`StreamInput`] walked backward along `xl_prev` from its start. The walk
/// must visit strictly decreasing LSNs (so it ends), and every record it returns must also be
/// readable forward from its own LSN.
pub fn backward(data: &[u8]) {
    let Some(input) = StreamInput::decode(data) else {
        return;
    };
    let mut b = BackwardReader::new(input.source.clone(), input.start, &TL1, SEG);
    let mut last: Option<Lsn> = None;
    let mut steps = 0usize;
    loop {
        match b.prev_record() {
            Ok(Some(rec)) => {
                if let Some(l) = last {
                    assert!(rec.lsn() < l);
                }
                last = Some(rec.lsn());
                touch(&rec);
                steps += 1;
                // 2 MiB of input hold at most 2^18 records of 8 bytes apart.
                assert!(steps <= 1 << 18);
            }
            Ok(None) => break,
            Err(_) => break,
        }
    }
}

/// Target `history`: `tli: u32 LE`, then a `.history` file; the file again after each `0xFF`
/// byte is another history (timeline `tli + i`), all merged into a graph.
pub fn history(data: &[u8]) {
    if data.len() < 4 {
        return;
    }
    let tli = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
    let mut parsed = Vec::new();
    for (i, text) in data[4..].split(|&b| b == 0xFF).enumerate().take(16) {
        let t = tli.wrapping_add(i as u32);
        let Ok(h) = TimelineHistory::parse(t, text) else {
            continue;
        };
        // What we print parses back to the same history.
        let again = TimelineHistory::parse(t, h.to_text().as_bytes()).expect("to_text re-parses");
        assert_eq!(again.spans(), h.spans());
        let spans = h.spans();
        for s in &spans {
            let _ = h.tli_of_point(s.begin);
            if let Some(e) = s.end {
                let _ = h.tli_of_point(e);
            }
        }
        parsed.push(h);
    }
    for a in &parsed {
        for b in &parsed {
            let _ = common_ancestor(&a.spans(), &b.spans());
        }
    }
    let graph = TimelineGraph::from_histories(parsed);
    let _ = graph.findings();
    let keys: Vec<_> = graph.timelines().collect();
    for k in keys {
        if let Ok(chain) = graph.ancestry_of(k) {
            assert!(chain.len() <= graph.timelines().count() + 1);
        }
        let _ = graph.parent(k);
        let _ = graph.ends(k);
        let _ = graph.resolve(k.tli);
    }
}

/// Target `control`: a `global/pg_control` file; parsed with and without the CRC check, and
/// printed as `pgdiverge controldata` prints it.
pub fn control(data: &[u8]) {
    if let Ok((c, mismatch)) = ControlFile::parse_unchecked(data) {
        let _ = c.wal_seg_size();
        let _ = c.major_version();
        let _ = c.current_tli();
        let rows = pgdiverge::controldata::rows(&c);
        assert!(!rows.is_empty());
        assert_eq!(ControlFile::parse(data).is_ok(), mismatch.is_none());
    } else {
        assert!(ControlFile::parse(data).is_err());
    }
}

/// The fixture pair the `compare` target damages: a copy made once per process.
struct Pair {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    /// The files that may be replaced, with their original bytes.
    files: Vec<(PathBuf, Vec<u8>)>,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create the copy");
    for e in std::fs::read_dir(from).expect("read the fixture").flatten() {
        let ft = e.file_type().expect("file type");
        let dst = to.join(e.file_name());
        if ft.is_dir() {
            copy_tree(&e.path(), &dst);
        } else if ft.is_file() {
            std::fs::copy(e.path(), &dst).expect("copy a file");
        }
    }
}

/// The fixture scenario the `compare` target uses.
pub const COMPARE_SCENARIO: &str = "01-split-brain";

fn pair() -> Option<&'static Pair> {
    static PAIR: OnceLock<Option<Pair>> = OnceLock::new();
    PAIR.get_or_init(|| {
        let src = fixtures_dir().join(COMPARE_SCENARIO);
        if !src.join("old-primary/global/pg_control").is_file() {
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let (a, b) = (
            dir.path().join("old-primary"),
            dir.path().join("new-primary"),
        );
        copy_tree(&src.join("old-primary"), &a);
        copy_tree(&src.join("new-primary"), &b);
        let mut files = Vec::new();
        for d in [&a, &b] {
            files.push(d.join("global/pg_control"));
            let mut wal: Vec<PathBuf> = std::fs::read_dir(d.join("pg_wal"))
                .ok()?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            wal.sort();
            files.extend(wal);
        }
        let files = files
            .into_iter()
            .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
            .collect();
        Some(Pair {
            _dir: dir,
            a,
            b,
            files,
        })
    })
    .as_ref()
}

/// The files of the `compare` fixture pair, in selector order (relative to the scenario).
pub fn compare_files() -> Vec<(String, Vec<u8>)> {
    pair().map_or_else(Vec::new, |p| {
        let root = p.a.parent().unwrap_or(Path::new("/"));
        p.files
            .iter()
            .map(|(f, b)| {
                let rel = f.strip_prefix(root).unwrap_or(f);
                (rel.display().to_string(), b.clone())
            })
            .collect()
    })
}

/// Target `compare`: `file: u8` (modulo the number of files: pg_control, segments and history
/// files of both sides of fixture `01-split-brain`), `mode: u8`, `offset: u32 LE`, then bytes.
/// Mode 0 replaces the file with the bytes; mode 1 writes them over the original at `offset`
/// (modulo its length); mode 2 also cuts the file after them. Then opens both clusters and runs
/// the comparison and both renderings. Skipped when the fixture is absent.
pub fn compare(data: &[u8]) {
    let Some(p) = pair() else {
        return;
    };
    if data.len() < 6 || p.files.is_empty() {
        return;
    }
    let (path, original) = &p.files[usize::from(data[0]) % p.files.len()];
    let mode = data[1] % 3;
    let off = u32::from_le_bytes([data[2], data[3], data[4], data[5]]) as usize;
    let bytes = &data[6..];
    let damaged = if mode == 0 {
        bytes.to_vec()
    } else {
        let mut v = original.clone();
        let at = if v.is_empty() { 0 } else { off % v.len() };
        let end = at + bytes.len();
        if end > v.len() {
            v.resize(end, 0);
        }
        v[at..end].copy_from_slice(bytes);
        if mode == 2 {
            v.truncate(end);
        }
        v
    };
    std::fs::write(path, &damaged).expect("write the damaged file");
    let opts = pgdiverge::OpenOptions::default();
    let a = pgdiverge::Cluster::open(&p.a, &opts);
    let b = pgdiverge::Cluster::open(&p.b, &opts);
    if let (Ok(a), Ok(b)) = (&a, &b) {
        let report = pgdiverge::compare(a, b, &pgdiverge::Options::default());
        let _ = pgdiverge::render::render_text(&report);
        let _ = serde_json::to_string(&report).expect("a report serializes");
    } else {
        for e in [a.err(), b.err()].into_iter().flatten() {
            let _ = e.to_string();
        }
    }
    std::fs::write(path, original).expect("restore the file");
}

/// A target: any bytes in, a panic out only for a finding.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus runner.
pub const TARGETS: [(&str, Target); 7] = [
    ("page_header", page_header),
    ("record", record),
    ("stream", stream),
    ("backward", backward),
    ("history", history),
    ("control", control),
    ("compare", compare),
];
