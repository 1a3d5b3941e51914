//! Errors of layer handling. Every refusal names the object: the tar entry as written in
//! the archive, the offset in the uncompressed stream, or the filesystem path.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a layer could not be read, validated, created or applied.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The stream is compressed with a format Strata does not read.
    #[error(
        "unsupported layer compression {format} (strata reads gzip, zstd and uncompressed tar)"
    )]
    UnsupportedCompression { format: &'static str },

    /// The tar framing is broken: bad checksum, malformed extended header, garbage.
    #[error("corrupt layer tar at offset {offset}{}: {reason}", After(.after))]
    Corrupt {
        /// Offset in the uncompressed stream of the block that is wrong.
        offset: u64,
        /// The last good entry before the problem, if any.
        after: Option<String>,
        reason: String,
    },

    /// The stream ends inside a header or inside an entry's data.
    #[error("truncated layer tar: stream ends at offset {offset} {}", Inside(.entry))]
    Truncated {
        offset: u64,
        /// The entry whose data (or padding) is cut short; `None` for a cut header.
        entry: Option<String>,
    },

    /// An entry that Strata refuses to store or extract.
    #[error("invalid layer entry {entry:?}: {problem}")]
    Entry {
        /// The entry name as written in the archive.
        entry: String,
        problem: EntryProblem,
    },

    /// The underlying stream failed (I/O error or a corrupt compressed stream).
    #[error("failed to read layer stream at offset {offset}{}: {source}", After(.entry))]
    Read {
        offset: u64,
        entry: Option<String>,
        #[source]
        source: io::Error,
    },

    /// A filesystem operation on the host failed while creating or applying a layer.
    #[error("failed to {op} {path}: {source}", path = .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl LayerError {
    /// The archive entry this error is about, when there is one.
    pub fn entry(&self) -> Option<&str> {
        match self {
            LayerError::Entry { entry, .. } => Some(entry),
            LayerError::Truncated { entry, .. } | LayerError::Read { entry, .. } => {
                entry.as_deref()
            }
            _ => None,
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LayerError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

struct After<'a>(&'a Option<String>);

impl fmt::Display for After<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, " (after entry {e:?})"),
            None => Ok(()),
        }
    }
}

struct Inside<'a>(&'a Option<String>);

impl fmt::Display for Inside<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(e) => write!(f, "inside the data of entry {e:?}"),
            None => f.write_str("inside a header"),
        }
    }
}

/// What is wrong with one entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryProblem {
    #[error("empty name")]
    EmptyName,
    #[error("absolute path")]
    Absolute,
    #[error("path has a `..` component")]
    DotDot,
    #[error("symlink target {target:?} climbs out of the root")]
    SymlinkEscape { target: String },
    #[error("link has an empty target")]
    EmptyLinkTarget,
    #[error("hardlink target {target:?} is an absolute path")]
    HardlinkAbsolute { target: String },
    #[error("hardlink target {target:?} has a `..` component")]
    HardlinkEscape { target: String },
    #[error("hardlink target {target:?} is not an earlier entry of this layer")]
    HardlinkUnknown { target: String },
    #[error("hardlink target {target:?} is a directory")]
    HardlinkDirectory { target: String },
    #[error("path goes through symlink {symlink:?} defined earlier in this layer")]
    ThroughSymlink { symlink: String },
    #[error("{kind} not allowed in an unprivileged context")]
    Device { kind: &'static str },
    #[error("unsupported entry type {}", TypeFlag(*.typeflag))]
    UnsupportedType { typeflag: u8 },
    #[error("invalid whiteout name")]
    InvalidWhiteout,
    #[error("the layer root can only be a directory")]
    RootNotDirectory,
}

struct TypeFlag(u8);

impl fmt::Display for TypeFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            b'S' => " (GNU sparse file)",
            b'V' => " (GNU volume header)",
            b'M' => " (GNU multi-volume continuation)",
            b'D' => " (GNU directory dump)",
            _ => "",
        };
        if self.0.is_ascii_graphic() {
            write!(f, "'{}'{name}", self.0 as char)
        } else {
            write!(f, "0x{:02x}{name}", self.0)
        }
    }
}
