//! Timeline history files (`TTTTTTTT.history`): which timelines a timeline descends from and
//! where each ancestor was switched away from.
//!
//! Rules from PostgreSQL's `src/backend/access/transam/timeline.c` (`readTimeLineHistory`,
//! `writeTimeLineHistory`, `tliOfPointInHistory`) and `src/bin/pg_rewind/timeline.c`
//! (`rewind_parseTimeLineHistory`); see `postgres-formats.md` §6.
//!
//! The parser accepts every file PostgreSQL writes and rejects, with the line number, what
//! PostgreSQL rejects. It is stricter than PostgreSQL's `sscanf("%u\t%X/%X")` in a few corners a
//! server never writes, each reported as a syntax error: a sign, a `0x` prefix or an overflowing
//! number; a timeline id glued to the switchpoint without whitespace (`1A/B` reads as TLI 1 at
//! `A/B` in PostgreSQL); whitespace after the `/`; text glued to the switchpoint (`0/E000A0zz`).
//! It also rejects a switchpoint lower than the one before it, which PostgreSQL does not check
//! but which would make the history's spans overlap.

use std::path::{Path, PathBuf};

use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::{char, digit1, hex_digit1};
use nom::Parser;

use crate::lsn::{Lsn, TimeLineId, TliSpan};

/// The largest history file [`TimelineHistory::read`] accepts. A line is about 40 bytes, so this
/// allows far more timelines than a cluster can have while bounding the allocation.
pub const MAX_HISTORY_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// One line of a history file: timeline `parent_tli` was switched away from at `switchpoint`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The timeline that ended (`P`).
    pub parent_tli: TimeLineId,
    /// Where it ended, exclusive (`S`): the first byte of the next timeline on this history.
    pub switchpoint: Lsn,
    /// The free text after the switchpoint (e.g. "no recovery target specified"), without the
    /// separating whitespace and a trailing `\r`. PostgreSQL ignores it.
    pub reason: String,
    /// The 1-based line number in the file.
    pub line: usize,
}

/// A parsed `TTTTTTTT.history`: the ancestors of timeline `tli`, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineHistory {
    /// The timeline the file describes (its file name); it does not appear in the file.
    pub tli: TimeLineId,
    /// The ancestor lines, oldest first; empty for timeline 1, which has no file.
    pub entries: Vec<HistoryEntry>,
}

/// Why a history file was rejected. Messages follow PostgreSQL's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A line does not start with a timeline id (`nfields < 1`).
    #[error("syntax error in history file of timeline {tli} at line {line}: expected a numeric timeline ID")]
    ExpectedTimelineId {
        /// The file's timeline.
        tli: TimeLineId,
        /// The 1-based line number.
        line: usize,
    },
    /// A line has a timeline id but no valid switchpoint after it (`nfields != 3`).
    #[error("syntax error in history file of timeline {tli} at line {line}: expected a write-ahead log switchpoint location")]
    ExpectedSwitchpoint {
        /// The file's timeline.
        tli: TimeLineId,
        /// The 1-based line number.
        line: usize,
    },
    /// A timeline id is not greater than the one on the line before.
    #[error("invalid data in history file of timeline {tli} at line {line}: Timeline IDs must be in increasing sequence ({parent_tli} after {previous_tli})")]
    NotIncreasing {
        /// The file's timeline.
        tli: TimeLineId,
        /// The 1-based line number.
        line: usize,
        /// The timeline id on this line.
        parent_tli: TimeLineId,
        /// The timeline id on the line before.
        previous_tli: TimeLineId,
    },
    /// The last timeline listed is not less than the file's own timeline.
    #[error("invalid data in history file of timeline {tli} at line {line}: Timeline IDs must be less than child timeline's ID ({parent_tli})")]
    NotLessThanChild {
        /// The file's timeline.
        tli: TimeLineId,
        /// The 1-based line number of the last entry.
        line: usize,
        /// The last timeline id listed.
        parent_tli: TimeLineId,
    },
    /// A switchpoint is lower than the one on the line before (not checked by PostgreSQL).
    #[error("invalid data in history file of timeline {tli} at line {line}: switchpoint {switchpoint} is before the previous switchpoint {previous}")]
    SwitchpointDecreases {
        /// The file's timeline.
        tli: TimeLineId,
        /// The 1-based line number.
        line: usize,
        /// The switchpoint on this line.
        switchpoint: Lsn,
        /// The switchpoint on the line before.
        previous: Lsn,
    },
    /// The file could not be read.
    #[error("{path}: could not read history file: {source}", path = .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_HISTORY_FILE_SIZE`].
    #[error("{path}: history file has {len} bytes, more than the {MAX_HISTORY_FILE_SIZE} accepted", path = .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// A history file's content is invalid (one of the variants above), in the named file.
    #[error("{path}: {source}", path = .path.display())]
    InFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: Box<HistoryError>,
    },
}

/// Whitespace as C's `isspace` sees it, minus `\n`, which ends lines.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

/// Why one line failed, before the line number and file are attached.
enum LineError {
    TimelineId,
    Switchpoint,
}

/// Parses one non-blank, non-comment line: `<ws>* TLI <ws>+ HI/LO (<ws> reason)?`.
fn parse_line(line: &[u8]) -> Result<(TimeLineId, Lsn, &[u8]), LineError> {
    type E<'a> = nom::error::Error<&'a [u8]>;
    let (rest, _) = take_while::<_, _, E>(is_space)
        .parse(line)
        .map_err(|_| LineError::TimelineId)?;
    let (rest, digits) = digit1::<_, E>(rest).map_err(|_| LineError::TimelineId)?;
    let tli: TimeLineId = std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or(LineError::TimelineId)?;
    let (rest, (_, hi, _, lo)) = (
        take_while1::<_, _, E>(is_space),
        hex_digit1,
        char('/'),
        hex_digit1,
    )
        .parse(rest)
        .map_err(|_| LineError::Switchpoint)?;
    let half = |h: &[u8]| -> Option<u32> {
        if h.len() > 8 {
            return None;
        }
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    };
    let (hi, lo) = (
        half(hi).ok_or(LineError::Switchpoint)?,
        half(lo).ok_or(LineError::Switchpoint)?,
    );
    // The switchpoint must end the line or be followed by whitespace and the reason.
    let reason = match rest.first() {
        None => rest,
        Some(&c) if is_space(c) => {
            let (r, _) = take_while::<_, _, E>(is_space)
                .parse(rest)
                .map_err(|_| LineError::Switchpoint)?;
            r
        }
        Some(_) => return Err(LineError::Switchpoint),
    };
    Ok((tli, Lsn((u64::from(hi) << 32) | u64::from(lo)), reason))
}

impl TimelineHistory {
    /// The history of a timeline that has no file: no ancestors. PostgreSQL uses this for
    /// timeline 1 (and the server, not pg_rewind, for any timeline whose file is missing).
    pub fn without_file(tli: TimeLineId) -> TimelineHistory {
        TimelineHistory {
            tli,
            entries: Vec::new(),
        }
    }

    /// Parses the contents of `TTTTTTTT.history` for timeline `tli`, with PostgreSQL's rules:
    /// lines split at `\n`; blank lines and lines whose first non-blank character is `#` are
    /// skipped; each other line is `parentTLI <ws> switchpoint [<ws> reason]`; parent TLIs
    /// strictly increase and are all below `tli`.
    pub fn parse(tli: TimeLineId, text: &[u8]) -> Result<TimelineHistory, HistoryError> {
        let mut entries: Vec<HistoryEntry> = Vec::new();
        for (i, raw) in text.split(|&c| c == b'\n').enumerate() {
            let line = i + 1;
            let trimmed = raw.iter().position(|&c| !is_space(c)).map(|p| &raw[p..]);
            match trimmed {
                None => continue,
                Some(t) if t[0] == b'#' => continue,
                Some(_) => {}
            }
            let (parent_tli, switchpoint, reason) = parse_line(raw).map_err(|e| match e {
                LineError::TimelineId => HistoryError::ExpectedTimelineId { tli, line },
                LineError::Switchpoint => HistoryError::ExpectedSwitchpoint { tli, line },
            })?;
            if let Some(prev) = entries.last() {
                if parent_tli <= prev.parent_tli {
                    return Err(HistoryError::NotIncreasing {
                        tli,
                        line,
                        parent_tli,
                        previous_tli: prev.parent_tli,
                    });
                }
                if switchpoint < prev.switchpoint {
                    return Err(HistoryError::SwitchpointDecreases {
                        tli,
                        line,
                        switchpoint,
                        previous: prev.switchpoint,
                    });
                }
            }
            let reason = reason.strip_suffix(b"\r").unwrap_or(reason);
            entries.push(HistoryEntry {
                parent_tli,
                switchpoint,
                reason: String::from_utf8_lossy(reason).into_owned(),
                line,
            });
        }
        if let Some(last) = entries.last() {
            if tli <= last.parent_tli {
                return Err(HistoryError::NotLessThanChild {
                    tli,
                    line: last.line,
                    parent_tli: last.parent_tli,
                });
            }
        }
        Ok(TimelineHistory { tli, entries })
    }

    /// Reads and parses the history file at `path` for timeline `tli`; errors name the file.
    pub fn read(path: &Path, tli: TimeLineId) -> Result<TimelineHistory, HistoryError> {
        let io = |source| HistoryError::Io {
            path: path.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(path).map_err(io)?.len();
        if len > MAX_HISTORY_FILE_SIZE {
            return Err(HistoryError::TooLarge {
                path: path.to_path_buf(),
                len,
            });
        }
        let text = std::fs::read(path).map_err(io)?;
        TimelineHistory::parse(tli, &text).map_err(|e| HistoryError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// The history as pg_rewind builds it (`rewind_parseTimeLineHistory`), oldest first: one span
    /// per ancestor, `[previous switchpoint, switchpoint)`, the first beginning at 0, then the open
    /// span of `tli` itself from the last switchpoint.
    pub fn spans(&self) -> Vec<TliSpan> {
        let mut spans = Vec::with_capacity(self.entries.len() + 1);
        let mut begin = Lsn::INVALID;
        for e in &self.entries {
            spans.push(TliSpan {
                tli: e.parent_tli,
                begin,
                end: Some(e.switchpoint),
            });
            begin = e.switchpoint;
        }
        spans.push(TliSpan {
            tli: self.tli,
            begin,
            end: None,
        });
        spans
    }

    /// Where timeline `self.tli` begins on this history: the last switchpoint (0 for a history
    /// without ancestors).
    pub fn begin(&self) -> Lsn {
        self.entries.last().map_or(Lsn::INVALID, |e| e.switchpoint)
    }

    /// The timeline that `lsn` belongs to on this history (see [`crate::timeline::tli_of_point`]).
    pub fn tli_of_point(&self, lsn: Lsn) -> Option<TimeLineId> {
        crate::timeline::tli_of_point(lsn, &self.spans())
    }

    /// The file as PostgreSQL's `writeTimeLineHistory` would write it: each ancestor line,
    /// `P\tS\treason\n`, with a blank line between the copied parent history and the new line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&format!(
                "{}\t{}\t{}\n",
                e.parent_tli, e.switchpoint, e.reason
            ));
        }
        out
    }
}
