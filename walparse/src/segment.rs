//! Segment files: finding the file for (timeline, segment number) in a set of directories, and
//! holding its bytes — memory-mapped read-only, or read into memory.
//!
//! This and `sigbus.rs` hold the crate's `unsafe` code for maps (the other place is the SSE 4.2
//! record CRC in record.rs, behind runtime detection). A mapped file that another process
//! truncates makes later reads of the lost pages raise SIGBUS. PostgreSQL itself never truncates
//! a segment (it recycles one by `rename()` and overwrites it in place, and removes one by
//! `unlink()`, neither of which affects a map), but other writers do: pg_rewind opens the target's
//! files with `O_TRUNC` and `ftruncate()`s them (file_ops.c), and so do `cp`, restore scripts and
//! backup tools. [`ReadMode::Mmap`] therefore registers every map with a SIGBUS handler that
//! turns lost pages into zeros; because that handler is process-wide, [`ReadMode::Read`] stays
//! the library's default and maps are an explicit choice. Either way one segment is held at a
//! time, so a reader's memory stays flat.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::WalError;
use crate::lsn::{TimeLineId, WalSegSize};
use crate::name::segment_file_name;

/// How segment files are brought into memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadMode {
    /// Map the file read-only (no copy). A file truncated by another process while it is mapped
    /// does not kill the process with SIGBUS: the first map installs a SIGBUS handler for the
    /// process that turns the lost pages of registered maps into zeros (the reader then finds the
    /// end of WAL there, as it would in the shorter file; see
    /// [`Segment::truncated_while_mapped`]) and hands every other SIGBUS to the handler that was
    /// there before. Choose it when installing that handler is acceptable: `pgdiverge` does.
    Mmap,
    /// Read the file into an owned buffer with `read()`: a copy (about twice the CPU time of
    /// a map on the machine measured in benches/), and no signal handler. The default.
    #[default]
    Read,
}

enum Bytes {
    /// The guard is declared first so that it is dropped (unregistered) before the map is
    /// unmapped.
    Mapped(crate::sigbus::Guard, memmap2::Mmap),
    Owned(Vec<u8>),
}

/// One open segment file.
pub struct Segment {
    path: PathBuf,
    tli: TimeLineId,
    segno: u64,
    partial: bool,
    bytes: Bytes,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("path", &self.path)
            .field("tli", &self.tli)
            .field("segno", &self.segno)
            .field("partial", &self.partial)
            .field("len", &self.bytes().len())
            .finish()
    }
}

impl Segment {
    /// Opens `path` as segment `segno` of timeline `tli`. Reads at most `max_len` bytes (the
    /// segment size): a longer file is not a segment of this size, and its tail is ignored.
    pub fn open(
        path: &Path,
        tli: TimeLineId,
        segno: u64,
        partial: bool,
        mode: ReadMode,
        max_len: u64,
    ) -> Result<Segment, WalError> {
        let io = |source| WalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len().min(max_len);
        let bytes = match mode {
            // A zero-length map is an error on some systems; an empty file needs no map.
            ReadMode::Mmap if len > 0 => {
                // SAFETY: the map is read-only and private to this process; the file is opened
                // read-only and never written by us. A file truncated by another process while
                // mapped would make reads of the lost pages raise SIGBUS: the map is registered
                // with `sigbus`, whose handler turns such pages into zeros instead (see there),
                // and it is not used at all when it cannot be registered.
                // A plain map, faulted in as read: measured against MAP_POPULATE, MADV_SEQUENTIAL
                // and read() into a buffer in benches/README.md. MAP_POPULATE costs a whole
                // segment for readers that need one page of it (the record crossing into the
                // next segment, the first record of a segment) and more system time overall.
                let map = unsafe { memmap2::MmapOptions::new().len(len as usize).map(&file) }
                    .map_err(io)?;
                match crate::sigbus::Guard::register(map.as_ptr(), map.len()) {
                    Some(guard) => Bytes::Mapped(guard, map),
                    None => {
                        drop(map);
                        let mut v = Vec::with_capacity(len as usize);
                        file.take(len).read_to_end(&mut v).map_err(io)?;
                        Bytes::Owned(v)
                    }
                }
            }
            _ => {
                let mut v = Vec::with_capacity(len as usize);
                file.take(len).read_to_end(&mut v).map_err(io)?;
                Bytes::Owned(v)
            }
        };
        Ok(Segment {
            path: path.to_path_buf(),
            tli,
            segno,
            partial,
            bytes,
        })
    }

    /// A segment whose bytes are already in memory (a [`SegmentSource`] over buffers, e.g. for
    /// tests and fuzzing). `path` names it in errors; it is not opened.
    pub fn from_bytes(
        path: PathBuf,
        tli: TimeLineId,
        segno: u64,
        partial: bool,
        bytes: Vec<u8>,
    ) -> Segment {
        Segment {
            path,
            tli,
            segno,
            partial,
            bytes: Bytes::Owned(bytes),
        }
    }

    /// The file's bytes (at most one segment size).
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Mapped(_, m) => m,
            Bytes::Owned(v) => v,
        }
    }

    /// True if the file was mapped and another process truncated it while it was read: the
    /// pages past its new end read as zeros (see [`ReadMode::Mmap`]).
    pub fn truncated_while_mapped(&self) -> bool {
        match &self.bytes {
            Bytes::Mapped(g, _) => g.truncated(),
            Bytes::Owned(_) => false,
        }
    }

    /// The path the segment was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The timeline of the file.
    #[inline]
    pub fn tli(&self) -> TimeLineId {
        self.tli
    }

    /// The segment number.
    #[inline]
    pub fn segno(&self) -> u64 {
        self.segno
    }

    /// True if the file was a `.partial` file.
    pub fn is_partial(&self) -> bool {
        self.partial
    }
}

/// Where segment files come from.
pub trait SegmentSource {
    /// Opens the file of segment `segno` on timeline `tli`, or `Ok(None)` if there is none.
    fn open_segment(
        &self,
        tli: TimeLineId,
        segno: u64,
        seg_size: WalSegSize,
    ) -> Result<Option<Segment>, WalError>;
}

impl<S: SegmentSource + ?Sized> SegmentSource for &S {
    fn open_segment(
        &self,
        tli: TimeLineId,
        segno: u64,
        seg_size: WalSegSize,
    ) -> Result<Option<Segment>, WalError> {
        (**self).open_segment(tli, segno, seg_size)
    }
}

/// Segment files in one or more directories, searched in order (`pg_wal` first, then archives).
/// A complete file in any directory wins over a `.partial` file; `.partial` files are used only
/// when no directory has the complete one.
#[derive(Clone, Debug)]
pub struct DirSource {
    dirs: Vec<PathBuf>,
    mode: ReadMode,
}

/// A file found for a segment ([`DirSource::find`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundSegment {
    /// The file.
    pub path: PathBuf,
    /// Whether it is a `.partial` file.
    pub partial: bool,
}

impl DirSource {
    /// Searches `dirs` in order, reading files with `read()` ([`ReadMode::Read`]).
    pub fn new<I, P>(dirs: I) -> DirSource
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        DirSource {
            dirs: dirs.into_iter().map(Into::into).collect(),
            mode: ReadMode::default(),
        }
    }

    /// Chooses how files are read.
    pub fn with_read_mode(mut self, mode: ReadMode) -> DirSource {
        self.mode = mode;
        self
    }

    /// The directories, in search order.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The file that would be used for (tli, segno), if any.
    pub fn find(&self, tli: TimeLineId, segno: u64, seg_size: WalSegSize) -> Option<FoundSegment> {
        let name = segment_file_name(tli, segno, seg_size);
        let partial = format!("{name}.partial");
        for (file, is_partial) in [(&name, false), (&partial, true)] {
            for dir in &self.dirs {
                let path = dir.join(file);
                if path.is_file() {
                    return Some(FoundSegment {
                        path,
                        partial: is_partial,
                    });
                }
            }
        }
        None
    }
}

impl SegmentSource for DirSource {
    fn open_segment(
        &self,
        tli: TimeLineId,
        segno: u64,
        seg_size: WalSegSize,
    ) -> Result<Option<Segment>, WalError> {
        match self.find(tli, segno, seg_size) {
            None => Ok(None),
            Some(f) => {
                match Segment::open(&f.path, tli, segno, f.partial, self.mode, seg_size.bytes()) {
                    // Removed between `find` and `open` (a running server removing or recycling
                    // it): there is no file for the segment, as if `find` had come a moment later.
                    Err(WalError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        Ok(None)
                    }
                    r => r.map(Some),
                }
            }
        }
    }
}
