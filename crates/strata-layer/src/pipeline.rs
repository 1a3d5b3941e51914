//! The one-pass layer pipeline and chainIDs.
//!
//! ```text
//! tar bytes ──► sha256 (diffID) ──► compressor ──► sha256 + byte count (digest, size) ──► sink
//! ```
//!
//! [`LayerWriter`] is an `io::Write`: a tar builder (for example [`crate::create()`]) writes
//! into it, and [`LayerWriter::finish`] returns the [`LayerInfo`] that goes into the image
//! config (`rootfs.diff_ids`) and manifest (layer descriptor) together with the sink, which
//! the store then commits under `digest`.

use std::io::{self, Read, Write};

use strata_oci::media_type::oci_layer;
use strata_oci::{Algorithm, Digest, Digester, PipedDigester};

use crate::compression::{ChunkMemo, CompressOptions, Compression, Compressor};

/// What the pipeline learnt about a layer it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerInfo {
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// sha256 of the blob as written to the sink.
    pub digest: Digest,
    /// Size of the blob as written to the sink.
    pub size: u64,
    /// Size of the uncompressed tar.
    pub uncompressed_size: u64,
    pub compression: Compression,
    /// The OCI layer media type for `compression`.
    pub media_type: &'static str,
}

/// Counts and (unless the layer is uncompressed) hashes what reaches the sink.
struct Tail<W> {
    inner: W,
    digester: Option<Digester>,
    count: u64,
}

impl<W: Write> Write for Tail<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if let Some(d) = &mut self.digester {
            d.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// An `io::Write` that takes an uncompressed tar stream and writes the compressed layer
/// blob to a sink, computing diffID, digest and size on the way.
pub struct LayerWriter<W: Write> {
    /// `None` when the sink hashes the uncompressed tar itself (see
    /// [`LayerWriter::new_digesting`]).
    diff: Option<PipedDigester>,
    uncompressed: u64,
    compressor: Compressor<Tail<W>>,
    compression: Compression,
}

impl<W: Write> LayerWriter<W> {
    pub fn new(sink: W, options: &CompressOptions) -> io::Result<Self> {
        Self::with(sink, options, false, None)
    }

    /// For a sink that computes the sha256 of what it is given itself (a store's blob
    /// writer): the blob's digest — and an uncompressed blob's diffID — are then taken
    /// from the sink by [`LayerWriter::finish_with`] rather than computed twice. Hashing
    /// is a large share of a layer's cost once compression runs on other cores.
    pub fn new_digesting(sink: W, options: &CompressOptions) -> io::Result<Self> {
        Self::with(sink, options, true, None)
    }

    /// As [`LayerWriter::new_digesting`], gzip taking big files' compressed chunks from
    /// `memo` where it has them (the bytes are the same either way).
    pub fn new_digesting_with_memo(
        sink: W,
        options: &CompressOptions,
        memo: Option<std::sync::Arc<ChunkMemo>>,
    ) -> io::Result<Self> {
        Self::with(sink, options, true, memo)
    }

    fn with(
        sink: W,
        options: &CompressOptions,
        sink_digests: bool,
        memo: Option<std::sync::Arc<ChunkMemo>>,
    ) -> io::Result<Self> {
        let compressed = options.compression != Compression::None;
        let tail = Tail {
            inner: sink,
            // An uncompressed blob's digest is its diffID: hash once.
            digester: (compressed && !sink_digests).then(|| Algorithm::Sha256.digester()),
            count: 0,
        };
        Ok(LayerWriter {
            diff: (compressed || !sink_digests).then(|| PipedDigester::new(Algorithm::Sha256)),
            uncompressed: 0,
            compressor: Compressor::with_memo(tail, options, memo)?,
            compression: options.compression,
        })
    }

    /// End the compressed stream and return what was written, and the sink.
    pub fn finish(self) -> io::Result<(LayerInfo, W)> {
        self.finish_with(|_| None)
    }

    /// As [`LayerWriter::finish`], for a writer made by [`LayerWriter::new_digesting`]:
    /// `sink_digest` gives the sha256 of everything the sink was given.
    pub fn finish_with(
        self,
        sink_digest: impl FnOnce(&mut W) -> Option<Digest>,
    ) -> io::Result<(LayerInfo, W)> {
        let mut tail = self.compressor.finish()?;
        let tail_digest = tail.digester.take().map(Digester::finish);
        let inner = &mut tail.inner;
        let from_sink = || {
            sink_digest(inner)
                .filter(|d| d.algorithm() == Algorithm::Sha256)
                .ok_or_else(|| io::Error::other("the layer sink did not give a sha256 digest"))
        };
        let diff_id_of = |d: PipedDigester| {
            d.finish()
                .ok_or_else(|| io::Error::other("the layer's diffID could not be computed"))
        };
        let (diff_id, digest) = match (self.diff, tail_digest) {
            (Some(diff), Some(d)) => (diff_id_of(diff)?, d),
            (Some(diff), None) if self.compression == Compression::None => {
                let diff_id = diff_id_of(diff)?;
                (diff_id.clone(), diff_id)
            }
            (Some(diff), None) => (diff_id_of(diff)?, from_sink()?),
            (None, _) => {
                let d = from_sink()?;
                (d.clone(), d)
            }
        };
        let info = LayerInfo {
            diff_id,
            digest,
            size: tail.count,
            uncompressed_size: self.uncompressed,
            compression: self.compression,
            media_type: oci_layer(self.compression),
        };
        Ok((info, tail.inner))
    }
}

impl<W: Write> Write for LayerWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.compressor.write(buf)?;
        if let Some(d) = &mut self.diff {
            d.update(&buf[..n]);
        }
        self.uncompressed += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.compressor.flush()
    }
}

/// Compress an uncompressed tar read from `tar` into `sink` in one pass.
pub fn write_layer<R: Read, W: Write>(
    mut tar: R,
    sink: W,
    options: &CompressOptions,
) -> io::Result<(LayerInfo, W)> {
    let mut writer = LayerWriter::new(sink, options)?;
    io::copy(&mut tar, &mut writer)?;
    writer.finish()
}

/// The chainID of every prefix of a layer stack, bottom first (OCI image-spec config.md,
/// "Layer ChainID"): `chain[0] = diff[0]`, `chain[n] = sha256(chain[n-1] + " " + diff[n])`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff in diff_ids {
        let next = match out.last() {
            None => diff.clone(),
            Some(parent) => Digest::sha256(format!("{parent} {diff}").as_bytes()),
        };
        out.push(next);
    }
    out
}

/// The chainID of a whole layer stack; `None` for an empty stack.
pub fn chain_id_of(diff_ids: &[Digest]) -> Option<Digest> {
    chain_ids(diff_ids).pop()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compression::decompress;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a = Digest::sha256(b"a");
        let b = Digest::sha256(b"b");
        let c = Digest::sha256(b"c");
        let chain = chain_ids(&[a.clone(), b.clone(), c.clone()]);
        assert_eq!(chain[0], a);
        let ab = Digest::sha256(format!("{a} {b}").as_bytes());
        assert_eq!(chain[1], ab);
        assert_eq!(chain[2], Digest::sha256(format!("{ab} {c}").as_bytes()));
        assert_eq!(chain_id_of(&[a.clone(), b, c]).as_ref(), chain.last());
        assert_eq!(chain_id_of(std::slice::from_ref(&a)), Some(a));
        assert_eq!(chain_id_of(&[]), None);
    }

    #[test]
    fn chain_id_known_value() {
        // Computed independently: `printf 'sha256:e3b0… sha256:e3b0…' | sha256sum`.
        let a = Digest::parse(
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        )
        .unwrap();
        let chain = chain_ids(&[a.clone(), a]);
        assert_eq!(
            chain[1].as_str(),
            "sha256:de9d9016b852e46e9f3973e20d3a6d17e120f7144931d50cd6e2a8ad53e81960"
        );
    }

    #[test]
    fn one_pass_digests() {
        let tar: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let (info, blob) =
                write_layer(&tar[..], Vec::new(), &CompressOptions::new(compression)).unwrap();
            assert_eq!(info.diff_id, Digest::sha256(&tar));
            assert_eq!(info.digest, Digest::sha256(&blob));
            assert_eq!(info.size, blob.len() as u64);
            assert_eq!(info.uncompressed_size, tar.len() as u64);
            assert_eq!(info.media_type, oci_layer(compression));
            let (_, mut r) = decompress(&blob[..]).unwrap();
            let mut back = Vec::new();
            r.read_to_end(&mut back).unwrap();
            assert_eq!(back, tar);
        }
    }

    /// A sink that hashes what it is given, as a store's blob writer does.
    struct Hashing(Vec<u8>, Digester);

    impl Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.extend_from_slice(buf);
            self.1.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_digesting_sink_gives_the_same_digests() {
        let tar: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let options = CompressOptions::new(compression);
            let (plain, blob) = write_layer(&tar[..], Vec::new(), &options).unwrap();
            let sink = Hashing(Vec::new(), Algorithm::Sha256.digester());
            let mut w = LayerWriter::new_digesting(sink, &options).unwrap();
            w.write_all(&tar).unwrap();
            let (info, sink) = w.finish_with(|s| Some(s.1.clone().finish())).unwrap();
            assert_eq!(info, plain, "{compression:?}");
            assert_eq!(sink.0, blob);
            // A sink that cannot say is an error, not a wrong digest.
            let sink = Hashing(Vec::new(), Algorithm::Sha256.digester());
            let mut w = LayerWriter::new_digesting(sink, &options).unwrap();
            w.write_all(&tar).unwrap();
            assert!(w.finish_with(|_| None).is_err());
        }
    }
}
