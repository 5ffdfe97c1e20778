//! An order-preserving JSON value with Go's encoding rules.
//!
//! The daemon's JSON is shown to users in its own key order (`inspect`, `{{json .}}`), and
//! request bodies are sent with the field order docker's Go structs give them, so objects
//! here are ordered lists of pairs and numbers keep their source text. Serialisation follows
//! Go's `encoding/json`: `<`, `>` and `&` are escaped as `\u003c` etc.

use std::fmt::Write as _;

/// A JSON value whose objects keep their key order and numbers their text.
#[derive(Debug, Clone, PartialEq)]
pub enum J {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written in the source (or by [`J::int`]).
    Num(String),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<J>),
    /// An object, in key order.
    Obj(Vec<(String, J)>),
}

/// A JSON text that is not valid, with the byte offset where parsing stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected there.
    pub what: &'static str,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid JSON at byte {}: expected {}",
            self.offset, self.what
        )
    }
}

impl std::error::Error for ParseError {}

impl J {
    /// A string value.
    pub fn s(v: impl Into<String>) -> J {
        J::Str(v.into())
    }

    /// An integer value.
    pub fn int(v: i64) -> J {
        J::Num(v.to_string())
    }

    /// An object from pairs.
    pub fn obj<const N: usize>(pairs: [(&str, J); N]) -> J {
        J::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// A list of strings, or `null` when empty (Go's nil slice).
    pub fn str_list_or_null(v: &[String]) -> J {
        if v.is_empty() {
            J::Null
        } else {
            J::Arr(v.iter().map(|s| J::s(s.as_str())).collect())
        }
    }

    /// A list of strings (empty list when empty).
    pub fn str_list(v: &[String]) -> J {
        J::Arr(v.iter().map(|s| J::s(s.as_str())).collect())
    }

    /// Parses a JSON text.
    pub fn parse(text: &[u8]) -> Result<J, ParseError> {
        let mut p = Parser { b: text, i: 0 };
        p.ws();
        let v = p.value()?;
        p.ws();
        if p.i != text.len() {
            return Err(p.err("end of input"));
        }
        Ok(v)
    }

    /// Field `k` of an object.
    pub fn get(&self, k: &str) -> Option<&J> {
        match self {
            J::Obj(pairs) => pairs.iter().find(|(key, _)| key == k).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Follows a path of object keys.
    pub fn path(&self, keys: &[&str]) -> Option<&J> {
        keys.iter().try_fold(self, |v, k| v.get(k))
    }

    /// Sets (or appends) field `k` of an object; no effect on other values.
    pub fn set(&mut self, k: &str, v: J) {
        if let J::Obj(pairs) = self {
            if let Some(slot) = pairs.iter_mut().find(|(key, _)| key == k) {
                slot.1 = v;
            } else {
                pairs.push((k.to_string(), v));
            }
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            J::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The string field `k`, or "".
    pub fn str_of(&self, k: &str) -> &str {
        self.get(k).and_then(J::as_str).unwrap_or("")
    }

    /// The integer field `k`, or 0.
    pub fn i64_of(&self, k: &str) -> i64 {
        self.get(k).and_then(J::as_i64).unwrap_or(0)
    }

    /// The number as an integer (floats are truncated).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            J::Num(n) => n
                .parse::<i64>()
                .ok()
                .or_else(|| n.parse::<f64>().ok().map(|f| f as i64)),
            _ => None,
        }
    }

    /// The number as a float.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            J::Num(n) => n.parse::<f64>().ok(),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            J::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The array elements (empty for anything else).
    pub fn items(&self) -> &[J] {
        match self {
            J::Arr(a) => a,
            _ => &[],
        }
    }

    /// The object pairs (empty for anything else).
    pub fn pairs(&self) -> &[(String, J)] {
        match self {
            J::Obj(p) => p,
            _ => &[],
        }
    }

    /// Compact encoding, as Go's `json.Marshal` writes it.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write_compact(&mut out);
        out
    }

    fn write_compact(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s) => write_go_string(out, s),
            J::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_compact(out);
                }
                out.push(']');
            }
            J::Obj(p) => {
                out.push('{');
                for (i, (k, v)) in p.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_go_string(out, k);
                    out.push(':');
                    v.write_compact(out);
                }
                out.push('}');
            }
        }
    }
}

/// Writes `s` as a JSON string the way Go's encoder does (HTML-safe escapes).
pub fn write_go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Re-indents a JSON text like Go's `json.Indent(dst, src, "", indent)`: the text's own
/// escapes and number spellings are kept, empty arrays and objects stay `[]` / `{}`.
pub fn indent(src: &[u8], indent: &str) -> String {
    let mut out = Vec::with_capacity(src.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut esc = false;
    let mut need_indent = false;
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        for _ in 0..depth {
            out.extend_from_slice(indent.as_bytes());
        }
    };
    for &c in src {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == b'\\' {
                esc = true;
            } else if c == b'"' {
                in_str = false;
            }
            continue;
        }
        if c.is_ascii_whitespace() {
            continue;
        }
        if need_indent && c != b']' && c != b'}' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            b'"' => {
                in_str = true;
                out.push(c);
            }
            b'{' | b'[' => {
                out.push(c);
                need_indent = true;
            }
            b',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            b'}' | b']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err(&self, what: &'static str) -> ParseError {
        ParseError {
            offset: self.i,
            what,
        }
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && self.b[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> bool {
        if self.b[self.i..].starts_with(lit) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<J, ParseError> {
        match self.b.get(self.i) {
            Some(b'{') => {
                self.i += 1;
                let mut pairs = Vec::new();
                self.ws();
                if self.eat(b"}") {
                    return Ok(J::Obj(pairs));
                }
                loop {
                    self.ws();
                    let k = self.string()?;
                    self.ws();
                    if !self.eat(b":") {
                        return Err(self.err("':'"));
                    }
                    self.ws();
                    let v = self.value()?;
                    pairs.push((k, v));
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"}") {
                        return Ok(J::Obj(pairs));
                    }
                    return Err(self.err("',' or '}'"));
                }
            }
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.eat(b"]") {
                    return Ok(J::Arr(items));
                }
                loop {
                    self.ws();
                    items.push(self.value()?);
                    self.ws();
                    if self.eat(b",") {
                        continue;
                    }
                    if self.eat(b"]") {
                        return Ok(J::Arr(items));
                    }
                    return Err(self.err("',' or ']'"));
                }
            }
            Some(b'"') => Ok(J::Str(self.string()?)),
            Some(b't') if self.eat(b"true") => Ok(J::Bool(true)),
            Some(b'f') if self.eat(b"false") => Ok(J::Bool(false)),
            Some(b'n') if self.eat(b"null") => Ok(J::Null),
            Some(c) if *c == b'-' || c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.b.len()
                    && matches!(
                        self.b[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                Ok(J::Num(
                    String::from_utf8_lossy(&self.b[start..self.i]).into_owned(),
                ))
            }
            _ => Err(self.err("a JSON value")),
        }
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let h = self
            .b
            .get(self.i..self.i + 4)
            .ok_or_else(|| self.err("4 hex digits"))?;
        let h = std::str::from_utf8(h).map_err(|_| self.err("4 hex digits"))?;
        let v = u32::from_str_radix(h, 16).map_err(|_| self.err("4 hex digits"))?;
        self.i += 4;
        Ok(v)
    }

    fn string(&mut self) -> Result<String, ParseError> {
        if !self.eat(b"\"") {
            return Err(self.err("a string"));
        }
        let mut out = Vec::new();
        loop {
            let c = *self
                .b
                .get(self.i)
                .ok_or_else(|| self.err("end of string"))?;
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = *self.b.get(self.i).ok_or_else(|| self.err("an escape"))?;
                    self.i += 1;
                    let ch = match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'/' => '/',
                        b'\\' => '\\',
                        b'"' => '"',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xd800..0xdc00).contains(&hi) && self.eat(b"\\u") {
                                let lo = self.hex4()?;
                                0x10000 + ((hi - 0xd800) << 10) + (lo.wrapping_sub(0xdc00) & 0x3ff)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{fffd}')
                        }
                        _ => return Err(self.err("a valid escape")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c => out.push(c),
            }
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_order_and_go_escapes() {
        let v = J::parse(br#"{"b":1,"a":[true,null,"x<y"],"c":{}}"#).expect("parse");
        assert_eq!(
            v.to_compact(),
            r#"{"b":1,"a":[true,null,"x\u003cy"],"c":{}}"#
        );
        assert_eq!(v.get("b").and_then(J::as_i64), Some(1));
    }

    #[test]
    fn indent_like_go() {
        let s = indent(br#"[{"A":[],"B":{"C":"x,y"},"D":[1,2]}]"#, "    ");
        assert_eq!(
            s,
            "[\n    {\n        \"A\": [],\n        \"B\": {\n            \"C\": \"x,y\"\n        },\n        \"D\": [\n            1,\n            2\n        ]\n    }\n]"
        );
    }

    #[test]
    fn bad_json_says_where() {
        let e = J::parse(b"{\"a\" 1}").expect_err("must fail");
        assert_eq!(e.offset, 5);
    }
}
