//! pg_waldump 13's descriptions of the record types whose wording or layout changed in 14:
//! Heap2 CLEAN / FREEZE_PAGE / CLEANUP_INFO (14 split pruning and vacuuming), SP-GiST (14 gave
//! every record `key: value` details), logical messages (14 prints the prefix and payload),
//! B-tree deletion and page recycling (14's 64-bit `safexid`), hash VACUUM_ONE_PAGE, the
//! relation map's size and commit timestamps' SETTS. The rest of 13 reads as 14 and is described
//! by the parent module.

use walparse::record::Record;

use super::{timestamptz_to_str, u16_at, u32_at, u64_at};

/// The description of `r` if its type is one whose wording differs in 13 (`Some`, with `None`
/// inside when the record is too short for its layout); `None` for the types the parent module
/// describes.
pub(super) fn describe(r: &Record<'_>) -> Option<Option<String>> {
    let d = r.main_data();
    let info = r.info() & 0xF0;
    Some(match r.rmid() {
        // heapdesc.c heap2_desc: CLEAN {latestRemovedXid; uint16 nredirected, ndead},
        // FREEZE_PAGE {cutoff_xid; uint16 ntuples}, CLEANUP_INFO {RelFileNode; latestRemovedXid}.
        9 => match info & 0x70 {
            0x10 => u32_at(d, 0).map(|x| format!("remxid {x}")),
            0x20 => (|| {
                Some(format!(
                    "cutoff xid {} ntuples {}",
                    u32_at(d, 0)?,
                    u16_at(d, 4)?
                ))
            })(),
            0x30 => u32_at(d, 12).map(|x| format!("remxid {x}")),
            _ => return None,
        },
        11 => btree(r, d, info)?,
        // hashdesc.c VACUUM_ONE_PAGE {latestRemovedXid; int ntuples}
        12 if info == 0xC0 => (|| {
            Some(format!(
                "ntuples {}, latest removed xid {}",
                u32_at(d, 4)? as i32,
                u32_at(d, 0)?
            ))
        })(),
        16 => spgist(d, info)?,
        // relmapdesc.c {dbid; tsid; int32 nbytes}, the size printed unsigned.
        7 if info == 0x00 => (|| {
            Some(format!(
                "database {} tablespace {} size {}",
                u32_at(d, 0)?,
                u32_at(d, 4)?,
                u32_at(d, 8)?
            ))
        })(),
        // committsdesc.c SETTS {TimestampTz timestamp; RepOriginId nodeid; TransactionId
        // mainxid; subxids[]}
        18 if info == 0x20 => (|| {
            let mut s = format!(
                "set {}/{} for: {}",
                timestamptz_to_str(u64_at(d, 0)? as i64),
                u16_at(d, 8)?,
                u32_at(d, 12)?
            );
            for x in d.get(16..)?.chunks_exact(4) {
                s.push_str(&format!(", {}", u32_at(x, 0)?));
            }
            Some(s)
        })(),
        // logicalmsgdesc.c {Oid dbId; bool transactional; Size prefix_size, message_size}
        21 if info == 0x00 => (|| {
            Some(format!(
                "{} message size {} bytes",
                if *d.get(4)? != 0 {
                    "transactional"
                } else {
                    "nontransactional"
                },
                u64_at(d, 16)?
            ))
        })(),
        _ => return None,
    })
}

/// nbtdesc.c (13) for the types whose layout 14 changed; `None` for the others.
fn btree(r: &Record<'_>, d: &[u8], info: u8) -> Option<Option<String>> {
    Some(match info {
        // xl_btree_delete {latestRemovedXid; uint32 ndeleted}
        0x70 => (|| {
            Some(format!(
                "latestRemovedXid {}; ndeleted {}",
                u32_at(d, 0)?,
                u32_at(d, 4)?
            ))
        })(),
        // xl_btree_unlink_page {leftsib; rightsib; leafleftsib; leafrightsib; topparent;
        // btpo_xact}
        0x80 | 0x90 => (|| {
            Some(format!(
                "left {}; right {}; btpo_xact {}; leafleft {}; leafright {}; topparent {}",
                u32_at(d, 0)?,
                u32_at(d, 4)?,
                u32_at(d, 20)?,
                u32_at(d, 8)?,
                u32_at(d, 12)?,
                u32_at(d, 16)?
            ))
        })(),
        // xl_btree_reuse_page {RelFileNode; BlockNumber block; latestRemovedXid}
        0xD0 => (|| {
            Some(format!(
                "rel {}/{}/{}; latestRemovedXid {}",
                u32_at(d, 0)?,
                u32_at(d, 4)?,
                u32_at(d, 8)?,
                u32_at(d, 16)?
            ))
        })(),
        // META_CLEANUP: xl_btree_metadata in block 0 {version; root; level; fastroot;
        // fastlevel; oldest_btpo_xact; float8 last_cleanup_num_heap_tuples}
        0xE0 => (|| {
            let b = r.block(0)?.data;
            Some(format!(
                "oldest_btpo_xact {}; last_cleanup_num_heap_tuples: {:.6}",
                u32_at(b, 20)?,
                f64::from_bits(u64_at(b, 24)?)
            ))
        })(),
        _ => return None,
    })
}

/// spgdesc.c (13).
fn spgist(d: &[u8], info: u8) -> Option<Option<String>> {
    let flag = |off: usize| d.get(off).map(|&v| v != 0);
    Some(match info {
        // spgxlogAddLeaf {bool newPage, storesNulls; OffsetNumber leaf, headLeaf, parent}
        0x10 => (|| {
            let mut s = format!(
                "add leaf to page; off {}; headoff {}; parentoff {}",
                u16_at(d, 2)?,
                u16_at(d, 4)?,
                u16_at(d, 6)?
            );
            if flag(0)? {
                s.push_str(" (newpage)");
            }
            if flag(1)? {
                s.push_str(" (nulls)");
            }
            Some(s)
        })(),
        0x20 => u16_at(d, 0).map(|n| format!("{n} leafs")),
        0x30 => u16_at(d, 0).map(|off| format!("off {off}")),
        // spgxlogSplitTuple {OffsetNumber prefix, postfix; bool newPage, postfixBlkSame}
        0x40 => (|| {
            Some(format!(
                "prefix off: {}, postfix off: {} (same {}, new {})",
                u16_at(d, 0)?,
                u16_at(d, 2)?,
                d.get(5)?,
                d.get(4)?
            ))
        })(),
        // spgxlogPickSplit {bool isRootSplit; uint16 nDelete, nInsert; ...; bool
        // innerIsParent at 12}
        0x50 => (|| {
            let mut s = format!("ndel {}; nins {}", u16_at(d, 2)?, u16_at(d, 4)?);
            if flag(12)? {
                s.push_str(" (innerIsParent)");
            }
            if flag(0)? {
                s.push_str(" (isRootSplit)");
            }
            Some(s)
        })(),
        0x60 | 0x70 => Some(String::new()),
        // spgxlogVacuumRedirect {uint16 nToPlaceholder; OffsetNumber firstPlaceholder;
        // TransactionId newestRedirectXid}
        0x80 => u32_at(d, 4).map(|x| format!("newest XID {x}")),
        _ => return None,
    })
}
