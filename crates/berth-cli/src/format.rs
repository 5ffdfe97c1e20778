//! `--format` handling shared by the list commands, as docker's `formatter.Context` does
//! it: `table` prefix → header row + tabwriter alignment, `\t`/`\n` written literally in
//! the format become real tabs/newlines, `json` means `{{json .}}`, anything else is a
//! plain template printed once per item.

use crate::json::J;
use crate::table::align;
use crate::template::Template;

/// Renders `rows` with the user's `format` (empty = `default_table`). `header` maps each
/// field name to its column title.
pub fn render_list(
    format: &str,
    default_table: &str,
    header: &J,
    rows: &[J],
) -> anyhow::Result<String> {
    let format = match format.trim() {
        "" | "table" => default_table,
        "json" => "{{json .}}",
        f => f,
    };
    let (table, body) = match format.strip_prefix("table") {
        Some(rest) => (true, rest),
        None => (false, format),
    };
    let body = body
        .trim_matches(' ')
        .replace("\\t", "\t")
        .replace("\\n", "\n");
    let tmpl = Template::parse(&body).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = String::new();
    if table {
        out.push_str(&tmpl.render(header).map_err(|e| anyhow::anyhow!("{e}"))?);
        out.push('\n');
    }
    for r in rows {
        out.push_str(&tmpl.render(r).map_err(|e| anyhow::anyhow!("{e}"))?);
        out.push('\n');
    }
    Ok(if table { align(&out) } else { out })
}

/// Renders one item with a user template (`inspect -f`, `version -f`, `info -f`),
/// followed by a newline; `json` means `{{json .}}`.
pub fn render_one(format: &str, item: &J) -> anyhow::Result<String> {
    let f = if format.trim() == "json" {
        "{{json .}}"
    } else {
        format
    };
    let tmpl = Template::parse(f).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut s = tmpl.render(item).map_err(|e| anyhow::anyhow!("{e}"))?;
    s.push('\n');
    Ok(s)
}

/// Docker's `stringid.TruncateID`: drop an algorithm prefix, keep 12 characters.
pub fn short_id(id: &str) -> String {
    let id = id.split_once(':').map_or(id, |(_, rest)| rest);
    id.chars().take(12).collect()
}

/// Docker's `Ellipsis`: at most `max` characters, the last one "…" when cut.
pub fn ellipsis(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_string();
    }
    if max <= 1 {
        return s.chars().take(max).collect();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Docker's `sortorder.NaturalLess` as an ordering: runs of digits compare by value
/// ("9/tcp" before "10/tcp"), everything else byte by byte.
pub fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (x, y) = (&a[si..i], &b[sj..j]);
            let tx = x
                .iter()
                .position(|c| *c != b'0')
                .map_or(&x[x.len()..], |p| &x[p..]);
            let ty = y
                .iter()
                .position(|c| *c != b'0')
                .map_or(&y[y.len()..], |p| &y[p..]);
            let o = tx
                .len()
                .cmp(&ty.len())
                .then(tx.cmp(ty))
                .then(x.len().cmp(&y.len()));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            if a[i] != b[j] {
                return a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_plain() {
        let header = J::obj([("ID", J::s("CONTAINER ID")), ("Names", J::s("NAMES"))]);
        let rows = vec![J::obj([("ID", J::s("abc")), ("Names", J::s("web"))])];
        let t = render_list(r"table {{.ID}}\t{{.Names}}", "", &header, &rows).expect("renders");
        assert_eq!(t, "CONTAINER ID   NAMES\nabc            web\n");
        let p = render_list("{{.Names}}", "", &header, &rows).expect("renders");
        assert_eq!(p, "web\n");
        let j = render_list("json", "", &header, &rows).expect("renders");
        assert_eq!(j, "{\"ID\":\"abc\",\"Names\":\"web\"}\n");
        let empty = render_list(r"table {{.ID}}\t{{.Names}}", "", &header, &[]).expect("renders");
        assert_eq!(empty, "CONTAINER ID   NAMES\n");
    }

    #[test]
    fn natural_order() {
        let mut v = vec![
            "10/tcp -> x",
            "9/tcp -> x",
            "80/udp -> x",
            "80/tcp -> x",
            "net2",
            "net10",
            "net1",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "9/tcp -> x",
                "10/tcp -> x",
                "80/tcp -> x",
                "80/udp -> x",
                "net1",
                "net2",
                "net10"
            ]
        );
    }

    #[test]
    fn ids_and_ellipsis() {
        assert_eq!(short_id("sha256:0cefd71c2957caa2a21b"), "0cefd71c2957");
        assert_eq!(
            ellipsis("sh -c 'while true; do sleep 1; done'", 20),
            "sh -c 'while true; …"
        );
        assert_eq!(ellipsis("sleep 100000", 20), "sleep 100000");
    }
}
