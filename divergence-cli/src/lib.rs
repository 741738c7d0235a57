//! pgdiverge: where two PostgreSQL data directories forked, what each side wrote after the fork,
//! and whether pg_rewind can reunite them or pg_basebackup must rebuild one.
#![deny(missing_docs)]
