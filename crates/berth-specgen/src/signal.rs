//! Signal names as Docker accepts them (`--stop-signal`, `docker kill -s`, `STOPSIGNAL`).

use berth_model::{Error, Result};

/// Linux signal numbers by name (x86/arm numbering), without the `SIG` prefix.
const SIGNALS: [(&str, i32); 34] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

/// `SIGRTMIN` as glibc and musl report it (the kernel's 32 and 33 are reserved by libc).
const RTMIN: i32 = 34;
/// `SIGRTMAX`.
const RTMAX: i32 = 64;

/// Parses `SIGTERM`, `term`, `15`, `SIGRTMIN+3`, `RTMAX-2` into a signal number.
/// `0` and names Linux lacks are errors (`Invalid signal: X`).
pub fn parse_signal(s: &str) -> Result<i32> {
    let invalid = || Error::invalid(format!("Invalid signal: {s}"));
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return match t.parse::<i32>() {
            Ok(n) if (1..=RTMAX).contains(&n) => Ok(n),
            _ => Err(invalid()),
        };
    }
    let up = t.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = SIGNALS.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    let rt = |base: &str, sign: i32| -> Option<i32> {
        let rest = name.strip_prefix(base)?;
        if rest.is_empty() {
            return Some(if sign > 0 { RTMIN } else { RTMAX });
        }
        let (op, num) = rest.split_at(1);
        let n: i32 = num.parse().ok()?;
        let v = match (op, sign) {
            ("+", 1) => RTMIN + n,
            ("-", -1) => RTMAX - n,
            _ => return None,
        };
        (RTMIN..=RTMAX).contains(&v).then_some(v)
    };
    rt("RTMIN", 1)
        .or_else(|| rt("RTMAX", -1))
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_signal("SIGTERM").ok(), Some(15));
        assert_eq!(parse_signal("TERM").ok(), Some(15));
        assert_eq!(parse_signal("term").ok(), Some(15));
        assert_eq!(parse_signal("15").ok(), Some(15));
        assert_eq!(parse_signal("SIGKILL").ok(), Some(9));
        assert_eq!(parse_signal("SIGRTMIN+3").ok(), Some(37));
        assert_eq!(parse_signal("RTMIN").ok(), Some(34));
        assert_eq!(parse_signal("SIGRTMAX-1").ok(), Some(63));
        assert_eq!(parse_signal("SIGWINCH").ok(), Some(28));
    }

    #[test]
    fn invalid() {
        for s in ["0", "65", "SIGFOO", "", "RTMIN+40", "RTMIN-1", "-9"] {
            let e = parse_signal(s).expect_err(s);
            assert_eq!(e.message, format!("Invalid signal: {s}"));
        }
    }
}
