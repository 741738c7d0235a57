//! The `pgdiverge` command: a thin layer over the `pgdiverge` library — parse arguments, call
//! the library, print, and map the outcome to an exit status.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use pgdiverge::controldata::{render_json, render_text, ControlData};
use pgdiverge::term::{ColorChoice, Context};

/// Where two PostgreSQL data directories forked, and whether pg_rewind can reunite them.
#[derive(Debug, Parser)]
#[command(name = "pgdiverge", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Colour: auto (when the output is a terminal and NO_COLOR is unset), always or never.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// No progress bar on stderr (for waldump, as pg_waldump's -q: no output except errors).
    #[arg(short = 'q', long, global = true)]
    quiet: bool,
}

/// The subcommands; each is one variant with its own arguments.
#[derive(Debug, Subcommand)]
enum Command {
    /// Print a data directory's global/pg_control as pg_controldata does (times in UTC).
    #[command(
        after_help = "Examples:\n  pgdiverge controldata /srv/pg/data\n  pgdiverge controldata --format json /srv/pg/data"
    )]
    Controldata {
        /// The data directory.
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Compare two data directories that were one cluster: where they forked, and whether the
    /// one behind can follow, must be rewound with pg_rewind, or rebuilt with pg_basebackup.
    ///
    /// Exit status: 0 in-sync, 10 follow, 11 rewind, 12 rebuild, 2 usage error,
    /// 3 could not analyse.
    #[command(
        after_help = "Examples:\n  pgdiverge compare /srv/old-primary /srv/new-primary\n  pgdiverge compare --format json --archive /srv/wal-archive A B\n  pgdiverge compare --keep B A B"
    )]
    Compare {
        #[command(flatten)]
        pair: PairArgs,
        /// Add what each side wrote after the fork (the `lost` report) to the output.
        #[arg(long)]
        lost: bool,
    },
    /// What each side wrote after the fork, and what a rewind of the target throws away:
    /// transactions with their commit times and relations, the SQL that names the relations,
    /// and the rewind cost estimate.
    ///
    /// Exit status: 0 when reported, 2 usage error, 3 could not analyse.
    #[command(
        after_help = "Examples:\n  pgdiverge lost /srv/old-primary /srv/new-primary\n  pgdiverge lost --format json --archive /srv/wal-archive A B"
    )]
    Lost(PairArgs),
    /// One screen about one data directory: identity, state, timeline and ancestry,
    /// checkpoint, the WAL it holds and where it ends, signal files, pg_rewind's settings.
    Inspect(pgdiverge::inspect::InspectArgs),
    /// The timeline tree of one or more clusters, each cluster's position marked and the
    /// fork points labelled (text, Mermaid, Graphviz dot or JSON).
    Timeline(pgdiverge::timeline_cmd::TimelineArgs),
    /// Decode WAL records as pg_waldump does (its flags and layout), or as JSON.
    Waldump(pgdiverge::waldump::WaldumpArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  pgdiverge completions bash > /etc/bash_completion.d/pgdiverge\n  pgdiverge completions zsh > ~/.zfunc/_pgdiverge\n  pgdiverge completions fish > ~/.config/fish/completions/pgdiverge.fish"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff).
    #[command(
        after_help = "Examples:\n  pgdiverge man > /usr/local/share/man/man1/pgdiverge.1\n  pgdiverge man | man -l -"
    )]
    Man,
    /// Read and fully decode every record of a WAL range (page and record headers, CRC-32C,
    /// block references), as `pg_waldump -q` does; print the record count and where it ended.
    Scan(ScanCmd),
}

/// `pgdiverge scan` (pgdiverge::scan).
#[derive(Debug, clap::Args)]
struct ScanCmd {
    /// Directory of the WAL files.
    #[arg(short = 'p', long = "path")]
    dir: PathBuf,
    /// LSN of the first record (or of a page or segment start).
    #[arg(short = 's', long = "start")]
    start: walparse::Lsn,
    /// Stop before the first record starting at or after this LSN (default: end of WAL).
    #[arg(short = 'e', long = "end")]
    end: Option<walparse::Lsn>,
    /// Timeline to read (its .history file in the directory gives the older ones).
    #[arg(short = 't', long = "timeline", default_value_t = 1)]
    timeline: u32,
    /// Threads reading segments in parallel.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Map the segment files instead of read()ing them: faster, but a file truncated while
    /// mapped (by pg_rewind, cp, a restore script) kills the process.
    #[arg(long)]
    mmap: bool,
}

/// The arguments `compare` and `lost` share: the two data directories and how to read them.
#[derive(Debug, Args)]
struct PairArgs {
    /// The first data directory.
    dir_a: PathBuf,
    /// The second data directory.
    dir_b: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// A WAL archive directory (repeatable), searched after each cluster's pg_wal.
    #[arg(long = "archive", value_name = "DIR")]
    archives: Vec<PathBuf>,
    /// Which side to keep when the clusters cannot tell (divergence on one timeline).
    #[arg(long, value_enum)]
    keep: Option<Keep>,
    /// Threads for reading WAL (default: one per core); 1 keeps the load on a busy database host
    /// to one core. The answer does not depend on it.
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    threads: usize,
}

impl PairArgs {
    /// Opens both directories with `open`, and the comparison options; when one cannot be
    /// opened, says why on stderr and returns the exit status (3, could not analyse).
    fn open(
        &self,
        open: impl Fn(
            &Path,
            &pgdiverge::OpenOptions,
        ) -> Result<pgdiverge::Cluster, pgdiverge::OpenError>,
    ) -> Result<(pgdiverge::Cluster, pgdiverge::Cluster, pgdiverge::Options), ExitCode> {
        use pgdiverge::report::{exit, Side};
        let opts = pgdiverge::OpenOptions {
            archives: self.archives.clone(),
            // Maps: half the CPU time of read(); truncation under a map is guarded.
            read_mode: walparse::ReadMode::Mmap,
            threads: self.threads,
        };
        let (a, b) = match (open(&self.dir_a, &opts), open(&self.dir_b, &opts)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("pgdiverge: could not analyse: {e}");
                return Err(ExitCode::from(exit::COULD_NOT_ANALYSE as u8));
            }
        };
        let options = pgdiverge::Options {
            keep: self.keep.map(|k| match k {
                Keep::A => Side::A,
                Keep::B => Side::B,
            }),
        };
        Ok((a, b, options))
    }
}

/// `--keep A|B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Keep {
    /// Keep the first directory.
    #[value(name = "A", alias = "a")]
    A,
    /// Keep the second directory.
    #[value(name = "B", alias = "b")]
    B,
}

/// How to print a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people: the layout of PostgreSQL's own tool.
    Text,
    /// For tools: one JSON object.
    Json,
}

/// Exit status when the input cannot be read or is not what it should be.
const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = Context {
        color: cli.color,
        quiet: cli.quiet,
    };
    match &cli.command {
        Command::Waldump(a) => return ExitCode::from(pgdiverge::waldump::main(a, &ctx)),
        Command::Inspect(a) => return ExitCode::from(pgdiverge::inspect::main(a, &ctx)),
        Command::Timeline(a) => return ExitCode::from(pgdiverge::timeline_cmd::main(a, &ctx)),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "pgdiverge", &mut out);
            return write_stdout(&String::from_utf8_lossy(&out));
        }
        Command::Man => {
            let mut out = Vec::new();
            if let Err(e) = clap_mangen::Man::new(Cli::command()).render(&mut out) {
                eprintln!("pgdiverge: writing the manual page: {e}");
                return ExitCode::from(EXIT_ERROR);
            }
            return write_stdout(&String::from_utf8_lossy(&out));
        }
        _ => {}
    }
    if let Command::Compare { .. } = cli.command {
        return run_compare(cli.command, &ctx);
    }
    if let Command::Lost(_) = cli.command {
        return run_lost(cli.command);
    }
    match run(cli) {
        Ok(out) => write_stdout(&out),
        // controldata and scan: the input could not be read (the same code as every command).
        Err(msg) => {
            eprintln!("pgdiverge: {msg}");
            ExitCode::from(pgdiverge::report::exit::COULD_NOT_ANALYSE as u8)
        }
    }
}

/// `pgdiverge compare`: prints the report and exits with the verdict's code
/// (`pgdiverge::report::exit`), or 3 when a directory cannot be analysed.
fn run_compare(command: Command, ctx: &Context) -> ExitCode {
    use pgdiverge::report::exit;
    let Command::Compare { pair, lost } = command else {
        return ExitCode::from(EXIT_ERROR);
    };
    // A spinner on stderr while each directory's WAL is read (only on a terminal, not with -q).
    let (a, b, options) =
        match pair.open(|d, opts| pgdiverge::inspect::open_with_progress(d, opts, ctx)) {
            Ok(opened) => opened,
            Err(code) => return code,
        };
    let spinner = pgdiverge::term::Progress::spinner("comparing", ctx.quiet);
    let report = pgdiverge::compare(&a, &b, &options);
    spinner.finish();
    let lost = lost.then(|| pgdiverge::forensics::lost(&a, &b, &report));
    let out = match pair.format {
        Format::Text => {
            let mut out = pgdiverge::render::render_text(&report);
            if let Some(l) = &lost {
                out.push('\n');
                out.push_str(&pgdiverge::forensics::render_text(l));
            }
            out
        }
        // With --lost, the compare object gains a "lost" member (JSON.md).
        Format::Json => match serde_json::to_value(&report).and_then(|mut v| {
            if let (Some(l), Some(obj)) = (&lost, v.as_object_mut()) {
                obj.insert("lost".into(), serde_json::to_value(l)?);
            }
            serde_json::to_string_pretty(&v)
        }) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("pgdiverge: could not write JSON: {e}");
                return ExitCode::from(exit::COULD_NOT_ANALYSE as u8);
            }
        },
    };
    match write_stdout(&out) {
        c if c == ExitCode::SUCCESS => ExitCode::from(report.exit_code() as u8),
        c => c,
    }
}

/// `pgdiverge lost`: the lost report alone; exits 0, or 3 when a directory cannot be analysed.
fn run_lost(command: Command) -> ExitCode {
    use pgdiverge::report::exit;
    let Command::Lost(pair) = command else {
        return ExitCode::from(EXIT_ERROR);
    };
    let (a, b, options) = match pair.open(pgdiverge::Cluster::open) {
        Ok(opened) => opened,
        Err(code) => return code,
    };
    let report = pgdiverge::compare(&a, &b, &options);
    let lost = pgdiverge::forensics::lost(&a, &b, &report);
    let out = match pair.format {
        Format::Text => pgdiverge::forensics::render_text(&lost),
        Format::Json => match serde_json::to_string_pretty(&lost) {
            Ok(s) => s + "\n",
            Err(e) => {
                eprintln!("pgdiverge: could not write JSON: {e}");
                return ExitCode::from(exit::COULD_NOT_ANALYSE as u8);
            }
        },
    };
    write_stdout(&out)
}

/// Runs one command and returns what to print.
fn run(cli: Cli) -> Result<String, String> {
    match cli.command {
        Command::Compare { .. } => Err("compare is run by run_compare".into()),
        Command::Lost(_) => Err("lost is run by run_lost".into()),
        Command::Scan(c) => pgdiverge::scan::scan(&pgdiverge::scan::ScanArgs {
            dir: c.dir,
            start: c.start,
            end: c.end,
            timeline: c.timeline,
            threads: c.threads,
            mode: if c.mmap {
                walparse::ReadMode::Mmap
            } else {
                walparse::ReadMode::Read
            },
        })
        .map(|s| pgdiverge::scan::render(&s))
        .map_err(|e| e.to_string()),
        Command::Waldump(_)
        | Command::Inspect(_)
        | Command::Timeline(_)
        | Command::Completions { .. }
        | Command::Man => Err("run by main".into()),
        Command::Controldata { dir, format } => {
            let data = ControlData::load(&dir).map_err(|e| e.to_string())?;
            Ok(match format {
                Format::Text => render_text(&data),
                Format::Json => render_json(&data),
            })
        }
    }
}

/// Prints `out`; a closed pipe (`pgdiverge ... | head`) ends the program quietly.
fn write_stdout(out: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgdiverge: writing output: {e}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}
