//! Shared by the `cli_*` tests: the fixture scenarios unpacked (by the `pgdiverge-fixtures`
//! crate: their WAL segments are stored zstd-compressed), running the `pgdiverge` binary, and
//! golden files under `tests/golden/` (rewritten with `UPDATE_EXPECT=1`).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// PostgreSQL 15's tools, used as oracles when installed.
pub const PG15_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The committed `fixtures/` directory (WAL compressed; see [`scenarios`] for usable copies).
pub fn fixtures_dir() -> PathBuf {
    pgdiverge_fixtures::root()
}

/// One scenario: its name, unpacked directory and scenario.json.
pub struct Scenario {
    pub name: String,
    pub dir: PathBuf,
    pub json: Value,
}

impl Scenario {
    /// The data directories, in scenario.json order (`clusters` keys).
    pub fn clusters(&self) -> Vec<String> {
        self.json["clusters"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
    /// The archive directories, relative to the scenario.
    pub fn archives(&self) -> Vec<String> {
        pgdiverge_fixtures::archive_names(&self.json)
    }
    pub fn pg_version(&self) -> u64 {
        self.json["pg_version"].as_u64().unwrap_or(0)
    }
}

/// Every scenario, unpacked (by `pgdiverge-fixtures`) under one root so that golden files can
/// name it `$FIXTURES`. Panics when there are no scenarios: a missing fixture fails the test.
pub fn scenarios() -> &'static [Scenario] {
    static ALL: OnceLock<Vec<Scenario>> = OnceLock::new();
    ALL.get_or_init(|| {
        let root = pgdiverge_fixtures::unpacked_root();
        let out: Vec<Scenario> = pgdiverge_fixtures::scenarios()
            .into_iter()
            .map(|s| Scenario {
                dir: root.join(&s.name),
                name: s.name,
                json: s.json,
            })
            .collect();
        assert!(
            !out.is_empty(),
            "no fixture scenarios under {}",
            fixtures_dir().display()
        );
        out
    })
}

pub fn scenario(name: &str) -> &'static Scenario {
    scenarios()
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no scenario {name}"))
}

/// Runs `pgdiverge args` in `cwd` with a fixed environment (no colour, C.UTF-8).
pub fn pgdiverge_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .args(args)
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap()
}

/// Runs it and asserts the exit status; returns stdout.
pub fn ok(cwd: &Path, args: &[&str], code: i32) -> String {
    let out = pgdiverge_in(cwd, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "pgdiverge {args:?} in {}: {}",
        cwd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Replaces the unpack root with `$FIXTURES` so golden files do not depend on the machine.
/// Each scenario directory of the root is a symlink to its own cache directory, so a path that
/// was resolved is mapped back to `$FIXTURES/<scenario>` too.
pub fn normalize(s: &str) -> String {
    let root = scenarios()[0].dir.parent().unwrap().to_path_buf();
    let canon = fs::canonicalize(&root).unwrap_or(root.clone());
    let mut out = s.to_string();
    for sc in scenarios() {
        if let Ok(real) = fs::canonicalize(&sc.dir) {
            out = out.replace(
                &real.display().to_string(),
                &format!("$FIXTURES/{}", sc.name),
            );
        }
    }
    out.replace(&canon.display().to_string(), "$FIXTURES")
        .replace(&root.display().to_string(), "$FIXTURES")
}

/// Compares `actual` with `tests/golden/<name>`; with `UPDATE_EXPECT=1` writes it instead.
pub fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1") {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_EXPECT=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output at line {}:\n expected: {:?}\n   actual: {:?}\n(run with UPDATE_EXPECT=1 to accept)",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

/// A stored pg_waldump listing of a fixture (`<cluster>.tl<N>.waldump.txt.zst`), if present.
pub fn stored_listing(s: &Scenario, cluster: &str, tli: u32) -> Option<String> {
    let p = fixtures_dir()
        .join(&s.name)
        .join(format!("{cluster}.tl{tli}.waldump.txt.zst"));
    pgdiverge_fixtures::read_oracle(&p).ok()
}

/// True when a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}
