//! Running PostgreSQL servers in tests: only with `PGDIVERGE_LIVE_PG=1` (`.ci/run` sets it), as
//! root (servers run as `postgres` through `runuser`). PostgreSQL 15 is the machine's; other
//! majors come from `PGDIVERGE_PG_BINARIES` (`fixtures/pg-binaries.sh`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// PostgreSQL 15's programs.
pub const BIN: &str = "/usr/lib/postgresql/15/bin";

/// The programs of other majors than 15 that `PGDIVERGE_PG_BINARIES` holds, by major.
pub fn other_majors() -> Vec<(u32, String)> {
    pgdiverge_fixtures::other_pg_binaries()
        .into_iter()
        .map(|(major, bin)| (major, bin.to_string_lossy().into_owned()))
        .collect()
}

/// True when the live tests are switched on.
pub fn enabled() -> bool {
    std::env::var("PGDIVERGE_LIVE_PG").is_ok_and(|v| v == "1")
}

/// `args` run as the `postgres` user.
pub fn as_postgres(args: &[&str]) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).args(args);
    c
}

/// Runs `c`; panics with its output unless it succeeds.
pub fn run_ok(mut c: Command, what: &str) -> Output {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Stops the server when dropped, whatever happened; kills pgbench if still running.
pub struct Server {
    /// The data directory.
    pub data: PathBuf,
    /// A pgbench running against it.
    pub bench: Option<Child>,
    /// The directory of its programs.
    pub bin: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut b) = self.bench.take() {
            let _ = b.kill();
            let _ = b.wait();
        }
        let data = self.data.to_string_lossy().into_owned();
        let _ = as_postgres(&[
            &format!("{}/pg_ctl", self.bin),
            "-D",
            &data,
            "-m",
            "fast",
            "-w",
            "stop",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    }
}

/// Makes `root` (a fresh temporary directory) the `postgres` user's.
pub fn chown_to_postgres(root: &Path) {
    let mut c = Command::new("chown");
    c.args(["postgres:postgres"]).arg(root);
    run_ok(c, "chown");
}

/// `initdb` with checksums, trust authentication and 1 MB WAL segments.
pub fn initdb(data: &Path) {
    initdb_with(BIN, data)
}

/// [`initdb`] with the programs in `bin`.
pub fn initdb_with(bin: &str, data: &Path) {
    let d = data.to_string_lossy();
    run_ok(
        as_postgres(&[
            &format!("{bin}/initdb"),
            "-D",
            &d,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-k",
            "--wal-segsize=1",
        ]),
        "initdb",
    );
}

/// Starts the server of `data` on a unix socket in `sock` only.
pub fn start(data: &Path, sock: &Path, port: &str) -> Server {
    start_with(BIN, data, sock, port)
}

/// [`start`] with the programs in `bin`.
pub fn start_with(bin: &str, data: &Path, sock: &Path, port: &str) -> Server {
    let (d, s) = (data.to_string_lossy(), sock.to_string_lossy());
    run_ok(
        as_postgres(&[
            &format!("{bin}/pg_ctl"),
            "-D",
            &d,
            "-l",
            &format!("{s}/server.log"),
            "-w",
            "-o",
            &format!("-k {s} -p {port} -c listen_addresses="),
            "start",
        ]),
        "pg_ctl start",
    );
    Server {
        data: data.to_path_buf(),
        bench: None,
        bin: bin.to_string(),
    }
}

/// pgbench against the server on `sock`/`port`, database postgres.
pub fn pgbench(sock: &Path, port: &str, args: &[&str]) -> Command {
    let mut v = vec![
        format!("{BIN}/pgbench"),
        "-h".into(),
        sock.to_string_lossy().into_owned(),
        "-p".into(),
        port.into(),
    ];
    v.extend(args.iter().map(|s| s.to_string()));
    v.push("postgres".into());
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    as_postgres(&refs)
}
