//! Layer compression: detection by magic bytes, decompression, and compressing writers.
//!
//! - **Detection** ([`detect`]) looks at the first bytes, as Docker's `DetectCompression`
//!   does: gzip, zstd (including skippable frames), and otherwise plain tar. bzip2, xz and lz4
//!   are recognised only to be refused with a clear error; anything else is handed to the
//!   tar reader, which refuses garbage with a checksum error.
//! - **Decompression** ([`decompress`]) reads multi-member gzip (what parallel compressors
//!   write) and multi-frame zstd.
//! - **gzip** is written by [`ParallelGzEncoder`], ours because no crate does it without
//!   cmake (see DESIGN.md §6): the input is cut into fixed 1 MiB chunks, each compressed by
//!   raw deflate on the rayon pool primed with the previous chunk's last 32 KiB as
//!   dictionary (as pigz does), ended with a sync flush, and the pieces are concatenated into
//!   *one* gzip member whose CRC is combined from the chunks' CRCs. Because the chunking
//!   does not depend on the number of threads, the output bytes are the same on every
//!   machine — a layer's digest is reproducible. The gzip header is Go's (no name, mtime 0,
//!   OS unknown), like the layers Docker and BuildKit write.
//! - **zstd** uses libzstd's multithreaded mode, always with at least one worker: libzstd
//!   guarantees identical output for any worker count ≥ 1 (but not between 0 and 1).

use std::collections::VecDeque;
use std::io::{self, Cursor, Read, Write};
use std::sync::mpsc;

use flate2::{Compress, FlushCompress, Status};

pub use strata_oci::media_type::Compression;

use crate::LayerError;

/// Default gzip level (zlib's default, as Docker and BuildKit use).
pub const DEFAULT_GZIP_LEVEL: i32 = 6;
/// Default zstd level.
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;
/// Size of the independently compressed gzip chunks. Changing it changes layer digests.
const GZIP_CHUNK: usize = 1 << 20;
/// Deflate window: the dictionary carried from one chunk to the next.
const DEFLATE_WINDOW: usize = 32 * 1024;

/// Recognise the compression of a stream from its first bytes (6 are enough).
pub fn detect(prefix: &[u8]) -> Result<Compression, LayerError> {
    let unsupported = |format| Err(LayerError::UnsupportedCompression { format });
    match prefix {
        [0x1f, 0x8b, 0x08, ..] => Ok(Compression::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Ok(Compression::Zstd),
        // zstd skippable frame: magic 0x184D2A5? little-endian.
        [b, 0x2a, 0x4d, 0x18, ..] if b & 0xf0 == 0x50 => Ok(Compression::Zstd),
        [b'B', b'Z', b'h', ..] => unsupported("bzip2"),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => unsupported("xz"),
        [0x04, 0x22, 0x4d, 0x18, ..] => unsupported("lz4"),
        _ => Ok(Compression::None),
    }
}

type Prefixed<R> = io::Chain<Cursor<Vec<u8>>, R>;

/// A reader that decompresses a layer stream.
pub enum Decompressor<R: Read> {
    None(Prefixed<R>),
    Gzip(Box<flate2::read::MultiGzDecoder<Prefixed<R>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, io::BufReader<Prefixed<R>>>>),
}

impl<R: Read> Read for Decompressor<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decompressor::None(r) => r.read(buf),
            Decompressor::Gzip(r) => r.read(buf),
            Decompressor::Zstd(r) => r.read(buf),
        }
    }
}

/// Detect the compression of `r` and return a reader of the uncompressed bytes.
pub fn decompress<R: Read>(mut r: R) -> Result<(Compression, Decompressor<R>), LayerError> {
    let mut prefix = vec![0u8; 6];
    let mut got = 0;
    while got < prefix.len() {
        match r.read(&mut prefix[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(LayerError::Read {
                    offset: 0,
                    entry: None,
                    source,
                });
            }
        }
    }
    prefix.truncate(got);
    let compression = detect(&prefix)?;
    let chained = Cursor::new(prefix).chain(r);
    let reader = match compression {
        Compression::None => Decompressor::None(chained),
        Compression::Gzip => {
            Decompressor::Gzip(Box::new(flate2::read::MultiGzDecoder::new(chained)))
        }
        Compression::Zstd => {
            let decoder =
                zstd::stream::read::Decoder::new(chained).map_err(|source| LayerError::Read {
                    offset: 0,
                    entry: None,
                    source,
                })?;
            Decompressor::Zstd(Box::new(decoder))
        }
    };
    Ok((compression, reader))
}

/// How to compress a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompressOptions {
    pub compression: Compression,
    /// gzip 0–9 (default 6), zstd 1–22 (default 3); ignored for `None`.
    pub level: Option<i32>,
    /// Worker threads; 0 means all available cores. Does not change the output bytes.
    pub threads: usize,
}

impl CompressOptions {
    pub fn new(compression: Compression) -> Self {
        CompressOptions {
            compression,
            level: None,
            threads: 0,
        }
    }

    fn threads(&self) -> usize {
        if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            self.threads
        }
    }
}

impl Default for CompressOptions {
    /// gzip at the default level on all cores: what registries and Docker expect.
    fn default() -> Self {
        CompressOptions::new(Compression::Gzip)
    }
}

/// A writer that compresses into `W`. Call [`Compressor::finish`] to end the stream.
pub enum Compressor<W: Write> {
    None(W),
    Gzip(ParallelGzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    pub fn new(w: W, options: &CompressOptions) -> io::Result<Self> {
        let threads = options.threads();
        Ok(match options.compression {
            Compression::None => Compressor::None(w),
            Compression::Gzip => {
                let level = options.level.unwrap_or(DEFAULT_GZIP_LEVEL);
                let level = u32::try_from(level)
                    .ok()
                    .filter(|l| *l <= 9)
                    .ok_or_else(|| invalid_level("gzip", level))?;
                Compressor::Gzip(ParallelGzEncoder::new(w, level, threads))
            }
            Compression::Zstd => {
                let level = options.level.unwrap_or(DEFAULT_ZSTD_LEVEL);
                if !zstd::compression_level_range().contains(&level) {
                    return Err(invalid_level("zstd", level));
                }
                let mut enc = zstd::stream::write::Encoder::new(w, level)?;
                enc.multithread(threads.max(1) as u32)?;
                Compressor::Zstd(enc)
            }
        })
    }

    /// Flush everything and write the stream trailer; returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Compressor::None(mut w) => {
                w.flush()?;
                Ok(w)
            }
            Compressor::Gzip(g) => g.finish(),
            Compressor::Zstd(z) => {
                let mut w = z.finish()?;
                w.flush()?;
                Ok(w)
            }
        }
    }
}

fn invalid_level(what: &str, level: i32) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("invalid {what} compression level {level}"),
    )
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::None(w) => w.write(buf),
            Compressor::Gzip(w) => w.write(buf),
            Compressor::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        // A flush in the middle of a compressed stream would cost ratio and change the
        // bytes; the stream is completed by `finish`.
        match self {
            Compressor::None(w) => w.flush(),
            Compressor::Gzip(_) | Compressor::Zstd(_) => Ok(()),
        }
    }
}

/// One compressed chunk and the CRC-32 of its input.
struct Block {
    deflate: Vec<u8>,
    crc: crc32fast::Hasher,
}

/// Compress one chunk as raw deflate: sync-flushed, or finished when it is the last.
fn compress_block(input: &[u8], dict: &[u8], level: u32, last: bool) -> io::Result<Block> {
    let mut c = Compress::new(flate2::Compression::new(level), false);
    if !dict.is_empty() {
        c.set_dictionary(dict).map_err(io::Error::other)?;
    }
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(input.len() / 2 + 4096);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(out.capacity().max(64 * 1024));
        }
        let consumed = c.total_in() as usize;
        let status = c
            .compress_vec(&input[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let all_in = c.total_in() as usize == input.len();
        // zlib's contract: a flush is complete when output space is left over.
        let room_left = out.len() < out.capacity();
        match status {
            Status::StreamEnd => break,
            _ if !last && all_in && room_left => break,
            _ => {}
        }
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(input);
    Ok(Block { deflate: out, crc })
}

/// A gzip writer that compresses 1 MiB chunks in parallel on the rayon pool and writes a
/// single gzip member (see the module docs). The bytes do not depend on `threads`.
pub struct ParallelGzEncoder<W: Write> {
    w: W,
    level: u32,
    /// Maximum chunks in flight; 1 compresses inline on the caller's thread.
    in_flight: usize,
    buf: Vec<u8>,
    dict: Vec<u8>,
    pending: VecDeque<mpsc::Receiver<io::Result<Block>>>,
    crc: crc32fast::Hasher,
    /// Uncompressed bytes so far (for the gzip ISIZE field).
    total: u64,
    header_written: bool,
}

impl<W: Write> ParallelGzEncoder<W> {
    /// `level` 0–9 (values above 9 are treated as 9); `threads` 0 or 1 compresses inline.
    pub fn new(w: W, level: u32, threads: usize) -> Self {
        ParallelGzEncoder {
            w,
            level: level.min(9),
            in_flight: if threads <= 1 { 1 } else { threads * 2 },
            buf: Vec::with_capacity(GZIP_CHUNK),
            dict: Vec::new(),
            pending: VecDeque::new(),
            crc: crc32fast::Hasher::new(),
            total: 0,
            header_written: false,
        }
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            let xfl = match self.level {
                9 => 2,
                1 => 4,
                _ => 0,
            };
            self.w
                .write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff])?;
            self.header_written = true;
        }
        Ok(())
    }

    fn emit(&mut self, block: Block) -> io::Result<()> {
        self.write_header()?;
        self.w.write_all(&block.deflate)?;
        self.crc.combine(&block.crc);
        Ok(())
    }

    fn drain_one(&mut self) -> io::Result<()> {
        if let Some(rx) = self.pending.pop_front() {
            let block = rx
                .recv()
                .map_err(|_| io::Error::other("gzip compression worker vanished"))??;
            self.emit(block)?;
        }
        Ok(())
    }

    /// Hand the buffered chunk to a worker (or compress it here).
    fn submit(&mut self, last: bool) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(GZIP_CHUNK));
        self.total += chunk.len() as u64;
        let next_dict = chunk[chunk.len().saturating_sub(DEFLATE_WINDOW)..].to_vec();
        let dict = std::mem::replace(&mut self.dict, next_dict);
        let level = self.level;
        if self.in_flight <= 1 {
            let block = compress_block(&chunk, &dict, level, last)?;
            return self.emit(block);
        }
        let (tx, rx) = mpsc::sync_channel(1);
        rayon::spawn(move || {
            // The receiver is gone only if the encoder was dropped: nothing to report to.
            let _ = tx.send(compress_block(&chunk, &dict, level, last));
        });
        self.pending.push_back(rx);
        while self.pending.len() >= self.in_flight {
            self.drain_one()?;
        }
        Ok(())
    }

    /// Compress what is buffered, write the trailer and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while !self.pending.is_empty() {
            self.drain_one()?;
        }
        let sum = self.crc.clone().finalize();
        self.w.write_all(&sum.to_le_bytes())?;
        // ISIZE is the input size modulo 2^32 (RFC 1952).
        self.w.write_all(&(self.total as u32).to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }
}

impl<W: Write> Write for ParallelGzEncoder<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = GZIP_CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == GZIP_CHUNK {
            self.submit(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        // Compressible but not trivial: text with varying numbers.
        let mut v = Vec::with_capacity(len);
        let mut i = 0u64;
        while v.len() < len {
            v.extend_from_slice(format!("line {i} value {}\n", i * 7919 % 1000).as_bytes());
            i += 1;
        }
        v.truncate(len);
        v
    }

    fn gzip(data: &[u8], threads: usize) -> Vec<u8> {
        let mut enc = ParallelGzEncoder::new(Vec::new(), 6, threads);
        // Uneven writes exercise chunk boundaries.
        for piece in data.chunks(300_001) {
            enc.write_all(piece).unwrap();
        }
        enc.finish().unwrap()
    }

    #[test]
    fn detects_magic() {
        assert_eq!(detect(&[0x1f, 0x8b, 8, 0]).unwrap(), Compression::Gzip);
        assert_eq!(
            detect(&[0x28, 0xb5, 0x2f, 0xfd]).unwrap(),
            Compression::Zstd
        );
        assert_eq!(
            detect(&[0x50, 0x2a, 0x4d, 0x18]).unwrap(),
            Compression::Zstd
        );
        assert_eq!(detect(b"etc/passwd").unwrap(), Compression::None);
        assert_eq!(detect(b"").unwrap(), Compression::None);
        let err = detect(b"BZh91AY").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported layer compression bzip2 (strata reads gzip, zstd and uncompressed tar)"
        );
        assert!(matches!(
            detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Err(LayerError::UnsupportedCompression { format: "xz" })
        ));
    }

    #[test]
    fn parallel_gzip_is_one_valid_member_independent_of_threads() {
        for len in [0, 1, GZIP_CHUNK - 1, GZIP_CHUNK, 3 * GZIP_CHUNK + 12345] {
            let data = sample(len);
            let one = gzip(&data, 1);
            let four = gzip(&data, 4);
            assert_eq!(one, four, "output depends on threads for len {len}");
            // A single-member decoder reads it all: it is one gzip member.
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "round trip of {len} bytes");
        }
    }

    #[test]
    fn parallel_gzip_ratio_close_to_single_stream() {
        let data = sample(4 * GZIP_CHUNK);
        let ours = gzip(&data, 2).len();
        let mut reference = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        reference.write_all(&data).unwrap();
        let reference = reference.finish().unwrap().len();
        // The dictionary carry-over keeps the chunking cost to a fraction of a percent.
        assert!(ours * 100 <= reference * 101, "{ours} vs {reference}");
    }

    #[test]
    fn compressor_round_trips() {
        let data = sample(2 * GZIP_CHUNK + 77);
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let options = CompressOptions {
                compression,
                level: None,
                threads: 2,
            };
            let mut c = Compressor::new(Vec::new(), &options).unwrap();
            c.write_all(&data).unwrap();
            let blob = c.finish().unwrap();
            let (detected, mut r) = decompress(&blob[..]).unwrap();
            assert_eq!(detected, compression);
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(out, data, "{compression:?}");
        }
    }

    #[test]
    fn zstd_output_independent_of_threads() {
        let data = sample(3 * GZIP_CHUNK);
        let run = |threads| {
            let options = CompressOptions {
                compression: Compression::Zstd,
                level: None,
                threads,
            };
            let mut c = Compressor::new(Vec::new(), &options).unwrap();
            c.write_all(&data).unwrap();
            c.finish().unwrap()
        };
        assert_eq!(run(1), run(2));
    }

    #[test]
    fn rejects_bad_levels() {
        let mut options = CompressOptions::new(Compression::Gzip);
        options.level = Some(10);
        assert!(Compressor::new(Vec::new(), &options).is_err());
        options.compression = Compression::Zstd;
        options.level = Some(99);
        assert!(Compressor::new(Vec::new(), &options).is_err());
    }
}
