//! pg_waldump 15's descriptions of the index access methods' records other than B-tree:
//! hashdesc.c, gindesc.c, gistdesc.c, spgdesc.c and brindesc.c, with the record layouts of
//! hash_xlog.h, ginxlog.h, gistxlog.h, spgxlog.h and brin_xlog.h (offsets as the C compiler
//! lays the structs out). Every read is bounds-checked: a record too short for its layout has
//! no description (`None`).

use walparse::record::Record;

use super::{block_id_at, i32_at, u16_at, u32_at, u64_at};

fn f64_at(b: &[u8], off: usize) -> Option<f64> {
    u64_at(b, off).map(f64::from_bits)
}
fn flag(b: &[u8], off: usize) -> Option<bool> {
    b.get(off).map(|&v| v != 0)
}
fn tf(v: bool) -> char {
    if v {
        'T'
    } else {
        'F'
    }
}

/// C's `printf("%g")` of a double: six significant digits, trailing zeros removed, exponent
/// form (at least two exponent digits) below 1e-4 or from 1e6 on.
pub(super) fn c_g(v: f64) -> String {
    fn trim(s: &str) -> &str {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.')
        } else {
            s
        }
    }
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // The exponent after rounding to six significant digits decides the form.
    let e = format!("{v:.5e}");
    let Some((mantissa, exp)) = e.split_once('e') else {
        return e;
    };
    let x: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&x) {
        let digits = usize::try_from(5 - x).unwrap_or(0);
        trim(&format!("{v:.digits$}")).to_string()
    } else {
        let sign = if x < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), x.unsigned_abs())
    }
}

/// hashdesc.c `hash_desc`.
pub(super) fn hash(major: u32, d: &[u8], info: u8) -> Option<String> {
    Some(match info {
        // xl_hash_init_meta_page {double num_tuples; RegProcedure procid; uint16 ffactor}
        0x00 => format!(
            "num_tuples {}, fillfactor {}",
            c_g(f64_at(d, 0)?),
            u16_at(d, 12)?
        ),
        0x10 => format!("bmsize {}", u16_at(d, 0)?),
        0x20 => format!("off {}", u16_at(d, 0)?),
        0x30 => format!("bmsize {}, bmpage_found {}", u16_at(d, 0)?, tf(flag(d, 2)?)),
        // xl_hash_split_allocate_page {uint32 new_bucket; uint16 old, new flags; uint8 flags}
        0x40 => {
            let flags = *d.get(8)?;
            format!(
                "new_bucket {}, meta_page_masks_updated {}, issplitpoint_changed {}",
                u32_at(d, 0)?,
                tf(flags & 0x01 != 0),
                tf(flags & 0x02 != 0)
            )
        }
        0x50 | 0xA0 => String::new(),
        0x60 => format!(
            "old_bucket_flag {}, new_bucket_flag {}",
            u16_at(d, 0)?,
            u16_at(d, 2)?
        ),
        0x70 => format!("ntups {}, is_primary {}", u16_at(d, 0)?, tf(flag(d, 2)?)),
        0x80 => format!(
            "prevblkno {}, nextblkno {}, ntups {}, is_primary {}",
            u32_at(d, 0)?,
            u32_at(d, 4)?,
            u16_at(d, 8)?,
            tf(flag(d, 10)?)
        ),
        0x90 => format!(
            "clear_dead_marking {}, is_primary {}",
            tf(flag(d, 0)?),
            tf(flag(d, 1)?)
        ),
        0xB0 => format!("ntuples {}", c_g(f64_at(d, 0)?)),
        // xl_hash_vacuum_one_page: {latestRemovedXid; int ntuples} up to 15, then
        // {snapshotConflictHorizon; uint16 ntuples; bool isCatalogRel}.
        0xC0 if major >= 16 => {
            let mut s = format!(
                "ntuples {}, snapshotConflictHorizon {}",
                u16_at(d, 4)?,
                u32_at(d, 0)?
            );
            // 16 has the flag in the record but does not print it.
            if major >= 17 {
                s.push_str(&format!(", isCatalogRel {}", tf(flag(d, 6)?)));
            }
            s
        }
        0xC0 => format!(
            "ntuples {}, latestRemovedXid {}",
            i32_at(d, 4)?,
            u32_at(d, 0)?
        ),
        _ => return None,
    })
}

/// gindesc.c `desc_recompress_leaf`: the segment actions of a `ginxlogRecompressDataLeaf`.
fn gin_recompress_leaf(b: &[u8]) -> Option<String> {
    const ADDITEMS: u8 = 4;
    let nactions = u16_at(b, 0)?;
    let mut s = format!(" {nactions} segments:");
    let mut at = 2usize;
    for _ in 0..nactions {
        let segno = *b.get(at)?;
        let action = *b.get(at + 1)?;
        at += 2;
        let mut nitems = 0u16;
        if action == 2 || action == 3 {
            // GinPostingList {ItemPointerData first; uint16 nbytes; bytes[]}, SHORTALIGNed.
            let size = 8 + usize::from(u16_at(b, at + 6)?);
            at = at.checked_add(size.next_multiple_of(2))?;
        }
        if action == ADDITEMS {
            nitems = u16_at(b, at)?;
            at = at.checked_add(2 + 6 * usize::from(nitems))?;
        }
        match action {
            ADDITEMS => s.push_str(&format!(" {segno} (add {nitems} items)")),
            1 => s.push_str(&format!(" {segno} (delete)")),
            2 => s.push_str(&format!(" {segno} (insert)")),
            3 => s.push_str(&format!(" {segno} (replace)")),
            _ => {
                s.push_str(&format!(" {segno} unknown action {action} ???"));
                return Some(s);
            }
        }
    }
    Some(s)
}

/// " (full page image)" when block 0 carries an image, or the description of block 0's data.
fn gin_block0(r: &Record<'_>, describe: impl FnOnce(&[u8]) -> Option<String>) -> Option<String> {
    let b = r.block(0)?;
    match b.image {
        Some(img) if img.apply => Some(" (full page image)".into()),
        Some(_) => Some(" (full page image, for WAL verification)".into()),
        None => describe(b.data),
    }
}

/// gindesc.c `gin_desc`.
pub(super) fn gin(r: &Record<'_>, d: &[u8], info: u8) -> Option<String> {
    const ISDATA: u16 = 0x01;
    const ISLEAF: u16 = 0x02;
    const SPLIT_ROOT: u16 = 0x04;
    Some(match info {
        0x10 | 0x40 | 0x50 | 0x60 | 0x70 => String::new(),
        // ginxlogInsert {uint16 flags}, then for a non-leaf page the two children.
        0x20 => {
            let flags = u16_at(d, 0)?;
            let mut s = format!(
                "isdata: {} isleaf: {}",
                tf(flags & ISDATA != 0),
                tf(flags & ISLEAF != 0)
            );
            if flags & ISLEAF == 0 {
                s.push_str(&format!(
                    " children: {}/{}",
                    block_id_at(d, 2)?,
                    block_id_at(d, 6)?
                ));
            }
            s.push_str(&gin_block0(r, |b| {
                if flags & ISDATA == 0 {
                    // ginxlogInsertEntry {OffsetNumber offset; bool isDelete; ...}
                    Some(format!(" isdelete: {}", tf(flag(b, 2)?)))
                } else if flags & ISLEAF != 0 {
                    gin_recompress_leaf(b)
                } else {
                    // ginxlogInsertDataInternal {OffsetNumber offset; PostingItem newitem
                    // {BlockIdData child; ItemPointerData key}}
                    Some(format!(
                        " pitem: {}-{}/{}",
                        block_id_at(b, 2)?,
                        block_id_at(b, 6)?,
                        u16_at(b, 10)?
                    ))
                }
            })?);
            s
        }
        // ginxlogSplit {RelFileNode node; BlockNumber rrlink, left, right; uint16 flags}
        0x30 => {
            let flags = u16_at(d, 24)?;
            format!(
                "isrootsplit: {} isdata: {} isleaf: {}",
                tf(flags & SPLIT_ROOT != 0),
                tf(flags & ISDATA != 0),
                tf(flags & ISLEAF != 0)
            )
        }
        0x90 => gin_block0(r, gin_recompress_leaf)?,
        // ginxlogDeleteListPages {GinMetaPageData metadata (56 bytes); int32 ndeleted}
        0x80 => format!("ndeleted: {}", i32_at(d, 56)?),
        _ => return None,
    })
}

/// gistdesc.c `gist_desc` (16 renamed latestRemovedXid and added isCatalogRel).
pub(super) fn gist(major: u32, d: &[u8], info: u8) -> Option<String> {
    Some(match info {
        0x00 | 0x70 => String::new(),
        // gistxlogDelete {xid; uint16 ntodelete; bool isCatalogRel (16+)}
        0x10 if major >= 16 => {
            let mut s = format!(
                "delete: snapshotConflictHorizon {}, nitems: {}",
                u32_at(d, 0)?,
                u16_at(d, 4)?
            );
            if major >= 17 {
                s.push_str(&format!(", isCatalogRel {}", tf(flag(d, 6)?)));
            }
            s
        }
        0x10 => format!(
            "delete: latestRemovedXid {}, nitems: {}",
            u32_at(d, 0)?,
            u16_at(d, 4)?
        ),
        // gistxlogPageReuse {RelFileNode node; BlockNumber block; FullTransactionId xid}
        0x20 => {
            let xid = u64_at(d, 16)?;
            let rel = format!(
                "rel {}/{}/{}; blk {}",
                u32_at(d, 0)?,
                u32_at(d, 4)?,
                u32_at(d, 8)?,
                u32_at(d, 12)?
            );
            if major >= 17 {
                format!(
                    "{rel}; snapshotConflictHorizon {}:{}, isCatalogRel {}",
                    xid >> 32,
                    xid as u32,
                    tf(flag(d, 24)?)
                )
            } else if major == 16 {
                format!(
                    "{rel}; snapshotConflictHorizon {}:{}",
                    xid >> 32,
                    xid as u32
                )
            } else {
                format!("{rel}; latestRemovedXid {}:{}", xid >> 32, xid as u32)
            }
        }
        // gistxlogPageSplit {BlockNumber origrlink; GistNSN orignsn; bool origleaf; uint16 npage}
        0x30 => format!("page_split: splits to {} pages", u16_at(d, 18)?),
        // gistxlogPageDelete {FullTransactionId deleteXid; OffsetNumber downlinkOffset}
        0x60 => {
            let xid = u64_at(d, 0)?;
            format!(
                "deleteXid {}:{}; downlink {}",
                xid >> 32,
                xid as u32,
                u16_at(d, 8)?
            )
        }
        _ => return None,
    })
}

/// spgdesc.c `spg_desc`.
pub(super) fn spgist(d: &[u8], info: u8) -> Option<String> {
    let mut s;
    match info {
        // spgxlogAddLeaf {bool newPage, storesNulls; OffsetNumber leaf, headLeaf, parent;
        // uint16 nodeI}
        0x10 => {
            s = format!(
                "off: {}, headoff: {}, parentoff: {}, nodeI: {}",
                u16_at(d, 2)?,
                u16_at(d, 4)?,
                u16_at(d, 6)?,
                u16_at(d, 8)?
            );
            if flag(d, 0)? {
                s.push_str(" (newpage)");
            }
            if flag(d, 1)? {
                s.push_str(" (nulls)");
            }
        }
        // spgxlogMoveLeafs {uint16 nMoves; bool newPage, replaceDead, storesNulls;
        // OffsetNumber offnumParent; uint16 nodeI}
        0x20 => {
            s = format!(
                "nmoves: {}, parentoff: {}, nodeI: {}",
                u16_at(d, 0)?,
                u16_at(d, 6)?,
                u16_at(d, 8)?
            );
            for (off, what) in [(2, " (newpage)"), (3, " (replacedead)"), (4, " (nulls)")] {
                if flag(d, off)? {
                    s.push_str(what);
                }
            }
        }
        // spgxlogAddNode {OffsetNumber offnum, offnumNew; bool newPage; int8 parentBlk;
        // OffsetNumber offnumParent; uint16 nodeI}
        0x30 => {
            s = format!(
                "off: {}, newoff: {}, parentBlk: {}, parentoff: {}, nodeI: {}",
                u16_at(d, 0)?,
                u16_at(d, 2)?,
                *d.get(5)? as i8,
                u16_at(d, 6)?,
                u16_at(d, 8)?
            );
            if flag(d, 4)? {
                s.push_str(" (newpage)");
            }
        }
        // spgxlogSplitTuple {OffsetNumber prefix, postfix; bool newPage, postfixBlkSame}
        0x40 => {
            s = format!(
                "prefixoff: {}, postfixoff: {}",
                u16_at(d, 0)?,
                u16_at(d, 2)?
            );
            if flag(d, 4)? {
                s.push_str(" (newpage)");
            }
            if flag(d, 5)? {
                s.push_str(" (same)");
            }
        }
        // spgxlogPickSplit {bool isRootSplit; uint16 nDelete, nInsert; bool initSrc, initDest;
        // OffsetNumber offnumInner; bool initInner, storesNulls, innerIsParent;
        // OffsetNumber offnumParent; uint16 nodeI}
        0x50 => {
            s = format!(
                "ndelete: {}, ninsert: {}, inneroff: {}, parentoff: {}, nodeI: {}",
                u16_at(d, 2)?,
                u16_at(d, 4)?,
                u16_at(d, 8)?,
                u16_at(d, 14)?,
                u16_at(d, 16)?
            );
            for (off, what) in [
                (12, " (innerIsParent)"),
                (11, " (nulls)"),
                (0, " (isRootSplit)"),
            ] {
                if flag(d, off)? {
                    s.push_str(what);
                }
            }
        }
        0x60 => {
            s = format!(
                "ndead: {}, nplaceholder: {}, nmove: {}, nchain: {}",
                u16_at(d, 0)?,
                u16_at(d, 2)?,
                u16_at(d, 4)?,
                u16_at(d, 6)?
            );
        }
        0x70 => s = format!("ndelete: {}", u16_at(d, 0)?),
        0x80 => {
            s = format!(
                "ntoplaceholder: {}, firstplaceholder: {}, newestredirectxid: {}",
                u16_at(d, 0)?,
                u16_at(d, 2)?,
                u32_at(d, 4)?
            );
        }
        _ => return None,
    }
    Some(s)
}

/// brindesc.c `brin_desc` (the INIT_PAGE bit, 0x80, only names the record).
pub(super) fn brin(d: &[u8], info: u8) -> Option<String> {
    Some(match info & 0x70 {
        // xl_brin_createidx {BlockNumber pagesPerRange; uint16 version}
        0x00 => format!("v{} pagesPerRange {}", u16_at(d, 4)?, u32_at(d, 0)?),
        // xl_brin_insert {BlockNumber heapBlk, pagesPerRange; OffsetNumber offnum}
        0x10 => format!(
            "heapBlk {} pagesPerRange {} offnum {}",
            u32_at(d, 0)?,
            u32_at(d, 4)?,
            u16_at(d, 8)?
        ),
        // xl_brin_update {OffsetNumber oldOffnum; xl_brin_insert insert}
        0x20 => format!(
            "heapBlk {} pagesPerRange {} old offnum {}, new offnum {}",
            u32_at(d, 4)?,
            u32_at(d, 8)?,
            u16_at(d, 0)?,
            u16_at(d, 12)?
        ),
        0x30 => format!("offnum {}", u16_at(d, 0)?),
        0x40 => format!("targetBlk {}", u32_at(d, 0)?),
        // xl_brin_desummarize {BlockNumber pagesPerRange, heapBlk; OffsetNumber regOffset}
        0x50 => format!(
            "pagesPerRange {}, heapBlk {}, page offset {}",
            u32_at(d, 0)?,
            u32_at(d, 4)?,
            u16_at(d, 8)?
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::c_g;

    /// Values checked against glibc's printf("%g").
    #[test]
    fn c_g_prints_like_printf() {
        for (v, want) in [
            (560.0, "560"),
            (1334.0, "1334"),
            (0.0, "0"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (1e6, "1e+06"),
            (0.5, "0.5"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (999999.5, "1e+06"),
            (-2.5, "-2.5"),
            (1e100, "1e+100"),
        ] {
            assert_eq!(c_g(v), want, "{v}");
        }
    }
}
