//! Prints records in pg_waldump's layout (`src/bin/pg_waldump/pg_waldump.c`,
//! `XLogDumpDisplayRecord`; block references as `XLogRecGetBlockRefInfo` prints them in its
//! compact form). The description is the record type's name only, not pg_waldump's full `rm_desc`.
//!
//! [`WaldumpHeader`] and [`WaldumpBlockRefs`] are the two halves of the line around the
//! description, for callers that print a fuller description in between.

use std::fmt;

use crate::record::{fork, fork_name, Record};
use crate::rmgr::record_type_name;

/// A [`Record`] shown as one pg_waldump line (without the trailing newline):
///
/// `rmgr: Heap        len (rec/tot):     54/    54, tx:        735, lsn: 0/01000028, prev 0/00000000, desc: INSERT , blkref #0: rel 1663/5/16384 blk 0`
pub struct WaldumpLine<'r, 'a>(pub &'r Record<'a>);

impl fmt::Display for WaldumpLine<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        write!(f, "{}", WaldumpHeader(r))?;
        match record_type_name(r) {
            Some(name) => write!(f, "desc: {name} ")?,
            None => write!(f, "desc: UNKNOWN ({:x}) ", r.info() & 0xF0)?,
        }
        write!(f, "{}", WaldumpBlockRefs(r))
    }
}

/// The start of a pg_waldump line, up to `desc:`:
///
/// `rmgr: Heap        len (rec/tot):     54/    54, tx:        735, lsn: 0/01000028, prev 0/00000000, `
pub struct WaldumpHeader<'r, 'a>(pub &'r Record<'a>);

impl fmt::Display for WaldumpHeader<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.0;
        let (lsn, prev) = (r.lsn().0, r.prev().0);
        write!(
            f,
            "rmgr: {:<11} len (rec/tot): {:>6}/{:>6}, tx: {:>10}, lsn: {:X}/{:08X}, prev {:X}/{:08X}, ",
            r.rmgr_name(),
            r.rec_len(),
            r.tot_len(),
            r.xid(),
            lsn >> 32,
            lsn as u32,
            prev >> 32,
            prev as u32,
        )
    }
}

/// The block references that end a pg_waldump line, in `XLogRecGetBlockRefInfo`'s compact form
/// (nothing for a record without blocks):
///
/// `, blkref #0: rel 1663/5/16384 blk 0 FPW, blkref #1: rel 1663/5/16387 fork fsm blk 2`
pub struct WaldumpBlockRefs<'r, 'a>(pub &'r Record<'a>);

impl fmt::Display for WaldumpBlockRefs<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0.blocks() {
            write!(
                f,
                ", blkref #{}: rel {}/{}/{}",
                b.id, b.rel.spc, b.rel.db, b.rel.rel
            )?;
            if b.fork != fork::MAIN {
                write!(f, " fork {}", fork_name(b.fork))?;
            }
            write!(f, " blk {}", b.block)?;
            if let Some(img) = b.image {
                if img.apply {
                    f.write_str(" FPW")?;
                } else {
                    f.write_str(" FPW for WAL verification")?;
                }
            }
        }
        Ok(())
    }
}
