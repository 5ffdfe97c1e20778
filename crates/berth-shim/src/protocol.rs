//! The shim's wire protocol, shared by the `berth-shim` binary and the engine.
//!
//! Launch: the shim prints one [`Ready`] line on its original stdout and closes it.
//!
//! Control socket (`<state-dir>/shim.sock`): the client writes one [`Request`] as a JSON
//! line; the shim answers one JSON line, either the op's reply or [`ErrorReply`]
//! (`{"error":"..."}`). After the reply line of `attach` and of a non-detached `exec`, the
//! connection carries the process's stream: output framed as Docker frames it (8-byte
//! header `[stream,0,0,0,len_be32]`, stream 1 stdout / 2 stderr) without a TTY, raw with
//! one; bytes the client writes go to the process's stdin. The shim closes the stream when
//! the process is done (exited and its output drained) or, with a TTY, when the client
//! types the detach keys.
//!
//! Files in the state directory: [`SHIM_SOCK`], [`SHIM_PID`], [`EXIT_FILE`] (an
//! [`ExitInfo`], written atomically once the init exited).

use serde::{Deserialize, Serialize};

/// The control socket's file name in the state directory.
pub const SHIM_SOCK: &str = "shim.sock";
/// The shim's PID file name in the state directory.
pub const SHIM_PID: &str = "shim.pid";
/// The exit record's file name in the state directory.
pub const EXIT_FILE: &str = "exit.json";
/// Docker's default detach keys.
pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// The launch report: the first and only line of the shim's original stdout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Ready {
    /// The container was created (and started unless `--wait-start`).
    Ok {
        /// The container's init, as seen from the host.
        pid: i32,
        /// The shim daemon's PID (also in [`SHIM_PID`]).
        shim_pid: i32,
    },
    /// Nothing is left running; this says why.
    Err {
        /// What failed.
        error: String,
    },
}

/// One request per connection, as the first JSON line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Becomes the container's stream. Reply: [`Empty`].
    Attach(AttachRequest),
    /// Runs `berth-runtime start` (only useful with `--wait-start`). Reply: [`Empty`].
    Start,
    /// Answers once the init exited (and the container was deleted). Reply: [`ExitInfo`].
    Wait,
    /// Sets the window size of the container's or an exec's pty. Reply: [`Empty`].
    Resize(ResizeRequest),
    /// Runs a process in the container. Reply: [`ExecStarted`], then the stream unless
    /// `detach`.
    Exec(ExecRequest),
    /// Answers once the exec's process exited. Reply: [`ExecExit`].
    ExecWait {
        /// The exec given to [`Request::Exec`].
        exec_id: String,
    },
    /// Signals the container (`berth-runtime kill [--all] ID SIG`). Reply: [`Empty`].
    Kill {
        /// Signal number.
        signal: i32,
        /// Every process of the container, not only its init.
        #[serde(default)]
        all: bool,
    },
    /// The container's state now. Reply: [`State`].
    State,
}

/// `attach`: which streams the client wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachRequest {
    /// Forward what the client writes to the container's stdin.
    #[serde(default)]
    pub stdin: bool,
    /// Send the container's stdout.
    #[serde(default)]
    pub stdout: bool,
    /// Send the container's stderr.
    #[serde(default)]
    pub stderr: bool,
    /// Docker's detach key spec (`ctrl-p,ctrl-q` when absent or empty); only used with a TTY.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detach_keys: Option<String>,
}

/// `resize`: a pty's new size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizeRequest {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
    /// The exec whose pty to resize; the container's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec_id: Option<String>,
}

/// `exec`: a process to run in the container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecRequest {
    /// The caller's name for it (`[A-Za-z0-9_.-]`, at most 128 characters).
    pub exec_id: String,
    /// The OCI process (`config.json`'s `process` shape), passed to `berth-runtime exec
    /// --process`. Its `terminal` is set from `tty`.
    pub process: serde_json::Value,
    /// Give the process a pty.
    #[serde(default)]
    pub tty: bool,
    /// Give the process a stdin pipe fed from the stream.
    #[serde(default)]
    pub stdin: bool,
    /// No stream: output is discarded, the reply is the only answer.
    #[serde(default)]
    pub detach: bool,
    /// Detach keys for the stream with a TTY (as in [`AttachRequest::detach_keys`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detach_keys: Option<String>,
}

/// The reply of ops that return nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// A failed op's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// What went wrong.
    pub error: String,
}

/// How the container's init ended: the content of [`EXIT_FILE`] and the `wait` reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitInfo {
    /// The exit status, or 128 + signal when killed by a signal (Docker's convention).
    pub exit_code: i32,
    /// The kernel's OOM killer killed a process of the container's cgroup.
    pub oom_killed: bool,
    /// When the shim reaped the init, RFC 3339 with nanoseconds, UTC.
    pub finished_at: String,
}

/// The reply of `exec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecStarted {
    /// The exec's process, as seen from the host.
    pub pid: i32,
}

/// The reply of `exec_wait`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecExit {
    /// Exit status, 128 + signal when killed by a signal.
    pub exit_code: i32,
    /// The exec's host PID.
    pub pid: i32,
    /// Always false in a reply (it is sent once the process ended); kept for inspect.
    pub running: bool,
}

/// The reply of `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The init's host PID.
    pub pid: i32,
    /// `berth-runtime start` succeeded.
    pub started: bool,
    /// Started and not exited yet.
    pub running: bool,
    /// How it ended, once it did.
    pub exit: Option<ExitInfo>,
}

/// Reads `exit.json` from a state directory: `None` while the container has not exited
/// (or the shim died before recording it).
pub fn read_exit_file(state_dir: &std::path::Path) -> std::io::Result<Option<ExitInfo>> {
    match std::fs::read(state_dir.join(EXIT_FILE)) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Checks an exec ID: it names files in the state directory.
pub fn valid_exec_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id != "."
        && id != ".."
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// Parses Docker's detach key spec: comma-separated `ctrl-<x>` (x in `a-z @ [ \ ] ^ _`) or
/// single ASCII characters. Empty means the default, `ctrl-p,ctrl-q`.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, String> {
    let spec = if spec.is_empty() {
        DEFAULT_DETACH_KEYS
    } else {
        spec
    };
    let mut keys = Vec::new();
    for part in spec.split(',') {
        let b = part.as_bytes();
        if b.len() == 1 && b[0].is_ascii() {
            keys.push(b[0]);
        } else if let Some(k) = part.strip_prefix("ctrl-").filter(|k| k.len() == 1) {
            let c = k.as_bytes()[0].to_ascii_lowercase();
            match c {
                b'a'..=b'z' => keys.push(c - b'a' + 1),
                b'@' => keys.push(0),
                b'[' => keys.push(27),
                b'\\' => keys.push(28),
                b']' => keys.push(29),
                b'^' => keys.push(30),
                b'_' => keys.push(31),
                _ => return Err(format!("invalid detach key {part:?} in {spec:?}")),
            }
        } else {
            return Err(format!("invalid detach key {part:?} in {spec:?}"));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_the_documented_shape() {
        let r: Request = serde_json::from_str(
            r#"{"op":"attach","stdin":true,"stdout":true,"stderr":false,"detach_keys":"ctrl-p,ctrl-q"}"#,
        )
        .expect("attach");
        assert_eq!(
            r,
            Request::Attach(AttachRequest {
                stdin: true,
                stdout: true,
                stderr: false,
                detach_keys: Some("ctrl-p,ctrl-q".into())
            })
        );
        let r: Request = serde_json::from_str(r#"{"op":"wait"}"#).expect("wait");
        assert_eq!(r, Request::Wait);
        let r: Request =
            serde_json::from_str(r#"{"op":"exec_wait","exec_id":"e1"}"#).expect("exec_wait");
        assert_eq!(
            r,
            Request::ExecWait {
                exec_id: "e1".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Kill {
                signal: 9,
                all: false
            })
            .expect("ser"),
            r#"{"op":"kill","signal":9,"all":false}"#
        );
        assert!(serde_json::from_str::<Request>(r#"{"op":"nope"}"#).is_err());
    }

    #[test]
    fn ready_line_is_pid_or_error() {
        let ok: Ready = serde_json::from_str(r#"{"pid":12,"shim_pid":11}"#).expect("ok");
        assert_eq!(
            ok,
            Ready::Ok {
                pid: 12,
                shim_pid: 11
            }
        );
        let err: Ready = serde_json::from_str(r#"{"error":"boom"}"#).expect("err");
        assert_eq!(
            err,
            Ready::Err {
                error: "boom".into()
            }
        );
    }

    #[test]
    fn detach_keys_parse_like_docker() {
        assert_eq!(parse_detach_keys("").expect("default"), vec![16, 17]);
        assert_eq!(parse_detach_keys("ctrl-a,x").expect("a,x"), vec![1, b'x']);
        assert_eq!(
            parse_detach_keys("ctrl-@,ctrl-_").expect("sym"),
            vec![0, 31]
        );
        assert!(parse_detach_keys("ctrl-1").is_err());
        assert!(parse_detach_keys("abc").is_err());
    }

    #[test]
    fn exec_ids_cannot_escape_the_state_dir() {
        assert!(valid_exec_id("abc-1.2_x"));
        assert!(!valid_exec_id("../x"));
        assert!(!valid_exec_id(".."));
        assert!(!valid_exec_id(""));
        assert!(!valid_exec_id(&"a".repeat(129)));
    }
}
