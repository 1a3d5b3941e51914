//! A streaming tar reader with Go `archive/tar` framing (see the crate docs for why it is
//! ours), plus [`LayerStream`]: decompression and diffID hashing underneath it.
//!
//! The reader yields one [`Header`] per filesystem entry, having merged the PAX (`x`) and
//! GNU long-name (`L`, `K`) headers before it and skipped PAX global headers (`g`), which
//! Docker ignores too. Entry data is read through [`TarReader::read_data`]; whatever the
//! caller leaves unread is skipped (and hashed) by the next call to [`TarReader::next`].

use std::io::{self, BufReader, Read};

use strata_oci::{Algorithm, Digest, Digester};

use crate::LayerError;
use crate::compression::{Compression, Decompressor, decompress};

const BLOCK: usize = 512;
/// Largest PAX or GNU long-name header we read, as in Go's `archive/tar`.
const MAX_SPECIAL: u64 = 1 << 20;

/// A point in time as tar records it: whole seconds plus, from PAX, nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Time {
    pub secs: i64,
    pub nanos: u32,
}

/// One decoded filesystem entry header.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    /// The name as written (PAX `path` > GNU long name > ustar prefix/name).
    pub name: Vec<u8>,
    /// Link target (PAX `linkpath` > GNU long link > header field).
    pub link: Vec<u8>,
    pub typeflag: u8,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: Time,
    pub atime: Option<Time>,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// Extended attributes from `SCHILY.xattr.*` PAX records, in archive order.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Header {
    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

/// Types whose size field is ignored: they never carry data (Go's `isHeaderOnlyType`).
fn header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

pub(crate) struct TarReader<R> {
    r: R,
    /// Bytes consumed from the uncompressed stream.
    offset: u64,
    /// Data bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    /// Name of the current (or last) entry, for error messages.
    current: Option<String>,
    done: bool,
    /// Scratch space for skipping data.
    scratch: Vec<u8>,
}

impl<R: Read> TarReader<R> {
    pub fn new(r: R) -> Self {
        TarReader {
            r,
            offset: 0,
            remaining: 0,
            padding: 0,
            current: None,
            done: false,
            scratch: vec![0u8; 64 * 1024],
        }
    }

    pub fn into_inner(self) -> R {
        self.r
    }

    fn read_err(&self, source: io::Error) -> LayerError {
        if source.kind() == io::ErrorKind::UnexpectedEof {
            // A compressed stream that ends early is a truncated layer too.
            return LayerError::Truncated {
                offset: self.offset,
                entry: self.current.clone(),
            };
        }
        LayerError::Read {
            offset: self.offset,
            entry: self.current.clone(),
            source,
        }
    }

    fn corrupt(&self, offset: u64, reason: impl Into<String>) -> LayerError {
        LayerError::Corrupt {
            offset,
            after: self.current.clone(),
            reason: reason.into(),
        }
    }

    fn raw_read(&mut self, buf: &mut [u8]) -> Result<usize, LayerError> {
        loop {
            match self.r.read(buf) {
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_err(e)),
            }
        }
    }

    /// Read one block; `None` at a clean end of stream, an error for a partial block.
    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool, LayerError> {
        let mut got = 0;
        while got < BLOCK {
            let n = self.raw_read(&mut block[got..])?;
            if n == 0 {
                if got == 0 {
                    return Ok(false);
                }
                return Err(LayerError::Truncated {
                    offset: self.offset,
                    entry: None,
                });
            }
            got += n;
        }
        Ok(true)
    }

    /// Skip `amount` bytes that belong to the current entry (data or padding).
    fn skip(&mut self, amount: u64, entry: &Option<String>) -> Result<(), LayerError> {
        let mut buf = std::mem::take(&mut self.scratch);
        let result = self.skip_with(&mut buf, amount, entry);
        self.scratch = buf;
        result
    }

    fn skip_with(
        &mut self,
        buf: &mut [u8],
        mut amount: u64,
        entry: &Option<String>,
    ) -> Result<(), LayerError> {
        while amount > 0 {
            let want = amount.min(buf.len() as u64) as usize;
            let n = self.raw_read(&mut buf[..want])?;
            if n == 0 {
                return Err(LayerError::Truncated {
                    offset: self.offset,
                    entry: entry.clone(),
                });
            }
            amount -= n as u64;
        }
        Ok(())
    }

    /// Read the current entry's data; `Ok(0)` once it is all read.
    pub fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, LayerError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = self.remaining.min(buf.len() as u64) as usize;
        let n = self.raw_read(&mut buf[..want])?;
        if n == 0 {
            return Err(LayerError::Truncated {
                offset: self.offset,
                entry: self.current.clone(),
            });
        }
        self.remaining -= n as u64;
        Ok(n)
    }

    /// Read the data of an extension header (bounded by [`MAX_SPECIAL`]).
    fn read_special(&mut self, size: u64, at: u64) -> Result<Vec<u8>, LayerError> {
        if size > MAX_SPECIAL {
            return Err(self.corrupt(
                at,
                format!("extended header of {size} bytes exceeds the 1 MiB limit"),
            ));
        }
        let mut data = vec![0u8; size as usize];
        let mut got = 0;
        while got < data.len() {
            let n = self.raw_read(&mut data[got..])?;
            if n == 0 {
                return Err(LayerError::Truncated {
                    offset: self.offset,
                    entry: None,
                });
            }
            got += n;
        }
        self.skip(pad(size), &None)?;
        Ok(data)
    }

    /// Advance to the next entry, skipping what is left of the current one.
    pub fn next(&mut self) -> Result<Option<Header>, LayerError> {
        if self.done {
            return Ok(None);
        }
        let current = self.current.clone();
        let left = self.remaining + self.padding;
        self.remaining = 0;
        self.padding = 0;
        self.skip(left, &current)?;

        let mut pax: Option<Pax> = None;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut block = [0u8; BLOCK];
        loop {
            let at = self.offset;
            if !self.read_block(&mut block)? {
                if pax.is_some() || long_name.is_some() || long_link.is_some() {
                    return Err(LayerError::Truncated {
                        offset: self.offset,
                        entry: None,
                    });
                }
                // An archive without its end-of-archive blocks: Go (and so Docker) accepts it.
                self.done = true;
                return Ok(None);
            }
            if block.iter().all(|&b| b == 0) {
                if pax.is_some() || long_name.is_some() || long_link.is_some() {
                    return Err(self.corrupt(at, "extended header without a following entry"));
                }
                // End of archive: one zero block then EOF, or two zero blocks.
                let second_at = self.offset;
                if self.read_block(&mut block)? && block.iter().any(|&b| b != 0) {
                    return Err(self.corrupt(second_at, "data after an end-of-archive block"));
                }
                self.done = true;
                return Ok(None);
            }
            let fields = RawFields::parse(&block).map_err(|reason| self.corrupt(at, reason))?;
            match fields.typeflag {
                b'x' => {
                    if pax.is_some() {
                        return Err(self.corrupt(at, "two PAX headers for one entry"));
                    }
                    let data = self.read_special(fields.size, at)?;
                    pax = Some(Pax::parse(&data).map_err(|reason| self.corrupt(at, reason))?);
                }
                b'g' => {
                    // Global PAX headers are ignored, as Docker does; still bounded and checked.
                    let data = self.read_special(fields.size, at)?;
                    Pax::parse(&data).map_err(|reason| self.corrupt(at, reason))?;
                }
                b'L' => {
                    if long_name.is_some() {
                        return Err(self.corrupt(at, "two GNU long names for one entry"));
                    }
                    long_name = Some(cstr(&self.read_special(fields.size, at)?).to_vec());
                }
                b'K' => {
                    if long_link.is_some() {
                        return Err(self.corrupt(at, "two GNU long link names for one entry"));
                    }
                    long_link = Some(cstr(&self.read_special(fields.size, at)?).to_vec());
                }
                _ => {
                    let pax = pax.unwrap_or_default();
                    let mut typeflag = fields.typeflag;
                    let name = pax.path.or(long_name).unwrap_or(fields.name);
                    if typeflag == 0 && name.ends_with(b"/") {
                        // Pre-POSIX archives mark directories only by the trailing slash.
                        typeflag = b'5';
                    }
                    if pax.sparse {
                        typeflag = b'S';
                    }
                    let size = pax.size.unwrap_or(fields.size);
                    let data = if header_only(typeflag) { 0 } else { size };
                    let header = Header {
                        name,
                        link: pax.linkpath.or(long_link).unwrap_or(fields.link),
                        typeflag,
                        mode: fields.mode,
                        uid: pax.uid.unwrap_or(fields.uid),
                        gid: pax.gid.unwrap_or(fields.gid),
                        mtime: pax.mtime.unwrap_or(Time {
                            secs: fields.mtime,
                            nanos: 0,
                        }),
                        atime: pax.atime,
                        dev_major: fields.dev_major,
                        dev_minor: fields.dev_minor,
                        xattrs: pax.xattrs,
                    };
                    self.current = Some(header.display_name());
                    self.remaining = data;
                    self.padding = pad(data);
                    return Ok(Some(header));
                }
            }
        }
    }
}

fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// The bytes up to the first NUL.
fn cstr(b: &[u8]) -> &[u8] {
    match b.iter().position(|&c| c == 0) {
        Some(i) => &b[..i],
        None => b,
    }
}

/// Fields of a single 512-byte header block.
struct RawFields {
    name: Vec<u8>,
    link: Vec<u8>,
    typeflag: u8,
    size: u64,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
    dev_major: u32,
    dev_minor: u32,
}

impl RawFields {
    fn parse(b: &[u8; BLOCK]) -> Result<RawFields, String> {
        let stored = numeric(&b[148..156], "checksum")
            .map_err(|_| "header checksum mismatch (the checksum field is not a number)")?;
        // Go accepts both the unsigned (POSIX) and the signed (old Sun tar) sum.
        let mut unsigned: i64 = 0;
        let mut signed: i64 = 0;
        for (i, &c) in b.iter().enumerate() {
            let c = if (148..156).contains(&i) { b' ' } else { c };
            unsigned += i64::from(c);
            signed += i64::from(c as i8);
        }
        if stored != unsigned && stored != signed {
            return Err(format!(
                "header checksum mismatch (stored {stored}, computed {unsigned})"
            ));
        }
        let magic = &b[257..265];
        let ustar = &magic[..6] == b"ustar\0";
        let mut name = cstr(&b[0..100]).to_vec();
        if ustar {
            let prefix = cstr(&b[345..500]);
            if !prefix.is_empty() {
                let mut full = prefix.to_vec();
                full.push(b'/');
                full.extend_from_slice(&name);
                name = full;
            }
        }
        let size = numeric(&b[124..136], "size")?;
        let uid = numeric(&b[108..116], "uid")?;
        let gid = numeric(&b[116..124], "gid")?;
        if size < 0 || uid < 0 || gid < 0 {
            return Err("negative size, uid or gid".into());
        }
        let (dev_major, dev_minor) = if ustar || magic == b"ustar  \0" {
            (
                device(numeric(&b[329..337], "device major")?)?,
                device(numeric(&b[337..345], "device minor")?)?,
            )
        } else {
            (0, 0)
        };
        Ok(RawFields {
            name,
            link: cstr(&b[157..257]).to_vec(),
            typeflag: b[156],
            size: size as u64,
            mode: (numeric(&b[100..108], "mode")? & 0o7777_7777) as u32,
            uid: uid as u64,
            gid: gid as u64,
            mtime: numeric(&b[136..148], "mtime")?,
            dev_major,
            dev_minor,
        })
    }
}

fn device(n: i64) -> Result<u32, String> {
    u32::try_from(n).map_err(|_| format!("device number {n} out of range"))
}

/// A tar numeric field: octal text padded with spaces/NULs, or GNU base-256 binary.
fn numeric(field: &[u8], what: &str) -> Result<i64, String> {
    if let Some(&first) = field.first()
        && first & 0x80 != 0
    {
        let inv: u8 = if first & 0x40 != 0 { 0xff } else { 0 };
        let mut x: u64 = 0;
        for (i, &c) in field.iter().enumerate() {
            let mut c = c ^ inv;
            if i == 0 {
                c &= 0x7f;
            }
            if x >> 56 != 0 {
                return Err(format!("{what} field overflows"));
            }
            x = (x << 8) | u64::from(c);
        }
        if x >> 63 != 0 {
            return Err(format!("{what} field overflows"));
        }
        let v = x as i64;
        return Ok(if inv == 0xff { !v } else { v });
    }
    let trimmed = trim(field, |c| c == b' ' || c == 0);
    if trimmed.is_empty() {
        return Ok(0);
    }
    let text = std::str::from_utf8(trimmed).map_err(|_| format!("{what} field is not octal"))?;
    i64::from_str_radix(text, 8).map_err(|_| format!("{what} field {text:?} is not octal"))
}

fn trim(b: &[u8], pred: impl Fn(u8) -> bool) -> &[u8] {
    let start = b.iter().position(|&c| !pred(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| !pred(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// The PAX records Strata uses; others (uname, gname, comments, vendor keys) are ignored.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<Time>,
    atime: Option<Time>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    sparse: bool,
}

const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

impl Pax {
    /// Parse `"%d %s=%s\n"` records (POSIX pax format, as Go validates them).
    fn parse(mut data: &[u8]) -> Result<Pax, String> {
        let mut pax = Pax::default();
        while !data.is_empty() {
            let space = data
                .iter()
                .position(|&c| c == b' ')
                .ok_or("malformed PAX record: no length")?;
            let len: usize = std::str::from_utf8(&data[..space])
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|s| s.parse().ok())
                .ok_or("malformed PAX record: bad length")?;
            if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
                return Err("malformed PAX record: length does not match".into());
            }
            let record = &data[space + 1..len - 1];
            data = &data[len..];
            let eq = record
                .iter()
                .position(|&c| c == b'=')
                .ok_or("malformed PAX record: no '='")?;
            let (key, value) = (&record[..eq], &record[eq + 1..]);
            if key.is_empty() {
                return Err("malformed PAX record: empty key".into());
            }
            match key {
                b"path" | b"linkpath" => {
                    if value.contains(&0) {
                        return Err("PAX path contains a NUL byte".into());
                    }
                    let v = (!value.is_empty()).then(|| value.to_vec());
                    if key == b"path" {
                        pax.path = v;
                    } else {
                        pax.linkpath = v;
                    }
                }
                b"size" => pax.size = Some(decimal(value, "size")?),
                b"uid" => pax.uid = Some(decimal(value, "uid")?),
                b"gid" => pax.gid = Some(decimal(value, "gid")?),
                b"mtime" => pax.mtime = Some(pax_time(value)?),
                b"atime" => pax.atime = Some(pax_time(value)?),
                _ if key.starts_with(XATTR_PREFIX) => {
                    let name = &key[XATTR_PREFIX.len()..];
                    if name.is_empty() {
                        return Err("PAX xattr record without a name".into());
                    }
                    pax.xattrs.push((name.to_vec(), value.to_vec()));
                }
                _ if key.starts_with(b"GNU.sparse.") => pax.sparse = true,
                _ => {}
            }
        }
        Ok(pax)
    }
}

fn decimal(v: &[u8], what: &str) -> Result<u64, String> {
    std::str::from_utf8(v)
        .ok()
        .filter(|s| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("malformed PAX {what}"))
}

/// A PAX time: `[-]SECONDS[.FRACTION]`.
fn pax_time(v: &[u8]) -> Result<Time, String> {
    let bad = || "malformed PAX time".to_string();
    let text = std::str::from_utf8(v).map_err(|_| bad())?;
    let (neg, text) = match text.strip_prefix('-') {
        Some(t) => (true, t),
        None => (false, text),
    };
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if secs.is_empty() || !secs.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    let mut nanos: u32 = 0;
    for (i, c) in frac.bytes().take(9).enumerate() {
        nanos += u32::from(c - b'0') * 10u32.pow(8 - i as u32);
    }
    if neg {
        // -1.25 is 1.25 seconds before the epoch: secs -2, nanos 0.75e9.
        if nanos == 0 {
            Ok(Time { secs: -secs, nanos })
        } else {
            Ok(Time {
                secs: -secs - 1,
                nanos: 1_000_000_000 - nanos,
            })
        }
    } else {
        Ok(Time { secs, nanos })
    }
}

/// Hashes (and counts) every byte read through it: the diffID of the layer.
pub(crate) struct HashingReader<R> {
    inner: R,
    digester: Digester,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A layer being read: decompression, diffID hashing and tar framing stacked up.
pub(crate) struct LayerStream<R: Read> {
    pub tar: TarReader<BufReader<HashingReader<Decompressor<R>>>>,
    pub compression: Compression,
}

impl<R: Read> LayerStream<R> {
    pub fn open(r: R) -> Result<Self, LayerError> {
        let (compression, decoder) = decompress(r)?;
        let hashing = HashingReader {
            inner: decoder,
            digester: Algorithm::Sha256.digester(),
            count: 0,
        };
        Ok(LayerStream {
            tar: TarReader::new(BufReader::with_capacity(128 * 1024, hashing)),
            compression,
        })
    }

    /// Read the rest of the stream (bytes after the archive count towards the diffID, as
    /// they do for Docker) and return the diffID and the uncompressed size.
    pub fn finish(self) -> Result<(Digest, u64), LayerError> {
        let offset = self.tar.offset;
        // Bytes already buffered were hashed when the buffer was filled.
        let mut hashing = self.tar.into_inner().into_inner();
        io::copy(&mut hashing, &mut io::sink()).map_err(|source| LayerError::Read {
            offset,
            entry: None,
            source,
        })?;
        Ok((hashing.digester.finish(), hashing.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_fields() {
        assert_eq!(numeric(b"0000644\0", "mode"), Ok(0o644));
        assert_eq!(numeric(b"  644 \0\0", "mode"), Ok(0o644));
        assert_eq!(numeric(b"\0\0\0\0\0\0\0\0", "dev"), Ok(0));
        assert_eq!(numeric(&[0x80, 0, 0, 0, 0, 0, 1, 0], "uid"), Ok(256));
        assert_eq!(numeric(&[0xff; 8], "mtime"), Ok(-1));
        assert!(numeric(b"12x4\0", "mode").is_err());
    }

    #[test]
    fn pax_records() {
        let pax = Pax::parse(b"30 mtime=1700000000.123456789\n16 path=a/b/c/d\n").unwrap();
        assert_eq!(
            pax.mtime,
            Some(Time {
                secs: 1_700_000_000,
                nanos: 123_456_789
            })
        );
        assert_eq!(pax.path.as_deref(), Some(&b"a/b/c/d"[..]));
        assert_eq!(
            pax_time(b"-1.25"),
            Ok(Time {
                secs: -2,
                nanos: 750_000_000
            })
        );
        assert!(Pax::parse(b"99 path=x\n").is_err());
        assert!(Pax::parse(b"9 pathx\n").is_err());
    }
}
