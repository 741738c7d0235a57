//! WAL positions (`XLogRecPtr`), timeline ids and segment sizes: the small `Copy` types every other
//! module shares.
//!
//! Rules from PostgreSQL's `src/include/access/xlogdefs.h` and `xlog_internal.h`.

use std::fmt;
use std::str::FromStr;

/// A byte position in the WAL stream shared by all timelines (`XLogRecPtr`). `0` is invalid.
///
/// Displays as PostgreSQL prints it (`%X/%X`: upper-case hex, no zero padding, e.g. `0/E000A0`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lsn(pub u64);

impl Lsn {
    /// `InvalidXLogRecPtr`.
    pub const INVALID: Lsn = Lsn(0);

    /// True unless this is `InvalidXLogRecPtr` (0).
    #[inline]
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }

    /// The segment number holding this position (`XLByteToSeg`).
    #[inline]
    pub const fn segno(self, seg_size: WalSegSize) -> u64 {
        self.0 / seg_size.bytes()
    }

    /// The offset of this position inside its segment (`XLogSegmentOffset`).
    #[inline]
    pub const fn segment_offset(self, seg_size: WalSegSize) -> u64 {
        self.0 % seg_size.bytes()
    }

    /// The offset of this position inside its WAL page of `page_size` bytes.
    #[inline]
    pub const fn page_offset(self, page_size: u32) -> u64 {
        self.0 % page_size as u64
    }

    /// This position rounded up to the next multiple of 8 (`MAXALIGN` on x86-64).
    #[inline]
    pub const fn maxalign(self) -> Lsn {
        Lsn((self.0 + 7) & !7)
    }

    /// `self + n`, or `None` on overflow.
    #[inline]
    pub const fn checked_add(self, n: u64) -> Option<Lsn> {
        match self.0.checked_add(n) {
            Some(v) => Some(Lsn(v)),
            None => None,
        }
    }

    /// The number of bytes from `earlier` to `self` (0 when `earlier` is not earlier).
    #[inline]
    pub const fn bytes_since(self, earlier: Lsn) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 as u32)
    }
}

/// Why a string is not an LSN.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid LSN {text:?}: expected X/X with up to 8 hex digits on each side")]
pub struct ParseLsnError {
    /// The text that was rejected.
    pub text: String,
}

impl FromStr for Lsn {
    type Err = ParseLsnError;

    /// Accepts `X/X` with 1–8 hex digits per half, either case, zero padding allowed
    /// (PostgreSQL prints `%X/%X`; a future major pads the low half).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseLsnError {
            text: s.to_string(),
        };
        let (hi, lo) = s.split_once('/').ok_or_else(err)?;
        let half = |h: &str| {
            if h.is_empty() || h.len() > 8 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
                None
            } else {
                u32::from_str_radix(h, 16).ok()
            }
        };
        let hi = half(hi).ok_or_else(err)?;
        let lo = half(lo).ok_or_else(err)?;
        Ok(Lsn((u64::from(hi) << 32) | u64::from(lo)))
    }
}

/// A timeline id (`TimeLineID`). The first timeline is 1; 0 is invalid.
pub type TimeLineId = u32;

/// One timeline's stretch of WAL on a history (PostgreSQL's `TimeLineHistoryEntry`): the WAL in
/// `[begin, end)` belongs to timeline `tli`; `end` is `None` for the newest timeline, which has
/// not ended. `begin` is `Lsn::INVALID` for the first timeline of a history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TliSpan {
    /// The timeline.
    pub tli: TimeLineId,
    /// Where it starts: the switchpoint of its parent (0 for the first timeline).
    pub begin: Lsn,
    /// Where it ends: its switchpoint to the next timeline, `None` if it is the newest.
    pub end: Option<Lsn>,
}

impl TliSpan {
    /// True if `lsn` lies in `[begin, end)`.
    pub fn contains(&self, lsn: Lsn) -> bool {
        lsn >= self.begin && self.end.map_or(true, |e| lsn < e)
    }
}

/// A WAL segment size: a power of two from 1 MiB to 1 GiB (`IsValidWalSegSize`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WalSegSize(u32);

impl WalSegSize {
    /// The compiled-in default of every version, 16 MiB.
    pub const DEFAULT: WalSegSize = WalSegSize(16 * 1024 * 1024);

    /// `Some` when `bytes` is a power of two between 1 MiB and 1 GiB, as PostgreSQL requires.
    #[inline]
    pub const fn new(bytes: u32) -> Option<WalSegSize> {
        if bytes.is_power_of_two() && bytes >= 1024 * 1024 && bytes <= 1024 * 1024 * 1024 {
            Some(WalSegSize(bytes))
        } else {
            None
        }
    }

    /// The size in bytes.
    #[inline]
    pub const fn bytes(self) -> u64 {
        self.0 as u64
    }

    /// The size in bytes as stored on disk (`u32`).
    #[inline]
    pub const fn get(self) -> u32 {
        self.0
    }

    /// Segments per 4 GiB "xlogid" (`XLogSegmentsPerXLogId`), used by file names.
    #[inline]
    pub const fn segments_per_xlogid(self) -> u64 {
        0x1_0000_0000 / self.0 as u64
    }

    /// The first LSN of segment `segno` (`XLogSegNoOffsetToRecPtr` with offset 0).
    #[inline]
    pub const fn segment_start(self, segno: u64) -> Lsn {
        Lsn(segno.saturating_mul(self.0 as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_round_trips_postgres_text() {
        for (text, v) in [
            ("0/E000A0", 0xE000A0u64),
            ("16/B374D848", 0x16_B374_D848),
            ("0/0", 0),
        ] {
            let l: Lsn = text.parse().unwrap();
            assert_eq!(l.0, v);
            assert_eq!(l.to_string(), text);
        }
        assert_eq!("0/00e000a0".parse::<Lsn>().unwrap(), Lsn(0xE000A0));
        for bad in ["", "0", "/1", "1/", "123456789/0", "g/0", "0/1/2", " 0/1"] {
            assert!(bad.parse::<Lsn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn segment_arithmetic() {
        let mb = WalSegSize::new(1 << 20).unwrap();
        assert_eq!(Lsn(0xE000A0).segno(mb), 0xE);
        assert_eq!(Lsn(0xE000A0).segment_offset(mb), 0xA0);
        assert_eq!(mb.segments_per_xlogid(), 4096);
        assert_eq!(WalSegSize::DEFAULT.segments_per_xlogid(), 256);
        assert!(WalSegSize::new(3 << 20).is_none());
        assert!(WalSegSize::new(1 << 19).is_none());
        assert_eq!(Lsn(0x11).maxalign(), Lsn(0x18));
    }
}
