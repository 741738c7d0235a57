//! The `pgdiverge compare` binary: exit codes per verdict, the JSON shape, read-only operation
//! (every fixture file byte-for-byte unchanged), and bad input (damaged copies of fixtures in
//! temporary directories) giving a clear error and the "could not analyse" exit code, never a
//! panic. Scenarios are read from the unpacked copies `pgdiverge_fixtures` makes (their WAL is
//! stored compressed); `01-split-brain` is stored uncompressed and is also read in place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const EXIT_IN_SYNC: i32 = 0;
const EXIT_COULD_NOT_ANALYSE: i32 = 3;
const EXIT_FOLLOW: i32 = 10;
const EXIT_REWIND: i32 = 11;
const EXIT_REBUILD: i32 = 12;

fn committed() -> PathBuf {
    pgdiverge_fixtures::root()
}

/// The unpacked scenario directory.
fn scenario_dir(scenario: &str) -> PathBuf {
    pgdiverge_fixtures::scenario(scenario).unpacked()
}

fn fixture(scenario: &str, cluster: &str) -> PathBuf {
    scenario_dir(scenario).join(cluster)
}

fn pgdiverge(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgdiverge"));
    c.arg("compare");
    for a in args {
        c.arg(a);
    }
    c.output().expect("run pgdiverge")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn have(scenario: &str) -> bool {
    committed().join(scenario).join("scenario.json").is_file()
}

#[test]
fn exit_code_per_verdict() {
    let cases = [
        ("01-split-brain", "old-primary", "new-primary", EXIT_REWIND),
        (
            "02-clean-stop-follow",
            "old-primary",
            "new-primary",
            EXIT_FOLLOW,
        ),
        (
            "03-no-checksums",
            "old-primary",
            "new-primary",
            EXIT_REBUILD,
        ),
        ("08a-lagging-standby", "standby", "primary", EXIT_FOLLOW),
    ];
    let mut ran = 0;
    for (s, a, b, want) in cases {
        if !have(s) {
            continue;
        }
        let o = pgdiverge(&[&fixture(s, a), &fixture(s, b)]);
        assert_eq!(code(&o), want, "{s}: {}", stderr(&o));
        let text = String::from_utf8_lossy(&o.stdout);
        let first = text.lines().next().unwrap_or_default();
        let verdict = match want {
            EXIT_REWIND => "REWIND",
            EXIT_FOLLOW => "FOLLOW",
            _ => "REBUILD",
        };
        assert!(first.starts_with(verdict), "{s}: first line {first:?}");
        ran += 1;
    }
    assert!(ran > 0, "no fixtures");
    // A directory compared with itself is in sync: exit 0, no fork.
    let d = fixture("01-split-brain", "new-primary");
    let o = pgdiverge(&[&"--format", &"json", &d, &d]);
    assert_eq!(code(&o), EXIT_IN_SYNC, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "in-sync");
    assert!(v["fork"].is_null());
    assert!(v["target"].is_null());
}

#[test]
fn json_has_the_documented_shape() {
    let s = "05-wal-archived";
    if !have(s) {
        return;
    }
    let o = pgdiverge(&[
        &"--format",
        &"json",
        &"--archive",
        &scenario_dir(s).join("archive"),
        &fixture(s, "new-primary"),
        &fixture(s, "old-primary"),
    ]);
    assert_eq!(code(&o), EXIT_REWIND, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(v["verdict"], "rewind");
    assert_eq!(v["fork"]["lsn"], "0/1001B60");
    assert_eq!(v["fork"]["timeline"], 1);
    assert!(v["source"].as_str().unwrap().ends_with("new-primary"));
    assert!(v["target"].as_str().unwrap().ends_with("old-primary"));
    assert_eq!(v["source_side"], "A");
    assert_eq!(v["target_side"], "B");
    let codes: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"rewind-wal-in-archive"), "{codes:?}");
    assert!(v["reasons"][0]["message"].is_string());
    assert_eq!(v["clusters"].as_array().unwrap().len(), 2);
    assert_eq!(v["clusters"][1]["role"], "target");
    assert_eq!(v["clusters"][0]["timeline"], 2);
    assert!(v["clusters"][0]["system_identifier"].is_string());
    assert_eq!(v["last_common_checkpoint"]["lsn"], "0/1000060");
    assert!(v["rewind_wal"]["archive_only"].as_u64().unwrap() > 0);
    assert_eq!(v["pg_rewind"]["outcome"], "rewind");
    let cmds: Vec<&str> = v["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["command"].as_str().unwrap())
        .collect();
    assert!(
        cmds.iter().any(|c| c.starts_with("pg_rewind ")
            && c.contains("--target-pgdata=")
            && c.contains("--source-server=")
            && c.contains("--restore-target-wal")
            && c.contains(" -R")),
        "{cmds:#?}"
    );
    // Without the archive the same pair cannot be rewound.
    let o = pgdiverge(&[
        &"--format",
        &"json",
        &fixture(s, "new-primary"),
        &fixture(s, "old-primary"),
    ]);
    assert_eq!(code(&o), EXIT_REBUILD, "{}", stderr(&o));
}

/// Every file under `dir` (symlinks not followed): path → (symlink target or bytes).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_symlink() {
                let t = std::fs::read_link(&p).unwrap();
                out.insert(p, t.into_os_string().into_encoded_bytes());
            } else if ft.is_dir() {
                out.insert(p.clone(), Vec::new());
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Runs compare (text and JSON, with the scenario's archives) on the first two clusters of the
/// scenario in `dir`.
fn run_scenario(dir: &Path) {
    let s: Value =
        serde_json::from_slice(&std::fs::read(dir.join("scenario.json")).unwrap()).unwrap();
    let names: Vec<&String> = s["clusters"].as_object().unwrap().keys().collect();
    let mut args: Vec<PathBuf> = Vec::new();
    for a in s["archives"].as_array().into_iter().flatten() {
        args.push("--archive".into());
        args.push(dir.join(a.as_str().unwrap()));
    }
    for fmt in ["text", "json"] {
        let mut full: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"--format", &fmt];
        for a in &args {
            full.push(a);
        }
        let x = dir.join(names[0]);
        let y = dir.join(names[1]);
        full.push(&x);
        full.push(&y);
        let o = pgdiverge(&full);
        assert!(
            [EXIT_IN_SYNC, EXIT_FOLLOW, EXIT_REWIND, EXIT_REBUILD].contains(&code(&o)),
            "{}: {}",
            dir.display(),
            stderr(&o)
        );
    }
}

fn assert_unchanged(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) {
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "files were added or removed"
    );
    for (p, bytes) in before {
        assert!(after[p] == *bytes, "{} changed", p.display());
    }
}

#[test]
fn compare_never_writes_into_the_directories() {
    let mut ran = 0;
    for sc in pgdiverge_fixtures::scenarios() {
        let dir = sc.unpacked();
        let before = snapshot(&dir);
        run_scenario(&dir);
        assert_unchanged(&before, &snapshot(&dir));
        ran += 1;
    }
    assert!(ran > 0, "no fixtures");
    // 01-split-brain is committed uncompressed: run on the committed files themselves.
    let dir = committed().join("01-split-brain");
    if dir.join("scenario.json").is_file() {
        let before = snapshot(&dir);
        run_scenario(&dir);
        assert_unchanged(&before, &snapshot(&dir));
    }
}

/// Copies a directory tree (symlinks copied as symlinks).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let ft = e.file_type().unwrap();
        let dst = to.join(e.file_name());
        if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &dst).unwrap();
        } else if ft.is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
}

/// A temporary copy of scenario 01's two clusters.
fn damaged_copy() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    if !have("01-split-brain") {
        return None;
    }
    let t = tempfile::tempdir().unwrap();
    let a = t.path().join("old-primary");
    let b = t.path().join("new-primary");
    copy_tree(&fixture("01-split-brain", "old-primary"), &a);
    copy_tree(&fixture("01-split-brain", "new-primary"), &b);
    // The copy itself is analysable.
    let o = pgdiverge(&[&a, &b]);
    assert_eq!(code(&o), EXIT_REWIND, "{}", stderr(&o));
    Some((t, a, b))
}

fn assert_could_not_analyse(o: &Output, what: &str, needle: &str) {
    let err = stderr(o);
    assert_eq!(code(o), EXIT_COULD_NOT_ANALYSE, "{what}: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(
        err.contains(needle),
        "{what}: stderr {err:?} lacks {needle:?}"
    );
    assert!(o.stdout.is_empty(), "{what}: no report on stdout");
}

#[test]
fn missing_pg_control_is_could_not_analyse() {
    let Some((_t, a, b)) = damaged_copy() else {
        return;
    };
    std::fs::remove_file(a.join("global/pg_control")).unwrap();
    let o = pgdiverge(&[&a, &b]);
    assert_could_not_analyse(&o, "missing pg_control", "pg_control is missing");
}

#[test]
fn truncated_pg_control_is_could_not_analyse() {
    let Some((_t, a, b)) = damaged_copy() else {
        return;
    };
    let p = b.join("global/pg_control");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..100]).unwrap();
    let o = pgdiverge(&[&a, &b]);
    assert_could_not_analyse(&o, "truncated pg_control", "pg_control");
}

#[test]
fn corrupted_history_file_is_could_not_analyse() {
    let Some((_t, a, b)) = damaged_copy() else {
        return;
    };
    std::fs::write(b.join("pg_wal/00000002.history"), "1\tnot-an-lsn\tbroken\n").unwrap();
    let o = pgdiverge(&[&a, &b]);
    assert_could_not_analyse(&o, "corrupted history", "00000002.history");
}

#[test]
fn wal_of_another_cluster_is_could_not_analyse() {
    let Some((_t, a, b)) = damaged_copy() else {
        return;
    };
    if !have("07-unrelated") {
        return;
    }
    // Put another system's segment into old-primary's pg_wal under the name of one of its own.
    let foreign_dir = fixture("07-unrelated", "cluster-b").join("pg_wal");
    let foreign = std::fs::read_dir(&foreign_dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().len() == 24)
        .expect("a segment in cluster-b");
    let ours = std::fs::read_dir(a.join("pg_wal"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().len() == 24)
        .max()
        .expect("a segment in old-primary");
    std::fs::copy(&foreign, &ours).unwrap();
    let o = pgdiverge(&[&a, &b]);
    assert_could_not_analyse(&o, "foreign WAL", "different database system");
}

#[test]
fn not_a_data_directory_is_could_not_analyse() {
    let Some((t, _a, b)) = damaged_copy() else {
        return;
    };
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = pgdiverge(&[&empty, &b]);
    assert_could_not_analyse(&o, "empty directory", "not a PostgreSQL data directory");
    let o = pgdiverge(&[&t.path().join("does-not-exist"), &b]);
    assert_could_not_analyse(&o, "missing directory", "not a directory");
    let o = pgdiverge(&[&b.join("PG_VERSION"), &b]);
    assert_could_not_analyse(&o, "a file", "not a directory");
}

#[test]
fn unreadable_file_is_could_not_analyse() {
    let Some((_t, a, b)) = damaged_copy() else {
        return;
    };
    // A file that cannot be read even by root: PG_VERSION replaced by a directory (EISDIR).
    let pv = a.join("PG_VERSION");
    std::fs::remove_file(&pv).unwrap();
    std::fs::create_dir(&pv).unwrap();
    let o = pgdiverge(&[&a, &b]);
    assert_could_not_analyse(&o, "PG_VERSION is a directory", "PG_VERSION");

    // And, where permissions apply (not root), a pg_control without read permission.
    use std::os::unix::fs::PermissionsExt;
    let pc = b.join("global/pg_control");
    std::fs::set_permissions(&pc, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&pc).is_err() {
        std::fs::remove_dir(&pv).unwrap();
        std::fs::copy(
            fixture("01-split-brain", "old-primary").join("PG_VERSION"),
            &pv,
        )
        .unwrap();
        let o = pgdiverge(&[&a, &b]);
        assert_could_not_analyse(&o, "unreadable pg_control", "pg_control");
    }
    std::fs::set_permissions(&pc, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn usage_errors_exit_2() {
    let o = Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .args(["compare", "only-one-dir"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    let o = Command::new(env!("CARGO_BIN_EXE_pgdiverge"))
        .args(["compare", "--keep", "C", "x", "y"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
}

#[test]
fn the_answer_does_not_depend_on_threads() {
    for s in pgdiverge_fixtures::scenarios() {
        let dir = s.unpacked();
        let names: Vec<String> = s.json["clusters"]
            .as_object()
            .expect("clusters")
            .keys()
            .cloned()
            .collect();
        let (a, b) = (dir.join(&names[0]), dir.join(&names[1]));
        let run =
            |threads: &str| pgdiverge(&[&"--format", &"json", &"--threads", &threads, &a, &b]);
        let (one, three) = (run("1"), run("3"));
        assert_eq!(code(&one), code(&three), "{}", s.name);
        assert_eq!(one.stdout, three.stdout, "{}: JSON differs", s.name);
    }
}
