//! Docker's JSON-message display (`jsonmessage.DisplayJSONMessagesStream`) for pull, load
//! and import: on a terminal, one line per layer updated in place (cursor up, clear line,
//! `id: status  1.8MB/2.14MB`, cursor down), with a `[===>   ]` bar when the terminal is
//! wider than 110 columns; without a terminal, plain status lines and no byte counts.

use crate::human::human_size4;
use crate::json::J;

/// The lines already drawn for layers, in order (docker's `ids` map).
#[derive(Debug, Default)]
pub struct Display {
    ids: Vec<String>,
}

/// `JSONProgress.String()` for a `progressDetail`.
pub fn progress_string(detail: &J, width: u16) -> String {
    let current = detail.i64_of("current");
    let total = detail.i64_of("total");
    let units = detail.str_of("units");
    if current <= 0 && total <= 0 {
        return String::new();
    }
    if total <= 0 {
        return if units.is_empty() {
            format!("{:>8}", human_size4(current as f64))
        } else {
            format!("{current} {units}")
        };
    }
    let pct = ((current as f64 / total as f64 * 100.0) as i64 / 2).min(50);
    let mut bar = String::new();
    if width > 110 {
        let spaces = (50 - pct).max(0) as usize;
        bar = format!(
            "[{}>{}] ",
            "=".repeat(pct.max(0) as usize),
            " ".repeat(spaces)
        );
    }
    let numbers = if detail
        .get("hidecounts")
        .and_then(J::as_bool)
        .unwrap_or(false)
    {
        String::new()
    } else if units.is_empty() {
        let c = human_size4(current as f64);
        if current > total {
            format!("{c:>8}")
        } else {
            format!("{c:>8}/{}", human_size4(total as f64))
        }
    } else {
        format!("{current}/{total} {units}")
    };
    format!("{bar}{numbers}")
}

impl Display {
    /// The text to print for one message (errors are handled by the caller).
    pub fn render(&mut self, m: &J, tty: bool, width: u16) -> String {
        let id = m.str_of("id");
        let status = m.str_of("status");
        let stream = m.get("stream").and_then(J::as_str);
        let detail = m.get("progressDetail");
        if !tty {
            if let Some(s) = stream {
                return s.to_string();
            }
            if detail.is_some_and(|d| d.i64_of("current") > 0 || d.i64_of("total") > 0) {
                return String::new();
            }
            return if id.is_empty() {
                format!("{status}\n")
            } else {
                format!("{id}: {status}\n")
            };
        }
        let mut out = String::new();
        let progress = stream.is_none() && detail.is_some();
        let mut diff = 0;
        if !id.is_empty() && progress {
            let line = match self.ids.iter().position(|x| x == id) {
                Some(i) => i,
                None => {
                    self.ids.push(id.to_string());
                    out.push('\n');
                    self.ids.len() - 1
                }
            };
            diff = self.ids.len() - line;
            out.push_str(&format!("\x1b[{diff}A"));
        } else {
            self.ids.clear();
        }
        let endl = if progress {
            out.push_str("\x1b[2K\r");
            "\r"
        } else {
            ""
        };
        if !id.is_empty() {
            out.push_str(&format!("{id}: "));
        }
        if let Some(s) = stream {
            out.push_str(s);
        } else if progress {
            let p = detail
                .map(|d| progress_string(d, width))
                .unwrap_or_default();
            out.push_str(&format!("{status} {p}{endl}"));
        } else {
            out.push_str(&format!("{status}{endl}\n"));
        }
        if !id.is_empty() && progress {
            out.push_str(&format!("\x1b[{diff}B"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> J {
        J::parse(s.as_bytes()).expect("json")
    }

    #[test]
    fn terminal_lines_like_docker_load() {
        let mut d = Display::default();
        let a = d.render(&msg(r#"{"status":"Loading layer","progressDetail":{"current":32768,"total":2140000},"id":"de55a5c5b24b"}"#), true, 80);
        assert_eq!(
            a,
            "\n\x1b[1A\x1b[2K\rde55a5c5b24b: Loading layer  32.77kB/2.14MB\r\x1b[1B"
        );
        let b = d.render(&msg(r#"{"status":"Loading layer","progressDetail":{"current":2140000,"total":2140000},"id":"de55a5c5b24b"}"#), true, 80);
        assert_eq!(
            b,
            "\x1b[1A\x1b[2K\rde55a5c5b24b: Loading layer   2.14MB/2.14MB\r\x1b[1B"
        );
        let c = d.render(
            &msg(r#"{"stream":"Loaded image: busybox:latest\n"}"#),
            true,
            80,
        );
        assert_eq!(c, "Loaded image: busybox:latest\n");
    }

    #[test]
    fn plain_lines_without_terminal_and_bar_when_wide() {
        let mut d = Display::default();
        assert_eq!(
            d.render(
                &msg(
                    r#"{"status":"Downloading","progressDetail":{"current":5,"total":10},"id":"x"}"#
                ),
                false,
                0
            ),
            ""
        );
        assert_eq!(
            d.render(
                &msg(r#"{"status":"Pull complete","progressDetail":{},"id":"x"}"#),
                false,
                0
            ),
            "x: Pull complete\n"
        );
        assert_eq!(
            d.render(&msg(r#"{"status":"Digest: sha256:0d"}"#), false, 0),
            "Digest: sha256:0d\n"
        );
        let p = progress_string(&msg(r#"{"current":50,"total":100}"#), 120);
        assert_eq!(
            p,
            format!("[{}>{}]      50B/100B", "=".repeat(25), " ".repeat(25))
        );
    }
}
