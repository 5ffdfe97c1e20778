//! `sha256:<hex>` digests, hashing readers/writers, chain IDs.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};

/// A content digest, always `sha256:` followed by 64 lowercase hex digits.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<64 hex>`.
    pub fn parse(s: &str) -> Result<Digest> {
        let hex = s.strip_prefix("sha256:").ok_or_else(|| {
            Error::invalid(format!("invalid digest {s:?}: only sha256 is supported"))
        })?;
        Digest::from_hex(hex).map_err(|_| Error::invalid(format!("invalid digest {s:?}")))
    }
    /// From the 64 hex digits alone.
    pub fn from_hex(hex: &str) -> Result<Digest> {
        if is_hex64(hex) {
            Ok(Digest {
                hex: hex.to_string(),
            })
        } else {
            Err(Error::invalid(format!("invalid sha256 hex {hex:?}")))
        }
    }
    /// The digest of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest::from_hasher(Sha256::new_with_prefix(data))
    }
    fn from_hasher(h: Sha256) -> Digest {
        let out = h.finalize();
        let mut hex = String::with_capacity(64);
        for b in out {
            hex.push_str(&format!("{b:02x}"));
        }
        Digest { hex }
    }
    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.hex
    }
    /// The first 12 hex digits (Docker's short ID).
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
    /// The chain ID of `diff_ids` (OCI image spec: `ChainID(L0|…|Ln) = sha256(ChainID(L0|…|Ln-1) + " " + DiffID(Ln))`).
    pub fn chain(diff_ids: &[Digest]) -> Option<Digest> {
        let mut it = diff_ids.iter();
        let mut chain = it.next()?.clone();
        for d in it {
            chain = Digest::of(format!("{chain} {d}").as_bytes());
        }
        Some(chain)
    }
    /// All chain IDs of a layer stack, bottom first.
    pub fn chains(diff_ids: &[Digest]) -> Vec<Digest> {
        (1..=diff_ids.len())
            .filter_map(|n| Digest::chain(&diff_ids[..n]))
            .collect()
    }
}

/// True for exactly 64 lowercase hex digits.
pub fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Digest> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A writer that hashes and counts what goes through it.
pub struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> HashWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }
    /// The digest and length of everything written, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (Digest::from_hasher(self.hasher), self.len, self.inner)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes and counts what is read through it.
pub struct HashReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> HashReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        HashReader {
            inner,
            hasher: Sha256::new(),
            len: 0,
        }
    }
    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// True when nothing was read yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The digest and length of everything read.
    pub fn finish(self) -> (Digest, u64) {
        (Digest::from_hasher(self.hasher), self.len)
    }
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_is_known() {
        assert_eq!(
            Digest::of(b"").to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn parse_rejects_bad_digests() {
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(
            "md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        .is_err());
        assert!(Digest::parse(
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        )
        .is_err());
    }

    #[test]
    fn chain_ids_follow_the_oci_formula() {
        let a = Digest::of(b"a");
        let b = Digest::of(b"b");
        let chains = Digest::chains(&[a.clone(), b.clone()]);
        assert_eq!(chains[0], a);
        assert_eq!(chains[1], Digest::of(format!("{a} {b}").as_bytes()));
    }
}
