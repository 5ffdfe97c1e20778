//! Docker's json-file log driver: one JSON object per line of output, with rotation.
//!
//! Format (moby `daemon/logger/jsonfilelog`): `{"log":"hi\n","stream":"stdout","time":
//! "2024-05-01T10:00:00.123456789Z"}`. A line is cut at each `\n` (kept in `log`); a line
//! longer than 16 KiB is written in 16 KiB pieces without the newline, as Docker's copier
//! does. Strings are escaped like Go's encoder (`<`, `>`, `&`, U+2028/9 as `\u` escapes,
//! invalid UTF-8 as U+FFFD), so readers see what they would with Docker.
//!
//! Rotation as moby's `LogFile`: before writing a record, when the file already holds
//! `max_size` bytes, `<log>.N-2` → `<log>.N-1`, …, `<log>` → `<log>.1` and a new `<log>`
//! is started; `max_file` counts the files kept, the current one included.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Docker's copier buffer: longer lines are split into pieces of this size.
const MAX_LINE: usize = 16 * 1024;

/// Which output stream a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// stdout (also everything from a pty).
    Stdout = 0,
    /// stderr.
    Stderr = 1,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A json-file log being written.
pub struct JsonLog {
    path: PathBuf,
    max_size: u64,
    max_file: u32,
    file: Option<File>,
    size: u64,
    /// Output after the last newline, per stream.
    pending: [Vec<u8>; 2],
    /// The record being encoded (reused).
    line: Vec<u8>,
    /// Whether a write error was already reported (reported once, then counted silently).
    failed: bool,
}

fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
}

impl JsonLog {
    /// Opens (appends to) the log at `path`; `max_size` 0 means never rotate.
    pub fn open(path: &Path, max_size: u64, max_file: u32) -> io::Result<JsonLog> {
        let file = open(path)?;
        let size = file.metadata()?.len();
        Ok(JsonLog {
            path: path.to_path_buf(),
            max_size,
            max_file: max_file.max(1),
            file: Some(file),
            size,
            pending: [Vec::new(), Vec::new()],
            line: Vec::new(),
            failed: false,
        })
    }

    /// Logs output read from `stream` at `now`; complete lines are written at once.
    pub fn write(&mut self, stream: Stream, data: &[u8], now: SystemTime) {
        let mut pending = std::mem::take(&mut self.pending[stream as usize]);
        let mut rest = data;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            let (line, after) = rest.split_at(i + 1);
            if pending.is_empty() {
                self.record(stream, line, now);
            } else {
                pending.extend_from_slice(line);
                self.record(stream, &pending, now);
                pending.clear();
            }
            rest = after;
        }
        pending.extend_from_slice(rest);
        while pending.len() >= MAX_LINE {
            self.record(stream, &pending[..MAX_LINE], now);
            pending.drain(..MAX_LINE);
        }
        if pending.is_empty() {
            // Give back a long line's buffer: the shim's footprint is a product target.
            pending = Vec::new();
        }
        self.pending[stream as usize] = pending;
    }

    /// Writes what is left of `stream` without a newline (the stream ended).
    pub fn finish(&mut self, stream: Stream, now: SystemTime) {
        let pending = std::mem::take(&mut self.pending[stream as usize]);
        if !pending.is_empty() {
            self.record(stream, &pending, now);
        }
    }

    fn record(&mut self, stream: Stream, log: &[u8], now: SystemTime) {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        line.extend_from_slice(b"{\"log\":");
        push_json_string(&mut line, log);
        line.extend_from_slice(b",\"stream\":\"");
        line.extend_from_slice(stream.name().as_bytes());
        line.extend_from_slice(b"\",\"time\":\"");
        line.extend_from_slice(rfc3339_nano(now).as_bytes());
        line.extend_from_slice(b"\"}\n");
        if let Err(e) = self.append(&line) {
            if !self.failed {
                eprintln!("berth-shim: cannot write {}: {e}", self.path.display());
                self.failed = true;
            }
        }
        if line.capacity() > 4 * MAX_LINE {
            line = Vec::new();
        }
        self.line = line;
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        if self.max_size > 0 && self.size >= self.max_size {
            self.rotate()?;
        }
        let file = match self.file.as_mut() {
            Some(f) => f,
            None => {
                let f = open(&self.path)?;
                self.size = f.metadata()?.len();
                self.file.insert(f)
            }
        };
        file.write_all(bytes)?;
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let numbered = |n: u32| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{n}"));
            PathBuf::from(p)
        };
        let ignore_missing = |r: io::Result<()>| match r {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
        if self.max_file > 1 {
            ignore_missing(std::fs::remove_file(numbered(self.max_file - 1)))?;
            for n in (1..self.max_file - 1).rev() {
                ignore_missing(std::fs::rename(numbered(n), numbered(n + 1)))?;
            }
            ignore_missing(std::fs::rename(&self.path, numbered(1)))?;
        } else {
            ignore_missing(std::fs::remove_file(&self.path))?;
        }
        self.file = Some(open(&self.path)?);
        self.size = 0;
        Ok(())
    }
}

/// Appends `data` as a JSON string the way Go's `encoding/json` writes a `[]byte`-turned
/// string: HTML-safe escapes, invalid UTF-8 replaced by U+FFFD.
pub fn push_json_string(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    let mut rest = data;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                escape(out, s);
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                escape(out, std::str::from_utf8(valid).unwrap_or_default());
                out.extend_from_slice(b"\\ufffd");
                let bad = e.error_len().unwrap_or(after.len());
                rest = &after[bad..];
            }
        }
    }
    out.push(b'"');
}

fn escape(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
}

/// Go's `time.RFC3339Nano` in UTC: nanoseconds without trailing zeros, no fraction when 0.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let mut s = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    );
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, nanos: u32) -> SystemTime {
        UNIX_EPOCH + Duration::new(secs, nanos)
    }

    #[test]
    fn times_are_go_rfc3339nano() {
        assert_eq!(rfc3339_nano(at(0, 0)), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339_nano(at(1_714_557_600, 123_456_789)),
            "2024-05-01T10:00:00.123456789Z"
        );
        assert_eq!(
            rfc3339_nano(at(1_709_164_800, 120_000_000)),
            "2024-02-29T00:00:00.12Z"
        );
        assert_eq!(rfc3339_nano(at(4_102_444_799, 0)), "2099-12-31T23:59:59Z");
    }

    #[test]
    fn strings_escape_like_go() {
        let mut out = Vec::new();
        push_json_string(&mut out, b"a\"b\\c\n\t\x01<&>\xff\xe2\x80\xa8z");
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            r#""a\"b\\c\n\t\u0001\u003c\u0026\u003e\ufffd\u2028z""#
        );
    }

    fn records(path: &Path) -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("record is JSON"))
            .collect()
    }

    #[test]
    fn lines_are_split_and_partials_kept_until_newline() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(&path, 0, 1).expect("open");
        let now = at(1_714_557_600, 5);
        log.write(Stream::Stdout, b"one\ntw", now);
        log.write(Stream::Stderr, b"err\n", now);
        log.write(Stream::Stdout, b"o\nthree", now);
        log.finish(Stream::Stdout, now);
        let r = records(&path);
        let got: Vec<(&str, &str)> = r
            .iter()
            .map(|v| {
                (
                    v["log"].as_str().unwrap_or_default(),
                    v["stream"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("one\n", "stdout"),
                ("err\n", "stderr"),
                ("two\n", "stdout"),
                ("three", "stdout")
            ]
        );
        assert_eq!(r[0]["time"], "2024-05-01T10:00:00.000000005Z");
        let raw = std::fs::read_to_string(&path).expect("read");
        assert!(raw.starts_with(
            "{\"log\":\"one\\n\",\"stream\":\"stdout\",\"time\":\"2024-05-01T10:00:00.000000005Z\"}\n"
        ));
    }

    #[test]
    fn long_lines_are_cut_at_16k() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(&path, 0, 1).expect("open");
        let long = vec![b'x'; MAX_LINE + 10];
        log.write(Stream::Stdout, &long, SystemTime::now());
        log.write(Stream::Stdout, b"\n", SystemTime::now());
        let r = records(&path);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0]["log"].as_str().map(str::len), Some(MAX_LINE));
        assert_eq!(r[1]["log"].as_str().map(str::len), Some(11));
    }

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c-json.log");
        let mut log = JsonLog::open(&path, 100, 3).expect("open");
        for i in 0..20 {
            log.write(
                Stream::Stdout,
                format!("line {i:02}\n").as_bytes(),
                SystemTime::now(),
            );
        }
        let n1 = dir.path().join("c-json.log.1");
        let n2 = dir.path().join("c-json.log.2");
        assert!(n1.exists() && n2.exists());
        assert!(!dir.path().join("c-json.log.3").exists());
        // Newest in the current file, the ones before in .1, then .2; nothing lost in
        // between.
        let all: Vec<String> = [&n2, &n1, &path]
            .iter()
            .flat_map(|p| records(p))
            .map(|v| v["log"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(all.last().map(String::as_str), Some("line 19\n"));
        let first: usize = all[0][5..7].parse().expect("number");
        let expect: Vec<String> = (first..20).map(|i| format!("line {i:02}\n")).collect();
        assert_eq!(all, expect);
        for p in [&path, &n1] {
            // A file is rotated once it reached the limit, so it ends up at most one
            // record over it.
            assert!(std::fs::metadata(p).expect("meta").len() < 100 + 80);
        }
    }
}
