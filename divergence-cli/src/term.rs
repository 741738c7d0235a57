//! The terminal: colour (`--color auto|always|never`, honouring `NO_COLOR`), a progress bar on
//! stderr for long scans (only when stderr is a terminal and `--quiet` is not given), and the
//! one-line error format with its hint.
//!
//! Output meant for tools (JSON, pg_waldump listings piped elsewhere) never carries colour or
//! progress: colour is decided per stream, and the bar only ever draws on stderr.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when the stream is a terminal and `NO_COLOR` is unset or empty.
    #[default]
    Auto,
    /// Always colour (overrides `NO_COLOR`).
    Always,
    /// Never colour.
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream that is (`is_terminal`) or is not a terminal, given the value
    /// of `NO_COLOR` (<https://no-color.org>: any non-empty value disables colour).
    pub fn enabled(self, is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => is_terminal && no_color.map_or(true, |v| v.is_empty()),
        }
    }

    /// [`enabled`](Self::enabled) for standard output and this process's `NO_COLOR`.
    pub fn for_stdout(self) -> Paint {
        Paint {
            enabled: self.enabled(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ),
        }
    }
}

/// ANSI styling that is a no-op when colour is off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Paint {
    /// Whether escapes are written.
    pub enabled: bool,
}

impl Paint {
    /// No colour.
    pub const PLAIN: Paint = Paint { enabled: false };

    fn wrap(self, code: &str, s: &str) -> String {
        if self.enabled {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
    /// Bold.
    pub fn bold(self, s: &str) -> String {
        self.wrap("1", s)
    }
    /// Dim (secondary facts).
    pub fn dim(self, s: &str) -> String {
        self.wrap("2", s)
    }
    /// Red (errors, damage).
    pub fn red(self, s: &str) -> String {
        self.wrap("31", s)
    }
    /// Green (healthy).
    pub fn green(self, s: &str) -> String {
        self.wrap("32", s)
    }
    /// Yellow (warnings).
    pub fn yellow(self, s: &str) -> String {
        self.wrap("33", s)
    }
    /// Cyan (LSNs, timelines).
    pub fn cyan(self, s: &str) -> String {
        self.wrap("36", s)
    }
}

/// A progress bar on stderr that other modules tick. Cloning shares the bar. Hidden (all methods
/// are no-ops) when stderr is not a terminal or `--quiet` was given, so it never mixes with
/// redirected output; indicatif also draws nothing when `TERM` is unset or `dumb`.
#[derive(Clone, Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar that draws nothing.
    pub fn hidden() -> Progress {
        Progress { bar: None }
    }

    /// A bar of `len` units (bytes of WAL, usually) labelled `message`, shown only when stderr
    /// is a terminal and `quiet` is false. The first state is drawn at once.
    pub fn new(len: u64, message: &str, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {binary_bytes}/{binary_total_bytes} ({eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(message.to_string());
        bar.tick();
        Progress { bar: Some(bar) }
    }

    /// Whether the bar is drawn at all.
    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }

    /// Advances by `n` units.
    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Sets the position.
    pub fn set_position(&self, pos: u64) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
        }
    }

    /// Changes the total.
    pub fn set_length(&self, len: u64) {
        if let Some(b) = &self.bar {
            b.set_length(len);
        }
    }

    /// Changes the label.
    pub fn set_message(&self, message: &str) {
        if let Some(b) = &self.bar {
            b.set_message(message.to_string());
        }
    }

    /// A spinner with a message, for work whose size is unknown; ticks on its own.
    pub fn spinner(message: &str, quiet: bool) -> Progress {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress::hidden();
        }
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(message.to_string());
        bar.tick();
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        Progress { bar: Some(bar) }
    }

    /// Removes the bar from the terminal; call before printing the result.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Exit statuses shared by the commands (compare adds its verdict codes 0/10/11/12).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Bad command line (clap's own status).
    pub const USAGE: u8 = 2;
    /// The input could not be read or analysed (not a data directory, unreadable file, ...).
    pub const COULD_NOT_ANALYSE: u8 = 3;
}

/// What every command gets from the global flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// `--color`.
    pub color: ColorChoice,
    /// `-q/--quiet`: no progress bar (for `waldump`, no output but errors, as pg_waldump's `-q`).
    pub quiet: bool,
}

/// Writes `s` to standard output; a closed pipe (`... | head`) is not an error.
pub fn print_stdout(s: &str) -> Result<(), std::io::Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(s.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r,
    }
}

/// Prints [`error_line`] on stderr and returns [`exit::COULD_NOT_ANALYSE`].
pub fn fail(what: &dyn std::fmt::Display, hint: Option<&str>) -> u8 {
    eprintln!("{}", error_line(&what.to_string(), hint));
    exit::COULD_NOT_ANALYSE
}

/// One error line: `pgdiverge: <what>` followed by `; hint: <hint>` when there is one.
pub fn error_line(what: &str, hint: Option<&str>) -> String {
    match hint {
        Some(h) => format!("pgdiverge: {what}; hint: {h}"),
        None => format!("pgdiverge: {what}"),
    }
}

/// The hint for an error opening a data directory.
pub fn open_error_hint(e: &crate::cluster::OpenError) -> Option<&'static str> {
    use crate::cluster::OpenError as E;
    Some(match e {
        E::NotADirectory { .. } => "check the path; pass the data directory itself (the one holding PG_VERSION)",
        E::NotADataDirectory { .. } => "pass the data directory itself (the one holding global/pg_control), not its parent or pg_wal",
        E::MissingControlFile { .. } => "restore global/pg_control from a backup; without it nothing about the cluster's position is known",
        E::Control(_) => "run pg_controldata on the directory to see whether PostgreSQL can read it",
        E::BadSegmentSize { .. } => "pg_control is damaged; compare with pg_controldata",
        E::ForeignWal { .. } => "a WAL file from another cluster was copied into pg_wal or the archive; move it away",
        E::WalSegmentSizeMismatch { .. } => "a WAL file made with another --wal-segsize is in pg_wal or the archive; move it away",
        E::History(_) => "the .history file is damaged; compare it with the copy in the WAL archive",
        E::Io { .. } => "check the permissions: pgdiverge only needs to read",
        E::Wal(_) => "the WAL could not be read; check the files named",
    })
}
