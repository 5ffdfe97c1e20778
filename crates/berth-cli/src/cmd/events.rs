//! `events`: the daemon's event stream with docker's default line format
//! (`<time> <type> <action> <id> (k=v, ...)`) or a `--format` template.

use hyper::Method;

use super::image::filters_json;
use super::parse;
use crate::args::{v, Flag};
use crate::client::with_query;
use crate::format::render_one;
use crate::human::parse_time_arg;
use crate::json::J;
use crate::Ctx;
use std::fmt::Write as _;

const EVENTS_FLAGS: &[Flag] = &[
    v(
        "filter",
        Some('f'),
        "Filter output based on conditions provided",
    ),
    v("format", None, "Format output using a custom template"),
    v("since", None, "Show all events created since timestamp"),
    v("until", None, "Stream events until this timestamp"),
];

/// Docker's default event line.
pub fn event_line(e: &J) -> String {
    let mut s = String::new();
    let nano = e.i64_of("timeNano");
    let secs = if nano != 0 {
        nano.div_euclid(1_000_000_000)
    } else {
        e.i64_of("time")
    };
    let frac = if nano != 0 {
        nano.rem_euclid(1_000_000_000)
    } else {
        0
    };
    if secs != 0 {
        let t = crate::human::rfc3339(secs);
        let _ = write!(s, "{}.{frac:09}Z ", &t[..t.len() - 1]);
    }
    let actor = e.get("Actor").cloned().unwrap_or(J::Null);
    let _ = write!(
        s,
        "{} {} {}",
        e.str_of("Type"),
        e.str_of("Action"),
        actor.str_of("ID")
    );
    let mut attrs: Vec<String> = actor
        .get("Attributes")
        .map(J::pairs)
        .unwrap_or(&[])
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    if !attrs.is_empty() {
        attrs.sort();
        let _ = write!(s, " ({})", attrs.join(", "));
    }
    s
}

/// `events`.
pub async fn events(ctx: &mut Ctx, rest: &[String]) -> anyhow::Result<i32> {
    let Some(p) = parse(ctx, EVENTS_FLAGS, rest, true)? else {
        return Ok(0);
    };
    let mut q = Vec::new();
    for (flag, key) in [("since", "since"), ("until", "until")] {
        if let Some(t) = p.get(flag) {
            q.push((
                key,
                parse_time_arg(t).ok_or_else(|| {
                    anyhow::anyhow!("invalid value for \"{flag}\": {t:?} is not a time or duration")
                })?,
            ));
        }
    }
    if let Some(f) = filters_json(p.all("filter"))? {
        q.push(("filters", f));
    }
    let res = ctx
        .client
        .send(
            Method::GET,
            &with_query("/events", &q),
            crate::client::empty(),
            &[],
        )
        .await?;
    use http_body_util::BodyExt as _;
    let mut body = res.into_body();
    let mut buf = Vec::new();
    let tmpl = p.get("format").map(str::to_string);
    use std::io::Write as _;
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(d) = frame.data_ref() else { continue };
        buf.extend_from_slice(d);
        while let Some(nl) = buf.iter().position(|&c| c == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let Ok(e) = J::parse(line.trim_ascii()) else {
                continue;
            };
            let text = match &tmpl {
                Some(f) => render_one(f, &e)?,
                None => format!("{}\n", event_line(&e)),
            };
            let mut out = std::io::stdout();
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lines() {
        let e = J::parse(br#"{"Type":"container","Action":"start","Actor":{"ID":"abc","Attributes":{"name":"x","image":"busybox"}},"time":1700000000,"timeNano":1700000000123456789}"#).expect("json");
        assert_eq!(
            event_line(&e),
            "2023-11-14T22:13:20.123456789Z container start abc (image=busybox, name=x)"
        );
    }
}
