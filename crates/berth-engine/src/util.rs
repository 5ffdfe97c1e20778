//! Small shared helpers: IDs, time stamps, atomic writes.

use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use berth_model::Error;

/// A new 64-hex-digit ID (256 random bits from the kernel), as Docker's IDs look.
pub fn new_id() -> Result<String, Error> {
    use std::io::Read;
    let mut buf = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| Error::internal(format!("reading random bytes: {e}")))?;
    Ok(hex(&buf))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Now as RFC 3339 with nanoseconds in UTC, the form Docker uses everywhere.
pub fn now_rfc3339() -> String {
    rfc3339(SystemTime::now())
}

/// `t` as RFC 3339 with nanoseconds in UTC.
pub fn rfc3339(t: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    dt.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Seconds since the epoch of an RFC 3339 time stamp (None if it does not parse).
pub fn parse_rfc3339(s: &str) -> Option<f64> {
    let dt = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(dt.timestamp() as f64 + f64::from(dt.timestamp_subsec_nanos()) / 1e9)
}

/// Unix time in seconds, fractional.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The zero time Docker reports for "never" (`0001-01-01T00:00:00Z`).
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Writes `data` to `path` atomically: temp file in the same directory, fsync, rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)
}

/// `mkdir -p` of `path` inside `root`, every component resolved inside the root
/// (openat2 `RESOLVE_IN_ROOT`), so a symlink in the image cannot lead outside it.
pub fn mkdir_in_root(root: &Path, path: &str) -> std::io::Result<()> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let rootfd = rustix::fs::open(
        root,
        OFlags::DIRECTORY | OFlags::PATH | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let dir_flags = OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut prefix = String::new();
    for comp in path.split('/').filter(|c| !c.is_empty() && *c != ".") {
        let parent = if prefix.is_empty() {
            ".".to_string()
        } else {
            prefix.clone()
        };
        prefix.push('/');
        prefix.push_str(comp);
        if rustix::fs::openat2(&rootfd, prefix.as_str(), dir_flags, Mode::empty(), how).is_ok() {
            continue;
        }
        let pfd = rustix::fs::openat2(&rootfd, parent.as_str(), dir_flags, Mode::empty(), how)?;
        match rustix::fs::mkdirat(&pfd, comp, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Docker's filter rule for one key: any value may match, except for `label`, where
/// every condition must hold.
pub fn match_values(key: &str, values: &[String], test: impl FnMut(&String) -> bool) -> bool {
    let mut test = test;
    if key == "label" {
        values.iter().all(&mut test)
    } else {
        values.iter().any(&mut test)
    }
}

/// Maps an I/O error on `what` to an internal engine error.
pub fn io_err(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::internal(format!("{what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_64_hex_and_differ() {
        let a = new_id().expect("id");
        let b = new_id().expect("id");
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = UNIX_EPOCH + std::time::Duration::new(1_700_000_000, 123_456_789);
        let s = rfc3339(t);
        assert_eq!(s, "2023-11-14T22:13:20.123456789Z");
        let back = parse_rfc3339(&s).expect("parses");
        assert!((back - 1_700_000_000.123_457).abs() < 1e-6);
    }
}
