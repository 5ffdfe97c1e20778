//! Query string and body decoding with errors that name the parameter or field at fault.
//!
//! The query is kept as a list of pairs because Docker repeats keys (`changes`, `names`).
//! Booleans follow Go's `strconv.ParseBool` plus dockerd's lenient spellings (`yes`, `no`,
//! `none`); an empty value is the default, as dockerd treats `?all=` like no `all`.

use std::str::FromStr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_model::Filters;
use bytes::Bytes;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// The decoded query string of a request.
#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> ApiResult<Self> {
        Ok(Params::parse(parts.uri.query().unwrap_or("")))
    }
}

/// Decodes `%XX` escapes and `+` (a space in form encoding); a malformed escape is kept as is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Params {
    /// Parses `a=1&b=x%2Fy`.
    pub fn parse(query: &str) -> Self {
        let pairs = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (percent_decode(k), percent_decode(v)),
                None => (percent_decode(p), String::new()),
            })
            .collect();
        Params(pairs)
    }

    /// The last value of `name` (Go's `FormValue` takes the first; clients send one).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` when present and not empty.
    pub fn string(&self, name: &str) -> Option<String> {
        self.get(name).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    /// Every value of a repeated parameter, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean parameter; absent or empty is `default`.
    pub fn bool_or(&self, name: &str, default: bool) -> ApiResult<bool> {
        let Some(raw) = self.get(name) else {
            return Ok(default);
        };
        match raw.trim().to_ascii_lowercase().as_str() {
            "" => Ok(default),
            "1" | "t" | "true" | "yes" | "y" | "on" => Ok(true),
            "0" | "f" | "false" | "no" | "n" | "off" | "none" => Ok(false),
            _ => Err(ApiError::bad_request(format!(
                "invalid value for {name:?}: {raw:?} is not a boolean"
            ))),
        }
    }

    /// A boolean parameter defaulting to false.
    pub fn bool(&self, name: &str) -> ApiResult<bool> {
        self.bool_or(name, false)
    }

    /// A number parameter; absent or empty is None.
    pub fn number<T: FromStr>(&self, name: &str) -> ApiResult<Option<T>>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(raw) => raw.parse::<T>().map(Some).map_err(|e| {
                ApiError::bad_request(format!("invalid value for {name:?}: {raw:?}: {e}"))
            }),
        }
    }

    /// A Unix time in seconds with an optional fraction (`1700000000.123456789`), as the CLI
    /// sends `since`/`until` after converting durations and dates.
    pub fn timestamp(&self, name: &str) -> ApiResult<Option<f64>> {
        match self.get(name).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(raw) => match raw.parse::<f64>() {
                Ok(t) if t.is_finite() => Ok(Some(t)),
                _ => Err(ApiError::bad_request(format!(
                    "invalid value for {name:?}: {raw:?} is not a Unix timestamp"
                ))),
            },
        }
    }

    /// The `filters` parameter, decoded.
    pub fn filters(&self) -> ApiResult<Filters> {
        match self.get("filters") {
            None => Ok(Filters::new()),
            Some(raw) => decode_filters(raw),
        }
    }
}

/// Decodes Docker's `filters` JSON: `{"k":["v",...]}` or the older `{"k":{"v":true}}`
/// (values mapped to false are left out, as moby's `ExactMatch` ignores them).
pub fn decode_filters(raw: &str) -> ApiResult<Filters> {
    let mut out = Filters::new();
    if raw.trim().is_empty() {
        return Ok(out);
    }
    let bad = |why: String| ApiError::bad_request(format!("invalid filter: {why}"));
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| bad(format!("{raw:?} is not JSON: {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(bad(format!("{raw:?} is not a JSON object")));
    };
    for (key, v) in map {
        let values = match v {
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::String(s) => Ok(s),
                    other => Err(bad(format!("value {other} of {key:?} is not a string"))),
                })
                .collect::<ApiResult<Vec<_>>>()?,
            serde_json::Value::Object(set) => set
                .into_iter()
                .filter_map(|(name, on)| match on {
                    serde_json::Value::Bool(true) => Some(Ok(name)),
                    serde_json::Value::Bool(false) => None,
                    other => Some(Err(bad(format!(
                        "value {other} of {key:?}.{name:?} is not a boolean"
                    )))),
                })
                .collect::<ApiResult<Vec<_>>>()?,
            other => {
                return Err(bad(format!(
                    "{key:?} must map to a list or a set of strings, not {other}"
                )))
            }
        };
        out.entry(key).or_default().extend(values);
    }
    Ok(out)
}

/// Decodes a JSON request body, naming the field at fault on error. An empty body is
/// `T::default()` when `empty_ok`, else an error.
pub fn json_body<T: DeserializeOwned + Default>(body: &Bytes, empty_ok: bool) -> ApiResult<T> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if empty_ok {
            Ok(T::default())
        } else {
            Err(ApiError::bad_request(
                "invalid JSON: the request body is empty",
            ))
        };
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." || path.is_empty() {
            ApiError::bad_request(format!("invalid JSON: {}", e.inner()))
        } else {
            ApiError::bad_request(format!("invalid JSON at {path:?}: {}", e.inner()))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let p = Params::parse("path=%2Fetc%2Fpasswd&changes=ENV+A%3D1&changes=CMD%20x&all=1");
        assert_eq!(p.get("path"), Some("/etc/passwd"));
        assert_eq!(p.all("changes"), vec!["ENV A=1", "CMD x"]);
        assert!(p.bool("all").unwrap_or(false));
        let bad = Params::parse("all=maybe").bool("all");
        assert!(bad.is_err_and(|e| e.0.message.contains("\"all\"")));
        assert_eq!(Params::parse("x=%zz%4").get("x"), Some("%zz%4"));
    }

    #[test]
    fn filters_both_forms() {
        let a = decode_filters(r#"{"status":["running","exited"]}"#).unwrap_or_default();
        let b = decode_filters(r#"{"status":{"running":true,"exited":true,"x":false}}"#)
            .unwrap_or_default();
        assert_eq!(a["status"], vec!["running", "exited"]);
        let mut bs = b["status"].clone();
        bs.sort();
        assert_eq!(bs, vec!["exited", "running"]);
        assert!(decode_filters("[1]").is_err());
        assert!(decode_filters(r#"{"a":[1]}"#).is_err());
    }
}
