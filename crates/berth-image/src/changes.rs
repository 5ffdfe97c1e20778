//! Dockerfile instructions applied to an image config: `docker import --change` and
//! `docker commit --change` (`CMD`, `ENTRYPOINT`, `ENV`, `EXPOSE`, `LABEL`, `USER`,
//! `WORKDIR`, `VOLUME`, `STOPSIGNAL`, `ONBUILD`, `HEALTHCHECK`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::spec::{ContainerConfig, Healthcheck};

/// Applies each instruction of `changes` to `config`, in order.
pub fn apply_all(config: &mut ContainerConfig, changes: &[String]) -> Result<()> {
    for c in changes {
        apply(config, c)?;
    }
    Ok(())
}

/// Applies one instruction (`CMD ["sh"]`, `ENV A=b`, …) to `config`.
pub fn apply(config: &mut ContainerConfig, change: &str) -> Result<()> {
    let change = change.trim();
    let (word, rest) = change
        .split_once(char::is_whitespace)
        .map_or((change, ""), |(w, r)| (w, r.trim()));
    let bad = |why: &str| Error::invalid(format!("invalid change {change:?}: {why}"));
    let instr = word.to_ascii_uppercase();
    if rest.is_empty() && instr != "CMD" && instr != "ENTRYPOINT" {
        return Err(bad(&format!("{instr} requires at least one argument")));
    }
    match instr.as_str() {
        "CMD" => config.cmd = Some(command(config, rest).map_err(|e| bad(&e))?),
        "ENTRYPOINT" => {
            config.entrypoint = Some(command(config, rest).map_err(|e| bad(&e))?);
            // Docker: a new ENTRYPOINT resets CMD inherited from the image.
            config.cmd = None;
        }
        "ENV" => {
            let env = config.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs(rest, true).map_err(|e| bad(&e))? {
                let prefix = format!("{k}=");
                env.retain(|e| !e.starts_with(&prefix));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            let labels = config.labels.get_or_insert_with(BTreeMap::new);
            for (k, v) in pairs(rest, false).map_err(|e| bad(&e))? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            let ports = config.exposed_ports.get_or_insert_with(BTreeMap::new);
            for p in words(rest).map_err(|e| bad(&e))? {
                ports.insert(
                    port(&p).map_err(|e| bad(&e))?,
                    Value::Object(Default::default()),
                );
            }
        }
        "USER" => config.user = Some(single(rest).map_err(|e| bad(&e))?),
        "WORKDIR" => {
            let dir = single(rest).map_err(|e| bad(&e))?;
            config.working_dir = Some(if dir.starts_with('/') {
                dir
            } else {
                let base = config.working_dir.as_deref().unwrap_or("/");
                format!("{}/{dir}", base.trim_end_matches('/'))
            });
        }
        "VOLUME" => {
            let list = if rest.starts_with('[') {
                json_array(rest).map_err(|e| bad(&e))?
            } else {
                words(rest).map_err(|e| bad(&e))?
            };
            let vols = config.volumes.get_or_insert_with(BTreeMap::new);
            for v in list {
                if v.is_empty() {
                    return Err(bad("VOLUME specified can not be an empty string"));
                }
                vols.insert(v, Value::Object(Default::default()));
            }
        }
        "STOPSIGNAL" => config.stop_signal = Some(single(rest).map_err(|e| bad(&e))?),
        "ONBUILD" => {
            let inner = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            if matches!(inner.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(bad(&format!("{inner} isn't allowed as an ONBUILD trigger")));
            }
            config
                .on_build
                .get_or_insert_with(Vec::new)
                .push(rest.to_string());
        }
        "HEALTHCHECK" => config.healthcheck = Some(healthcheck(config, rest).map_err(|e| bad(&e))?),
        _ => {
            return Err(Error::invalid(format!(
                "{word} is not a valid change command"
            )))
        }
    }
    Ok(())
}

/// JSON form (`["a","b"]`) or shell form (wrapped in the image's `SHELL`, `/bin/sh -c`).
fn command(config: &ContainerConfig, rest: &str) -> Result<Vec<String>, String> {
    if rest.starts_with('[') {
        if let Ok(v) = json_array(rest) {
            return Ok(v);
        }
    }
    if rest.is_empty() {
        return Ok(vec![]);
    }
    let mut shell = config
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    shell.push(rest.to_string());
    Ok(shell)
}

fn json_array(s: &str) -> Result<Vec<String>, String> {
    serde_json::from_str::<Vec<String>>(s).map_err(|e| format!("not a JSON array of strings: {e}"))
}

fn single(rest: &str) -> Result<String, String> {
    let w = words(rest)?;
    match w.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err("takes exactly one argument".into()),
    }
}

/// `KEY=value …`, or (`legacy`, for ENV) `KEY value with spaces`.
fn pairs(rest: &str, legacy: bool) -> Result<Vec<(String, String)>, String> {
    let w = words(rest)?;
    if w.first().is_some_and(|f| !f.contains('=')) {
        if legacy && w.len() >= 2 {
            let value = rest[w[0].len()..].trim().to_string();
            return Ok(vec![(w[0].clone(), value)]);
        }
        return Err(format!("{:?} is not KEY=value", w[0]));
    }
    w.into_iter()
        .map(|p| match p.split_once('=') {
            Some(("", _)) => Err(format!("{p:?} has an empty name")),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!("{p:?} is not KEY=value")),
        })
        .collect()
}

/// Shell-like words: whitespace separated, `"…"` and `'…'` quoting, `\` escapes.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => cur.extend(chars.next()),
                        Some(x) => cur.push(x),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn port(p: &str) -> Result<String, String> {
    let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid proto {proto:?} in {p:?}"));
    }
    let ok = |n: &str| n.parse::<u16>().is_ok_and(|n| n > 0);
    let valid = match num.split_once('-') {
        Some((a, b)) => ok(a) && ok(b),
        None => ok(num),
    };
    if !valid {
        return Err(format!("invalid port {p:?}"));
    }
    Ok(format!("{num}/{proto}"))
}

fn healthcheck(config: &ContainerConfig, rest: &str) -> Result<Healthcheck, String> {
    let mut hc = Healthcheck::default();
    let mut rest = rest.trim();
    while let Some(opt) = rest.strip_prefix("--") {
        let (flag, tail) = opt.split_once(char::is_whitespace).unwrap_or((opt, ""));
        let (name, value) = flag
            .split_once('=')
            .ok_or_else(|| format!("option --{flag} needs a value"))?;
        match name {
            "interval" => hc.interval = Some(duration(value)?),
            "timeout" => hc.timeout = Some(duration(value)?),
            "start-period" => hc.start_period = Some(duration(value)?),
            "start-interval" => hc.start_interval = Some(duration(value)?),
            "retries" => {
                hc.retries = Some(
                    value
                        .parse()
                        .map_err(|_| format!("invalid retries {value:?}"))?,
                )
            }
            _ => return Err(format!("unknown HEALTHCHECK option --{name}")),
        }
        rest = tail.trim();
    }
    let (kind, cmd) = rest
        .split_once(char::is_whitespace)
        .map_or((rest, ""), |(k, c)| (k, c.trim()));
    match kind.to_ascii_uppercase().as_str() {
        "NONE" if cmd.is_empty() => hc.test = Some(vec!["NONE".into()]),
        "NONE" => return Err("HEALTHCHECK NONE takes no arguments".into()),
        "CMD" if cmd.is_empty() => return Err("HEALTHCHECK CMD needs a command".into()),
        "CMD" => {
            let parts = command(config, cmd)?;
            hc.test = Some(if cmd.starts_with('[') {
                std::iter::once("CMD".to_string()).chain(parts).collect()
            } else {
                vec!["CMD-SHELL".into(), cmd.to_string()]
            });
        }
        _ => {
            return Err(format!(
                "unknown HEALTHCHECK type {kind:?} (want CMD or NONE)"
            ))
        }
    }
    Ok(hc)
}

/// Go-style durations: `30s`, `1m30s`, `500ms`, `1h` → nanoseconds.
fn duration(s: &str) -> Result<i64, String> {
    let err = || format!("invalid duration {s:?}");
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        let value: f64 = rest[..n].parse().map_err(|_| err())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += value * unit;
        rest = &rest[u..];
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(changes: &[&str]) -> Result<ContainerConfig> {
        let mut c = ContainerConfig::default();
        apply_all(
            &mut c,
            &changes.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )?;
        Ok(c)
    }

    #[test]
    fn instructions_apply() {
        let c = applied(&[
            r#"CMD ["sh"]"#,
            "ENV A=1 B=\"two words\"",
            "ENV LEGACY some value",
            "ENV A=3",
            "EXPOSE 80 53/udp",
            "LABEL k=v \"x y\"=z",
            "USER nobody",
            "WORKDIR /srv",
            "WORKDIR app",
            "VOLUME /data /logs",
            r#"VOLUME ["/cache"]"#,
            "STOPSIGNAL SIGTERM",
            "ONBUILD RUN echo hi",
            "HEALTHCHECK --interval=1m30s --retries=3 CMD curl -f http://localhost/",
        ])
        .expect("valid changes");
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!(
            c.env,
            Some(vec![
                "B=two words".into(),
                "LEGACY=some value".into(),
                "A=3".into()
            ])
        );
        let ports: Vec<_> = c.exposed_ports.unwrap_or_default().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        let labels = c.labels.unwrap_or_default();
        assert_eq!(labels.get("x y").map(String::as_str), Some("z"));
        assert_eq!(c.user.as_deref(), Some("nobody"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv/app"));
        assert_eq!(c.volumes.map(|v| v.len()), Some(3));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGTERM"));
        assert_eq!(c.on_build, Some(vec!["RUN echo hi".to_string()]));
        let hc = c.healthcheck.unwrap_or_default();
        assert_eq!(hc.interval, Some(90_000_000_000));
        assert_eq!(hc.retries, Some(3));
        assert_eq!(
            hc.test,
            Some(vec!["CMD-SHELL".into(), "curl -f http://localhost/".into()])
        );
    }

    #[test]
    fn shell_form_uses_sh_c() {
        let c = applied(&["CMD sh -c 'echo x'", "ENTRYPOINT [\"/init\"]"]).expect("valid");
        assert_eq!(c.entrypoint, Some(vec!["/init".to_string()]));
        assert_eq!(c.cmd, None, "ENTRYPOINT resets CMD");
        let c = applied(&["CMD sh -c 'echo x'"]).expect("valid");
        assert_eq!(
            c.cmd,
            Some(vec!["/bin/sh".into(), "-c".into(), "sh -c 'echo x'".into()])
        );
    }

    #[test]
    fn bad_instructions_say_what_is_wrong() {
        let msg = |c: &str| applied(&[c]).err().map(|e| e.message).unwrap_or_default();
        assert_eq!(msg("FROM busybox"), "FROM is not a valid change command");
        assert!(msg("EXPOSE 99999").contains("invalid port"));
        assert!(msg("EXPOSE 80/xyz").contains("invalid proto"));
        assert!(msg("ENV").contains("requires at least one argument"));
        assert!(msg("LABEL novalue").contains("is not KEY=value"));
        assert!(msg("HEALTHCHECK --interval=x CMD true").contains("invalid duration"));
        assert!(msg("USER a b").contains("exactly one argument"));
        assert!(msg("ONBUILD FROM x").contains("isn't allowed"));
        assert!(msg("LABEL a=\"open").contains("unterminated quote"));
    }
}
