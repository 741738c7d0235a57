//! walparse: a zero-copy reader of PostgreSQL's on-disk formats — WAL segments, timeline
//! `.history` files and `global/pg_control` — for every major version from 10 to 18.
//!
//! Bytes in, typed views out; no policy. The analysis lives in the `pgdiverge` crate.
#![deny(missing_docs)]

pub mod lsn;

pub use lsn::{Lsn, ParseLsnError, TimeLineId, TliSpan, WalSegSize};
