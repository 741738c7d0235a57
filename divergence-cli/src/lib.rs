//! pgdiverge: where two PostgreSQL data directories forked, what each side wrote after the fork,
//! and whether pg_rewind can reunite them or pg_basebackup must rebuild one.
//!
//! ```no_run
//! use pgdiverge::{compare, Cluster, OpenOptions, Options};
//!
//! # fn main() -> Result<(), pgdiverge::OpenError> {
//! let opts = OpenOptions::default(); // pg_wal only, one reading thread per core
//! let a = Cluster::open("/srv/old-primary".as_ref(), &opts)?; // read-only
//! let b = Cluster::open("/srv/new-primary".as_ref(), &opts)?;
//! let report = compare(&a, &b, &Options::default()); // pure: no I/O beyond the clusters
//! println!("{:?} fork {:?}", report.verdict, report.fork);
//! let lost = pgdiverge::forensics::lost(&a, &b, &report);
//! print!("{}", pgdiverge::forensics::render_text(&lost));
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod cluster;
pub mod compare;
pub mod controldata;
pub mod forensics;
pub mod inspect;
pub mod pgtime;
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
