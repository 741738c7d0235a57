//! Reading the WAL of a running PostgreSQL 15 server while pgbench writes to it. Runs only with
//! `PGDIVERGE_LIVE_PG=1` (`.ci/run` sets it); needs root (the server runs as `postgres` through
//! `runuser`) and PostgreSQL 15 in `/usr/lib/postgresql/15/bin`.
//!
//! A cluster with 1 MB segments and a small `max_wal_size` is written by pgbench for a bounded
//! time, so checkpoints come often and old segments are recycled (renamed to a future name and
//! overwritten in place) while we read. Repeatedly: walparse reads pg_wal from the latest redo
//! point, mapped and with `read()`; `pgdiverge controldata`, `inspect` and `compare` (against a
//! cold copy made before the server started) run as processes. Asserted: no crash and no signal
//! (SIGBUS) in any of them; every pass reads a chain of records in order; records read by two
//! passes at an LSN both still held are byte-identical (a consistent prefix); a pass reaches
//! the checkpoint record pg_control named unless a newer checkpoint recycled its segment
//! meanwhile. The server is always stopped (a Drop guard), and after the stop the WAL reads to
//! the shutdown checkpoint.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use walparse::{
    ControlFile, DirSource, EndReason, Lsn, ReadMode, TliSpan, WalEnd, WalReader, WalSegSize,
};

mod live_common;
use live_common::{chown_to_postgres, enabled, initdb, pgbench, run_ok, start};

const PORT: &str = "54915";

fn pgdiverge(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .args(args)
        .output()
        .unwrap()
}

/// What one pass over pg_wal saw.
struct Pass {
    start: Lsn,
    /// LSN → xl_crc of each record read.
    records: BTreeMap<u64, u32>,
    end: Option<WalEnd>,
}

/// Reads pg_wal from `start` to the end of WAL. Panics on a reader error other than I/O on a
/// file that vanished (a segment removed between finding and opening it).
fn pass(wal: &Path, start: Lsn, seg: WalSegSize, sysid: u64, mode: ReadMode) -> Pass {
    let tl1 = [TliSpan {
        tli: 1,
        begin: Lsn::INVALID,
        end: None,
    }];
    let src = DirSource::new([wal]).with_read_mode(mode);
    let mut r = WalReader::new(src, start, &tl1, seg).with_system_identifier(sysid);
    let mut records = BTreeMap::new();
    let mut last: Option<Lsn> = None;
    loop {
        match r.next_record() {
            Ok(Some(rec)) => {
                if let Some(l) = last {
                    assert!(
                        rec.lsn() > l && rec.prev() == l,
                        "chain broken at {}",
                        rec.lsn()
                    );
                }
                last = Some(rec.lsn());
                let _ = rec.blocks().count();
                records.insert(rec.lsn().0, rec.crc());
            }
            Ok(None) => {
                return Pass {
                    start,
                    records,
                    end: r.end().copied(),
                }
            }
            Err(walparse::WalError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Pass {
                    start,
                    records,
                    end: None,
                }
            }
            Err(e) => panic!("reading live WAL from {start}: {e}"),
        }
    }
}

#[test]
fn reading_wal_while_pgbench_writes() {
    if !enabled() {
        eprintln!("live_server: skipped (set PGDIVERGE_LIVE_PG=1 to run)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    chown_to_postgres(root);
    let data = root.join("data");
    let cold = root.join("cold");
    initdb(&data);
    std::fs::write(
        data.join("postgresql.auto.conf"),
        "min_wal_size = 4MB\nmax_wal_size = 6MB\ncheckpoint_timeout = 30s\nfsync = off\n\
         synchronous_commit = off\nlisten_addresses = ''\n",
    )
    .unwrap();
    // A cold copy: the same cluster, never started.
    run_ok(
        {
            let mut c = Command::new("cp");
            c.arg("-a").arg(&data).arg(&cold);
            c
        },
        "cp",
    );
    let mut server = start(&data, root, PORT);
    let bench = |args: &[&str]| pgbench(root, PORT, args);
    run_ok(bench(&["-i", "-s", "2", "-q"]), "pgbench -i");
    server.bench = Some(
        bench(&["-T", "25", "-c", "2", "-n"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let wal = data.join("pg_wal");
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let (mut passes, mut early, mut compared) = (0, 0, 0);
    let mut ends: BTreeMap<String, usize> = BTreeMap::new();
    loop {
        let running = server
            .bench
            .as_mut()
            .is_some_and(|b| b.try_wait().unwrap().is_none());
        let ctl = ControlFile::read(&data.join("global/pg_control")).unwrap();
        let seg = ctl.wal_seg_size().unwrap();
        let redo = ctl.checkpoint_copy.redo;
        for mode in [ReadMode::Read, ReadMode::Mmap] {
            let p = pass(&wal, redo, seg, ctl.system_identifier, mode);
            passes += 1;
            // A consistent prefix: a record at an LSN still held (at or after this pass's start,
            // which no checkpoint has removed yet) never changes between passes.
            for (lsn, crc) in &p.records {
                if let Some(old) = seen.get(lsn) {
                    assert_eq!(old, crc, "record at {} changed between passes", Lsn(*lsn));
                }
            }
            seen.retain(|l, _| *l >= p.start.0);
            seen.extend(p.records.iter());
            if !p.records.contains_key(&ctl.checkpoint.0) {
                // Only a newer checkpoint, which may recycle the redo segment, excuses this.
                let now = ControlFile::read(&data.join("global/pg_control")).unwrap();
                assert_ne!(
                    now.checkpoint, ctl.checkpoint,
                    "{mode:?} pass from {redo} did not reach the checkpoint {}: {:?}",
                    ctl.checkpoint, p.end
                );
                early += 1;
            }
            let kind = match p.end.map(|e| e.reason) {
                Some(EndReason::InvalidRecordLength { tot_len: 0 }) => "zero length".to_string(),
                Some(EndReason::BadPage { error, .. }) => format!("{error:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap_or("")
                    .to_string(),
                Some(r) => format!("{r:?}")
                    .split([' ', '{'])
                    .next()
                    .unwrap_or("")
                    .to_string(),
                None => "file removed".to_string(),
            };
            *ends.entry(kind).or_default() += 1;
        }
        let out = pgdiverge(&[Path::new("controldata"), &data]);
        assert!(out.status.signal().is_none(), "controldata: {}", out.status);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = pgdiverge(&[Path::new("inspect"), &data]);
        assert!(out.status.signal().is_none(), "inspect: {}", out.status);
        let out = pgdiverge(&[Path::new("compare"), &data, &cold]);
        assert!(out.status.signal().is_none(), "compare: {}", out.status);
        let code = out.status.code().unwrap();
        assert!(
            [0, 10, 11, 12, 3].contains(&code),
            "compare exit {code}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        compared += 1;
        if !running {
            break;
        }
    }
    eprintln!(
        "live_server: {passes} passes ({early} overtaken by a checkpoint), {compared} compares; \
         ends: {ends:?}"
    );
    assert!(passes >= 4, "pgbench ran long enough for several passes");

    // After a clean stop the WAL reads to the shutdown checkpoint.
    drop(server);
    let ctl = ControlFile::read(&data.join("global/pg_control")).unwrap();
    assert!(ctl.state.is_clean_shutdown(), "{:?}", ctl.state);
    let seg = ctl.wal_seg_size().unwrap();
    let p = pass(
        &wal,
        ctl.checkpoint,
        seg,
        ctl.system_identifier,
        ReadMode::Mmap,
    );
    assert_eq!(p.records.keys().next(), Some(&ctl.checkpoint.0));
    let out = pgdiverge(&[Path::new("controldata"), &data]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("shut down"));
}
