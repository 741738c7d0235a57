//! Errors of the WAL readers: I/O, and files that are not this cluster's WAL.
//!
//! The end of WAL is not an error: it is a [`crate::reader::WalEnd`] finding.

use std::path::PathBuf;

use crate::lsn::Lsn;

/// A failure to read WAL that is not simply "the WAL ends here".
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalError {
    /// A file could not be opened, mapped or read (other than "does not exist", which ends the WAL).
    #[error("cannot read WAL file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A directory could not be listed.
    #[error("cannot list WAL directory {path}: {source}")]
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The first page read has a magic number that no PostgreSQL 10–18 writes.
    #[error("{path} is not PostgreSQL 10-18 WAL: page magic {magic:#06X} at LSN {lsn} (offset {offset})")]
    NotWal {
        /// The file.
        path: PathBuf,
        /// LSN of the page.
        lsn: Lsn,
        /// Offset of the page in the file.
        offset: u64,
        /// The magic found.
        magic: u16,
    },
    /// A segment's long page header names another database system (`xlp_sysid`).
    #[error("WAL file {path} is from a different database system: system identifier {found}, expected {expected} (LSN {lsn}, offset {offset})")]
    WrongSystemId {
        /// The file.
        path: PathBuf,
        /// LSN of the page.
        lsn: Lsn,
        /// Offset of the page in the file.
        offset: u64,
        /// `xlp_sysid` of the page.
        found: u64,
        /// The system identifier the reader expected.
        expected: u64,
    },
    /// A segment's long page header gives another segment size (`xlp_seg_size`).
    #[error("WAL file {path} has segment size {found} in its page header, expected {expected} (LSN {lsn}, offset {offset})")]
    WrongSegmentSize {
        /// The file.
        path: PathBuf,
        /// LSN of the page.
        lsn: Lsn,
        /// Offset of the page in the file.
        offset: u64,
        /// `xlp_seg_size` of the page.
        found: u32,
        /// The segment size the reader was given.
        expected: u32,
    },
    /// A segment's long page header gives an unusable or inconsistent WAL block size
    /// (`xlp_xlog_blcksz`).
    #[error("WAL file {path} has WAL block size {found} in its page header, expected {expected} (LSN {lsn}, offset {offset})")]
    WrongBlockSize {
        /// The file.
        path: PathBuf,
        /// LSN of the page.
        lsn: Lsn,
        /// Offset of the page in the file.
        offset: u64,
        /// `xlp_xlog_blcksz` of the page.
        found: u32,
        /// The block size expected (0: no valid size known, the value is not a power of two
        /// between 1 kB and 64 kB).
        expected: u32,
    },
}
