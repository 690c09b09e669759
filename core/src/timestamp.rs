//! The protocol's timestamps: `Date.prototype.toISOString()` strings
//! (`YYYY-MM-DDTHH:MM:SS.sssZ`). Signed as opaque strings; parsed only to check skew.
//!
//! The original compares with `Date.parse`, which also accepts loose non-ISO formats
//! (federation.md gap 16). We accept RFC 3339 only: `T` separator, seconds required, optional
//! fraction, `Z` or a numeric offset.

/// Errors of timestamp parsing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timestamp {0:?} is not an RFC 3339 / ISO-8601 date-time")]
pub struct TimestampError(pub String);

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    // Howard Hinnant's algorithm: days since 1970-01-01.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Milliseconds since the Unix epoch of an RFC 3339 date-time.
pub fn parse_millis(text: &str) -> Result<i64, TimestampError> {
    let err = || TimestampError(text.to_owned());
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Result<i64, TimestampError> {
        let part = b.get(range).ok_or_else(err)?;
        if part.iter().all(u8::is_ascii_digit) {
            Ok(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        } else {
            Err(err())
        }
    };
    let sep = |i: usize, c: u8| {
        if b.get(i) == Some(&c) {
            Ok(())
        } else {
            Err(err())
        }
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    sep(4, b'-')?;
    sep(7, b'-')?;
    sep(10, b'T')?;
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    sep(13, b':')?;
    sep(16, b':')?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Err(err());
    }
    let mut i = 19;
    let mut millis = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start || i - start > 9 {
            return Err(err());
        }
        // Milliseconds: the first three digits, padded (finer digits truncated, as JS does).
        let digits = &b[start..i];
        for k in 0..3 {
            millis = millis * 10 + digits.get(k).map_or(0, |d| i64::from(d - b'0'));
        }
    }
    let offset_minutes = match b.get(i) {
        Some(b'Z') if i + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            sep(i + 3, b':')?;
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            if oh > 23 || om > 59 {
                return Err(err());
            }
            let total = oh * 60 + om;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return Err(err()),
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
    Ok(seconds * 1000 + millis)
}

/// `Date.prototype.toISOString()` of epoch milliseconds (years 0000–9999).
pub fn format_millis(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let rem = millis.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// True if `timestamp` is within `window_ms` of `now_ms` (either direction).
pub fn within(timestamp: &str, now_ms: i64, window_ms: i64) -> Result<bool, TimestampError> {
    Ok((parse_millis(timestamp)? - now_ms).abs() <= window_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        for ms in [
            0i64,
            1_745_150_400_000,
            951_782_400_123,
            4_102_444_799_999,
            -86_400_000,
        ] {
            assert_eq!(parse_millis(&format_millis(ms)).unwrap(), ms);
        }
        assert_eq!(format_millis(1_745_150_400_000), "2025-04-20T12:00:00.000Z");
        assert_eq!(
            parse_millis("2025-04-20T14:00:00+02:00").unwrap(),
            1_745_150_400_000
        );
        assert_eq!(
            parse_millis("2025-04-20T12:00:00.5Z").unwrap(),
            1_745_150_400_500
        );
    }

    #[test]
    fn rejects_loose_dates() {
        for bad in [
            "2025-04-20",
            "2025-04-20 12:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-04-20T12:00:00",
            "Sun, 20 Apr 2025 12:00:00 GMT",
            "2025-04-20T24:00:00Z",
            "2025-04-20T12:00:00.Z",
            "",
        ] {
            assert!(parse_millis(bad).is_err(), "{bad}");
        }
    }
}
