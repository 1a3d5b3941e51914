//! `system check`: verify the store and report every problem found.
//!
//! 1. Every file under `oci/blobs/` is hashed (in parallel) and compared with its name;
//!    files that are not named like a digest are reported as stray.
//! 2. Under the shared store lock (so no transaction or GC changes the graph meanwhile),
//!    every `index.json` entry and everything reachable from it is checked: the blob is
//!    present, its size matches the descriptor, its media type is one Strata knows in that
//!    position, and manifests and indexes parse. Children of an index may be absent (a
//!    single-platform pull of a multi-platform image keeps the index but not every
//!    platform); everything a manifest references must be present.
//! 3. `meta/images.json` parses, and no name is used by two entries.
//!
//! Unreferenced blobs are only hashed: they are garbage, not part of any image.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::path::PathBuf;

use rayon::prelude::*;
use strata_oci::media_type::{self, Kind};
use strata_oci::{Algorithm, Descriptor, Digest, Digester, Document};

use crate::error::Result;
use crate::gc::list_dir;
use crate::images::{entry_name, validate_name};
use crate::{Error, Store};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// A blob's content does not hash to its name.
    CorruptBlob,
    /// A blob could not be read.
    UnreadableBlob,
    /// A file under `blobs/` that is not named like a digest.
    StrayFile,
    /// A referenced blob is missing.
    MissingBlob,
    /// A blob's size differs from the descriptor that references it.
    SizeMismatch,
    /// A media type Strata does not know in that position.
    UnknownMediaType,
    /// A manifest or index does not parse.
    InvalidDocument,
    /// `index.json` is unreadable or malformed.
    InvalidIndex,
    /// An entry's name is not a valid `ref.name`, or is used twice.
    InvalidName,
    /// `meta/images.json` is malformed.
    InvalidMetadata,
}

/// One problem found by [`Store::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub digest: Option<Digest>,
    pub name: Option<String>,
    pub path: Option<PathBuf>,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The result of a check.
#[derive(Debug, Clone, Default)]
pub struct CheckReport {
    pub problems: Vec<Problem>,
    pub blobs_checked: usize,
    pub bytes_checked: u64,
}

impl CheckReport {
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

fn problem(kind: ProblemKind, digest: Option<&Digest>, message: String) -> Problem {
    Problem {
        kind,
        digest: digest.cloned(),
        name: None,
        path: None,
        message,
    }
}

impl Store {
    /// Verify the whole store; see the module docs.
    pub fn check(&self) -> Result<CheckReport> {
        let mut report = CheckReport::default();

        // 1. Blob contents.
        let mut files = Vec::new();
        for (alg_dir, alg) in list_dir(&self.blobs_dir())? {
            if Algorithm::from_name(&alg).is_none() || !alg_dir.is_dir() {
                report.problems.push(Problem {
                    path: Some(alg_dir.clone()),
                    ..problem(
                        ProblemKind::StrayFile,
                        None,
                        format!("stray entry {} in blobs directory", alg_dir.display()),
                    )
                });
                continue;
            }
            for (path, name) in list_dir(&alg_dir)? {
                match Digest::parse(&format!("{alg}:{name}")) {
                    Ok(d) => files.push((d, path)),
                    Err(_) => report.problems.push(Problem {
                        path: Some(path.clone()),
                        ..problem(
                            ProblemKind::StrayFile,
                            None,
                            format!("stray file {} is not named like a digest", path.display()),
                        )
                    }),
                }
            }
        }
        let hashed: Vec<(Digest, PathBuf, HashResult)> = files
            .into_par_iter()
            .map(|(d, p)| {
                let r = hash_file(&p, d.algorithm());
                (d, p, r)
            })
            .collect();
        for (digest, path, r) in hashed {
            match r {
                Ok(Some((actual, size))) => {
                    report.blobs_checked += 1;
                    report.bytes_checked += size;
                    if actual != digest {
                        report.problems.push(Problem {
                            path: Some(path),
                            ..problem(
                                ProblemKind::CorruptBlob,
                                Some(&digest),
                                format!("blob {digest} is corrupt: its content hashes to {actual}"),
                            )
                        });
                    }
                }
                // Deleted by a concurrent GC between listing and hashing: not a problem.
                Ok(None) => {}
                Err(e) => report.problems.push(Problem {
                    path: Some(path),
                    ..problem(
                        ProblemKind::UnreadableBlob,
                        Some(&digest),
                        format!("blob {digest} is unreadable: {e}"),
                    )
                }),
            }
        }

        // 2. The graph, under the shared lock.
        let _lock = self.lock_shared()?;
        let index = match self.read_index() {
            Ok(ix) => ix,
            Err(e) => {
                report.problems.push(Problem {
                    path: Some(self.index_path()),
                    ..problem(ProblemKind::InvalidIndex, None, e.to_string())
                });
                return Ok(report);
            }
        };
        let mut names: HashMap<&str, usize> = HashMap::new();
        for e in &index.manifests {
            let Some(name) = entry_name(e) else { continue };
            *names.entry(name).or_default() += 1;
            if let Err(err) = validate_name(name) {
                report.problems.push(Problem {
                    name: Some(name.to_string()),
                    ..problem(ProblemKind::InvalidName, Some(&e.digest), err.to_string())
                });
            }
        }
        for (name, n) in names {
            if n > 1 {
                report.problems.push(Problem {
                    name: Some(name.to_string()),
                    ..problem(
                        ProblemKind::InvalidName,
                        None,
                        format!("name {name} is used by {n} index entries"),
                    )
                });
            }
        }
        let mut seen: HashSet<Digest> = HashSet::new();
        // (descriptor, position, referrer)
        let mut work: Vec<(Descriptor, Position, String, bool)> = index
            .manifests
            .iter()
            .map(|d| {
                let who = entry_name(d).unwrap_or("dangling image").to_string();
                (d.clone(), Position::IndexJson, who, false)
            })
            .collect();
        while let Some((desc, pos, referrer, artifact)) = work.pop() {
            let at = At {
                pos,
                referrer: &referrer,
                artifact,
            };
            self.check_descriptor(&desc, at, &mut seen, &mut work, &mut report);
        }

        // 3. Metadata.
        if let Err(e) = self.read_meta_strict() {
            report.problems.push(Problem {
                path: Some(self.meta_images_path()),
                ..problem(ProblemKind::InvalidMetadata, None, e.to_string())
            });
        }
        Ok(report)
    }

    fn check_descriptor(
        &self,
        desc: &Descriptor,
        at: At<'_>,
        seen: &mut HashSet<Digest>,
        work: &mut Vec<(Descriptor, Position, String, bool)>,
        report: &mut CheckReport,
    ) {
        let At {
            pos,
            referrer,
            artifact,
        } = at;
        let d = &desc.digest;
        let kind = media_type::kind(&desc.media_type);
        let allowed = match pos {
            Position::IndexJson | Position::IndexChild | Position::Subject => {
                matches!(kind, Kind::Manifest | Kind::Index)
            }
            // Attestation manifests carry in-toto statements, not filesystem layers.
            Position::Config => kind == Kind::Config || artifact,
            Position::Layer => matches!(kind, Kind::Layer(_)) || artifact,
        };
        if !allowed {
            report.problems.push(problem(
                ProblemKind::UnknownMediaType,
                Some(d),
                format!(
                    "{referrer} references {d} with media type {:?}, which is not a known {}",
                    desc.media_type,
                    pos.what()
                ),
            ));
        }
        let size = match self.blob_size(d) {
            Ok(s) => s,
            Err(Error::BlobNotFound { .. }) => {
                if pos != Position::IndexChild {
                    report.problems.push(problem(
                        ProblemKind::MissingBlob,
                        Some(d),
                        format!(
                            "{referrer} references {d} ({}), which is missing",
                            pos.what()
                        ),
                    ));
                }
                return;
            }
            Err(e) => {
                report
                    .problems
                    .push(problem(ProblemKind::UnreadableBlob, Some(d), e.to_string()));
                return;
            }
        };
        if u64::try_from(desc.size).ok() != Some(size) {
            report.problems.push(problem(
                ProblemKind::SizeMismatch,
                Some(d),
                format!(
                    "{referrer} references {d} with size {}, but the blob has {size} bytes",
                    desc.size
                ),
            ));
        }
        if !allowed || !matches!(kind, Kind::Manifest | Kind::Index) || !seen.insert(d.clone()) {
            return;
        }
        let doc = match self.read_document(desc) {
            Ok(doc) => doc,
            Err(e) => {
                // A corrupt blob was already reported by hashing.
                if !matches!(e, Error::DigestMismatch { .. }) {
                    report.problems.push(problem(
                        ProblemKind::InvalidDocument,
                        Some(d),
                        format!("{d} referenced by {referrer} does not parse: {e}"),
                    ));
                }
                return;
            }
        };
        let me = d.to_string();
        match doc.value {
            Document::Manifest(m) => {
                work.push((m.config.clone(), Position::Config, me.clone(), artifact));
                for l in &m.layers {
                    work.push((l.clone(), Position::Layer, me.clone(), artifact));
                }
                if let Some(s) = &m.subject {
                    work.push((s.clone(), Position::Subject, me, false));
                }
            }
            Document::Index(ix) => {
                for c in &ix.manifests {
                    let attestation = c.annotation(crate::ANNOTATION_REFERENCE_TYPE).is_some();
                    work.push((c.clone(), Position::IndexChild, me.clone(), attestation));
                }
                if let Some(s) = &ix.subject {
                    work.push((s.clone(), Position::Subject, me, false));
                }
            }
        }
    }
}

/// Where a descriptor was found.
#[derive(Debug, Clone, Copy)]
struct At<'a> {
    pos: Position,
    referrer: &'a str,
    /// Inside an attestation manifest (any config/layer media type is fine).
    artifact: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    IndexJson,
    IndexChild,
    Subject,
    Config,
    Layer,
}

impl Position {
    fn what(self) -> &'static str {
        match self {
            Position::IndexJson | Position::IndexChild => "manifest or index",
            Position::Subject => "subject manifest",
            Position::Config => "image config",
            Position::Layer => "layer",
        }
    }
}

/// `(actual digest, size)`, `None` if the file vanished.
type HashResult = io::Result<Option<(Digest, u64)>>;

/// Hash a file; `Ok(None)` if it vanished.
fn hash_file(path: &std::path::Path, alg: Algorithm) -> HashResult {
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut h = Digester::new(alg);
    let n = io::copy(&mut f, &mut h)?;
    Ok(Some((h.finish(), n)))
}
