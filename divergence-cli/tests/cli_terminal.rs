//! The terminal: the progress bar under a pseudo-terminal (it appears on stderr, the report on
//! stdout is intact, `-q` and a non-terminal stderr silence it), colour (`--color`, `NO_COLOR`),
//! `--help` examples, shell completions and the man page.

mod cli_common;

use std::path::Path;
use std::process::Command;

use cli_common::*;

/// Runs `sh -c script` in `cwd` under a pseudo-terminal; returns everything the terminal
/// showed. The script redirects what must not reach the terminal.
fn under_pty(cwd: &Path, script: &str, env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new("sh");
    // A terminal emulator sets TERM; the bar is not drawn on a "dumb" or unknown terminal.
    cmd.args(["-c", script])
        .current_dir(cwd)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut s = rexpect::session::spawn_command(cmd, Some(120_000)).expect("spawn under a pty");
    s.exp_eof().expect("the command ends")
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_pgdiverge")
}

#[test]
fn compare_under_a_pty_shows_progress_on_stderr_and_an_intact_report() {
    let s = scenario("01-split-brain");
    // The reference: stdout and stderr piped, so no bar.
    let plain = Command::new(bin())
        .args(["compare", "old-primary", "new-primary"])
        .current_dir(&s.dir)
        .output()
        .unwrap();
    assert!(
        plain.stderr.is_empty(),
        "no bar when stderr is not a terminal: {:?}",
        String::from_utf8_lossy(&plain.stderr)
    );
    let code = plain.status.code().unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.txt");
    let rc = tmp.path().join("rc.txt");
    let script = format!(
        "'{}' compare old-primary new-primary > '{}'; echo $? > '{}'",
        bin(),
        out.display(),
        rc.display()
    );
    let screen = under_pty(&s.dir, &script, &[]);
    // The spinner drew its first state on the terminal (stderr), then was cleared.
    assert!(
        screen.contains("reading old-primary"),
        "terminal showed: {screen:?}"
    );
    assert!(
        screen.contains('\x1b'),
        "the bar is drawn with terminal escapes: {screen:?}"
    );
    // The report went to stdout untouched, and the exit status is the verdict's.
    assert_eq!(std::fs::read(&out).unwrap(), plain.stdout);
    assert_eq!(
        std::fs::read_to_string(&rc).unwrap().trim(),
        code.to_string()
    );
    // Nothing of the report leaked onto the terminal.
    assert!(!screen.contains("What to do"), "{screen:?}");

    // -q: no bar even on a terminal.
    let script = format!(
        "'{}' -q compare old-primary new-primary > '{}'",
        bin(),
        out.display()
    );
    let screen = under_pty(&s.dir, &script, &[]);
    assert!(!screen.contains("reading"), "{screen:?}");
    assert_eq!(std::fs::read(&out).unwrap(), plain.stdout);
}

#[test]
fn waldump_stats_under_a_pty_shows_the_bar_and_json_stays_clean() {
    let s = scenario("01-split-brain");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.json");
    let script = format!(
        "'{}' waldump -p new-primary -t 2 --format json > '{}'",
        bin(),
        out.display()
    );
    let screen = under_pty(&s.dir, &script, &[]);
    assert!(screen.contains("reading WAL"), "{screen:?}");
    // stdout holds JSON lines only.
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        serde_json::from_str::<serde_json::Value>(line).expect(line);
    }
}

#[test]
fn colour_follows_the_terminal_color_flag_and_no_color() {
    let s = scenario("01-split-brain");
    let b = bin();
    // On a terminal: colour by default, none with NO_COLOR or --color never.
    let screen = under_pty(&s.dir, &format!("'{b}' -q inspect old-primary"), &[]);
    assert!(screen.contains("\x1b[1m"), "{screen:?}");
    // (-q: the spinner's own escapes are not colour.)
    let screen = under_pty(
        &s.dir,
        &format!("'{b}' -q inspect old-primary"),
        &[("NO_COLOR", "1")],
    );
    assert!(!screen.contains("\x1b["), "{screen:?}");
    let screen = under_pty(
        &s.dir,
        &format!("'{b}' -q --color never inspect old-primary"),
        &[],
    );
    assert!(!screen.contains("\x1b["), "{screen:?}");
    // Piped: none by default, colour with --color always (which overrides NO_COLOR).
    let piped = ok(&s.dir, &["inspect", "old-primary"], 0);
    assert!(!piped.contains('\x1b'));
    let out = Command::new(b)
        .args(["--color", "always", "inspect", "old-primary"])
        .current_dir(&s.dir)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let coloured = String::from_utf8(out.stdout).unwrap();
    assert!(coloured.contains("\x1b[1mState:"), "{coloured}");
    // Without the escapes it is the plain output.
    let mut stripped = String::new();
    let mut it = coloured.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            for d in it.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            stripped.push(c);
        }
    }
    assert_eq!(stripped, piped);
}

#[test]
fn every_command_has_help_with_examples() {
    let top = ok(Path::new("."), &["--help"], 0);
    for cmd in [
        "controldata",
        "inspect",
        "timeline",
        "waldump",
        "compare",
        "completions",
        "man",
    ] {
        assert!(top.contains(cmd), "{cmd} missing from --help: {top}");
        let help = ok(Path::new("."), &[cmd, "--help"], 0);
        assert!(
            help.contains("Examples:\n  pgdiverge "),
            "{cmd} --help: {help}"
        );
    }
}

#[test]
fn completions_for_each_shell() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = ok(Path::new("."), &["completions", shell], 0);
        for sub in ["inspect", "timeline", "waldump", "compare"] {
            assert!(script.contains(sub), "{shell}: {sub} missing");
        }
    }
    if have("bash") {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("pgdiverge.bash");
        std::fs::write(&f, ok(Path::new("."), &["completions", "bash"], 0)).unwrap();
        // Sourcing it defines the completion; `complete -p` then lists it.
        let out = Command::new("bash")
            .args([
                "-c",
                &format!("source '{}' && complete -p pgdiverge", f.display()),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("pgdiverge"));
    }
}

#[test]
fn man_page_is_roff_naming_every_command() {
    let man = ok(Path::new("."), &["man"], 0);
    assert!(
        man.starts_with(".ie") || man.starts_with(".TH"),
        "{}",
        &man[..80.min(man.len())]
    );
    assert!(man.contains(".TH pgdiverge 1"), "{man}");
    for sub in ["inspect", "timeline", "waldump", "compare", "controldata"] {
        assert!(man.contains(sub), "{sub} missing from the man page");
    }
    if have("man") {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("pgdiverge.1");
        std::fs::write(&f, &man).unwrap();
        let out = Command::new("man")
            .arg("-l")
            .arg(&f)
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .unwrap();
        if out.status.success() {
            assert!(String::from_utf8_lossy(&out.stdout).contains("pgdiverge"));
        }
    }
}
