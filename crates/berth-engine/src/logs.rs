//! Reading the json-file logs the shim writes (Docker's on-disk format, one JSON object a
//! line: `{"log":"...","stream":"stdout","time":"RFC3339Nano"}`), with rotation
//! (`<log>.1` is the newest rotated file), filters, tail and follow.

use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_model::{LogFrame, LogOptions, StdStream};
use bytes::Bytes;
use serde::Deserialize;
use tokio::sync::mpsc;

use crate::util;

#[derive(Deserialize)]
struct Line {
    log: String,
    stream: String,
    time: String,
}

/// Decodes one json-file line (None for a torn or foreign line).
pub fn parse_line(line: &str) -> Option<(LogFrame, f64)> {
    let l: Line = serde_json::from_str(line).ok()?;
    let stream = match l.stream.as_str() {
        "stderr" => StdStream::Stderr,
        "stdin" => StdStream::Stdin,
        _ => StdStream::Stdout,
    };
    let t = util::parse_rfc3339(&l.time).unwrap_or(0.0);
    Some((
        LogFrame {
            stream,
            time: l.time,
            data: Bytes::from(l.log),
        },
        t,
    ))
}

/// The log files of `log`, oldest first (`<log>.N` … `<log>.1`, `<log>`).
pub fn files(log: &Path) -> Vec<PathBuf> {
    let mut rotated = Vec::new();
    for n in 1.. {
        let p = PathBuf::from(format!("{}.{n}", log.display()));
        if !p.exists() {
            break;
        }
        rotated.push(p);
    }
    rotated.reverse();
    rotated.push(log.to_path_buf());
    rotated
}

fn wanted(opts: &LogOptions, f: &LogFrame, t: f64) -> bool {
    let stream_ok = match f.stream {
        StdStream::Stdout => opts.stdout,
        StdStream::Stderr => opts.stderr,
        StdStream::Stdin => false,
    };
    stream_ok && opts.since.is_none_or(|s| t >= s) && opts.until.is_none_or(|u| t < u)
}

/// Reads what is on disk now: the matching frames (after `tail`), and the position reached
/// in the current file, from which `follow` goes on.
pub fn read_existing(log: &Path, opts: &LogOptions) -> (Vec<LogFrame>, u64) {
    let mut out = Vec::new();
    let mut pos = 0;
    let all = files(log);
    let last = all.len().saturating_sub(1);
    for (i, path) in all.iter().enumerate() {
        let Ok(file) = std::fs::File::open(path) else {
            continue;
        };
        let offset = read_lines(BufReader::new(file), opts, &mut out);
        if i == last {
            pos = offset;
        }
    }
    if let Some(n) = opts.tail {
        if out.len() > n {
            out.drain(..out.len() - n);
        }
    }
    (out, pos)
}

/// Streams `log` into `tx`: what exists, then (with `follow`) new lines until `done()`
/// says the writer has finished and the file is drained, or the receiver goes away.
pub async fn pump(
    log: PathBuf,
    opts: LogOptions,
    tx: mpsc::Sender<LogFrame>,
    done: impl Fn() -> bool + Send + 'static,
) {
    // Opened first: a follower keeps what is written even if the container is removed.
    let mut file = if opts.follow {
        std::fs::File::open(&log).ok()
    } else {
        None
    };
    let (frames, mut pos) = {
        let (log, opts) = (log.clone(), opts.clone());
        match tokio::task::spawn_blocking(move || read_existing(&log, &opts)).await {
            Ok(r) => r,
            Err(_) => return,
        }
    };
    for f in frames {
        if tx.send(f).await.is_err() {
            return;
        }
    }
    if !opts.follow {
        return;
    }
    // The file is read through a handle held open, so lines written just before the
    // container is removed (its directory with them) still reach a follower, as with
    // Docker; the path is only used to notice rotation.
    let mut ino = file.as_ref().map(file_inode).unwrap_or(0);
    loop {
        let finished = done();
        let now_ino = inode(&log);
        if now_ino != 0 && now_ino != ino {
            // Rotated (or created): drain the old handle, then follow the new file.
            if let Some(f) = file.as_mut() {
                let (rest, _) = read_from(f, pos, &opts);
                for fr in rest {
                    if tx.send(fr).await.is_err() {
                        return;
                    }
                }
            }
            file = std::fs::File::open(&log).ok();
            ino = file.as_ref().map(file_inode).unwrap_or(0);
            pos = 0;
        }
        if let Some(f) = file.as_mut() {
            let (fresh, newpos) = read_from(f, pos, &opts);
            pos = newpos;
            for fr in fresh {
                if tx.send(fr).await.is_err() {
                    return;
                }
            }
        }
        if finished {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = tx.closed() => return,
        }
    }
}

fn file_inode(f: &std::fs::File) -> u64 {
    use std::os::unix::fs::MetadataExt;
    f.metadata().map(|m| m.ino()).unwrap_or(0)
}

fn inode(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(p).map(|m| m.ino()).unwrap_or(0)
}

/// Complete lines of `file` from byte `pos` on, and the position after the last one.
fn read_from(file: &mut std::fs::File, pos: u64, opts: &LogOptions) -> (Vec<LogFrame>, u64) {
    let mut out = Vec::new();
    if file.seek(SeekFrom::Start(pos)).is_err() {
        return (out, pos);
    }
    let read = read_lines(BufReader::new(file), opts, &mut out);
    (out, pos + read)
}

/// Appends the wanted frames of the complete lines of `reader` to `out`, and returns the
/// bytes those lines take. It stops at the end, at an error, or at a last line without its
/// newline: one the shim is still writing, which a follower reads once it is whole.
fn read_lines(mut reader: impl BufRead, opts: &LogOptions, out: &mut Vec<LogFrame>) -> u64 {
    let mut line = String::new();
    let mut read = 0u64;
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if !line.ends_with('\n') {
                    break;
                }
                read += n as u64;
                if let Some((f, t)) = parse_line(line.trim_end_matches('\n')) {
                    if wanted(opts, &f, t) {
                        out.push(f);
                    }
                }
            }
        }
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, lines: &[(&str, &str, &str)]) {
        let mut s = String::new();
        for (log, stream, time) in lines {
            s.push_str(
                &serde_json::json!({"log": log, "stream": stream, "time": time}).to_string(),
            );
            s.push('\n');
        }
        std::fs::write(p, s).expect("write");
    }

    fn opts() -> LogOptions {
        LogOptions {
            stdout: true,
            stderr: true,
            ..Default::default()
        }
    }

    #[test]
    fn rotation_order_filters_and_tail() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("c-json.log");
        write(
            &PathBuf::from(format!("{}.1", log.display())),
            &[
                ("1\n", "stdout", "2024-01-01T00:00:01Z"),
                ("2\n", "stderr", "2024-01-01T00:00:02Z"),
            ],
        );
        write(
            &log,
            &[
                ("3\n", "stdout", "2024-01-01T00:00:03Z"),
                ("4\n", "stdout", "2024-01-01T00:00:04Z"),
            ],
        );
        let (all, _) = read_existing(&log, &opts());
        let text: Vec<_> = all
            .iter()
            .map(|f| String::from_utf8_lossy(&f.data).into_owned())
            .collect();
        assert_eq!(text, ["1\n", "2\n", "3\n", "4\n"]);
        let (errs, _) = read_existing(
            &log,
            &LogOptions {
                stdout: false,
                ..opts()
            },
        );
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].stream, StdStream::Stderr);
        let (tail, _) = read_existing(
            &log,
            &LogOptions {
                tail: Some(1),
                ..opts()
            },
        );
        assert_eq!(&tail[0].data[..], b"4\n");
        let since = util::parse_rfc3339("2024-01-01T00:00:02Z");
        let until = util::parse_rfc3339("2024-01-01T00:00:04Z");
        let (mid, _) = read_existing(
            &log,
            &LogOptions {
                since,
                until,
                ..opts()
            },
        );
        assert_eq!(mid.len(), 2);
    }

    #[tokio::test]
    async fn follow_sees_appended_lines_then_ends() {
        let dir = tempfile::tempdir().expect("tmp");
        let log = dir.path().join("c-json.log");
        write(&log, &[("a\n", "stdout", "2024-01-01T00:00:01Z")]);
        let (tx, mut rx) = mpsc::channel(16);
        let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let f2 = flag.clone();
        let task = tokio::spawn(pump(
            log.clone(),
            LogOptions {
                follow: true,
                ..opts()
            },
            tx,
            move || f2.load(std::sync::atomic::Ordering::SeqCst),
        ));
        assert_eq!(&rx.recv().await.expect("first").data[..], b"a\n");
        write(
            &log,
            &[
                ("a\n", "stdout", "2024-01-01T00:00:01Z"),
                ("b\n", "stdout", "2024-01-01T00:00:02Z"),
            ],
        );
        assert_eq!(&rx.recv().await.expect("second").data[..], b"b\n");
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
        task.await.expect("ends");
        assert!(rx.recv().await.is_none());
    }
}
