//! Content digests (`algorithm:encoded`), as defined by the OCI image spec
//! (<https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests>).
//!
//! Strata registers `sha256` (the default everywhere) and `sha512`. Parsing follows
//! go-digest's rules and error texts exactly, because registries and scripts compare them:
//! a malformed string is `invalid checksum digest format`, a well-formed digest of a
//! registered algorithm with the wrong number of hex characters is
//! `invalid checksum digest length`, and a well-formed digest of any other algorithm is
//! `unsupported digest algorithm`.

use std::fmt;
use std::io::{self, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

/// A digest algorithm Strata can compute and verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    /// The name used in the digest string (`sha256`).
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Number of hex characters in the encoded part.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// Look up a registered algorithm by name.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// A streaming hasher for this algorithm.
    pub fn digester(self) -> Digester {
        Digester::new(self)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a digest string was refused. The messages are go-digest's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    #[error("invalid checksum digest format")]
    InvalidFormat,
    #[error("invalid checksum digest length")]
    InvalidLength,
    #[error("unsupported digest algorithm")]
    Unsupported,
}

/// A validated content digest, e.g. `sha256:e3b0…`.
///
/// The string form is kept as parsed (it is already canonical: lowercase hex is enforced),
/// so `Display` and serde round-trip exactly.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    /// The full `algorithm:hex` string.
    repr: String,
}

impl Digest {
    /// Parse and validate a digest string.
    pub fn parse(s: &str) -> Result<Digest, DigestError> {
        // Mirrors go-digest's Validate: for a registered algorithm the length is checked
        // before the characters; for others the whole string must be well formed.
        let (alg, enc) = s.split_once(':').ok_or(DigestError::InvalidFormat)?;
        if alg.is_empty() || enc.is_empty() {
            return Err(DigestError::InvalidFormat);
        }
        let Some(algorithm) = Algorithm::from_name(alg) else {
            if valid_algorithm_component(alg) && valid_encoded(enc) {
                return Err(DigestError::Unsupported);
            }
            return Err(DigestError::InvalidFormat);
        };
        if enc.len() != algorithm.hex_len() {
            return Err(DigestError::InvalidLength);
        }
        if !enc
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::InvalidFormat);
        }
        Ok(Digest {
            algorithm,
            repr: s.to_string(),
        })
    }

    /// Build a digest from an algorithm and raw hash bytes.
    pub fn from_bytes(algorithm: Algorithm, hash: &[u8]) -> Digest {
        Digest {
            algorithm,
            repr: format!("{}:{}", algorithm.as_str(), hex::encode(hash)),
        }
    }

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Digest {
        Digest::from_bytes(Algorithm::Sha256, &Sha256::digest(data))
    }

    /// Digest of `data` with the given algorithm.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut d = Digester::new(algorithm);
        d.update(data);
        d.finish()
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex-encoded hash (after the colon).
    pub fn hex(&self) -> &str {
        &self.repr[self.algorithm.as_str().len() + 1..]
    }

    /// The full `algorithm:hex` string.
    pub fn as_str(&self) -> &str {
        &self.repr
    }

    /// Docker's short image ID: the first 12 hex characters.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }

    /// Whether `data` hashes to this digest.
    pub fn verify(&self, data: &[u8]) -> bool {
        Digest::of(self.algorithm, data) == *self
    }
}

fn valid_algorithm_component(alg: &str) -> bool {
    // go-digest: [a-z0-9]+(?:[.+_-][a-z0-9]+)*
    if alg.is_empty() {
        return false;
    }
    let mut prev_sep = true;
    for b in alg.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => prev_sep = false,
            b'.' | b'+' | b'_' | b'-' => {
                if prev_sep {
                    return false;
                }
                prev_sep = true;
            }
            _ => return false,
        }
    }
    !prev_sep
}

fn valid_encoded(enc: &str) -> bool {
    enc.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'=' || b == b'_' || b == b'-')
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.repr)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.repr)
    }
}

impl FromStr for Digest {
    type Err = DigestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.repr)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Digest::parse(&s).map_err(|e| serde::de::Error::custom(format!("{e}: {s:?}")))
    }
}

/// A streaming hasher that yields a [`Digest`]. Also an `io::Write` sink, so it can sit
/// in a tee while bytes are copied elsewhere.
#[derive(Clone)]
pub enum Digester {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Digester {
    pub fn new(algorithm: Algorithm) -> Digester {
        match algorithm {
            Algorithm::Sha256 => Digester::Sha256(Sha256::new()),
            Algorithm::Sha512 => Digester::Sha512(Sha512::new()),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self {
            Digester::Sha256(h) => h.update(data),
            Digester::Sha512(h) => h.update(data),
        }
    }

    pub fn finish(self) -> Digest {
        match self {
            Digester::Sha256(h) => Digest::from_bytes(Algorithm::Sha256, &h.finalize()),
            Digester::Sha512(h) => Digest::from_bytes(Algorithm::Sha512, &h.finalize()),
        }
    }
}

impl Write for Digester {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sha256_of_empty() {
        assert_eq!(Digest::sha256(b"").as_str(), EMPTY);
        assert!(Digest::parse(EMPTY).unwrap().verify(b""));
        assert_eq!(Digest::parse(EMPTY).unwrap().short(), "e3b0c44298fc");
    }

    #[test]
    fn parse_errors_match_go_digest() {
        assert_eq!(Digest::parse("sha256"), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse("sha256:"), Err(DigestError::InvalidFormat));
        assert_eq!(Digest::parse("sha256:abc"), Err(DigestError::InvalidLength));
        assert_eq!(
            Digest::parse(&format!("md5:{}", "a".repeat(32))),
            Err(DigestError::Unsupported)
        );
        assert_eq!(
            Digest::parse(&format!("sha256:{}", "A".repeat(64))),
            Err(DigestError::InvalidFormat)
        );
        assert!(Digest::parse(&format!("sha512:{}", "a".repeat(128))).is_ok());
    }

    #[test]
    fn streaming_matches_one_shot() {
        let mut d = Algorithm::Sha512.digester();
        d.write_all(b"hello ").unwrap();
        d.write_all(b"world").unwrap();
        assert_eq!(d.finish(), Digest::of(Algorithm::Sha512, b"hello world"));
    }
}
