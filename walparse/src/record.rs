//! WAL records: the 24-byte `XLogRecord` header, its CRC, and the block references, origin,
//! top-level xid and main data that follow it.
//!
//! Layout from `src/include/access/xlogrecord.h`; decoding rules from xlogreader.c
//! `DecodeXLogRecord` and `ValidXLogRecord` (postgres-formats.md §3–4). A [`Record`] is a view
//! over the record's bytes; block references are decoded lazily by [`Record::blocks`], with no
//! allocation.

use crate::lsn::Lsn;
use crate::version::{BimgScheme, WalVersion};

/// `SizeOfXLogRecord`.
pub const SIZE_OF_XLOG_RECORD: usize = 24;
/// `XLR_MAX_BLOCK_ID`: block references 0..=32.
pub const XLR_MAX_BLOCK_ID: u8 = 32;
/// `XLR_BLOCK_ID_DATA_SHORT`: main data with a u8 length.
pub const XLR_BLOCK_ID_DATA_SHORT: u8 = 255;
/// `XLR_BLOCK_ID_DATA_LONG`: main data with a u32 length.
pub const XLR_BLOCK_ID_DATA_LONG: u8 = 254;
/// `XLR_BLOCK_ID_ORIGIN`: replication origin (u16).
pub const XLR_BLOCK_ID_ORIGIN: u8 = 253;
/// `XLR_BLOCK_ID_TOPLEVEL_XID`: top-level xid of a subtransaction (u32), 14+.
pub const XLR_BLOCK_ID_TOPLEVEL_XID: u8 = 252;
/// `BKPBLOCK_FORK_MASK`.
pub const BKPBLOCK_FORK_MASK: u8 = 0x0F;
/// `BKPBLOCK_HAS_IMAGE`.
pub const BKPBLOCK_HAS_IMAGE: u8 = 0x10;
/// `BKPBLOCK_HAS_DATA`.
pub const BKPBLOCK_HAS_DATA: u8 = 0x20;
/// `BKPBLOCK_WILL_INIT`.
pub const BKPBLOCK_WILL_INIT: u8 = 0x40;
/// `BKPBLOCK_SAME_REL`.
pub const BKPBLOCK_SAME_REL: u8 = 0x80;
/// `BKPIMAGE_HAS_HOLE` (all versions).
pub const BKPIMAGE_HAS_HOLE: u8 = 0x01;
/// The data page size `BLCKSZ` assumed for full-page images (8192, the compiled-in default;
/// pg_control's `blcksz`). The WAL does not record it.
pub const BLCKSZ: u32 = 8192;
/// `XLR_INFO_MASK`: the generic low nibble of `xl_info`.
pub const XLR_INFO_MASK: u8 = 0x0F;
/// `XLR_SPECIAL_REL_UPDATE`.
pub const XLR_SPECIAL_REL_UPDATE: u8 = 0x01;
/// `XLR_CHECK_CONSISTENCY`.
pub const XLR_CHECK_CONSISTENCY: u8 = 0x02;
/// rmid of the XLOG resource manager.
pub const RM_XLOG_ID: u8 = 0;
/// `XLOG_SWITCH` (`info & 0xF0` of an XLOG record).
pub const XLOG_SWITCH: u8 = 0x40;

/// Fork numbers (`ForkNumber` in `src/include/common/relpath.h`).
pub mod fork {
    /// `MAIN_FORKNUM`.
    pub const MAIN: u8 = 0;
    /// `FSM_FORKNUM`.
    pub const FSM: u8 = 1;
    /// `VISIBILITYMAP_FORKNUM`.
    pub const VISIBILITY_MAP: u8 = 2;
    /// `INIT_FORKNUM`.
    pub const INIT: u8 = 3;
}

/// The fork's name as PostgreSQL prints it (`forkNames`): main, fsm, vm, init; `"?"` otherwise.
pub fn fork_name(fork: u8) -> &'static str {
    match fork {
        fork::MAIN => "main",
        fork::FSM => "fsm",
        fork::VISIBILITY_MAP => "vm",
        fork::INIT => "init",
        _ => "?",
    }
}

#[inline]
pub(crate) fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
#[inline]
pub(crate) fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}
#[inline]
pub(crate) fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

/// The fixed 24-byte record header (`XLogRecord`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    /// `xl_tot_len`: total length including this header.
    pub tot_len: u32,
    /// `xl_xid`.
    pub xid: u32,
    /// `xl_prev`: LSN of the previous record.
    pub prev: Lsn,
    /// `xl_info`.
    pub info: u8,
    /// `xl_rmid`.
    pub rmid: u8,
    /// `xl_crc`.
    pub crc: u32,
}

impl RecordHeader {
    /// Reads the header at the start of `b` (`None` if shorter than 24 bytes).
    #[inline]
    pub fn parse(b: &[u8]) -> Option<RecordHeader> {
        if b.len() < SIZE_OF_XLOG_RECORD {
            return None;
        }
        Some(RecordHeader {
            tot_len: u32_at(b, 0),
            xid: u32_at(b, 4),
            prev: Lsn(u64_at(b, 8)),
            info: b[16],
            rmid: b[17],
            crc: u32_at(b, 20),
        })
    }
}

/// The CRC-32C PostgreSQL stores in `xl_crc`: over bytes `[24, len)` and then `[0, 20)`
/// (xlogreader.c `ValidXLogRecord`; xloginsert.c `XLogRecordAssemble`). `raw` must be the whole
/// record and at least 24 bytes long.
#[inline]
pub fn record_crc(raw: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if raw.len() < SHORT_CRC_MAX && std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: the CPU has SSE 4.2 (checked just above), and `raw` is at least 24 bytes
        // long (the caller's contract; `short_record_crc` checks it again and panics otherwise).
        return unsafe { crc_sse42::short_record_crc(raw) };
    }
    let crc = crc32c::crc32c(&raw[SIZE_OF_XLOG_RECORD..]);
    crc32c::crc32c_append(crc, &raw[..20])
}

/// Records shorter than this get their CRC from [`crc_sse42`]; longer ones (mostly full-page
/// images) from the `crc32c` crate, which interleaves three CRC streams over long buffers (from
/// 768 bytes on) and so beats one serial stream there.
#[cfg(target_arch = "x86_64")]
const SHORT_CRC_MAX: usize = 768 + SIZE_OF_XLOG_RECORD;

/// The CRC of short records with the SSE 4.2 `crc32` instruction, in one call. Most WAL records
/// are 50–200 bytes: the `crc32c` crate's two calls per record (body, then header), each
/// splitting its buffer for alignment and for its three-stream loop, cost more instructions than
/// the CRC itself (benches/README.md, "CRC").
#[cfg(target_arch = "x86_64")]
mod crc_sse42 {
    use super::{u32_at, u64_at, SIZE_OF_XLOG_RECORD};
    use std::arch::x86_64::{_mm_crc32_u16, _mm_crc32_u32, _mm_crc32_u64, _mm_crc32_u8};

    /// CRC-32C of `raw[24..]` then `raw[..20]`, as `crc32c::crc32c_append(crc32c(body), head)`.
    ///
    /// # Safety
    /// The CPU must support SSE 4.2.
    #[target_feature(enable = "sse4.2")]
    pub(super) unsafe fn short_record_crc(raw: &[u8]) -> u32 {
        let body = &raw[SIZE_OF_XLOG_RECORD..];
        let mut crc = u64::from(u32::MAX);
        let mut words = body.chunks_exact(8);
        for w in &mut words {
            crc = _mm_crc32_u64(crc, u64_at(w, 0));
        }
        let mut crc = crc as u32;
        let mut tail = words.remainder();
        if tail.len() >= 4 {
            crc = _mm_crc32_u32(crc, u32_at(tail, 0));
            tail = &tail[4..];
        }
        if tail.len() >= 2 {
            crc = _mm_crc32_u16(crc, u16::from_le_bytes([tail[0], tail[1]]));
            tail = &tail[2..];
        }
        if let Some(&b) = tail.first() {
            crc = _mm_crc32_u8(crc, b);
        }
        // Then the header up to xl_crc: 16 + 4 bytes.
        let crc = _mm_crc32_u64(u64::from(crc), u64_at(raw, 0));
        let crc = _mm_crc32_u64(crc, u64_at(raw, 8));
        !_mm_crc32_u32(crc as u32, u32_at(raw, 16))
    }
}

/// Relation identity (`RelFileNode` in 10–15, `RelFileLocator` in 16+; same bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelFileLocator {
    /// Tablespace OID (`spcOid`).
    pub spc: u32,
    /// Database OID (`dbOid`).
    pub db: u32,
    /// Relation file number (`relNumber`).
    pub rel: u32,
}

impl RelFileLocator {
    /// Reads the 12 bytes at `off`.
    #[inline]
    pub(crate) fn read(b: &[u8], off: usize) -> RelFileLocator {
        RelFileLocator {
            spc: u32_at(b, off),
            db: u32_at(b, off + 4),
            rel: u32_at(b, off + 8),
        }
    }
}

/// How a full-page image is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed.
    None,
    /// PostgreSQL's pglz.
    Pglz,
    /// A raw LZ4 block (15+).
    Lz4,
    /// A zstd frame (15+).
    Zstd,
}

/// The image header of a block reference (`XLogRecordBlockImageHeader` + derived hole length).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockImage {
    /// Bytes of image stored in the record (after hole removal and compression).
    pub length: u16,
    /// Page offset where the removed hole begins.
    pub hole_offset: u16,
    /// Length of the removed hole.
    pub hole_length: u16,
    /// Compression of the stored bytes.
    pub compression: Compression,
    /// Whether redo restores the image (`BKPIMAGE_APPLY`); clear only for images logged for
    /// `wal_consistency_checking`.
    pub apply: bool,
    /// The raw `bimg_info` byte (its bits depend on the version).
    pub bimg_info: u8,
}

/// One block reference of a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRef<'a> {
    /// Block id, 0..=32.
    pub id: u8,
    /// The relation.
    pub rel: RelFileLocator,
    /// The fork number (see [`fork`]).
    pub fork: u8,
    /// The block number.
    pub block: u32,
    /// The raw `fork_flags` byte.
    pub flags: u8,
    /// The full-page image header, if the reference carries an image.
    pub image: Option<BlockImage>,
    /// The stored image bytes (empty without image).
    pub image_bytes: &'a [u8],
    /// Length of the block's rmgr data.
    pub data_len: u16,
    /// `BKPBLOCK_HAS_DATA`.
    pub has_data: bool,
    /// `BKPBLOCK_WILL_INIT`: redo initialises the page.
    pub will_init: bool,
    /// The block's rmgr data.
    pub data: &'a [u8],
}

/// Why a record's block headers do not decode (xlogreader.c `DecodeXLogRecord`); each ends the
/// WAL for PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// "record with invalid length": headers and payloads do not add up to `xl_tot_len`.
    InvalidLength,
    /// "invalid block_id".
    InvalidBlockId {
        /// The id byte.
        id: u8,
    },
    /// "out-of-order block_id".
    OutOfOrderBlockId {
        /// The id byte.
        id: u8,
    },
    /// "BKPBLOCK_HAS_DATA set, but no data included" or "not set, but data length is".
    DataFlagMismatch {
        /// The block id.
        id: u8,
        /// Its data length.
        data_len: u16,
    },
    /// One of the image hole/compression consistency checks failed.
    BadImageHeader {
        /// The block id.
        id: u8,
    },
    /// "BKPBLOCK_SAME_REL set but no previous rel".
    SameRelWithoutPrevious {
        /// The block id.
        id: u8,
    },
}

/// What [`Record`] knows besides its bytes (all `Copy`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    lsn: Lsn,
    end: Lsn,
    next: Lsn,
    version: &'static WalVersion,
    header: RecordHeader,
    /// End of the header area (offset of the first payload byte).
    payload_start: u32,
    main_len: u32,
    origin: Option<u16>,
    toplevel_xid: Option<u32>,
    fpi_len: u32,
    nblocks: u8,
}

/// One decoded WAL record, borrowing its bytes: from the mapped segment when it lies on one
/// page, from the reader's reassembly buffer when it was continued across pages.
#[derive(Clone, Copy, Debug)]
pub struct Record<'a> {
    raw: &'a [u8],
    meta: Meta,
}

#[inline]
fn image_of(scheme: BimgScheme, bimg_info: u8, length: u16, hole_offset: u16) -> BlockImage {
    let (compression, apply) = match scheme {
        BimgScheme::V10 => (
            if bimg_info & 0x02 != 0 {
                Compression::Pglz
            } else {
                Compression::None
            },
            bimg_info & 0x04 != 0,
        ),
        BimgScheme::V15 => (
            if bimg_info & 0x04 != 0 {
                Compression::Pglz
            } else if bimg_info & 0x08 != 0 {
                Compression::Lz4
            } else if bimg_info & 0x10 != 0 {
                Compression::Zstd
            } else {
                Compression::None
            },
            bimg_info & 0x02 != 0,
        ),
    };
    BlockImage {
        length,
        hole_offset,
        hole_length: 0,
        compression,
        apply,
        bimg_info,
    }
}

/// A cursor over the header area; `None` when a read would pass `limit` ("shortdata").
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    #[inline(always)]
    fn take(&mut self, n: usize) -> Option<usize> {
        let at = self.pos;
        let end = at.checked_add(n)?;
        if end > self.b.len() {
            return None;
        }
        self.pos = end;
        Some(at)
    }
    #[inline(always)]
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|p| self.b[p])
    }
    #[inline(always)]
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|p| u16_at(self.b, p))
    }
    #[inline(always)]
    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|p| u32_at(self.b, p))
    }
}

/// One header of the header area, as [`parse_header`] reads it.
enum Hdr {
    Block(BlockRef<'static>),
    Origin,
    Toplevel,
    Main,
}

/// Reads one header at `c` (block reference payload slices are filled in later).
/// `prev_rel` implements `BKPBLOCK_SAME_REL`.
#[inline]
fn parse_header(
    c: &mut Cursor<'_>,
    version: &WalVersion,
    prev_rel: Option<RelFileLocator>,
) -> Result<Hdr, DecodeError> {
    let short = DecodeError::InvalidLength;
    let id = c.u8().ok_or(short)?;
    match id {
        XLR_BLOCK_ID_DATA_SHORT => c.take(1).map(|_| Hdr::Main).ok_or(short),
        XLR_BLOCK_ID_DATA_LONG => c.take(4).map(|_| Hdr::Main).ok_or(short),
        XLR_BLOCK_ID_ORIGIN => c.take(2).map(|_| Hdr::Origin).ok_or(short),
        XLR_BLOCK_ID_TOPLEVEL_XID if version.has_toplevel_xid_block => {
            c.take(4).map(|_| Hdr::Toplevel).ok_or(short)
        }
        id if id <= XLR_MAX_BLOCK_ID => {
            let flags = c.u8().ok_or(short)?;
            let data_len = c.u16().ok_or(short)?;
            let has_data = flags & BKPBLOCK_HAS_DATA != 0;
            if has_data != (data_len != 0) {
                return Err(DecodeError::DataFlagMismatch { id, data_len });
            }
            let mut image = None;
            if flags & BKPBLOCK_HAS_IMAGE != 0 {
                let length = c.u16().ok_or(short)?;
                let hole_offset = c.u16().ok_or(short)?;
                let bimg_info = c.u8().ok_or(short)?;
                let mut img = image_of(version.bimg, bimg_info, length, hole_offset);
                let compressed = img.compression != Compression::None;
                let has_hole = bimg_info & BKPIMAGE_HAS_HOLE != 0;
                img.hole_length = if compressed {
                    if has_hole {
                        c.u16().ok_or(short)?
                    } else {
                        0
                    }
                } else {
                    // BLCKSZ - bimg_len, computed in PostgreSQL's uint16 arithmetic.
                    (BLCKSZ as u16).wrapping_sub(length)
                };
                let full = u32::from(length) == BLCKSZ;
                let bad = (has_hole && (hole_offset == 0 || img.hole_length == 0 || full))
                    || (!has_hole && (hole_offset != 0 || img.hole_length != 0))
                    || (compressed && full)
                    || (!has_hole && !compressed && !full);
                if bad {
                    return Err(DecodeError::BadImageHeader { id });
                }
                image = Some(img);
            }
            let rel = if flags & BKPBLOCK_SAME_REL == 0 {
                let p = c.take(12).ok_or(short)?;
                RelFileLocator::read(c.b, p)
            } else {
                prev_rel.ok_or(DecodeError::SameRelWithoutPrevious { id })?
            };
            let block = c.u32().ok_or(short)?;
            Ok(Hdr::Block(BlockRef {
                id,
                rel,
                fork: flags & BKPBLOCK_FORK_MASK,
                block,
                flags,
                image,
                image_bytes: &[],
                data_len,
                has_data,
                will_init: flags & BKPBLOCK_WILL_INIT != 0,
                data: &[],
            }))
        }
        id => Err(DecodeError::InvalidBlockId { id }),
    }
}

impl Meta {
    /// Validates and summarises the record in `raw` as xlogreader.c `DecodeXLogRecord` does.
    pub(crate) fn decode(
        raw: &[u8],
        lsn: Lsn,
        end: Lsn,
        next: Lsn,
        version: &'static WalVersion,
    ) -> Result<Meta, DecodeError> {
        let header = RecordHeader::parse(raw).ok_or(DecodeError::InvalidLength)?;
        Meta::decode_with_header(raw, header, lsn, end, next, version)
    }

    /// [`Meta::decode`] with the header already read from `raw` (`header` must be
    /// `RecordHeader::parse(raw)`): the reader has it from `ValidXLogRecordHeader`. Inlined into
    /// the reader's loop: returning the summary through memory from an out-of-line call cost a
    /// store-forwarding stall per record (benches/README.md).
    #[inline(always)]
    pub(crate) fn decode_with_header(
        raw: &[u8],
        header: RecordHeader,
        lsn: Lsn,
        end: Lsn,
        next: Lsn,
        version: &'static WalVersion,
    ) -> Result<Meta, DecodeError> {
        if header.tot_len as usize != raw.len() || raw.len() < SIZE_OF_XLOG_RECORD {
            return Err(DecodeError::InvalidLength);
        }
        let mut c = Cursor {
            b: raw,
            pos: SIZE_OF_XLOG_RECORD,
        };
        let mut datatotal: u64 = 0;
        let mut max_block: i16 = -1;
        let (mut origin, mut toplevel_xid, mut main_len) = (None, None, 0u32);
        let (mut fpi_len, mut nblocks) = (0u32, 0u8);
        let short = DecodeError::InvalidLength;
        // `while (remaining > datatotal)`, remaining = bytes after the headers read so far.
        // The same checks in the same order as `parse_header` (which `Record::blocks` uses),
        // without building the block references: this runs for every record read.
        while (raw.len() - c.pos) as u64 > datatotal {
            let id = c.u8().ok_or(short)?;
            match id {
                XLR_BLOCK_ID_DATA_SHORT | XLR_BLOCK_ID_DATA_LONG => {
                    main_len = if id == XLR_BLOCK_ID_DATA_SHORT {
                        u32::from(c.u8().ok_or(short)?)
                    } else {
                        c.u32().ok_or(short)?
                    };
                    datatotal += u64::from(main_len);
                    break; // main data is always last
                }
                XLR_BLOCK_ID_ORIGIN => origin = Some(c.u16().ok_or(short)?),
                XLR_BLOCK_ID_TOPLEVEL_XID if version.has_toplevel_xid_block => {
                    toplevel_xid = Some(c.u32().ok_or(short)?)
                }
                id if id <= XLR_MAX_BLOCK_ID => {
                    let flags = c.u8().ok_or(short)?;
                    let data_len = c.u16().ok_or(short)?;
                    if (flags & BKPBLOCK_HAS_DATA != 0) != (data_len != 0) {
                        return Err(DecodeError::DataFlagMismatch { id, data_len });
                    }
                    if flags & BKPBLOCK_HAS_IMAGE != 0 {
                        let length = c.u16().ok_or(short)?;
                        let hole_offset = c.u16().ok_or(short)?;
                        let bimg_info = c.u8().ok_or(short)?;
                        let img = image_of(version.bimg, bimg_info, length, hole_offset);
                        let compressed = img.compression != Compression::None;
                        let has_hole = bimg_info & BKPIMAGE_HAS_HOLE != 0;
                        let hole_length = if compressed {
                            if has_hole {
                                c.u16().ok_or(short)?
                            } else {
                                0
                            }
                        } else {
                            (BLCKSZ as u16).wrapping_sub(length)
                        };
                        let full = u32::from(length) == BLCKSZ;
                        let bad = (has_hole && (hole_offset == 0 || hole_length == 0 || full))
                            || (!has_hole && (hole_offset != 0 || hole_length != 0))
                            || (compressed && full)
                            || (!has_hole && !compressed && !full);
                        if bad {
                            return Err(DecodeError::BadImageHeader { id });
                        }
                        datatotal += u64::from(length);
                        fpi_len += u32::from(length);
                    }
                    if flags & BKPBLOCK_SAME_REL == 0 {
                        c.take(12).ok_or(short)?;
                    } else if nblocks == 0 {
                        return Err(DecodeError::SameRelWithoutPrevious { id });
                    }
                    c.take(4).ok_or(short)?; // block number
                    if i16::from(id) <= max_block {
                        return Err(DecodeError::OutOfOrderBlockId { id });
                    }
                    max_block = i16::from(id);
                    nblocks += 1;
                    datatotal += u64::from(data_len);
                }
                id => return Err(DecodeError::InvalidBlockId { id }),
            }
        }
        if (raw.len() - c.pos) as u64 != datatotal {
            return Err(DecodeError::InvalidLength);
        }
        Ok(Meta {
            lsn,
            end,
            next,
            version,
            header,
            payload_start: c.pos as u32,
            main_len,
            origin,
            toplevel_xid,
            fpi_len,
            nblocks,
        })
    }
}

impl<'a> Record<'a> {
    /// Decodes the record in `raw` (exactly `xl_tot_len` bytes; CRC not checked here) as
    /// xlogreader.c `DecodeXLogRecord` does. `lsn` is where it starts, `end` the position after
    /// its last byte and `next` where the next record starts.
    pub fn decode(
        raw: &'a [u8],
        lsn: Lsn,
        end: Lsn,
        next: Lsn,
        version: &'static WalVersion,
    ) -> Result<Record<'a>, DecodeError> {
        Ok(Record {
            raw,
            meta: Meta::decode(raw, lsn, end, next, version)?,
        })
    }

    /// A record from bytes already decoded into `meta`.
    #[inline]
    pub(crate) fn from_meta(raw: &'a [u8], meta: Meta) -> Record<'a> {
        Record { raw, meta }
    }

    /// LSN of the record's first byte.
    #[inline]
    pub fn lsn(&self) -> Lsn {
        self.meta.lsn
    }
    /// Position right after the record's last byte (not aligned; past any page headers crossed).
    #[inline]
    pub fn end_lsn(&self) -> Lsn {
        self.meta.end
    }
    /// Where the next record starts (`EndRecPtr`): the end rounded up to 8, or the next
    /// segment's start after an `XLOG_SWITCH`.
    #[inline]
    pub fn next_lsn(&self) -> Lsn {
        self.meta.next
    }
    /// `xl_prev`.
    #[inline]
    pub fn prev(&self) -> Lsn {
        self.meta.header.prev
    }
    /// `xl_xid`.
    #[inline]
    pub fn xid(&self) -> u32 {
        self.meta.header.xid
    }
    /// `xl_tot_len`.
    #[inline]
    pub fn tot_len(&self) -> u32 {
        self.meta.header.tot_len
    }
    /// `xl_rmid`.
    #[inline]
    pub fn rmid(&self) -> u8 {
        self.meta.header.rmid
    }
    /// `xl_info`.
    #[inline]
    pub fn info(&self) -> u8 {
        self.meta.header.info
    }
    /// `xl_crc`.
    #[inline]
    pub fn crc(&self) -> u32 {
        self.meta.header.crc
    }
    /// The 24-byte header.
    #[inline]
    pub fn header(&self) -> &RecordHeader {
        &self.meta.header
    }
    /// The version row of the WAL this record was read from.
    #[inline]
    pub fn version(&self) -> &'static WalVersion {
        self.meta.version
    }
    /// The resource manager's name as pg_waldump prints it.
    pub fn rmgr_name(&self) -> &'static str {
        crate::version::rmgr_name(self.rmid(), self.meta.version.major)
    }
    /// True for `XLOG_SWITCH`.
    #[inline]
    pub fn is_xlog_switch(&self) -> bool {
        self.rmid() == RM_XLOG_ID && self.info() & 0xF0 == XLOG_SWITCH
    }
    /// The whole record, header included (byte-comparable across clusters).
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
    /// The main data (`XLogRecGetData`).
    #[inline]
    pub fn main_data(&self) -> &'a [u8] {
        &self.raw[self.raw.len() - self.meta.main_len as usize..]
    }
    /// The replication origin (header 253), if present.
    #[inline]
    pub fn origin(&self) -> Option<u16> {
        self.meta.origin
    }
    /// The top-level xid (header 252, 14+), if present.
    #[inline]
    pub fn toplevel_xid(&self) -> Option<u32> {
        self.meta.toplevel_xid
    }
    /// Number of block references.
    #[inline]
    pub fn block_count(&self) -> usize {
        usize::from(self.meta.nblocks)
    }
    /// Sum of the stored full-page image lengths.
    #[inline]
    pub fn fpi_len(&self) -> u32 {
        self.meta.fpi_len
    }
    /// pg_waldump's "rec" length: `xl_tot_len` minus the full-page image bytes.
    #[inline]
    pub fn rec_len(&self) -> u32 {
        self.tot_len() - self.meta.fpi_len
    }
    /// The block references, in id order, decoded lazily without allocation.
    pub fn blocks(&self) -> Blocks<'a> {
        Blocks {
            c: Cursor {
                b: &self.raw[..self.meta.payload_start as usize],
                pos: SIZE_OF_XLOG_RECORD,
            },
            raw: self.raw,
            payload: self.meta.payload_start as usize,
            version: self.meta.version,
            prev_rel: None,
        }
    }
    /// The block reference with this id, if any.
    pub fn block(&self, id: u8) -> Option<BlockRef<'a>> {
        self.blocks().find(|b| b.id == id)
    }
    /// A copy that owns its bytes.
    pub fn to_owned_record(&self) -> OwnedRecord {
        OwnedRecord {
            raw: self.raw.to_vec(),
            meta: self.meta,
        }
    }
}

/// Iterator over a record's block references ([`Record::blocks`]).
#[derive(Clone)]
pub struct Blocks<'a> {
    c: Cursor<'a>,
    raw: &'a [u8],
    payload: usize,
    version: &'static WalVersion,
    prev_rel: Option<RelFileLocator>,
}

impl Clone for Cursor<'_> {
    fn clone(&self) -> Self {
        Cursor {
            b: self.b,
            pos: self.pos,
        }
    }
}

impl<'a> Iterator for Blocks<'a> {
    type Item = BlockRef<'a>;

    fn next(&mut self) -> Option<BlockRef<'a>> {
        // The record was validated by `Record::decode`, so the headers parse again.
        loop {
            if self.c.pos >= self.c.b.len() {
                return None;
            }
            match parse_header(&mut self.c, self.version, self.prev_rel).ok()? {
                Hdr::Main => return None,
                Hdr::Origin | Hdr::Toplevel => continue,
                Hdr::Block(b) => {
                    self.prev_rel = Some(b.rel);
                    let img_len = b.image.map_or(0, |i| usize::from(i.length));
                    let img_end = self.payload + img_len;
                    let data_end = img_end + usize::from(b.data_len);
                    let out = BlockRef {
                        image_bytes: self.raw.get(self.payload..img_end)?,
                        data: self.raw.get(img_end..data_end)?,
                        ..b
                    };
                    self.payload = data_end;
                    return Some(out);
                }
            }
        }
    }
}

/// A record that owns its bytes ([`Record::to_owned_record`], [`crate::reader::read_record_at`]).
#[derive(Clone, Debug)]
pub struct OwnedRecord {
    raw: Vec<u8>,
    meta: Meta,
}

impl OwnedRecord {
    /// A view of the record.
    pub fn record(&self) -> Record<'_> {
        Record {
            raw: &self.raw,
            meta: self.meta,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-call SSE 4.2 CRC of short records against the `crc32c` crate's two calls, for
    /// every length on both sides of the switch-over and every tail length.
    #[test]
    fn record_crc_matches_crate_at_every_length() {
        let mut x: u32 = 0x9E37_79B9;
        let bytes: Vec<u8> = (0..2048)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for len in SIZE_OF_XLOG_RECORD..bytes.len() {
            for start in [0, 3] {
                let raw = &bytes[start..start + len.min(bytes.len() - start)];
                let expected = crc32c::crc32c_append(crc32c::crc32c(&raw[24..]), &raw[..20]);
                assert_eq!(record_crc(raw), expected, "length {len}, offset {start}");
            }
        }
    }

    #[test]
    fn crc_of_spec_example() {
        // postgres-formats.md §3.4: v15 OVERWRITE_CONTRECORD at 0/D24018.
        let raw: Vec<u8> = [
            "2a000000",
            "00000000",
            "6807d00000000000",
            "d0000000",
            "bbc13151",
            "ff10",
            "100cd00000000000",
            "6f9eb74ada030300",
        ]
        .concat()
        .as_bytes()
        .chunks(2)
        .map(|h| u8::from_str_radix(std::str::from_utf8(h).unwrap(), 16).unwrap())
        .collect();
        assert_eq!(raw.len(), 42);
        assert_eq!(record_crc(&raw), 0x5131C1BB);
        let v15 = WalVersion::for_major(15).unwrap();
        let r = Record::decode(&raw, Lsn(0xD24018), Lsn(0xD24042), Lsn(0xD24048), v15).unwrap();
        assert_eq!(r.prev(), Lsn(0xD00768));
        assert_eq!(r.main_data().len(), 16);
        assert_eq!(r.block_count(), 0);
        assert_eq!(r.blocks().count(), 0);
        // A truncated copy does not decode.
        let mut short = raw.clone();
        short[0] = 41;
        assert!(Record::decode(&short[..41], Lsn(0), Lsn(0), Lsn(0), v15).is_err());
    }
}
