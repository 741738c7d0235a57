//! pgdiverge: where two PostgreSQL data directories forked, what each side wrote after the fork,
//! and whether pg_rewind can reunite them or pg_basebackup must rebuild one.
#![deny(missing_docs)]

pub mod cluster;
pub mod compare;
pub mod controldata;
pub mod forensics;
pub mod inspect;
pub mod render;
pub mod report;
pub mod scan;
pub mod term;
pub mod timeline_cmd;
pub mod waldump;
pub mod waldump_desc;

pub use cluster::{Cluster, OpenError, OpenOptions};
pub use compare::{compare, Options};
pub use report::{Report, Verdict};
