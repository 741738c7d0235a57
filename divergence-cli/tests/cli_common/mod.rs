//! Shared by the `cli_*` tests: the fixture scenarios unpacked (their WAL segments are stored
//! zstd-compressed, as `fixtures/unpack.sh` restores them), running the `pgdiverge` binary, and
//! golden files under `tests/golden/` (rewritten with `UPDATE_EXPECT=1`).
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// PostgreSQL 15's tools, used as oracles when installed.
pub const PG15_BIN: &str = "/usr/lib/postgresql/15/bin";

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"))
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
        self.json["archives"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn pg_version(&self) -> u64 {
        self.json["pg_version"].as_u64().unwrap_or(0)
    }
}

fn compressed_wal_name(name: &str) -> Option<&str> {
    let plain = name.strip_suffix(".zst")?;
    let seg = plain.strip_suffix(".partial").unwrap_or(plain);
    (seg.len() == 24
        && seg
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b)))
    .then_some(plain)
}

/// Copies `src` to `dst` keeping symlinks and decompressing WAL segments.
fn unpack(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    for e in fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let ft = e.file_type().unwrap();
        let to = dst.join(&name);
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(e.path()).unwrap(), &to).unwrap();
        } else if ft.is_dir() {
            unpack(&e.path(), &to);
        } else if let Some(plain) = compressed_wal_name(&name) {
            let bytes = zstd::decode_all(fs::File::open(e.path()).unwrap()).unwrap();
            fs::write(dst.join(plain), bytes).unwrap();
        } else {
            fs::copy(e.path(), &to).unwrap();
        }
    }
    // git keeps no empty directories: every server has pg_wal/archive_status.
    if dst.join("PG_VERSION").exists() && dst.join("pg_wal").is_dir() {
        let _ = fs::create_dir_all(dst.join("pg_wal/archive_status"));
    }
}

/// Every scenario, unpacked once per test binary under `CARGO_TARGET_TMPDIR`.
pub fn scenarios() -> &'static [Scenario] {
    static ALL: OnceLock<Vec<Scenario>> = OnceLock::new();
    ALL.get_or_init(|| {
        let exe = std::env::current_exe().unwrap();
        let stem = exe.file_stem().unwrap().to_string_lossy().into_owned();
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fixtures-{stem}"));
        let _ = fs::remove_dir_all(&root);
        let mut out = Vec::new();
        let mut names: Vec<PathBuf> = fs::read_dir(fixtures_dir())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.join("scenario.json").is_file())
            .collect();
        names.sort();
        for src in names {
            let name = src.file_name().unwrap().to_string_lossy().into_owned();
            let json: Value =
                serde_json::from_str(&fs::read_to_string(src.join("scenario.json")).unwrap())
                    .unwrap();
            let dir = root.join(&name);
            unpack(&src, &dir);
            out.push(Scenario { name, dir, json });
        }
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
pub fn normalize(s: &str) -> String {
    let root = scenarios()[0].dir.parent().unwrap().to_path_buf();
    let canon = fs::canonicalize(&root).unwrap_or(root.clone());
    s.replace(&canon.display().to_string(), "$FIXTURES")
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
    let bytes = zstd::decode_all(fs::File::open(p).ok()?).ok()?;
    String::from_utf8(bytes).ok()
}

/// True when a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}
