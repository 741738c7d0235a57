//! walparse: a zero-copy reader of PostgreSQL's on-disk formats — WAL segments, timeline
//! `.history` files and `global/pg_control` — for every major version from 10 to 18.
//!
//! Bytes in, typed views out; no policy. The analysis lives in the `pgdiverge` crate.
#![deny(missing_docs)]

pub mod control;
pub mod display;
pub mod error;
pub mod history;
pub mod lsn;
pub mod name;
pub mod page;
pub mod par;
pub mod reader;
pub mod record;
pub mod rmgr;
pub mod segment;
mod sigbus;
pub mod timeline;
pub mod version;

pub use control::{ControlError, ControlFile, CrcMismatch, DbState, WalLevel};
pub use error::WalError;
pub use history::{HistoryEntry, HistoryError, TimelineHistory};
pub use lsn::{Lsn, ParseLsnError, TimeLineId, TliSpan, WalSegSize};
pub use name::{segment_file_name, WalFileName};
pub use page::PageHeader;
pub use reader::{
    first_record_lsn_in_segment, read_record_at, BackwardReader, EndReason, WalEnd, WalReader,
};
pub use record::{BlockImage, BlockRef, Compression, OwnedRecord, Record, RelFileLocator};
pub use segment::{DirSource, ReadMode, Segment, SegmentSource};
pub use timeline::{
    common_ancestor, tli_of_point, Fork, GraphError, GraphFinding, TimelineGraph, TimelineKey,
};
pub use version::{major_from_page_magic, rmgr_name, WalVersion};
