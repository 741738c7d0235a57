//! PostgreSQL's two clocks as civil UTC text: `pg_time_t` (seconds since 1970-01-01, as in
//! pg_control's `time` fields) and `TimestampTz` (µs since 2000-01-01, as in commit records).
//!
//! One calendar conversion ([`civil_from_days`]) serves every output format: pg_controldata's
//! `strftime("%c")`, pg_waldump's `timestamptz_to_str`, and RFC 3339 for JSON. Everything is
//! printed in UTC so the output does not depend on the machine's time zone.

/// Seconds from the Unix epoch to PostgreSQL's epoch, 2000-01-01 00:00 UTC
/// (`POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE` days, `src/include/datatype/timestamp.h`).
pub const PG_EPOCH_UNIX: i64 = 946_684_800;

const SECS_PER_DAY: i64 = 86_400;
const USECS_PER_SEC: i64 = 1_000_000;

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// A civil UTC time of day, split from a Unix time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    /// Proleptic Gregorian year.
    pub year: i64,
    /// Month, 1–12.
    pub month: i64,
    /// Day of the month, 1–31.
    pub day: i64,
    /// Day of the week, 0 = Sunday.
    pub weekday: usize,
    /// Seconds since midnight, 0–86399.
    pub secs_of_day: i64,
}

impl Civil {
    /// Splits a Unix time (seconds since 1970-01-01 UTC; negative is before).
    pub fn from_unix(t: i64) -> Civil {
        let days = t.div_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            // 1970-01-01 was a Thursday.
            weekday: (days + 4).rem_euclid(7) as usize,
            secs_of_day: t.rem_euclid(SECS_PER_DAY),
        }
    }

    fn hms(&self) -> (i64, i64, i64) {
        let s = self.secs_of_day;
        (s / 3600, s / 60 % 60, s % 60)
    }
}

/// (year, month 1–12, day) of a count of days since 1970-01-01, proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Splits a `TimestampTz` into (Unix seconds, microseconds 0–999999).
fn split_timestamptz(t: i64) -> (i64, i64) {
    (
        t.div_euclid(USECS_PER_SEC).saturating_add(PG_EPOCH_UNIX),
        t.rem_euclid(USECS_PER_SEC),
    )
}

/// C's `strftime("%c")` in the C locale for a `pg_time_t`, in UTC (pg_controldata's times):
/// `Sun Nov 22 11:10:24 2026`.
pub fn ctime_utc(t: i64) -> String {
    let c = Civil::from_unix(t);
    let (h, mi, s) = c.hms();
    format!(
        "{} {} {:>2} {h:02}:{mi:02}:{s:02} {}",
        WEEKDAYS[c.weekday],
        MONTHS[(c.month - 1) as usize],
        c.day,
        c.year
    )
}

/// `YYYY-MM-DD<sep>HH:MM:SS` of a Unix time.
fn date_time(t: i64, sep: char) -> String {
    let c = Civil::from_unix(t);
    let (h, mi, s) = c.hms();
    format!(
        "{:04}-{:02}-{:02}{sep}{h:02}:{mi:02}:{s:02}",
        c.year, c.month, c.day
    )
}

/// RFC 3339 in UTC for a `pg_time_t`, for JSON: `2026-11-22T11:10:24Z`.
pub fn rfc3339_utc(t: i64) -> String {
    format!("{}Z", date_time(t, 'T'))
}

/// `timestamptz_to_str` of pg_waldump (`src/bin/pg_waldump/compat.c`) in UTC, for a
/// `TimestampTz`: `2026-12-06 18:17:19.104650 UTC`.
pub fn timestamptz_to_str(t: i64) -> String {
    let (secs, micros) = split_timestamptz(t);
    format!("{}.{micros:06} UTC", date_time(secs, ' '))
}

/// A `TimestampTz` in RFC 3339, UTC, with microseconds: `2026-12-06T18:17:19.265437Z`.
pub fn timestamptz_rfc3339(t: i64) -> String {
    let (secs, micros) = split_timestamptz(t);
    format!("{}.{micros:06}Z", date_time(secs, 'T'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_time_t_formats() {
        assert_eq!(ctime_utc(1_795_345_824), "Sun Nov 22 11:10:24 2026");
        assert_eq!(ctime_utc(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime_utc(-1), "Wed Dec 31 23:59:59 1969");
        assert_eq!(rfc3339_utc(1_795_345_824), "2026-11-22T11:10:24Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn timestamps_are_utc_with_microseconds() {
        assert_eq!(timestamptz_rfc3339(0), "2000-01-01T00:00:00.000000Z");
        assert_eq!(timestamptz_rfc3339(-1), "1999-12-31T23:59:59.999999Z");
        // 2026-12-06 18:17:19.265437 UTC
        let t = (1_796_581_039 - PG_EPOCH_UNIX) * 1_000_000 + 265_437;
        assert_eq!(timestamptz_rfc3339(t), "2026-12-06T18:17:19.265437Z");
    }

    #[test]
    fn timestamptz_formats() {
        let t = (1_796_581_039 - PG_EPOCH_UNIX) * 1_000_000 + 104_650;
        assert_eq!(timestamptz_to_str(t), "2026-12-06 18:17:19.104650 UTC");
        assert_eq!(timestamptz_to_str(-1), "1999-12-31 23:59:59.999999 UTC");
        // Extremes neither panic nor overflow.
        let _ = timestamptz_to_str(i64::MIN);
        let _ = timestamptz_rfc3339(i64::MAX);
    }
}
