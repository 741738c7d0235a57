//! Shared helpers of the `wal_*` integration tests: the shared sample WAL, timeline histories,
//! and a parser for pg_waldump's output.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use walparse::{Lsn, TliSpan, WalSegSize};

/// `shared/docs/samples` beside the checkout (`PGDIVERGE_SAMPLES` overrides).
pub use pgdiverge_fixtures::samples_dir;

/// The repository's `fixtures/` directory.
/// The fixture scenarios, unpacked (their WAL is stored zstd-compressed in git): a directory laid
/// out like `fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    pgdiverge_fixtures::unpacked_root()
}

/// 1 MiB, the sample segment size.
pub const MB: WalSegSize = match WalSegSize::new(1 << 20) {
    Some(s) => s,
    None => panic!("1 MiB is a valid segment size"),
};

/// Decompresses a zstd file; panics naming it when it cannot.
pub fn unzstd(path: &Path) -> Vec<u8> {
    pgdiverge_fixtures::unzstd(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Copies `src` (a samples WAL directory) into a new temporary directory, decompressing
/// `*.zst` files to their original names.
pub use pgdiverge_fixtures::unzstd_dir as unpack;

/// Unpacks `samples/wal/vNN/<kind>`.
pub fn unpack_sample(major: u32, kind: &str) -> tempfile::TempDir {
    unpack(&samples_dir().join(format!("wal/v{major}/{kind}")))
}

/// Parses a `.history` file the way the server does (blank and `#` lines skipped; the reason
/// ignored) and returns the spans of timeline `tli`'s history, oldest first.
pub fn history_spans(text: &str, tli: u32) -> Vec<TliSpan> {
    let mut spans: Vec<TliSpan> = Vec::new();
    let mut begin = Lsn::INVALID;
    for line in text.lines() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split_whitespace();
        let parent: u32 = f.next().unwrap().parse().unwrap();
        let switch: Lsn = f.next().unwrap().parse().unwrap();
        spans.push(TliSpan {
            tli: parent,
            begin,
            end: Some(switch),
        });
        begin = switch;
    }
    spans.push(TliSpan {
        tli,
        begin,
        end: None,
    });
    spans
}

/// The history of the newest timeline that has a `.history` file in `dir` (timeline 1 if none).
pub fn newest_history(dir: &Path) -> Vec<TliSpan> {
    let mut best: Option<(u32, PathBuf)> = None;
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if let Some(stem) = name.strip_suffix(".history") {
            let tli = u32::from_str_radix(stem, 16).unwrap();
            if best.as_ref().map_or(true, |(b, _)| tli > *b) {
                best = Some((tli, p));
            }
        }
    }
    match best {
        Some((tli, p)) => history_spans(&fs::read_to_string(p).unwrap(), tli),
        None => vec![TliSpan {
            tli: 1,
            begin: Lsn::INVALID,
            end: None,
        }],
    }
}

/// One block reference in a pg_waldump line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpBlock {
    /// Block id.
    pub id: u8,
    /// tablespace/db/relfilenode.
    pub rel: (u32, u32, u32),
    /// Fork name ("main" when pg_waldump omits it).
    pub fork: String,
    /// Block number.
    pub blk: u32,
    /// Whether an image is attached (" FPW").
    pub fpw: bool,
}

/// One pg_waldump record line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpRecord {
    /// rmgr name.
    pub rmgr: String,
    /// "rec" length (total minus images).
    pub rec_len: u32,
    /// Total length.
    pub tot_len: u32,
    /// xid.
    pub xid: u32,
    /// LSN.
    pub lsn: Lsn,
    /// xl_prev.
    pub prev: Lsn,
    /// Block references.
    pub blocks: Vec<DumpBlock>,
    /// The whole line.
    pub line: String,
}

/// pg_waldump's whole output: records, and its final error line if any.
#[derive(Debug, Default)]
pub struct Dump {
    /// The records.
    pub records: Vec<DumpRecord>,
    /// The text after "pg_waldump: error: " (or "pg_waldump: fatal: ") on the last such line.
    pub error: Option<String>,
}

fn field<'a>(line: &'a str, key: &str, stop: char) -> &'a str {
    let at = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in {line}"))
        + key.len();
    let rest = line[at..].trim_start();
    &rest[..rest.find(stop).unwrap_or(rest.len())]
}

/// Parses pg_waldump (15) output, as in
/// `rmgr: Heap        len (rec/tot):     54/    54, tx:        735, lsn: 0/01000028, prev 0/00000000, desc: ...`.
pub fn parse_waldump(text: &str) -> Dump {
    let mut d = Dump::default();
    for line in text.lines() {
        if let Some(rest) = line
            .strip_prefix("pg_waldump: error: ")
            .or(line.strip_prefix("pg_waldump: fatal: "))
        {
            d.error = Some(rest.to_string());
            continue;
        }
        if !line.starts_with("rmgr: ") {
            continue;
        }
        let rmgr = field(line, "rmgr:", ' ').to_string();
        let lens = field(line, "len (rec/tot):", ',');
        let (rec, tot) = lens.split_once('/').unwrap();
        let desc_at = line.find(", desc: ").unwrap();
        let mut blocks = Vec::new();
        let mut rest = &line[desc_at..];
        while let Some(i) = rest.find(", blkref #") {
            rest = &rest[i + ", blkref #".len()..];
            let end = rest.find(", blkref #").unwrap_or(rest.len());
            let item = &rest[..end];
            let (id, after) = item.split_once(": rel ").unwrap();
            let words: Vec<&str> = after.split(' ').collect();
            let rel: Vec<u32> = words[0].split('/').map(|x| x.parse().unwrap()).collect();
            let (fork, blk_i) = if words[1] == "fork" {
                (words[2], 4)
            } else {
                ("main", 2)
            };
            assert_eq!(words[blk_i - 1], "blk", "{line}");
            blocks.push(DumpBlock {
                id: id.parse().unwrap(),
                rel: (rel[0], rel[1], rel[2]),
                fork: fork.to_string(),
                blk: words[blk_i].parse().unwrap(),
                fpw: words.get(blk_i + 1) == Some(&"FPW"),
            });
        }
        d.records.push(DumpRecord {
            rmgr,
            rec_len: rec.trim().parse().unwrap(),
            tot_len: tot.trim().parse().unwrap(),
            xid: field(line, "tx:", ',').parse().unwrap(),
            lsn: field(line, "lsn:", ',').parse().unwrap(),
            prev: field(line, "prev", ',').parse().unwrap(),
            blocks,
            line: line.to_string(),
        });
    }
    d
}

/// pg_waldump 15, when installed (and `WALPARSE_NO_PG_WALDUMP` is unset: set it to test against
/// the committed listings instead).
pub fn pg_waldump() -> Option<PathBuf> {
    if std::env::var_os("WALPARSE_NO_PG_WALDUMP").is_some() {
        return None;
    }
    let p = PathBuf::from("/usr/lib/postgresql/15/bin/pg_waldump");
    p.is_file().then_some(p)
}

/// Runs pg_waldump over the timeline-`tli` segments of `wal_dirs` (a `.partial` stands in for a
/// missing complete file, under its plain name, as pg_waldump opens only plain names), from
/// `start`. Returns stdout + stderr.
pub fn run_waldump(bin: &Path, wal_dirs: &[&Path], tli: u32, start: Option<Lsn>) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = format!("{tli:08X}");
    let names: Vec<String> = pgdiverge_fixtures::waldump_links(wal_dirs, tmp.path())
        .into_iter()
        .filter(|n| n.starts_with(&prefix))
        .collect();
    let mut cmd = Command::new(bin);
    cmd.arg("-p").arg(tmp.path());
    match start {
        Some(s) => {
            cmd.arg("-t")
                .arg(tli.to_string())
                .arg("-s")
                .arg(s.to_string());
        }
        None => {
            // From the first to the last segment (with one file, pg_waldump reads only it).
            cmd.arg(&names[0]).arg(&names[names.len() - 1]);
        }
    }
    let out = cmd.output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    s
}

/// The LSN pg_waldump's final error names, for the messages that carry the failing record's
/// position ("invalid record length at X", "... prev-link ... at X", "checksum in record at X",
/// "contrecord is requested by X", "invalid resource manager ID N at X").
pub fn error_lsn(error: &str) -> Option<Lsn> {
    let msg = error.split_once(": ").map_or(error, |(_, m)| m);
    for key in [
        "invalid record length at ",
        "checksum in record at ",
        "contrecord is requested by ",
    ] {
        if let Some(i) = msg.find(key) {
            let rest = &msg[i + key.len()..];
            let end = rest.find([':', ' ', ',']).unwrap_or(rest.len());
            return rest[..end].parse().ok();
        }
    }
    if msg.contains("prev-link") || msg.contains("invalid resource manager ID") {
        let rest = &msg[msg.rfind(" at ")? + 4..];
        let end = rest.find([':', ' ', ',']).unwrap_or(rest.len());
        return rest[..end].parse().ok();
    }
    None
}

/// Asserts that our record and pg_waldump's line agree on everything the line shows except the
/// description: LSN, prev, rmgr, lengths, xid and block references.
pub fn assert_same_record(rec: &walparse::Record<'_>, d: &DumpRecord, ctx: &str) {
    assert_eq!(rec.lsn(), d.lsn, "{ctx}: lsn");
    assert_eq!(rec.prev(), d.prev, "{ctx}: prev of {}", d.lsn);
    assert_eq!(rec.rmgr_name(), d.rmgr, "{ctx}: rmgr of {}", d.lsn);
    assert_eq!(rec.tot_len(), d.tot_len, "{ctx}: tot_len of {}", d.lsn);
    assert_eq!(rec.rec_len(), d.rec_len, "{ctx}: rec_len of {}", d.lsn);
    assert_eq!(rec.xid(), d.xid, "{ctx}: xid of {}", d.lsn);
    let ours: Vec<DumpBlock> = rec
        .blocks()
        .map(|b| DumpBlock {
            id: b.id,
            rel: (b.rel.spc, b.rel.db, b.rel.rel),
            fork: walparse::record::fork_name(b.fork).to_string(),
            blk: b.block,
            fpw: b.image.is_some(),
        })
        .collect();
    assert_eq!(ours, d.blocks, "{ctx}: blocks of {}", d.lsn);
}
