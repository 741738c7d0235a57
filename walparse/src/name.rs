//! WAL file names in `pg_wal/` and WAL archives: segments (`TTTTTTTTXXXXXXXXYYYYYYYY`),
//! `.partial` segments, timeline `.history` files and `.backup` history files.
//!
//! Rules from PostgreSQL's `src/include/access/xlog_internal.h` (`XLogFileName`,
//! `IsXLogFileName`, `IsPartialXLogFileName`, `IsTLHistoryFileName`, `IsBackupHistoryFileName`).

use crate::lsn::{TimeLineId, WalSegSize};

/// A parsed WAL-directory file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WalFileName {
    /// A complete segment file, `TTTTTTTTXXXXXXXXYYYYYYYY`.
    Segment {
        /// Timeline of the file.
        tli: TimeLineId,
        /// Segment number (`XLogSegNo`).
        segno: u64,
    },
    /// An incomplete segment, `TTTTTTTTXXXXXXXXYYYYYYYY.partial`.
    Partial {
        /// Timeline of the file.
        tli: TimeLineId,
        /// Segment number (`XLogSegNo`).
        segno: u64,
    },
    /// A timeline history file, `TTTTTTTT.history`.
    History {
        /// The timeline the file describes.
        tli: TimeLineId,
    },
    /// A backup history file, `TTTTTTTTXXXXXXXXYYYYYYYY.OOOOOOOO.backup`.
    Backup {
        /// Timeline of the backup start.
        tli: TimeLineId,
        /// Segment holding the backup start LSN.
        segno: u64,
        /// Offset of the backup start LSN inside that segment.
        offset: u32,
    },
}

/// True if `s` is exactly `n` upper-case hex digits (PostgreSQL's `strspn(.., "0123456789ABCDEF")`).
fn is_upper_hex(s: &str, n: usize) -> bool {
    s.len() == n
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// Parses `TTTTTTTTXXXXXXXXYYYYYYYY` (already checked to be 24 upper-case hex digits).
fn parse_segment_part(s: &str, seg_size: WalSegSize) -> Option<(TimeLineId, u64)> {
    if !is_upper_hex(s, 24) {
        return None;
    }
    let tli = u32::from_str_radix(&s[0..8], 16).ok()?;
    let log = u64::from(u32::from_str_radix(&s[8..16], 16).ok()?);
    let seg = u64::from(u32::from_str_radix(&s[16..24], 16).ok()?);
    // XLogFromFileName: segno = log * XLogSegmentsPerXLogId + seg. A `seg` part that cannot be
    // produced with this segment size (e.g. 00000100 for 16 MiB) names no segment of this cluster.
    let per = seg_size.segments_per_xlogid();
    if seg >= per {
        return None;
    }
    Some((tli, log * per + seg))
}

impl WalFileName {
    /// Parses a file name (no directory part) with PostgreSQL's rules: exactly 24 upper-case hex
    /// digits for segments, the same plus `.partial`, 8 hex digits plus `.history`, and
    /// 24 + `.` + 8 hex digits + `.backup`. Lower-case hex is rejected, as PostgreSQL does.
    /// Returns `None` for anything else (including `xlogtemp.*`, `RECOVERYXLOG`, directories).
    pub fn parse(name: &str, seg_size: WalSegSize) -> Option<WalFileName> {
        if name.len() == 24 {
            let (tli, segno) = parse_segment_part(name, seg_size)?;
            return Some(WalFileName::Segment { tli, segno });
        }
        if let Some(stem) = name.strip_suffix(".partial") {
            let (tli, segno) = parse_segment_part(stem, seg_size)?;
            return Some(WalFileName::Partial { tli, segno });
        }
        if let Some(stem) = name.strip_suffix(".history") {
            if !is_upper_hex(stem, 8) {
                return None;
            }
            let tli = u32::from_str_radix(stem, 16).ok()?;
            return Some(WalFileName::History { tli });
        }
        if let Some(stem) = name.strip_suffix(".backup") {
            if stem.len() != 33 || stem.as_bytes()[24] != b'.' || !is_upper_hex(&stem[25..], 8) {
                return None;
            }
            let (tli, segno) = parse_segment_part(&stem[..24], seg_size)?;
            let offset = u32::from_str_radix(&stem[25..], 16).ok()?;
            return Some(WalFileName::Backup { tli, segno, offset });
        }
        None
    }

    /// The file name, as PostgreSQL writes it (`XLogFileName`, `TLHistoryFileName`,
    /// `BackupHistoryFileName`, plus `.partial`).
    pub fn to_file_name(&self, seg_size: WalSegSize) -> String {
        match *self {
            WalFileName::Segment { tli, segno } => segment_file_name(tli, segno, seg_size),
            WalFileName::Partial { tli, segno } => {
                format!("{}.partial", segment_file_name(tli, segno, seg_size))
            }
            WalFileName::History { tli } => format!("{tli:08X}.history"),
            WalFileName::Backup { tli, segno, offset } => {
                format!(
                    "{}.{offset:08X}.backup",
                    segment_file_name(tli, segno, seg_size)
                )
            }
        }
    }

    /// The timeline the name carries.
    pub fn tli(&self) -> TimeLineId {
        match *self {
            WalFileName::Segment { tli, .. }
            | WalFileName::Partial { tli, .. }
            | WalFileName::History { tli }
            | WalFileName::Backup { tli, .. } => tli,
        }
    }
}

/// The segment file name for timeline `tli` and segment `segno` (`XLogFileName`:
/// `%08X%08X%08X` of tli, segno / segments-per-xlogid, segno % segments-per-xlogid).
pub fn segment_file_name(tli: TimeLineId, segno: u64, seg_size: WalSegSize) -> String {
    let per = seg_size.segments_per_xlogid();
    format!(
        "{:08X}{:08X}{:08X}",
        tli,
        (segno / per) as u32,
        (segno % per) as u32
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: WalSegSize = match WalSegSize::new(1 << 20) {
        Some(s) => s,
        None => panic!(),
    };

    #[test]
    fn names_round_trip() {
        let cases = [
            (
                "00000002000000000000000E",
                WalFileName::Segment { tli: 2, segno: 0xE },
            ),
            (
                "00000001000000000000000E.partial",
                WalFileName::Partial { tli: 1, segno: 0xE },
            ),
            ("00000003.history", WalFileName::History { tli: 3 }),
            (
                "00000001000000000000000B.00000028.backup",
                WalFileName::Backup {
                    tli: 1,
                    segno: 0xB,
                    offset: 0x28,
                },
            ),
            (
                "000000010000000100000FFF",
                WalFileName::Segment {
                    tli: 1,
                    segno: 4096 + 4095,
                },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(WalFileName::parse(text, MB), Some(want), "{text}");
            assert_eq!(want.to_file_name(MB), text);
        }
        // 16 MiB example from the spec: 1 GiB segment 1/40000000 and 16 MiB 0/4000098.
        assert_eq!(
            segment_file_name(1, 4, WalSegSize::DEFAULT),
            "000000010000000000000004"
        );
        let gib = WalSegSize::new(1 << 30).unwrap();
        assert_eq!(segment_file_name(1, 5, gib), "000000010000000100000001");
    }

    #[test]
    fn rejects_what_postgres_rejects() {
        for bad in [
            "00000002000000000000000e",
            "00000002000000000000000",
            "0000000200000000000000000",
            "00000002000000000000000E.partia",
            "0000003.history",
            "0000000a.history",
            "00000001000000000000000B.28.backup",
            "xlogtemp.123",
            "RECOVERYXLOG",
            "000000010000000000000100",
        ] {
            assert_eq!(WalFileName::parse(bad, WalSegSize::DEFAULT), None, "{bad}");
        }
        // 00000FFF is a valid last field for 1 MiB but not for 16 MiB.
        assert!(WalFileName::parse("000000010000000000000FFF", MB).is_some());
        assert!(WalFileName::parse("000000010000000000000FFF", WalSegSize::DEFAULT).is_none());
    }
}
