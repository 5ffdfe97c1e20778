//! The functions templates can call: docker's (`json`, `join`, `lower`, `truncate`, ...)
//! and Go's built-ins (`index`, `len`, `printf`, `eq`, `and`, ...), plus Go's quoting.

use super::{
    err, print_value, render_value, truthy, type_name, without_hidden, TemplateError, NO_VALUE,
};
use crate::json::J;

fn as_num(v: &J) -> Option<f64> {
    match v {
        J::Num(n) => n.parse().ok(),
        _ => None,
    }
}

fn compare(a: &J, b: &J) -> Option<std::cmp::Ordering> {
    match (as_num(a), as_num(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y),
        _ => Some(print_value(a).cmp(&print_value(b))),
    }
}

fn str_arg(args: &[J], i: usize, f: &str) -> Result<String, TemplateError> {
    match args.get(i) {
        Some(v) => Ok(render_value(v)),
        None => err(format!("wrong number of args for {f}")),
    }
}

fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.Quote` for the strings docker quotes (`COMMAND` column).
pub fn quote(s: &str) -> String {
    go_quote(s)
}

fn printf(args: &[J]) -> Result<String, TemplateError> {
    let fmt = str_arg(args, 0, "printf")?;
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut next = 1;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut width = String::new();
        while let Some(&d) = it.peek() {
            if d == '-' {
                left = true;
            } else if d.is_ascii_digit() {
                width.push(d);
            } else {
                break;
            }
            it.next();
        }
        let Some(verb) = it.next() else { break };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = args.get(next).cloned();
        next += 1;
        let s = match (verb, arg) {
            (_, None) => format!("%!{verb}(MISSING)"),
            ('q', Some(v)) => go_quote(&render_value(&v)),
            (_, Some(v)) => render_value(&v),
        };
        let w: usize = width.parse().unwrap_or(0);
        let pad = w.saturating_sub(s.chars().count());
        if left {
            out.push_str(&s);
            out.push_str(&" ".repeat(pad));
        } else {
            out.push_str(&" ".repeat(pad));
            out.push_str(&s);
        }
    }
    Ok(out)
}

pub(super) fn call(name: &str, args: Vec<J>) -> Result<J, TemplateError> {
    let s = |v: String| Ok(J::Str(v));
    match name {
        "json" => {
            let v = args.first().cloned().unwrap_or(J::Null);
            s(match v {
                J::Str(x) if x == NO_VALUE => "null".into(),
                other => without_hidden(&other).to_compact(),
            })
        }
        "index" => {
            let mut v = args.first().cloned().unwrap_or(J::Null);
            for k in args.iter().skip(1) {
                v = match (&v, k) {
                    (J::Obj(_), k) => v.get(&render_value(k)).cloned().unwrap_or_else(|| J::s("")),
                    (J::Arr(a), k) => {
                        let i = as_num(k).unwrap_or(-1.0);
                        match a.get(i as usize) {
                            Some(x) if i >= 0.0 => x.clone(),
                            _ => {
                                return err(format!(
                                    "error calling index: index out of range: {}",
                                    render_value(k)
                                ))
                            }
                        }
                    }
                    (J::Null, _) => J::Null,
                    (other, _) => {
                        return err(format!(
                            "error calling index: can't index item of type {}",
                            type_name(other)
                        ))
                    }
                };
            }
            Ok(v)
        }
        "join" => {
            let sep = str_arg(&args, 1, "join")?;
            let items: Vec<String> = args
                .first()
                .map(|a| a.items().iter().map(render_value).collect())
                .unwrap_or_default();
            s(items.join(&sep))
        }
        "split" => {
            let text = str_arg(&args, 0, "split")?;
            let sep = str_arg(&args, 1, "split")?;
            Ok(J::Arr(text.split(sep.as_str()).map(J::s).collect()))
        }
        "lower" => s(str_arg(&args, 0, name)?.to_lowercase()),
        "upper" => s(str_arg(&args, 0, name)?.to_uppercase()),
        "title" => {
            let t = str_arg(&args, 0, name)?;
            let mut out = String::new();
            let mut start = true;
            for c in t.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = !c.is_alphanumeric();
            }
            s(out)
        }
        "truncate" => {
            let t = str_arg(&args, 0, name)?;
            let n = args.get(1).and_then(as_num).unwrap_or(0.0) as usize;
            s(t.chars().take(n).collect())
        }
        "pad" => {
            let t = str_arg(&args, 0, name)?;
            let l = args.get(1).and_then(as_num).unwrap_or(0.0) as usize;
            let r = args.get(2).and_then(as_num).unwrap_or(0.0) as usize;
            s(format!("{}{t}{}", " ".repeat(l), " ".repeat(r)))
        }
        "len" => match args.first() {
            Some(J::Arr(a)) => Ok(J::int(a.len() as i64)),
            Some(J::Obj(o)) => Ok(J::int(o.len() as i64)),
            Some(J::Str(x)) => Ok(J::int(x.len() as i64)),
            _ => err("error calling len: len of unsupported type"),
        },
        "printf" => s(printf(&args)?),
        "print" => s(args.iter().map(render_value).collect::<Vec<_>>().join("")),
        "println" => s(format!(
            "{}\n",
            args.iter().map(render_value).collect::<Vec<_>>().join(" ")
        )),
        "eq" => {
            let first = args.first().cloned().unwrap_or(J::Null);
            Ok(J::Bool(args.iter().skip(1).any(|b| {
                compare(&first, b) == Some(std::cmp::Ordering::Equal)
            })))
        }
        "ne" | "lt" | "le" | "gt" | "ge" => {
            if args.len() != 2 {
                return err(format!(
                    "wrong number of args for {name}: want 2 got {}",
                    args.len()
                ));
            }
            let o = compare(&args[0], &args[1]);
            use std::cmp::Ordering::*;
            Ok(J::Bool(match name {
                "ne" => o != Some(Equal),
                "lt" => o == Some(Less),
                "le" => matches!(o, Some(Less | Equal)),
                "gt" => o == Some(Greater),
                _ => matches!(o, Some(Greater | Equal)),
            }))
        }
        "not" => Ok(J::Bool(!args.first().is_some_and(truthy))),
        "and" => Ok(args
            .iter()
            .find(|a| !truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(J::Null)),
        "or" => Ok(args
            .iter()
            .find(|a| truthy(a))
            .or(args.last())
            .cloned()
            .unwrap_or(J::Null)),
        _ => err(format!("function {name:?} not defined")),
    }
}
