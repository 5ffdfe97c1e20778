//! Reading and writing cgroupfs files with errors that name the file and the value.
//!
//! Invariant: every write is a single `write(2)` of the whole value, because cgroupfs
//! parses each write as one command (`devices.allow`, `io.max`, `cgroup.procs` …).

use crate::{Error, Result};
use std::collections::BTreeMap;
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

/// Writes `value` to `dir/file` (which must exist: cgroupfs never creates files).
pub(crate) fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    let op = || format!("write {value:?} to");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .map_err(|source| Error::Io {
            op: op(),
            path: path.clone(),
            source,
        })?;
    let n = f.write(value.as_bytes()).map_err(|source| Error::Io {
        op: op(),
        path: path.clone(),
        source,
    })?;
    if n != value.len() {
        return Err(Error::Io {
            op: op(),
            path,
            source: std::io::Error::new(ErrorKind::WriteZero, "short write"),
        });
    }
    Ok(())
}

/// Reads `dir/file` whole.
pub(crate) fn read(dir: &Path, file: &str) -> Result<String> {
    let path = dir.join(file);
    std::fs::read_to_string(&path).map_err(|source| Error::Io {
        op: "read".into(),
        path,
        source,
    })
}

/// Reads `dir/file`, `None` when it does not exist.
pub(crate) fn read_opt(dir: &Path, file: &str) -> Result<Option<String>> {
    match std::fs::read_to_string(dir.join(file)) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io {
            op: "read".into(),
            path: dir.join(file),
            source,
        }),
    }
}

/// True when `dir/file` exists.
pub(crate) fn exists(dir: &Path, file: &str) -> bool {
    dir.join(file).exists()
}

fn parse_err(what: &'static str, path: PathBuf, text: &str) -> Error {
    Error::Parse {
        what,
        path,
        text: text.to_string(),
    }
}

/// Parses a single number; `max` (v2) reads as `u64::MAX`.
pub(crate) fn parse_u64(text: &str, path: &Path) -> Result<u64> {
    let t = text.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse()
        .map_err(|_| parse_err("a number", path.to_path_buf(), t))
}

/// Reads a file holding one number; 0 when the file does not exist (a stat the kernel
/// does not provide reads as zero, as in runc).
pub(crate) fn read_u64_or_zero(dir: &Path, file: &str) -> Result<u64> {
    match read_opt(dir, file)? {
        Some(s) => parse_u64(&s, &dir.join(file)),
        None => Ok(0),
    }
}

/// Reads a flat-keyed file (`key value` per line: `memory.stat`, `cpu.stat`,
/// `memory.events`); empty when the file does not exist. Lines whose value is not a
/// number are skipped.
pub(crate) fn read_keyed(dir: &Path, file: &str) -> Result<BTreeMap<String, u64>> {
    let Some(text) = read_opt(dir, file)? else {
        return Ok(BTreeMap::new());
    };
    Ok(parse_keyed(&text))
}

/// Parses `key value` lines.
pub(crate) fn parse_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// Reads the PIDs in `dir/cgroup.procs` and every sub-cgroup below `dir`.
pub(crate) fn procs_recursive(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let Some(text) = read_opt(dir, "cgroup.procs")? else {
        return Ok(());
    };
    for line in text.lines() {
        let pid = line
            .trim()
            .parse()
            .map_err(|_| parse_err("a PID", dir.join("cgroup.procs"), line))?;
        out.push(pid);
    }
    for child in subdirs(dir)? {
        procs_recursive(&child, out)?;
    }
    Ok(())
}

/// The sub-directories of `dir` (sub-cgroups); empty when `dir` is gone.
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(Error::Io {
                op: "list".into(),
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            op: "list".into(),
            path: dir.into(),
            source,
        })?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Removes `dir` and the sub-cgroups below it, leaves first. cgroupfs refuses `rmdir` with
/// EBUSY for a moment after the last task exits (the exit is still being accounted), so
/// EBUSY is retried with a growing delay, about 1.3 s in all, as runc does. A missing
/// directory is success.
pub(crate) fn remove_tree(dir: &Path) -> Result<()> {
    for child in subdirs(dir)? {
        remove_tree(&child)?;
    }
    let mut delay = std::time::Duration::from_millis(10);
    for attempt in 0.. {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 7 => {
                std::thread::sleep(delay);
                delay *= 2;
            }
            Err(source) => {
                return Err(Error::Io {
                    op: "rmdir".into(),
                    path: dir.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_skip_non_numeric_lines() {
        let m = parse_keyed("cache 12\nrss 3\nbogus\nname x\n");
        assert_eq!(m.get("cache"), Some(&12));
        assert_eq!(m.get("rss"), Some(&3));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn max_parses_as_unlimited() -> Result<()> {
        assert_eq!(parse_u64("max\n", Path::new("x"))?, u64::MAX);
        assert_eq!(parse_u64("42\n", Path::new("x"))?, 42);
        assert!(parse_u64("4x", Path::new("x")).is_err());
        Ok(())
    }

    #[test]
    fn write_to_a_missing_file_names_the_file_and_value() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let msg = write(tmp.path(), "memory.max", "10")
            .expect_err("no such file")
            .to_string();
        assert!(
            msg.contains("memory.max") && msg.contains("\"10\""),
            "{msg}"
        );
    }
}
