//! Human-readable sizes, durations and times, spelled as docker's `go-units` spells them.
//!
//! `human_size` is `units.HumanSizeWithPrecision(x, 3)` (decimal, "1.23MB"), `bytes_size`
//! is `units.BytesSize` (binary, "324KiB"), both printed with Go's `%.Ng` which drops
//! trailing zeros and switches to an exponent when the value needs more digits than the
//! precision. `human_duration` is `units.HumanDuration` ("About a minute", "3 days").

use std::time::{SystemTime, UNIX_EPOCH};

const DECIMAL: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
const BINARY: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// Go's `fmt.Sprintf("%.<prec>g", v)`.
pub fn go_g(v: f64, prec: usize) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let prec = prec.max(1);
    // Round to `prec` significant digits first: the exponent is the rounded one.
    let e_repr = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = e_repr.split_once('e').unwrap_or((e_repr.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

fn scaled(size: f64, base: f64, units: &[&'static str]) -> (f64, &'static str) {
    let mut size = size;
    let mut i = 0;
    while size >= base && i < units.len() - 1 {
        size /= base;
        i += 1;
    }
    (size, units[i])
}

/// `units.HumanSizeWithPrecision(size, 3)`: "1.99MB", "876B".
pub fn human_size(size: f64) -> String {
    let (v, u) = scaled(size, 1000.0, &DECIMAL);
    format!("{}{u}", go_g(v, 3))
}

/// `units.HumanSize(size)` (precision 4): used by `docker system df`.
pub fn human_size4(size: f64) -> String {
    let (v, u) = scaled(size, 1000.0, &DECIMAL);
    format!("{}{u}", go_g(v, 4))
}

/// `units.BytesSize(size)`: "324KiB", "23.54GiB".
pub fn bytes_size(size: f64) -> String {
    let (v, u) = scaled(size, 1024.0, &BINARY);
    format!("{}{u}", go_g(v, 4))
}

/// `units.HumanDuration(d)` for a duration in seconds.
pub fn human_duration(secs: f64) -> String {
    let seconds = secs as i64;
    if seconds < 1 {
        return "Less than a second".into();
    }
    if seconds == 1 {
        return "1 second".into();
    }
    if seconds < 60 {
        return format!("{seconds} seconds");
    }
    let minutes = (secs / 60.0) as i64;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    let hours = (secs / 3600.0).round() as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", (secs / 3600.0) as i64 / 24 / 365)
}

/// Seconds since the epoch, now.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// "2 seconds ago" for a unix time.
pub fn ago(unix: f64) -> String {
    format!("{} ago", human_duration((now() - unix).max(0.0)))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// The date of a day number since the epoch.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses an RFC 3339 time ("2026-11-26T14:24:30.441528483Z", offsets allowed) to unix
/// seconds; `None` if it is not one.
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut frac = 0.0;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        frac = format!("0.{}", &r[..n]).parse().ok()?;
        rest = &r[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - offset;
    Some(secs as f64 + frac)
}

/// Formats unix seconds as Go's `time.Time.String()` in UTC, docker's `CreatedAt` shape:
/// "2026-11-26 14:24:30 +0000 UTC".
pub fn go_time_string(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86400));
    let s = unix.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} +0000 UTC",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// RFC 3339 in UTC with seconds precision ("2026-11-26T14:24:30Z").
pub fn rfc3339(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86400));
    let s = unix.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// Parses docker's time arguments (`--since`, `--until`): a unix timestamp ("1700000000" or
/// "1700000000.5"), an RFC 3339 time or date, or a Go duration relative to now ("10m",
/// "1h30m", "2s"). Returns the value docker sends: "seconds.nanoseconds".
pub fn parse_time_arg(arg: &str) -> Option<String> {
    if arg.is_empty() {
        return None;
    }
    if arg.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        // docker passes unix timestamps through as typed.
        return Some(arg.to_string());
    }
    if let Some(d) = parse_go_duration(arg) {
        let t = now() - d;
        return Some(format!(
            "{}.{:09}",
            t.floor() as i64,
            ((t - t.floor()) * 1e9) as i64
        ));
    }
    let full = if arg.len() == 10 {
        format!("{arg}T00:00:00Z")
    } else {
        arg.to_string()
    };
    let t = parse_rfc3339(&full)?;
    Some(format!(
        "{}.{:09}",
        t.floor() as i64,
        ((t - t.floor()) * 1e9).round() as i64
    ))
}

/// A Go duration ("1h30m", "10s", "500ms") in seconds.
pub fn parse_go_duration(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest
            .bytes()
            .take_while(|c| c.is_ascii_digit() || *c == b'.')
            .count();
        if n == 0 {
            return None;
        }
        let v: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .bytes()
            .take_while(|c| c.is_ascii_alphabetic() || *c == 0xc2 || *c == 0xb5)
            .count();
        let mult = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total += v * mult;
        rest = &rest[u..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_go_units() {
        assert_eq!(human_size(1_990_000.0), "1.99MB");
        assert_eq!(human_size(1_234_567.0), "1.23MB");
        assert_eq!(human_size(876.0), "876B");
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(199_000_000.0), "199MB");
        assert_eq!(human_size(999_600.0), "1e+03kB");
        assert_eq!(bytes_size(324.0 * 1024.0), "324KiB");
        assert_eq!(bytes_size(23.54 * 1024.0 * 1024.0 * 1024.0), "23.54GiB");
        assert_eq!(human_size4(1_500_000.0), "1.5MB");
    }

    #[test]
    fn durations_like_go_units() {
        assert_eq!(human_duration(0.4), "Less than a second");
        assert_eq!(human_duration(1.0), "1 second");
        assert_eq!(human_duration(2.0), "2 seconds");
        assert_eq!(human_duration(61.0), "About a minute");
        assert_eq!(human_duration(180.0), "3 minutes");
        assert_eq!(human_duration(3600.0), "About an hour");
        assert_eq!(human_duration(5.0 * 3600.0), "5 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
        assert_eq!(human_duration(21.0 * 86400.0), "3 weeks");
        assert_eq!(human_duration(90.0 * 86400.0), "3 months");
        assert_eq!(human_duration(800.0 * 86400.0), "2 years");
    }

    #[test]
    fn times() {
        let t = parse_rfc3339("2026-11-26T14:24:30.5Z").expect("valid");
        assert_eq!(go_time_string(t as i64), "2026-11-26 14:24:30 +0000 UTC");
        assert_eq!(rfc3339(t as i64), "2026-11-26T14:24:30Z");
        assert_eq!(parse_rfc3339("2026-11-26T15:24:30+01:00"), Some(t.floor()));
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_time_arg("1700000000"), Some("1700000000".into()));
        assert_eq!(parse_go_duration("1h30m"), Some(5400.0));
        assert_eq!(parse_go_duration("10x"), None);
    }
}
