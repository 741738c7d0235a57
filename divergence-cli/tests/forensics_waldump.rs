//! `forensics::activity` against PostgreSQL's own pg_waldump (15) on the shared v15 sample WAL
//! (`shared/docs/samples/wal/v15/{main,logical}` beside the checkout): the same
//! transactions end with the same status, LSN, time and subtransactions, and each touched the
//! same relation forks with the same insert / update / delete / other record counts and
//! distinct blocks. pg_waldump's record-type names (`rm_identify`) are the oracle for our
//! classification by `xl_info`. The logical sample has two-phase commits (COMMIT PREPARED,
//! ROLLBACK PREPARED), a subtransaction with an ASSIGNMENT record and a replication origin.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;

use pgdiverge::forensics::{activity, SideActivity, TxStatus, Window};
use pgdiverge_fixtures::samples_dir;
use walparse::{DirSource, Lsn, TliSpan, WalReader, WalSegSize};

const PG_WALDUMP: &str = "/usr/lib/postgresql/15/bin/pg_waldump";

/// Decompresses the timeline-1 segments (`*.zst`, `.partial` left out: pg_waldump reads a
/// single timeline's complete files) of a sample directory into `dst`.
fn unpack_tli1(src: &Path, dst: &Path) {
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(plain) = name.strip_suffix(".zst") {
            if plain.len() == 24 && plain.starts_with("00000001") {
                let bytes = zstd::decode_all(fs::File::open(e.path()).unwrap()).unwrap();
                fs::write(dst.join(plain), bytes).unwrap();
            }
        }
    }
}

/// What pg_waldump says one transaction did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Expected {
    status: Option<TxStatus>,
    lsn: Option<Lsn>,
    /// `2026-11-22 11:17:54.126965 UTC` as RFC 3339.
    time: Option<String>,
    subxacts: Vec<u32>,
}

type RelKey = (u32, u32, u32, String);

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Counts {
    c: [u64; 4],
    blocks: BTreeSet<u32>,
}

/// pg_waldump's name → our four kinds (insert, update, delete, other).
fn kind(rmgr: &str, desc: &str) -> usize {
    let name = desc.split([' ', ';', ',']).next().unwrap_or("");
    let name = name.trim_end_matches("+INIT");
    match (rmgr, name) {
        ("Heap", "INSERT") | ("Heap2", "MULTI_INSERT") => 0,
        ("Btree", "INSERT_LEAF" | "INSERT_UPPER" | "INSERT_META" | "INSERT_POST") => 0,
        ("Heap", "UPDATE" | "HOT_UPDATE") => 1,
        ("Heap", "DELETE") | ("Btree", "DELETE" | "VACUUM") => 2,
        _ => 3,
    }
}

fn parse_lsn(hi: &str, lo: &str) -> Lsn {
    Lsn((u64::from_str_radix(hi, 16).unwrap() << 32) | u64::from_str_radix(lo, 16).unwrap())
}

/// `2026-11-22 11:17:54.126965 UTC` → `2026-11-22T11:17:54.126965Z`.
fn rfc3339(t: &str) -> String {
    let t = t.trim().trim_end_matches(" UTC");
    format!("{}Z", t.replacen(' ', "T", 1))
}

struct Oracle {
    ended: BTreeMap<u32, Expected>,
    touches: BTreeMap<u32, BTreeMap<RelKey, Counts>>,
    last_lsn: Lsn,
}

/// Runs pg_waldump (TZ=UTC) from `start` and reads its listing.
fn oracle(dir: &Path, start: Lsn, fork: Lsn) -> Oracle {
    let out = Command::new(PG_WALDUMP)
        .env("TZ", "UTC")
        .arg("-p")
        .arg(dir)
        .arg("-t")
        .arg("1")
        .arg("-s")
        .arg(start.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{PG_WALDUMP}: {e} (install postgresql-15)"));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut o = Oracle {
        ended: BTreeMap::new(),
        touches: BTreeMap::new(),
        last_lsn: Lsn(0),
    };
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("rmgr: ") else {
            continue;
        };
        let rmgr = rest.split_whitespace().next().unwrap();
        let tx: u32 = rest
            .split("tx:")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let lsn_txt = rest
            .split("lsn: ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap();
        let (hi, lo) = lsn_txt.split_once('/').unwrap();
        let lsn = parse_lsn(hi, lo);
        o.last_lsn = lsn;
        let desc = rest.split("desc: ").nth(1).unwrap_or("");
        let after = lsn >= fork;
        if rmgr == "Transaction" {
            let (status, xid, time) = if let Some(d) = desc.strip_prefix("COMMIT_PREPARED ") {
                let (x, t) = d.split_once(": ").unwrap();
                (TxStatus::CommittedPrepared, x.parse().unwrap(), t)
            } else if let Some(d) = desc.strip_prefix("ABORT_PREPARED ") {
                let (x, t) = d.split_once(": ").unwrap();
                (TxStatus::AbortedPrepared, x.parse().unwrap(), t)
            } else if let Some(d) = desc.strip_prefix("PREPARE ") {
                (TxStatus::Prepared, tx, d.rsplit_once(": ").unwrap().1)
            } else if let Some(d) = desc.strip_prefix("COMMIT ") {
                (TxStatus::Committed, tx, d)
            } else if let Some(d) = desc.strip_prefix("ABORT ") {
                (TxStatus::Aborted, tx, d)
            } else {
                continue;
            };
            let time = rfc3339(time.split(';').next().unwrap());
            let subxacts: Vec<u32> = desc
                .split("subxacts: ")
                .nth(1)
                .map(|s| {
                    s.split(';')
                        .next()
                        .unwrap()
                        .split_whitespace()
                        .map(|x| x.parse().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            if !after {
                // Ended before the fork: common history.
                o.touches.remove(&xid);
                for s in &subxacts {
                    o.touches.remove(s);
                }
                continue;
            }
            let e = o.ended.entry(xid).or_default();
            e.status = Some(status);
            e.lsn = Some(lsn);
            e.time = Some(time);
            if !subxacts.is_empty() {
                e.subxacts = subxacts;
            }
            continue;
        }
        if tx == 0 {
            continue;
        }
        let k = kind(rmgr, desc);
        let mut seen = BTreeSet::new();
        for b in desc.split("blkref #").skip(1) {
            // "0: rel 1663/5/16384 fork vm blk 0 FPW" or "0: rel 1663/5/16384 blk 0"
            let words: Vec<&str> = b.split_whitespace().collect();
            let rel: Vec<u32> = words[2].split('/').map(|x| x.parse().unwrap()).collect();
            let (fork_name, blk) = if words[3] == "fork" {
                (words[4].to_string(), words[6])
            } else {
                ("main".to_string(), words[4])
            };
            let blk: u32 = blk.trim_end_matches(',').parse().unwrap();
            let key = (rel[0], rel[1], rel[2], fork_name);
            let c = o
                .touches
                .entry(tx)
                .or_default()
                .entry(key.clone())
                .or_default();
            c.blocks.insert(blk);
            if seen.insert(key) {
                c.c[k] += 1;
            }
        }
    }
    o
}

fn ours(dir: &Path, start: Lsn, fork: Lsn) -> SideActivity {
    let spans = [TliSpan {
        tli: 1,
        begin: Lsn::INVALID,
        end: None,
    }];
    let mut r = WalReader::new(
        DirSource::new([dir.to_path_buf()]),
        start,
        &spans,
        WalSegSize::new(1 << 20).unwrap(),
    );
    activity(
        &mut r,
        &Window {
            fork,
            blocks_from: None,
        },
    )
    .unwrap()
}

/// Checks every transaction both listings have up to pg_waldump's last record.
fn check(name: &str, o: &Oracle, a: &SideActivity) -> usize {
    let listed: Vec<_> = a
        .transactions
        .iter()
        .filter(|t| !matches!(t.lsn, Some(l) if l > o.last_lsn))
        .collect();
    let ended: Vec<_> = listed.iter().filter(|t| t.lsn.is_some()).collect();
    assert_eq!(
        ended.iter().map(|t| t.xid).collect::<BTreeSet<_>>(),
        o.ended.keys().copied().collect::<BTreeSet<_>>(),
        "{name}: transactions that ended"
    );
    for t in &ended {
        let e = &o.ended[&t.xid];
        let ctx = format!("{name}: xid {}", t.xid);
        assert_eq!(Some(t.status), e.status, "{ctx}");
        assert_eq!(t.lsn, e.lsn, "{ctx}");
        assert_eq!(t.time, e.time, "{ctx}");
        assert_eq!(t.subxacts, e.subxacts, "{ctx}");
        // Its own touches and its subtransactions'.
        let mut want: BTreeMap<RelKey, Counts> = BTreeMap::new();
        for x in std::iter::once(t.xid).chain(t.subxacts.iter().copied()) {
            for (k, c) in o.touches.get(&x).into_iter().flatten() {
                let w = want.entry(k.clone()).or_default();
                for i in 0..4 {
                    w.c[i] += c.c[i];
                }
                w.blocks.extend(c.blocks.iter().copied());
            }
        }
        let got: BTreeMap<RelKey, (Vec<u64>, u64)> = t
            .relations
            .iter()
            .map(|r| {
                (
                    (r.spc, r.db, r.relfilenode, r.fork.to_string()),
                    (vec![r.inserts, r.updates, r.deletes, r.other], r.blocks),
                )
            })
            .collect();
        let want: BTreeMap<RelKey, (Vec<u64>, u64)> = want
            .into_iter()
            .map(|(k, c)| (k, (c.c.to_vec(), c.blocks.len() as u64)))
            .collect();
        assert_eq!(got, want, "{ctx}: relations");
    }
    ended.len()
}

#[test]
fn logical_sample_two_phase_subtransactions_origin() {
    let tmp = tempfile::tempdir().unwrap();
    unpack_tli1(&samples_dir().join("wal/v15/logical"), tmp.path());
    let start = Lsn(0x6008B8);
    let o = oracle(tmp.path(), start, start);
    let a = ours(tmp.path(), start, start);
    let n = check("v15 logical", &o, &a);
    assert!(n >= 6, "only {n} transactions");
    // The facts the sample was made for (samples/README.md, "The logical scenario").
    let cp = a
        .transactions
        .iter()
        .find(|t| t.status == TxStatus::CommittedPrepared)
        .expect("COMMIT PREPARED");
    assert_eq!(cp.lsn, Some(Lsn(0x6170D0)));
    let ap = a
        .transactions
        .iter()
        .find(|t| t.status == TxStatus::AbortedPrepared)
        .expect("ROLLBACK PREPARED");
    assert!(ap
        .relations
        .iter()
        .any(|r| r.relfilenode == 16384 && r.inserts == 1));
    let sub = a
        .transaction(729)
        .expect("subtransaction 729 via its top-level 728");
    assert_eq!((sub.xid, sub.subxacts.as_slice()), (728, &[729][..]));
    assert!(sub
        .relations
        .iter()
        .any(|r| r.relfilenode == 16384 && r.inserts == 1));
    assert_eq!(a.prepares, 2);
    assert_eq!(a.aborts, 1);
    assert_eq!(a.open, 0);
}

#[test]
fn a_transaction_that_began_before_the_fork_is_attributed_whole() {
    let tmp = tempfile::tempdir().unwrap();
    unpack_tli1(&samples_dir().join("wal/v15/logical"), tmp.path());
    let start = Lsn(0x6008B8);
    // The fork at 728's COMMIT: its subtransaction 729 inserted before it.
    let fork = Lsn(0x617300);
    let a = ours(tmp.path(), start, fork);
    let o = oracle(tmp.path(), start, fork);
    check("v15 logical, fork at 0/617300", &o, &a);
    let xids: Vec<u32> = a.transactions.iter().map(|t| t.xid).collect();
    assert_eq!(xids, [728, 730], "the prepared ones ended before the fork");
    let t = &a.transactions[0];
    assert!(t.started_before_fork);
    assert_eq!(t.records, 1, "only its COMMIT is after the fork");
    assert!(t
        .relations
        .iter()
        .any(|r| r.relfilenode == 16384 && r.inserts == 1));
    assert!(!a.transactions[1].started_before_fork);
    assert_eq!(a.commits, 2);
    assert_eq!(a.wal_bytes, a.end.bytes_since(fork));
}

#[test]
fn main_sample_aborts_updates_and_full_page_images() {
    let tmp = tempfile::tempdir().unwrap();
    unpack_tli1(&samples_dir().join("wal/v15/main"), tmp.path());
    let start = Lsn(0x800068);
    let o = oracle(tmp.path(), start, start);
    let a = ours(tmp.path(), start, start);
    let n = check("v15 main", &o, &a);
    assert!(n >= 5, "only {n} transactions");
    assert!(a.aborts >= 1);
    assert!(a
        .transactions
        .iter()
        .flat_map(|t| &t.relations)
        .any(|r| r.updates > 0));
}

#[test]
fn waldump_names_and_our_codes_classify_alike() {
    // A self-check of the oracle's mapping, so a typo there cannot hide a wrong classify().
    assert_eq!(kind("Heap", "HOT_UPDATE+INIT off 3"), 1);
    assert_eq!(kind("Heap2", "MULTI_INSERT+INIT 3 tuples"), 0);
    assert_eq!(kind("Btree", "VACUUM ndeleted 2"), 2);
    assert_eq!(kind("Heap", "LOCK off 2"), 3);
}
