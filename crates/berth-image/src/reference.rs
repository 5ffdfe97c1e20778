//! Docker image references: parsing, normalization, familiar form.
//!
//! `busybox` is `docker.io/library/busybox:latest` and shown as `busybox:latest`;
//! `host:5000/a/b:tag` keeps its registry; `name@sha256:<hex>` pins content. The grammar is
//! distribution's (`github.com/distribution/reference`): lowercase path components
//! separated by `.`, `_`, `__` or dashes; tags of at most 128 word characters, dots and
//! dashes; the first component is a registry when it contains `.` or `:`, is `localhost`,
//! or has uppercase letters.

use std::fmt;

use crate::digest::{is_hex64, Digest};
use crate::error::{Error, Result};

/// The default registry.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag added when none is given.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME: usize = 255;

/// A normalized reference: registry domain, repository path, optional tag and digest.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

fn bad(s: &str, why: impl fmt::Display) -> Error {
    Error::invalid(format!("invalid reference format: {why} ({s:?})"))
}

impl Reference {
    /// Parses and normalizes a user-typed reference; no default tag is added
    /// (see [`Reference::with_default_tag`]).
    pub fn parse(s: &str) -> Result<Reference> {
        if s.is_empty() {
            return Err(bad(s, "empty reference"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d).map_err(|e| bad(s, e.message))?)),
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(bad(s, format!("invalid tag {t:?}")));
            }
        }
        if name.len() > MAX_NAME {
            return Err(bad(
                s,
                "repository name must not be more than 255 characters",
            ));
        }
        let (domain, path) = split_domain(name);
        if domain != DEFAULT_DOMAIN && !valid_domain(&domain) {
            return Err(bad(s, format!("invalid registry {domain:?}")));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(bad(
                s,
                format!("repository name ({path}) must be lowercase"),
            ));
        }
        if !path.split('/').all(valid_component) {
            return Err(bad(s, format!("invalid repository name {path:?}")));
        }
        if domain == DEFAULT_DOMAIN && is_hex64(path.trim_start_matches("library/")) {
            return Err(bad(
                s,
                "cannot specify 64-byte hexadecimal strings as a repository name",
            ));
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// `self` with tag `latest` when it has neither tag nor digest.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_string());
        }
        self
    }

    /// This repository with `tag` (and no digest).
    pub fn with_tag(&self, tag: &str) -> Result<Reference> {
        if !valid_tag(tag) {
            return Err(Error::invalid(format!("invalid tag format {tag:?}")));
        }
        Ok(Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        })
    }

    /// This repository with `digest` (and no tag).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: Some(digest),
        }
    }

    /// Registry domain (`docker.io`).
    pub fn domain(&self) -> &str {
        &self.domain
    }
    /// Repository path in the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }
    /// Tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    /// Digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
    /// Full repository name (`docker.io/library/busybox`).
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }
    /// Repository name as Docker shows it (`busybox`, `me/app`, `host:5000/a`).
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix("library/")
                .filter(|p| !p.contains('/'))
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.name()
        }
    }
    /// The whole reference as Docker shows it (`busybox:latest`, `a/b@sha256:…`).
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }
}

/// Fully qualified: `docker.io/library/busybox:latest`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (mut domain, mut path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.bytes().any(|b| b.is_ascii_uppercase()) =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == "index.docker.io" {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !path.contains('/') {
        path = format!("library/{path}");
    }
    (domain, path)
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip6, tail)) => {
                if !ip6
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                {
                    return false;
                }
                return tail.is_empty()
                    || tail
                        .strip_prefix(':')
                        .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
            }
            None => return false,
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_table() {
        let table = [
            ("busybox", "docker.io/library/busybox", "busybox"),
            ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
            ("library/busybox", "docker.io/library/busybox", "busybox"),
            ("docker.io/busybox:x", "docker.io/library/busybox:x", "busybox:x"),
            ("index.docker.io/me/app", "docker.io/me/app", "me/app"),
            ("me/app:v1", "docker.io/me/app:v1", "me/app:v1"),
            ("host:5000/a/b:tag", "host:5000/a/b:tag", "host:5000/a/b:tag"),
            ("localhost/x", "localhost/x", "localhost/x"),
            ("localhost:5000/x", "localhost:5000/x", "localhost:5000/x"),
            ("quay.io/a/b-c__d.e", "quay.io/a/b-c__d.e", "quay.io/a/b-c__d.e"),
            ("[::1]:5000/x:1", "[::1]:5000/x:1", "[::1]:5000/x:1"),
            (
                "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "docker.io/library/busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "busybox@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            ),
        ];
        for (input, full, familiar) in table {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
    }

    #[test]
    fn default_tag_is_latest() {
        let r = Reference::parse("busybox").map(Reference::with_default_tag);
        assert_eq!(
            r.map(|r| r.familiar()).ok().as_deref(),
            Some("busybox:latest")
        );
    }

    #[test]
    fn invalid_references_are_refused() {
        for s in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "a//b",
            "a/b/",
            "-a",
            "a@sha256:123",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "host:port/x",
            "a..b",
            "a:b:c",
        ] {
            let r = Reference::parse(s);
            assert!(r.is_err(), "{s:?} parsed as {r:?}");
        }
        let err = Reference::parse("Busybox")
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(err.contains("must be lowercase"), "{err}");
    }

    #[test]
    fn tags_are_validated() {
        let long = "a".repeat(129);
        assert!(Reference::parse(&format!("x:{long}")).is_err());
        assert!(Reference::parse(&format!("x:{}", &long[..128])).is_ok());
        assert!(Reference::parse("x:_under.score-dash").is_ok());
    }
}
