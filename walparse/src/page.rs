//! WAL page headers (`XLogPageHeaderData`, `XLogLongPageHeaderData`) and their validation.
//!
//! Layout from `src/include/access/xlog_internal.h`; validation as in xlogreader.c
//! `XLogReaderValidatePageHeader` (postgres-formats.md §2).

use crate::lsn::{Lsn, TimeLineId, WalSegSize};

/// `XLP_FIRST_IS_CONTRECORD`: the page begins with the continuation of a record.
pub const XLP_FIRST_IS_CONTRECORD: u16 = 0x0001;
/// `XLP_LONG_HEADER`: the page has the 40-byte long header (first page of a segment).
pub const XLP_LONG_HEADER: u16 = 0x0002;
/// `XLP_BKP_REMOVABLE`: no backup was running when the page was initialised.
pub const XLP_BKP_REMOVABLE: u16 = 0x0004;
/// `XLP_FIRST_IS_OVERWRITE_CONTRECORD`: the continuation that belonged here was lost and an
/// `XLOG_OVERWRITE_CONTRECORD` record follows the header instead (10.19+/11.14+/.../14.1+, 15+).
pub const XLP_FIRST_IS_OVERWRITE_CONTRECORD: u16 = 0x0008;
/// `XLP_ALL_FLAGS`. Accepted for every major: the 0x0008 flag was back-patched to minor releases
/// of 10–14 without a magic change, so a page of any 10–18 version may carry it.
pub const XLP_ALL_FLAGS: u16 = 0x000F;

/// `SizeOfXLogShortPHD`.
pub const SHORT_HEADER_SIZE: usize = 24;
/// `SizeOfXLogLongPHD`.
pub const LONG_HEADER_SIZE: usize = 40;

/// The long header's extra fields (first page of every segment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongHeader {
    /// `xlp_sysid`: the cluster's system identifier.
    pub sysid: u64,
    /// `xlp_seg_size`: segment size in bytes.
    pub seg_size: u32,
    /// `xlp_xlog_blcksz`: WAL page size in bytes.
    pub blcksz: u32,
}

/// A WAL page header, short or long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageHeader {
    /// `xlp_magic`: the WAL format version.
    pub magic: u16,
    /// `xlp_info`: flag bits (`XLP_*`).
    pub info: u16,
    /// `xlp_tli`: timeline when the page was initialised.
    pub tli: TimeLineId,
    /// `xlp_pageaddr`: LSN of the page's first byte.
    pub pageaddr: Lsn,
    /// `xlp_rem_len`: bytes of a continued record still to come, counted from this page's data.
    pub rem_len: u32,
    /// The long header's fields, when `XLP_LONG_HEADER` is set.
    pub long: Option<LongHeader>,
}

#[inline]
fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
#[inline]
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}
#[inline]
fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[off..off + 8]);
    u64::from_le_bytes(a)
}

impl PageHeader {
    /// Reads the header at the start of `page`. `None` if `page` is shorter than the header
    /// (24 bytes, or 40 when `XLP_LONG_HEADER` is set).
    #[inline]
    pub fn parse(page: &[u8]) -> Option<PageHeader> {
        if page.len() < SHORT_HEADER_SIZE {
            return None;
        }
        let info = u16_at(page, 2);
        let long = if info & XLP_LONG_HEADER != 0 {
            if page.len() < LONG_HEADER_SIZE {
                return None;
            }
            Some(LongHeader {
                sysid: u64_at(page, 24),
                seg_size: u32_at(page, 32),
                blcksz: u32_at(page, 36),
            })
        } else {
            None
        };
        Some(PageHeader {
            magic: u16_at(page, 0),
            info,
            tli: u32_at(page, 4),
            pageaddr: Lsn(u64_at(page, 8)),
            rem_len: u32_at(page, 16),
            long,
        })
    }

    /// The header size: 40 with `XLP_LONG_HEADER`, else 24 (`XLogPageHeaderSize`).
    #[inline]
    pub fn size(&self) -> usize {
        if self.info & XLP_LONG_HEADER != 0 {
            LONG_HEADER_SIZE
        } else {
            SHORT_HEADER_SIZE
        }
    }

    /// `XLP_FIRST_IS_CONTRECORD` is set.
    #[inline]
    pub fn is_contrecord(&self) -> bool {
        self.info & XLP_FIRST_IS_CONTRECORD != 0
    }

    /// `XLP_FIRST_IS_OVERWRITE_CONTRECORD` is set.
    #[inline]
    pub fn is_overwrite_contrecord(&self) -> bool {
        self.info & XLP_FIRST_IS_OVERWRITE_CONTRECORD != 0
    }
}

/// Why a page header is invalid where it was read. Each is an end of WAL for PostgreSQL's reader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageError {
    /// "invalid magic number" (e.g. a zeroed page).
    BadMagic {
        /// `xlp_magic` found.
        found: u16,
    },
    /// "invalid info bits": bits outside `XLP_ALL_FLAGS`.
    InvalidInfoBits {
        /// `xlp_info` found.
        info: u16,
    },
    /// "invalid info bits": the first page of a segment without `XLP_LONG_HEADER`.
    MissingLongHeader {
        /// `xlp_info` found.
        info: u16,
    },
    /// Long header from another system (`xlp_sysid`).
    WrongSystemId {
        /// `xlp_sysid` found.
        found: u64,
    },
    /// Long header with another segment size (`xlp_seg_size`).
    WrongSegmentSize {
        /// `xlp_seg_size` found.
        found: u32,
    },
    /// Long header with another WAL block size (`xlp_xlog_blcksz`).
    WrongBlockSize {
        /// `xlp_xlog_blcksz` found.
        found: u32,
    },
    /// "unexpected pageaddr": a recycled segment's stale page.
    UnexpectedPageAddr {
        /// `xlp_pageaddr` found.
        found: Lsn,
    },
    /// "out-of-sequence timeline ID": `xlp_tli` lower than the previous page's.
    TimelineBackwards {
        /// `xlp_tli` of this page.
        tli: TimeLineId,
        /// `xlp_tli` of the latest earlier page.
        previous: TimeLineId,
    },
    /// The file ends before the page does (a truncated or still-growing file).
    Truncated,
}

/// What a page header must match (the reader's state in `XLogReaderValidatePageHeader`).
#[derive(Clone, Copy, Debug)]
pub struct PageExpect {
    /// `XLOG_PAGE_MAGIC` of the version being read.
    pub magic: u16,
    /// The system identifier, when known (`state->system_identifier`; 0/None skips the check).
    pub sysid: Option<u64>,
    /// The segment size.
    pub seg_size: WalSegSize,
    /// The WAL page size.
    pub blcksz: u32,
}

/// The latest page validated, for the timeline-monotonicity check (`latestPagePtr`,
/// `latestPageTLI`).
#[derive(Clone, Copy, Debug, Default)]
pub struct LatestPage {
    /// LSN of the latest page validated.
    pub lsn: Lsn,
    /// Its `xlp_tli`.
    pub tli: TimeLineId,
}

/// Validates the header of the page at `page_lsn` as xlogreader.c `XLogReaderValidatePageHeader`
/// does, in the same order, updating `latest` on success.
pub fn validate(
    hdr: &PageHeader,
    page_lsn: Lsn,
    expect: &PageExpect,
    latest: &mut LatestPage,
) -> Result<(), PageError> {
    if hdr.magic != expect.magic {
        return Err(PageError::BadMagic { found: hdr.magic });
    }
    if hdr.info & !XLP_ALL_FLAGS != 0 {
        return Err(PageError::InvalidInfoBits { info: hdr.info });
    }
    if let Some(long) = hdr.long {
        if let Some(sysid) = expect.sysid {
            if sysid != 0 && long.sysid != sysid {
                return Err(PageError::WrongSystemId { found: long.sysid });
            }
        }
        if long.seg_size != expect.seg_size.get() {
            return Err(PageError::WrongSegmentSize {
                found: long.seg_size,
            });
        }
        if long.blcksz != expect.blcksz {
            return Err(PageError::WrongBlockSize { found: long.blcksz });
        }
    } else if page_lsn.segment_offset(expect.seg_size) == 0 {
        // "hmm, first page of file doesn't have a long header?"
        return Err(PageError::MissingLongHeader { info: hdr.info });
    }
    if hdr.pageaddr != page_lsn {
        return Err(PageError::UnexpectedPageAddr {
            found: hdr.pageaddr,
        });
    }
    // Only pages later than the latest one read are checked: a segment may be re-read.
    if page_lsn > latest.lsn && hdr.tli < latest.tli {
        return Err(PageError::TimelineBackwards {
            tli: hdr.tli,
            previous: latest.tli,
        });
    }
    latest.lsn = page_lsn;
    latest.tli = hdr.tli;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_spec_long_header() {
        // postgres-formats.md §2.2: v15 000000010000000000000009 at offset 0.
        let mut b = Vec::new();
        b.extend_from_slice(&[0x10, 0xd1, 0x07, 0x00, 1, 0, 0, 0]);
        b.extend_from_slice(&0x900000u64.to_le_bytes());
        b.extend_from_slice(&2053206u32.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.extend_from_slice(&7710951575618446016u64.to_le_bytes());
        b.extend_from_slice(&1048576u32.to_le_bytes());
        b.extend_from_slice(&8192u32.to_le_bytes());
        let h = PageHeader::parse(&b).unwrap();
        assert_eq!(h.magic, 0xD110);
        assert_eq!(h.size(), 40);
        assert!(h.is_contrecord() && !h.is_overwrite_contrecord());
        assert_eq!(h.rem_len, 2053206);
        assert_eq!(
            h.long,
            Some(LongHeader {
                sysid: 7710951575618446016,
                seg_size: 1048576,
                blcksz: 8192
            })
        );
        assert!(PageHeader::parse(&b[..39]).is_none());
        let mut latest = LatestPage::default();
        let seg = WalSegSize::new(1 << 20).unwrap();
        let expect = PageExpect {
            magic: 0xD110,
            sysid: None,
            seg_size: seg,
            blcksz: 8192,
        };
        assert_eq!(validate(&h, Lsn(0x900000), &expect, &mut latest), Ok(()));
        assert_eq!(
            validate(&h, Lsn(0xA00000), &expect, &mut latest),
            Err(PageError::UnexpectedPageAddr {
                found: Lsn(0x900000)
            })
        );
        let wrong = PageExpect {
            sysid: Some(1),
            ..expect
        };
        assert!(matches!(
            validate(&h, Lsn(0x900000), &wrong, &mut latest),
            Err(PageError::WrongSystemId { .. })
        ));
    }
}
