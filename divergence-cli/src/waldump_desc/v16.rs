//! pg_waldump 16–18's descriptions of the record types whose wording changed in 16 (heapdesc.c
//! and nbtdesc.c rewritten with `key: value` pairs and offset arrays, `rmgrdesc_utils.c`), 17
//! (pruning and freezing merged into PRUNE_* records) and 18
//! (INPLACE carries invalidations). The other resource managers read as in 15 and are described
//! by the parent module, with the layout changes it knows (64-bit SLRU page numbers in 17+,
//! `snapshotConflictHorizon` in 16+).

use walparse::record::Record;

use super::{
    btree_unlink_page, i32_at, infobits_list, invalidations, new_cid, u16_at, u32_at, u64_at,
};

/// `array_desc` of 16-bit offsets: " [1, 2, 3]" (" []" when empty).
fn offsets(b: &[u8], n: usize) -> Option<String> {
    let mut s = String::from(" [");
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&u16_at(b, 2 * i)?.to_string());
    }
    s.push(']');
    Some(s)
}

/// `array_desc` of redirect pairs: " [1->2, 5->7]".
fn redirects(b: &[u8], n: usize) -> Option<String> {
    let mut s = String::from(" [");
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!("{}->{}", u16_at(b, 4 * i)?, u16_at(b, 4 * i + 2)?));
    }
    s.push(']');
    Some(s)
}

fn tf(v: bool) -> char {
    if v {
        'T'
    } else {
        'F'
    }
}

/// The description of `r` if its type is one whose wording changed in 16–18 (`Some`, with
/// `None` inside when the record is too short for its layout); `None` for the types the
/// parent module describes.
pub(super) fn describe(r: &Record<'_>, major: u32) -> Option<Option<String>> {
    let d = r.main_data();
    let info = r.info() & 0xF0;
    Some(match r.rmid() {
        9 => heap2(r, d, info, major),
        10 => heap(d, info, major),
        11 => btree(r, d, info, major),
        // spgdesc.c VACUUM_REDIRECT {uint16 nToPlaceholder; OffsetNumber firstPlaceholder;
        // TransactionId snapshotConflictHorizon; bool isCatalogRel}; 16 does not print the flag.
        16 if info == 0x80 => (|| {
            let mut s = format!(
                "ntoplaceholder: {}, firstplaceholder: {}, snapshotConflictHorizon: {}",
                u16_at(d, 0)?,
                u16_at(d, 2)?,
                u32_at(d, 4)?
            );
            if major >= 17 {
                s.push_str(&format!(", isCatalogRel: {}", tf(*d.get(8)? != 0)));
            }
            Some(s)
        })(),
        _ => return None,
    })
}

/// heapdesc.c `heap_desc` (16–18).
fn heap(d: &[u8], info: u8, major: u32) -> Option<String> {
    Some(match info & 0x70 {
        // xl_heap_insert {OffsetNumber offnum; uint8 flags}
        0x00 => format!("off: {}, flags: 0x{:02X}", u16_at(d, 0)?, d.get(2)?),
        // xl_heap_delete {xmax; OffsetNumber offnum; uint8 infobits_set, flags}
        0x10 | 0x60 => format!(
            "xmax: {}, off: {}, infobits: [{}], flags: 0x{:02X}",
            u32_at(d, 0)?,
            u16_at(d, 4)?,
            infobits_list(*d.get(6)?),
            d.get(7)?
        ),
        // xl_heap_update {old_xmax; OffsetNumber old_offnum; uint8 old_infobits_set, flags;
        // new_xmax; OffsetNumber new_offnum}
        0x20 | 0x40 => format!(
            "old_xmax: {}, old_off: {}, old_infobits: [{}], flags: 0x{:02X}, new_xmax: {}, new_off: {}",
            u32_at(d, 0)?,
            u16_at(d, 4)?,
            infobits_list(*d.get(6)?),
            d.get(7)?,
            u32_at(d, 8)?,
            u16_at(d, 12)?
        ),
        // xl_heap_truncate {dbId; uint32 nrelids; uint8 flags; Oid relids[]}
        0x30 => {
            let flags = *d.get(8)?;
            let names: Vec<&str> = [(0x01, "CASCADE"), (0x02, "RESTART_SEQS")]
                .into_iter()
                .filter(|(bit, _)| flags & bit != 0)
                .map(|(_, name)| name)
                .collect();
            let n = u32_at(d, 4)?;
            let mut s = format!("flags: [{}], nrelids: {n}, relids: [", names.join(", "));
            for i in 0..n as usize {
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&u32_at(d, 12 + 4 * i)?.to_string());
            }
            s.push(']');
            s
        }
        0x50 => format!("off: {}", u16_at(d, 0)?),
        // xl_heap_inplace: {OffsetNumber offnum} up to 17; 18 adds {dbId; tsId; bool
        // relcacheInitFileInval; int nmsgs; msgs[]}.
        0x70 if major >= 18 => {
            let n = usize::try_from(i32_at(d, 16)?).ok()?;
            let msgs = d.get(20..20 + n.checked_mul(16)?)?;
            format!(
                "off: {}{}",
                u16_at(d, 0)?,
                invalidations(msgs, u32_at(d, 4)?, u32_at(d, 8)?, *d.get(12)? != 0)?
            )
        }
        0x70 => format!("off: {}", u16_at(d, 0)?),
        _ => return None,
    })
}

/// heapdesc.c `heap2_desc` (16–18).
fn heap2(r: &Record<'_>, d: &[u8], info: u8, major: u32) -> Option<String> {
    let block0 = r.block(0).map(|b| b.data).filter(|b| !b.is_empty());
    Some(match (info & 0x70, major) {
        (0x00, _) => String::new(),
        // 16: PRUNE {snapshotConflictHorizon; uint16 nredirected, ndead; bool isCatalogRel},
        // the offsets in block 0 (redirect pairs, dead, then unused to the end).
        (0x10, 16) => {
            let nredirected = usize::from(u16_at(d, 4)?);
            let ndead = usize::from(u16_at(d, 6)?);
            let mut s = format!(
                "snapshotConflictHorizon: {}, nredirected: {nredirected}, ndead: {ndead}",
                u32_at(d, 0)?
            );
            if let Some(b) = block0 {
                let dead_at = 4 * nredirected;
                let unused_at = dead_at + 2 * ndead;
                let nunused = b.len().checked_sub(unused_at)? / 2;
                s.push_str(&format!(", nunused: {nunused}, redirected:"));
                s.push_str(&redirects(b, nredirected)?);
                s.push_str(", dead:");
                s.push_str(&offsets(b.get(dead_at..)?, ndead)?);
                s.push_str(", unused:");
                s.push_str(&offsets(b.get(unused_at..)?, nunused)?);
            }
            s
        }
        // 16: VACUUM {uint16 nunused}, the offsets in block 0.
        (0x20, 16) => {
            let n = usize::from(u16_at(d, 0)?);
            let mut s = format!("nunused: {n}");
            if let Some(b) = block0 {
                s.push_str(", unused:");
                s.push_str(&offsets(b, n)?);
            }
            s
        }
        // 16: FREEZE_PAGE {snapshotConflictHorizon; uint16 nplans; bool isCatalogRel}, the
        // plans then their offsets in block 0.
        (0x30, 16) => {
            let nplans = usize::from(u16_at(d, 4)?);
            let mut s = format!(
                "snapshotConflictHorizon: {}, nplans: {nplans}",
                u32_at(d, 0)?
            );
            if let Some(b) = block0 {
                s.push_str(", plans:");
                s.push_str(&freeze_plans(b, nplans, nplans * 12)?);
            }
            s
        }
        // 17+: PRUNE_ON_ACCESS / PRUNE_VACUUM_SCAN / PRUNE_VACUUM_CLEANUP {uint8 reason,
        // flags}, then the conflict horizon if flagged; the sub-records in block 0.
        (0x10..=0x30, _) => prune17(d, block0)?,
        // xl_heap_visible {snapshotConflictHorizon; uint8 flags}
        (0x40, _) => format!(
            "snapshotConflictHorizon: {}, flags: 0x{:02X}",
            u32_at(d, 0)?,
            d.get(4)?
        ),
        // xl_heap_multi_insert {uint8 flags; uint16 ntuples; OffsetNumber offsets[]}
        (0x50, _) => {
            let n = usize::from(u16_at(d, 2)?);
            let mut s = format!("ntuples: {n}, flags: 0x{:02X}", d.first()?);
            if block0.is_some() && r.info() & 0x80 == 0 {
                s.push_str(", offsets:");
                s.push_str(&offsets(d.get(4..)?, n)?);
            }
            s
        }
        // xl_heap_lock_updated {xmax; OffsetNumber offnum; uint8 infobits_set, flags}
        (0x60, _) => format!(
            "xmax: {}, off: {}, infobits: [{}], flags: 0x{:02X}",
            u32_at(d, 0)?,
            u16_at(d, 4)?,
            infobits_list(*d.get(6)?),
            d.get(7)?
        ),
        (0x70, _) => new_cid(d, true)?,
        _ => return None,
    })
}

/// `plan_elem_desc` over `n` 12-byte freeze plans (`xlhp_freeze_plan` {xmax; uint16
/// t_infomask2, t_infomask; uint8 frzflags; uint16 ntuples}) whose offsets follow at `offs_at`.
fn freeze_plans(b: &[u8], n: usize, offs_at: usize) -> Option<String> {
    let mut s = String::from(" [");
    let mut at = offs_at;
    for i in 0..n {
        let p = b.get(12 * i..12 * i + 12)?;
        let ntuples = usize::from(u16_at(p, 10)?);
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&format!(
            "{{ xmax: {}, infomask: {}, infomask2: {}, ntuples: {ntuples}, offsets:{} }}",
            u32_at(p, 0)?,
            u16_at(p, 6)?,
            u16_at(p, 4)?,
            offsets(b.get(at..)?, ntuples)?
        ));
        at += 2 * ntuples;
    }
    s.push(']');
    Some(s)
}

/// heapdesc.c (17+) for the PRUNE_* records: `heap_xlog_deserialize_prune_and_freeze`'s
/// sub-records, each present when its flag is set: freeze plans {uint16 nplans; plans[]},
/// redirections, dead and unused items ({uint16 ntargets; offsets[]}), then the frozen
/// tuples' offsets.
fn prune17(d: &[u8], block0: Option<&[u8]>) -> Option<String> {
    const IS_CATALOG_REL: u8 = 1 << 1;
    const HAS_CONFLICT_HORIZON: u8 = 1 << 3;
    const HAS_FREEZE_PLANS: u8 = 1 << 4;
    const HAS_REDIRECTIONS: u8 = 1 << 5;
    const HAS_DEAD_ITEMS: u8 = 1 << 6;
    const HAS_NOW_UNUSED_ITEMS: u8 = 1 << 7;
    let flags = *d.get(1)?;
    let mut s = String::new();
    if flags & HAS_CONFLICT_HORIZON != 0 {
        s.push_str(&format!("snapshotConflictHorizon: {}", u32_at(d, 2)?));
    }
    s.push_str(&format!(
        ", isCatalogRel: {}",
        tf(flags & IS_CATALOG_REL != 0)
    ));
    let Some(b) = block0 else {
        return Some(s);
    };
    let mut at = 0usize;
    let (mut nplans, mut plans_at) = (0, 0);
    if flags & HAS_FREEZE_PLANS != 0 {
        nplans = usize::from(u16_at(b, at)?);
        // The plans are 4-byte aligned after the 2-byte count (xlhp_freeze_plans).
        plans_at = at + 4;
        at = plans_at + 12 * nplans;
    }
    let mut items = |flag: u8, width: usize| -> Option<(usize, usize)> {
        if flags & flag == 0 {
            return Some((0, 0));
        }
        let n = usize::from(u16_at(b, at)?);
        let start = at + 2;
        at = start + width * n;
        Some((n, start))
    };
    let (nredirected, redirected_at) = items(HAS_REDIRECTIONS, 4)?;
    let (ndead, dead_at) = items(HAS_DEAD_ITEMS, 2)?;
    let (nunused, unused_at) = items(HAS_NOW_UNUSED_ITEMS, 2)?;
    let frozen_at = at;
    s.push_str(&format!(
        ", nplans: {nplans}, nredirected: {nredirected}, ndead: {ndead}, nunused: {nunused}"
    ));
    if nplans > 0 {
        s.push_str(", plans:");
        s.push_str(&freeze_plans(
            b.get(plans_at..)?,
            nplans,
            frozen_at.checked_sub(plans_at)?,
        )?);
    }
    if nredirected > 0 {
        s.push_str(", redirected:");
        s.push_str(&redirects(b.get(redirected_at..)?, nredirected)?);
    }
    if ndead > 0 {
        s.push_str(", dead:");
        s.push_str(&offsets(b.get(dead_at..)?, ndead)?);
    }
    if nunused > 0 {
        s.push_str(", unused:");
        s.push_str(&offsets(b.get(unused_at..)?, nunused)?);
    }
    Some(s)
}

/// nbtdesc.c `delvacuum_desc`: deleted offsets, then updated offsets each with its
/// `xl_btree_update` {uint16 ndeletedtids; uint16 ptids[]}.
fn delvacuum(b: &[u8], ndeleted: usize, nupdated: usize) -> Option<String> {
    let mut s = String::from(", deleted:");
    s.push_str(&offsets(b, ndeleted)?);
    s.push_str(", updated: [");
    let updated_at = 2 * ndeleted;
    let mut at = updated_at + 2 * nupdated;
    for i in 0..nupdated {
        let off = u16_at(b, updated_at + 2 * i)?;
        let n = usize::from(u16_at(b, at)?);
        s.push_str(&format!("{{ off: {off}, nptids: {n}, ptids: ["));
        for p in 0..n {
            if p > 0 {
                s.push_str(", ");
            }
            s.push_str(&u16_at(b, at + 2 + 2 * p)?.to_string());
        }
        s.push_str("] }");
        if i + 1 < nupdated {
            s.push_str(", ");
        }
        at += 2 + 2 * n;
    }
    s.push(']');
    Some(s)
}

/// nbtdesc.c `btree_desc` (16–18).
fn btree(r: &Record<'_>, d: &[u8], info: u8, major: u32) -> Option<String> {
    let block0 = r.block(0).map(|b| b.data).filter(|b| !b.is_empty());
    Some(match info {
        0x00 | 0x10 | 0x20 | 0x50 => format!("off: {}", u16_at(d, 0)?),
        // xl_btree_split {uint32 level; OffsetNumber firstrightoff, newitemoff; uint16
        // postingoff}
        0x30 | 0x40 => format!(
            "level: {}, firstrightoff: {}, newitemoff: {}, postingoff: {}",
            u32_at(d, 0)?,
            u16_at(d, 4)?,
            u16_at(d, 6)?,
            u16_at(d, 8)?
        ),
        0x60 => format!("nintervals: {}", u16_at(d, 0)?),
        // xl_btree_delete {snapshotConflictHorizon; uint16 ndeleted, nupdated; bool
        // isCatalogRel}
        0x70 => {
            let (ndeleted, nupdated) = (u16_at(d, 4)?, u16_at(d, 6)?);
            let mut s = format!(
                "snapshotConflictHorizon: {}, ndeleted: {ndeleted}, nupdated: {nupdated}",
                u32_at(d, 0)?
            );
            // 16 does not print the flag.
            if major >= 17 {
                s.push_str(&format!(", isCatalogRel: {}", tf(*d.get(8)? != 0)));
            }
            if let Some(b) = block0 {
                s.push_str(&delvacuum(b, ndeleted.into(), nupdated.into())?);
            }
            s
        }
        0x80 | 0x90 => btree_unlink_page(d, true)?,
        // xl_btree_newroot {BlockNumber rootblk; uint32 level}
        0xA0 => format!("level: {}", u32_at(d, 4)?),
        // xl_btree_mark_page_halfdead {OffsetNumber poffset; leafblk; leftblk; rightblk;
        // topparent}
        0xB0 => format!(
            "topparent: {}, leaf: {}, left: {}, right: {}",
            u32_at(d, 16)?,
            u32_at(d, 4)?,
            u32_at(d, 8)?,
            u32_at(d, 12)?
        ),
        // xl_btree_vacuum {uint16 ndeleted, nupdated}
        0xC0 => {
            let (ndeleted, nupdated) = (u16_at(d, 0)?, u16_at(d, 2)?);
            let mut s = format!("ndeleted: {ndeleted}, nupdated: {nupdated}");
            if let Some(b) = block0 {
                s.push_str(&delvacuum(b, ndeleted.into(), nupdated.into())?);
            }
            s
        }
        // xl_btree_reuse_page {RelFileLocator; BlockNumber block; FullTransactionId
        // snapshotConflictHorizon; bool isCatalogRel}
        0xD0 => {
            let xid = u64_at(d, 16)?;
            let mut s = format!(
                "rel: {}/{}/{}, snapshotConflictHorizon: {}:{}",
                u32_at(d, 0)?,
                u32_at(d, 4)?,
                u32_at(d, 8)?,
                xid >> 32,
                xid as u32
            );
            // 16 does not print the flag.
            if major >= 17 {
                s.push_str(&format!(", isCatalogRel: {}", tf(*d.get(24)? != 0)));
            }
            s
        }
        // META_CLEANUP: xl_btree_metadata in block 0 {version; root; level; fastroot;
        // fastlevel; last_cleanup_num_delpages; bool allequalimage}
        0xE0 => format!("last_cleanup_num_delpages: {}", u32_at(block0?, 20)?),
        _ => return None,
    })
}
