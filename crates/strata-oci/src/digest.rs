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

/// A [`Digester`] that hashes on a thread of its own once the data passes [`PIPE_AFTER`]:
/// [`PipedDigester::update`] copies the bytes into a batch and hands full batches over,
/// so the caller goes on producing (reading files, writing the blob) while what came
/// before is hashed. Writing a large layer or blob is otherwise bound by one thread doing
/// both; small blobs never start the thread.
pub struct PipedDigester {
    /// Hashing here, until the data is large enough for the thread.
    inline: Option<Digester>,
    seen: u64,
    batch: Vec<u8>,
    pipe: Option<Pipe>,
}

struct Pipe {
    tx: std::sync::mpsc::SyncSender<PipeMsg>,
    /// Batches hashed and handed back, to be filled again.
    recycled: std::sync::mpsc::Receiver<Vec<u8>>,
    handle: std::thread::JoinHandle<()>,
}

enum PipeMsg {
    Data(Vec<u8>),
    Digest(std::sync::mpsc::Sender<Digest>),
}

/// Data hashed inline before a [`PipedDigester`] starts its thread.
pub const PIPE_AFTER: u64 = 1 << 20;
const PIPE_BATCH: usize = 1 << 20;

impl PipedDigester {
    pub fn new(algorithm: Algorithm) -> PipedDigester {
        PipedDigester {
            inline: Some(Digester::new(algorithm)),
            seen: 0,
            batch: Vec::new(),
            pipe: None,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.seen += data.len() as u64;
        if let Some(d) = &mut self.inline {
            d.update(data);
            if self.seen >= PIPE_AFTER {
                self.start();
            }
            return;
        }
        let mut rest = data;
        while !rest.is_empty() {
            if self.batch.capacity() == 0 {
                self.batch = self
                    .pipe
                    .as_ref()
                    .and_then(|p| p.recycled.try_recv().ok())
                    .unwrap_or_else(|| Vec::with_capacity(PIPE_BATCH));
            }
            let n = (PIPE_BATCH - self.batch.len()).min(rest.len());
            self.batch.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.batch.len() == PIPE_BATCH {
                self.send_batch();
            }
        }
    }

    /// Move the hashing to a thread; stay inline if none can be started.
    fn start(&mut self) {
        let (tx, rx) = std::sync::mpsc::sync_channel::<PipeMsg>(4);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let Some(mut d) = self.inline.clone() else {
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("digest".into())
            .spawn(move || {
                for msg in rx {
                    match msg {
                        PipeMsg::Data(mut v) => {
                            d.update(&v);
                            v.clear();
                            let _ = back_tx.send(v);
                        }
                        PipeMsg::Digest(reply) => {
                            let _ = reply.send(d.clone().finish());
                        }
                    }
                }
            });
        if let Ok(handle) = spawned {
            self.inline = None;
            self.pipe = Some(Pipe {
                tx,
                recycled: back_rx,
                handle,
            });
        }
    }

    fn send_batch(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        if batch.is_empty() {
            return;
        }
        if let Some(p) = &self.pipe {
            // The thread ends only when this sender is dropped.
            let _ = p.tx.send(PipeMsg::Data(batch));
        }
    }

    /// The digest of everything given so far (waits for the thread to catch up); `None`
    /// only if the hashing thread died, when no digest can be trusted.
    pub fn digest(&mut self) -> Option<Digest> {
        if let Some(d) = &self.inline {
            return Some(d.clone().finish());
        }
        self.send_batch();
        let (reply, answer) = std::sync::mpsc::channel();
        let pipe = self.pipe.as_ref()?;
        pipe.tx.send(PipeMsg::Digest(reply)).ok()?;
        answer.recv().ok()
    }

    pub fn finish(mut self) -> Option<Digest> {
        self.digest()
    }
}

impl Drop for PipedDigester {
    fn drop(&mut self) {
        if let Some(p) = self.pipe.take() {
            drop(p.tx);
            let _ = p.handle.join();
        }
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

    #[test]
    fn piped_digester_agrees_with_the_plain_one() {
        let data: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for piece in [4095usize, 1 << 20, 3 << 20, data.len()] {
            let mut piped = PipedDigester::new(Algorithm::Sha256);
            let mut plain = Digester::new(Algorithm::Sha256);
            let mut done = 0;
            for p in data.chunks(piece) {
                piped.update(p);
                plain.update(p);
                done += p.len();
                if done % (2 << 20) < piece {
                    // Midway digests do not disturb the stream.
                    assert_eq!(piped.digest(), Some(plain.clone().finish()));
                }
            }
            assert_eq!(piped.finish(), Some(plain.finish()), "{piece}");
        }
        let mut small = PipedDigester::new(Algorithm::Sha512);
        let mut plain = Digester::new(Algorithm::Sha512);
        small.update(b"abc");
        plain.update(b"abc");
        assert_eq!(small.finish(), Some(plain.finish()));
    }
}
