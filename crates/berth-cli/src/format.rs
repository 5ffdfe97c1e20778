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
    fn ids_and_ellipsis() {
        assert_eq!(short_id("sha256:0cefd71c2957caa2a21b"), "0cefd71c2957");
        assert_eq!(
            ellipsis("sh -c 'while true; do sleep 1; done'", 20),
            "sh -c 'while true; …"
        );
        assert_eq!(ellipsis("sleep 100000", 20), "sleep 100000");
    }
}
