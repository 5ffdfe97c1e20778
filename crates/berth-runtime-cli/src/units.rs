//! Value syntaxes borrowed from Go that runc's callers write: signal names (`kill`),
//! human sizes (`update --memory 512m`, docker/go-units `RAMInBytes`) and Go durations
//! (`events --interval 500ms`, `time.ParseDuration`).
//!
//! Everything here is pure; the signal numbers come from `libc` so they are right for the
//! target architecture (they differ on MIPS, SPARC and Alpha).

use crate::args::ParseError;
use std::time::Duration;

const SIGNALS: &[(&str, i32)] = &[
    ("ABRT", libc::SIGABRT),
    ("ALRM", libc::SIGALRM),
    ("BUS", libc::SIGBUS),
    ("CHLD", libc::SIGCHLD),
    ("CLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("FPE", libc::SIGFPE),
    ("HUP", libc::SIGHUP),
    ("ILL", libc::SIGILL),
    ("INT", libc::SIGINT),
    ("IO", libc::SIGIO),
    ("IOT", libc::SIGIOT),
    ("KILL", libc::SIGKILL),
    ("PIPE", libc::SIGPIPE),
    ("POLL", libc::SIGPOLL),
    ("PROF", libc::SIGPROF),
    ("PWR", libc::SIGPWR),
    ("QUIT", libc::SIGQUIT),
    ("SEGV", libc::SIGSEGV),
    ("STKFLT", libc::SIGSTKFLT),
    ("STOP", libc::SIGSTOP),
    ("SYS", libc::SIGSYS),
    ("TERM", libc::SIGTERM),
    ("TRAP", libc::SIGTRAP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("VTALRM", libc::SIGVTALRM),
    ("WINCH", libc::SIGWINCH),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
];

/// Parses a signal as runc's `kill` does: a number, or a name with or without `SIG`, in any
/// case; also `RTMIN`, `RTMIN+n`, `RTMAX`, `RTMAX-n`.
pub fn parse_signal(raw: &str) -> Result<i32, ParseError> {
    let unknown = || ParseError::new(format!("unknown signal {raw:?}"));
    let max = libc::SIGRTMAX();
    if let Ok(n) = raw.parse::<i32>() {
        return if (0..=max).contains(&n) {
            Ok(n)
        } else {
            Err(unknown())
        };
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(n);
    }
    let min = libc::SIGRTMIN();
    let rt = if let Some(rest) = name.strip_prefix("RTMIN") {
        rt_offset(rest, '+').map(|off| min + off)
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        rt_offset(rest, '-').map(|off| max - off)
    } else {
        None
    };
    match rt {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(unknown()),
    }
}

fn rt_offset(rest: &str, sign: char) -> Option<i32> {
    if rest.is_empty() {
        return Some(0);
    }
    rest.strip_prefix(sign)?.parse().ok()
}

/// Parses a size like docker/go-units `RAMInBytes`: a decimal number, an optional space,
/// an optional unit `k m g t p` (powers of 1024, any case), then optional `i` and `b`.
/// `"-1"` is accepted as "unlimited" the way runc's `update` special-cases it.
pub fn parse_size(raw: &str) -> Result<i64, ParseError> {
    let invalid = || ParseError::new(format!("invalid size: {raw:?}"));
    if raw == "-1" {
        return Ok(-1);
    }
    let num_end = raw
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(raw.len());
    let (num, mut rest) = raw.split_at(num_end);
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err(invalid());
    }
    let value: f64 = num.parse().map_err(|_| invalid())?;
    rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    let mut mult: f64 = 1.0;
    if let Some(c) = chars.peek() {
        let power = match c.to_ascii_lowercase() {
            'k' => Some(1),
            'm' => Some(2),
            'g' => Some(3),
            't' => Some(4),
            'p' => Some(5),
            _ => None,
        };
        if let Some(p) = power {
            mult = 1024f64.powi(p);
            chars.next();
        }
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
        chars.next();
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        chars.next();
    }
    if chars.next().is_some() {
        return Err(invalid());
    }
    let bytes = value * mult;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as i64)
}

/// Parses a Go duration (`time.ParseDuration`): a sequence of decimal numbers with units
/// `ns us µs ms s m h`, e.g. `5s`, `1m30s`, `1.5s`; a lone `0` is zero.
pub fn parse_duration(raw: &str) -> Result<Duration, ParseError> {
    let invalid = || ParseError::new(format!("invalid duration {raw:?}"));
    if raw == "0" {
        return Ok(Duration::ZERO);
    }
    if raw.is_empty() {
        return Err(invalid());
    }
    let mut rest = raw;
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (num, tail) = rest.split_at(num_end);
        let value: f64 = num.parse().map_err(|_| invalid())?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(invalid()),
        };
        total += value * nanos;
        rest = tail;
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total as u64))
}
