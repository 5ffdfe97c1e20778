//! The part of Go's `text/template` that `docker --format` users write.
//!
//! Supported: fields and chains (`.State.Status`, `$.ID`, `$v.Name`), variables
//! (`{{range $k, $v := .Labels}}`, `{{$x := .ID}}`), pipelines (`{{.Names | upper}}`),
//! parenthesised sub-pipelines, `range`/`if`/`with` with `else`, trim markers `{{-`/`-}}`,
//! comments, and the functions docker registers plus Go's built-ins people use: `json`,
//! `index`, `join`, `split`, `lower`, `upper`, `title`, `truncate`, `pad`, `len`, `printf`,
//! `print`, `println`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `not`, `and`, `or`.
//!
//! Values are [`J`] (the daemon's JSON, or a context object the command built); printing
//! follows Go's `%v`: maps as `map[k:v]` with sorted keys, lists as `[a b]`, a missing key
//! as `<no value>`, `null` as `<nil>`. A field call with arguments (`{{.Label "k"}}`) looks
//! the key up in the hidden [`LABELS_KEY`] object of the context, as docker's
//! `Label` method does.

mod funcs;

use funcs::call;
pub use funcs::quote;

use crate::json::J;

/// Key of the hidden object holding the raw labels behind `{{.Label "key"}}`; objects'
/// keys that start with NUL are never printed by `json`.
pub const LABELS_KEY: &str = "\0labels";

/// A template that cannot be parsed or executed.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError(pub String);

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template: {}", self.0)
    }
}

impl std::error::Error for TemplateError {}

fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

#[derive(Debug, Clone)]
enum Arg {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Lit(J),
    Ident(String),
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    cmds: Vec<Vec<Arg>>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    Range(Pipe, Vec<Node>, Vec<Node>),
    If(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Str(String),
    Num(String),
    Ident(String),
    Pipe,
    LParen,
    RParen(Vec<String>),
    Assign,
    Comma,
}

fn field_chain(s: &str, mut i: usize) -> (Vec<String>, usize) {
    let b = s.as_bytes();
    let mut fields = Vec::new();
    while i < b.len() && b[i] == b'.' {
        let start = i + 1;
        let mut j = start;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        if j == start {
            // A lone "." is the dot itself.
            i = j;
            break;
        }
        fields.push(s[start..j].to_string());
        i = j;
    }
    (fields, i)
}

fn lex(s: &str) -> Result<Vec<Tok>, TemplateError> {
    let b = s.as_bytes();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'|' => {
                toks.push(Tok::Pipe);
                i += 1;
            }
            b'(' => {
                toks.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                let (f, j) = field_chain(s, i + 1);
                toks.push(Tok::RParen(f));
                i = j;
            }
            b',' => {
                toks.push(Tok::Comma);
                i += 1;
            }
            b':' if b.get(i + 1) == Some(&b'=') => {
                toks.push(Tok::Assign);
                i += 2;
            }
            b'=' => {
                toks.push(Tok::Assign);
                i += 1;
            }
            b'.' => {
                let (f, j) = field_chain(s, i);
                toks.push(Tok::Field(f));
                i = j;
            }
            b'$' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                let name = s[start..i].to_string();
                let (f, j) = field_chain(s, i);
                toks.push(Tok::Var(name, f));
                i = j;
            }
            b'"' => {
                let mut out = String::new();
                i += 1;
                loop {
                    let Some(ch) = s[i..].chars().next() else {
                        return err("unterminated quoted string");
                    };
                    i += ch.len_utf8();
                    match ch {
                        '"' => break,
                        '\\' => {
                            let Some(e) = s[i..].chars().next() else {
                                return err("unterminated quoted string");
                            };
                            i += e.len_utf8();
                            out.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        ch => out.push(ch),
                    }
                }
                toks.push(Tok::Str(out));
            }
            b'`' => {
                let end = s[i + 1..]
                    .find('`')
                    .ok_or_else(|| TemplateError("unterminated raw quoted string".into()))?;
                toks.push(Tok::Str(s[i + 1..i + 1 + end].to_string()));
                i += end + 2;
            }
            c if c.is_ascii_digit() || c == b'-' => {
                let start = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                    i += 1;
                }
                toks.push(Tok::Num(s[start..i].to_string()));
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                toks.push(Tok::Ident(s[start..i].to_string()));
            }
            _ => return err(format!("unexpected {:?} in command", c as char)),
        }
    }
    Ok(toks)
}

fn parse_pipe(toks: &[Tok], pos: &mut usize) -> Result<Pipe, TemplateError> {
    let mut decl = Vec::new();
    // `$a, $b :=` / `$a :=` declarations.
    let mut look = *pos;
    let mut names = Vec::new();
    while let Some(Tok::Var(n, f)) = toks.get(look) {
        if !f.is_empty() {
            break;
        }
        names.push(n.clone());
        look += 1;
        match toks.get(look) {
            Some(Tok::Comma) => look += 1,
            Some(Tok::Assign) => {
                decl = std::mem::take(&mut names);
                *pos = look + 1;
                break;
            }
            _ => break,
        }
    }
    let mut cmds = Vec::new();
    let mut cmd = Vec::new();
    while let Some(t) = toks.get(*pos) {
        *pos += 1;
        match t {
            Tok::Pipe => {
                if cmd.is_empty() {
                    return err("missing command before '|'");
                }
                cmds.push(std::mem::take(&mut cmd));
            }
            Tok::RParen(_) => {
                *pos -= 1;
                break;
            }
            Tok::LParen => {
                let inner = parse_pipe(toks, pos)?;
                match toks.get(*pos) {
                    Some(Tok::RParen(f)) => {
                        cmd.push(Arg::Sub(Box::new(inner), f.clone()));
                        *pos += 1;
                    }
                    _ => return err("unclosed left paren"),
                }
            }
            Tok::Field(f) => cmd.push(Arg::Field(f.clone())),
            Tok::Var(n, f) => cmd.push(Arg::Var(n.clone(), f.clone())),
            Tok::Str(s) => cmd.push(Arg::Lit(J::Str(s.clone()))),
            Tok::Num(n) => cmd.push(Arg::Lit(J::Num(n.clone()))),
            Tok::Ident(id) if id == "true" || id == "false" => {
                cmd.push(Arg::Lit(J::Bool(id == "true")))
            }
            Tok::Ident(id) if id == "nil" => cmd.push(Arg::Lit(J::Null)),
            Tok::Ident(id) => cmd.push(Arg::Ident(id.clone())),
            Tok::Comma | Tok::Assign => return err("unexpected token in command"),
        }
    }
    if !cmd.is_empty() {
        cmds.push(cmd);
    }
    if cmds.is_empty() {
        return err("missing value for command");
    }
    Ok(Pipe { decl, cmds })
}

fn pipe_of(src: &str) -> Result<Pipe, TemplateError> {
    let toks = lex(src)?;
    let mut pos = 0;
    let p = parse_pipe(&toks, &mut pos)?;
    if pos != toks.len() {
        return err(format!("unexpected \")\" in {src:?}"));
    }
    Ok(p)
}

enum Item {
    Text(String),
    Action(String),
}

fn split_items(src: &str) -> Result<Vec<Item>, TemplateError> {
    let mut items = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(open) = rest.find("{{") {
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[open + 2..];
        let (trim_before, after) = match after.strip_prefix("- ") {
            Some(a) => (true, a),
            None => (false, after),
        };
        if trim_before {
            text = text.trim_end();
        }
        let close = after
            .find("}}")
            .ok_or_else(|| TemplateError("unclosed action".into()))?;
        let mut inner = &after[..close];
        trim_next = false;
        if let Some(i) = inner.strip_suffix(" -") {
            inner = i;
            trim_next = true;
        }
        if !text.is_empty() {
            items.push(Item::Text(text.to_string()));
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            items.push(Item::Action(inner.to_string()));
        }
        rest = &after[close + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        items.push(Item::Text(text.to_string()));
    }
    Ok(items)
}

enum Stop {
    End,
    Else,
    Eof,
}

fn parse_nodes(items: &[Item], pos: &mut usize) -> Result<(Vec<Node>, Stop), TemplateError> {
    let mut nodes = Vec::new();
    while let Some(item) = items.get(*pos) {
        *pos += 1;
        match item {
            Item::Text(t) => nodes.push(Node::Text(t.clone())),
            Item::Action(a) => {
                let (word, rest) = a
                    .split_once(char::is_whitespace)
                    .unwrap_or((a.as_str(), ""));
                match word {
                    "end" => return Ok((nodes, Stop::End)),
                    "else" => return Ok((nodes, Stop::Else)),
                    "range" | "if" | "with" => {
                        let pipe = pipe_of(rest)?;
                        let (body, stop) = parse_nodes(items, pos)?;
                        let else_ = match stop {
                            Stop::End => Vec::new(),
                            Stop::Else => match parse_nodes(items, pos)? {
                                (e, Stop::End) => e,
                                _ => {
                                    return err(format!(
                                        "missing {{{{end}}}} after {{{{else}}}} of {word}"
                                    ))
                                }
                            },
                            Stop::Eof => {
                                return err(format!(
                                    "unexpected EOF: missing {{{{end}}}} for {word}"
                                ))
                            }
                        };
                        nodes.push(match word {
                            "range" => Node::Range(pipe, body, else_),
                            "if" => Node::If(pipe, body, else_),
                            _ => Node::With(pipe, body, else_),
                        });
                    }
                    _ => nodes.push(Node::Action(pipe_of(a)?)),
                }
            }
        }
    }
    Ok((nodes, Stop::Eof))
}

impl Template {
    /// Parses a template.
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let items = split_items(src)?;
        let mut pos = 0;
        match parse_nodes(&items, &mut pos)? {
            (nodes, Stop::Eof) => Ok(Template { nodes }),
            (_, Stop::End) => err("unexpected {{end}}"),
            (_, Stop::Else) => err("unexpected {{else}}"),
        }
    }

    /// Executes the template with `dot` as `.` and `$`.
    pub fn render(&self, dot: &J) -> Result<String, TemplateError> {
        let mut out = String::new();
        let mut vars = vec![("$".to_string(), dot.clone())];
        exec(&self.nodes, dot, &mut vars, &mut out)?;
        Ok(out)
    }
}

fn truthy(v: &J) -> bool {
    match v {
        J::Null => false,
        J::Bool(b) => *b,
        J::Num(n) => n.parse::<f64>().map(|f| f != 0.0).unwrap_or(true),
        J::Str(s) => !s.is_empty(),
        J::Arr(a) => !a.is_empty(),
        J::Obj(o) => !o.is_empty(),
    }
}

/// Go's `%v` of a value.
pub fn print_value(v: &J) -> String {
    match v {
        J::Null => "<nil>".into(),
        J::Bool(b) => b.to_string(),
        J::Num(n) => n.clone(),
        J::Str(s) => s.clone(),
        J::Arr(a) => format!(
            "[{}]",
            a.iter().map(print_value).collect::<Vec<_>>().join(" ")
        ),
        J::Obj(o) => {
            let mut pairs: Vec<_> = o.iter().filter(|(k, _)| !k.starts_with('\0')).collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            let inner: Vec<String> = pairs
                .iter()
                .map(|(k, v)| format!("{k}:{}", print_value(v)))
                .collect();
            format!("map[{}]", inner.join(" "))
        }
    }
}

fn without_hidden(v: &J) -> J {
    match v {
        J::Obj(o) => J::Obj(
            o.iter()
                .filter(|(k, _)| !k.starts_with('\0'))
                .map(|(k, v)| (k.clone(), without_hidden(v)))
                .collect(),
        ),
        J::Arr(a) => J::Arr(a.iter().map(without_hidden).collect()),
        other => other.clone(),
    }
}

/// A missing map key: Go prints `<no value>` for it.
const NO_VALUE: &str = "\0<no value>";

fn walk(mut v: J, fields: &[String]) -> Result<J, TemplateError> {
    for f in fields {
        v = match &v {
            J::Obj(pairs) => v
                .get(f)
                .or_else(|| {
                    pairs
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(f))
                        .map(|(_, x)| x)
                })
                .cloned()
                .unwrap_or_else(|| J::s(NO_VALUE)),
            J::Null => return err(format!("nil pointer evaluating .{f}")),
            J::Str(s) if s == NO_VALUE => {
                return err(format!("nil pointer evaluating interface {{}}.{f}"))
            }
            other => {
                return err(format!(
                    "can't evaluate field {f} in type {}",
                    type_name(other)
                ))
            }
        };
    }
    Ok(v)
}

fn type_name(v: &J) -> &'static str {
    match v {
        J::Null => "<nil>",
        J::Bool(_) => "bool",
        J::Num(_) => "float64",
        J::Str(_) => "string",
        J::Arr(_) => "[]interface {}",
        J::Obj(_) => "map[string]interface {}",
    }
}

fn lookup_var(vars: &[(String, J)], name: &str) -> Result<J, TemplateError> {
    vars.iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| TemplateError(format!("undefined variable: {name}")))
}

fn eval_arg(a: &Arg, dot: &J, vars: &mut Vec<(String, J)>) -> Result<J, TemplateError> {
    match a {
        Arg::Field(f) => walk(dot.clone(), f),
        Arg::Var(n, f) => walk(lookup_var(vars, n)?, f),
        Arg::Lit(v) => Ok(v.clone()),
        Arg::Sub(p, f) => walk(eval_pipe(p, dot, vars)?, f),
        Arg::Ident(id) => call(id, Vec::new()),
    }
}

fn eval_cmd(
    cmd: &[Arg],
    dot: &J,
    vars: &mut Vec<(String, J)>,
    piped: Option<J>,
) -> Result<J, TemplateError> {
    let Some(first) = cmd.first() else {
        return err("empty command");
    };
    match first {
        Arg::Ident(name) => {
            let mut args = Vec::new();
            for a in &cmd[1..] {
                args.push(eval_arg(a, dot, vars)?);
            }
            args.extend(piped);
            call(name, args)
        }
        Arg::Field(f)
            if cmd.len() > 1 || (piped.is_some() && f.last().is_some_and(|l| l == "Label")) =>
        {
            // A method call; docker's contexts have `Label "key"`.
            if f.last().map(String::as_str) != Some("Label") {
                return err(format!(
                    "can't give argument to non-function .{}",
                    f.join(".")
                ));
            }
            let base = walk(dot.clone(), &f[..f.len() - 1])?;
            let key = match cmd.get(1) {
                Some(a) => eval_arg(a, dot, vars)?,
                None => piped.unwrap_or(J::Null),
            };
            let key = print_value(&key);
            Ok(base
                .get(LABELS_KEY)
                .and_then(|l| l.get(&key))
                .cloned()
                .unwrap_or_else(|| J::s("")))
        }
        _ => {
            if cmd.len() > 1 || piped.is_some() {
                return err("can't give argument to non-function");
            }
            eval_arg(first, dot, vars)
        }
    }
}

fn eval_pipe(p: &Pipe, dot: &J, vars: &mut Vec<(String, J)>) -> Result<J, TemplateError> {
    let mut val = None;
    for cmd in &p.cmds {
        val = Some(eval_cmd(cmd, dot, vars, val)?);
    }
    let v = val.unwrap_or(J::Null);
    if let Some(name) = p.decl.first() {
        vars.push((name.clone(), v.clone()));
    }
    Ok(v)
}

fn render_value(v: &J) -> String {
    match v {
        J::Str(s) if s == NO_VALUE => "<no value>".into(),
        other => print_value(other),
    }
}

fn exec(
    nodes: &[Node],
    dot: &J,
    vars: &mut Vec<(String, J)>,
    out: &mut String,
) -> Result<(), TemplateError> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let v = eval_pipe(p, dot, vars)?;
                if p.decl.is_empty() {
                    out.push_str(&render_value(&v));
                }
            }
            Node::If(p, body, else_) => {
                let mark = vars.len();
                let v = eval_pipe(p, dot, vars)?;
                let branch = if truthy(&v) { body } else { else_ };
                exec(branch, dot, vars, out)?;
                vars.truncate(mark);
            }
            Node::With(p, body, else_) => {
                let mark = vars.len();
                let v = eval_pipe(p, dot, vars)?;
                if truthy(&v) {
                    exec(body, &v, vars, out)?;
                } else {
                    exec(else_, dot, vars, out)?;
                }
                vars.truncate(mark);
            }
            Node::Range(p, body, else_) => {
                let mark = vars.len();
                let plain = Pipe {
                    decl: Vec::new(),
                    cmds: p.cmds.clone(),
                };
                let v = eval_pipe(&plain, dot, vars)?;
                let entries: Vec<(J, J)> = match &v {
                    J::Arr(a) => a
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (J::int(i as i64), x.clone()))
                        .collect(),
                    J::Obj(o) => {
                        let mut e: Vec<_> = o
                            .iter()
                            .filter(|(k, _)| !k.starts_with('\0'))
                            .map(|(k, x)| (J::s(k.as_str()), x.clone()))
                            .collect();
                        e.sort_by_key(|a| print_value(&a.0));
                        e
                    }
                    J::Null => Vec::new(),
                    J::Str(s) if s == NO_VALUE => Vec::new(),
                    J::Num(n) => (0..n.parse::<i64>().unwrap_or(0))
                        .map(|i| (J::int(i), J::int(i)))
                        .collect(),
                    other => {
                        return err(format!("range can't iterate over {}", print_value(other)))
                    }
                };
                if entries.is_empty() {
                    exec(else_, dot, vars, out)?;
                }
                for (k, x) in entries {
                    let inner = vars.len();
                    match p.decl.as_slice() {
                        [v] => vars.push((v.clone(), x.clone())),
                        [kn, vn, ..] => {
                            vars.push((kn.clone(), k));
                            vars.push((vn.clone(), x.clone()));
                        }
                        [] => {}
                    }
                    exec(body, &x, vars, out)?;
                    vars.truncate(inner);
                }
                vars.truncate(mark);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &str, v: &J) -> String {
        Template::parse(t)
            .and_then(|t| t.render(v))
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    fn sample() -> J {
        J::parse(br#"{"Id":"abc","State":{"Status":"running","Pid":42},"Config":{"Labels":{"k":"v","a":"b"},"Env":["A=1","B=2"]},"Empty":null}"#).expect("json")
    }

    #[test]
    fn fields_index_json() {
        let v = sample();
        assert_eq!(render("{{.State.Status}} {{.State.Pid}}", &v), "running 42");
        assert_eq!(render(r#"{{index .Config.Labels "k"}}"#, &v), "v");
        assert_eq!(
            render("{{json .State}}", &v),
            r#"{"Status":"running","Pid":42}"#
        );
        assert_eq!(render("{{.Config.Labels}}", &v), "map[a:b k:v]");
        assert_eq!(render("{{.Config.Env}}", &v), "[A=1 B=2]");
        assert_eq!(render("{{.Nope}}", &v), "<no value>");
        assert_eq!(render("{{.Empty}}", &v), "<nil>");
    }

    #[test]
    fn range_if_vars_pipes() {
        let v = sample();
        assert_eq!(
            render("{{range .Config.Env}}[{{.}}]{{end}}", &v),
            "[A=1][B=2]"
        );
        assert_eq!(
            render(
                "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
                &v
            ),
            "a=b;k=v;"
        );
        assert_eq!(
            render(
                "{{if eq .State.Status \"running\"}}up{{else}}down{{end}}",
                &v
            ),
            "up"
        );
        assert_eq!(render("{{.Id | upper}}", &v), "ABC");
        assert_eq!(render("{{join .Config.Env \",\"}}", &v), "A=1,B=2");
        assert_eq!(
            render("{{range .Config.Env -}} {{.}} {{- end}}", &v),
            "A=1B=2"
        );
        assert_eq!(render("{{with .State}}{{.Pid}}{{end}}", &v), "42");
        assert_eq!(render("{{printf \"%-5s|\" .Id}}", &v), "abc  |");
        assert_eq!(
            render("{{$.Id}}{{range .Config.Env}}{{$.Id}}{{end}}", &v),
            "abcabcabc"
        );
        assert_eq!(render("{{len .Config.Env}}", &v), "2");
    }

    #[test]
    fn label_method() {
        let v = J::Obj(vec![
            (LABELS_KEY.into(), J::obj([("com.x", J::s("1"))])),
            ("ID".into(), J::s("i")),
        ]);
        assert_eq!(render(r#"{{.Label "com.x"}}"#, &v), "1");
        assert_eq!(render("{{json .}}", &v), r#"{"ID":"i"}"#);
    }

    #[test]
    fn errors_are_reported() {
        assert!(Template::parse("{{range .X}}").is_err());
        assert!(Template::parse("{{.X").is_err());
        assert!(Template::parse("{{nosuch .X}}")
            .expect("parses")
            .render(&sample())
            .is_err());
        assert!(Template::parse("{{.Id.Foo}}")
            .expect("parses")
            .render(&sample())
            .is_err());
    }
}
