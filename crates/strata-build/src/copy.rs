//! COPY and ADD with Docker's semantics.
//!
//! Sources are resolved inside their root (the context, or a read-only view of a stage or
//! image): every path component may be a `filepath.Match` glob (`*`, `?`, `[a-z]`, `\`),
//! symlinks are followed *inside* the root only (an absolute target restarts at the root,
//! `..` stops there) — on the way and, as BuildKit does, a source that is itself a symlink
//! too: its target is copied under the link's name, while symlinks *below* a source
//! directory are copied as links. `..` in a source is cleaned against the root, so nothing
//! outside the context is ever read. A directory source copies its contents, not the
//! directory itself; hardlinked files of one source stay hardlinked in the layer.
//!
//! Destination rules: the destination is resolved through the image's symlinks, the last
//! component included (BuildKit's `fs.RootPath`: `COPY f /bin/sh` writes busybox when
//! `/bin/sh` links to it). A destination ending in `/` (or `.`), several sources, a
//! wildcard with several matches, `--parents`, or an existing directory in the image make
//! it a directory; otherwise a single file is copied *to* that path. Several source
//! arguments need a destination ending in `/`, as Docker requires. Directories the copy
//! creates without a source (missing parents, the destination of a directory's contents)
//! are 0755 and owned by `--chown`; `--chmod` applies to the copied entries only. As
//! BuildKit, a copy never merges a directory into a file or symlink of the image, nor
//! replaces a directory of the image with a file: the build fails naming the path.
//!
//! Flags: `--chown` (names from the image's passwd/group), `--chmod` (octal or symbolic),
//! `--exclude` (patternmatcher patterns, matched against each source's name and paths below
//! a source directory), `--parents` (keep the source's path; `/./` marks where it starts),
//! `--link` (the layer is built independently of the image below: parents are created
//! fresh and the cache key leaves the parent out, so the layer is reused when the base
//! changes). ADD also extracts local tar archives (plain, gzip, bzip2, xz, zstd) into the
//! destination and downloads `http(s)://` URLs, verified with `--checksum` when given.
//!
//! Everything is planned first as a flat list of items (source, metadata, container
//! destination), whose description is the cache key, then written into a fresh layer
//! directory.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_dockerfile::instructions::{Chmod, CopyCommand};
use strata_oci::Digest;
use strata_patterns::PatternMatcher;

use super::speculate::{Lower, Speculated};
use super::{Solver, StageState, clean_abs, walk_dir};
use crate::cache::KeyBuilder;
use crate::context::Context;
use crate::fsutil::{self, CopyMeta, View};
use crate::planned::PlannedLayer;
use crate::{BuildError, Result, io_err};

/// What one planned item is.
#[derive(Debug, Clone)]
enum Kind {
    /// A file or symlink copied from `src`.
    Leaf,
    /// A directory created with `src`'s metadata.
    Dir,
    /// The destination a directory's contents are copied into: kept as it is when the
    /// image has it, else created as the copy creates parents (BuildKit's rules:
    /// `--chown`/`--chmod` do not change an existing destination directory).
    DestDir,
    /// A tar archive extracted into the destination directory.
    Extract,
    /// Bytes written as a new file (heredoc or download) with this mode.
    Data(Arc<Vec<u8>>, u32, i64),
}

#[derive(Debug, Clone)]
struct Item {
    src: PathBuf,
    meta: Option<std::fs::Metadata>,
    /// Container path (absolute, clean).
    dst: String,
    kind: Kind,
    /// Context-relative path, for the content hash in the key.
    ctx_rel: Option<String>,
    /// Which source argument the item comes from: hardlinks are kept within one source,
    /// as BuildKit copies each source with its own inode table.
    source: usize,
}

/// ADD-only inputs.
pub(super) struct AddExtras<'a> {
    pub checksum: Option<&'a str>,
    pub unpack: bool,
}

/// `filepath.Match` for one path component.
pub(crate) fn glob_match(pattern: &[u8], name: &[u8]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some(b'*') => {
            glob_match(&pattern[1..], name) || (!name.is_empty() && glob_match(pattern, &name[1..]))
        }
        Some(b'?') => !name.is_empty() && glob_match(&pattern[1..], &name[1..]),
        Some(b'[') => {
            let Some(&c) = name.first() else { return false };
            let mut i = 1;
            let negate = matches!(pattern.get(1), Some(b'^' | b'!'));
            if negate {
                i += 1;
            }
            let mut matched = false;
            let mut first = true;
            while i < pattern.len() && (first || pattern[i] != b']') {
                first = false;
                let mut lo = pattern[i];
                if lo == b'\\' && i + 1 < pattern.len() {
                    i += 1;
                    lo = pattern[i];
                }
                let mut hi = lo;
                if pattern.get(i + 1) == Some(&b'-')
                    && pattern.get(i + 2).is_some_and(|b| *b != b']')
                {
                    hi = pattern[i + 2];
                    i += 2;
                }
                if lo <= c && c <= hi {
                    matched = true;
                }
                i += 1;
            }
            if i >= pattern.len() {
                return false; // Unterminated class: Go reports ErrBadPattern, i.e. no match.
            }
            matched != negate && glob_match(&pattern[i + 1..], &name[1..])
        }
        Some(b'\\') if pattern.len() > 1 => {
            name.first() == Some(&pattern[1]) && glob_match(&pattern[2..], &name[1..])
        }
        Some(p) => name.first() == Some(p) && glob_match(&pattern[1..], &name[1..]),
    }
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Expand a cleaned relative pattern inside `root`: each component may be a glob; symlinks
/// in non-final components are followed inside `root`. Returns relative paths as found
/// (not resolved), sorted per level.
fn expand_glob(root: &Path, rel: &str) -> Vec<String> {
    let mut current = vec![String::new()];
    let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
    for comp in comps {
        let mut next = Vec::new();
        for cur in &current {
            if has_glob(comp) {
                let dir = fsutil::resolve_in(root, cur, true);
                let mut names: Vec<String> = std::fs::read_dir(&dir)
                    .map(|rd| {
                        rd.flatten()
                            .map(|e| e.file_name().to_string_lossy().into_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                names.sort();
                for n in names {
                    if glob_match(comp.as_bytes(), n.as_bytes()) {
                        next.push(join(cur, &n));
                    }
                }
            } else {
                next.push(join(cur, comp));
            }
        }
        current = next;
    }
    current
}

fn join(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_string()
    } else {
        format!("{a}/{b}")
    }
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

/// The compression of an archive from its first bytes, if it is a tar archive we extract:
/// as Docker's `IsArchivePath`, the (decompressed) stream must start with a valid tar
/// header, so a gzip of a plain file (`notes.txt.gz`) is copied as it is.
fn archive_kind(path: &Path) -> Option<&'static str> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut head = [0u8; 6];
    let n = read_up_to(&mut f, &mut head)?;
    let kind = match &head[..n] {
        [0x1f, 0x8b, ..] => "gzip",
        [b'B', b'Z', b'h', ..] => "bzip2",
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => "xz",
        [0x28, 0xb5, 0x2f, 0xfd, ..] => "zstd",
        _ => "tar",
    };
    let mut block = [0u8; 512];
    let mut r = open_archive(path, kind).ok()?;
    let n = read_up_to(&mut r, &mut block)?;
    (n == block.len() && is_tar_header(&block)).then_some(kind)
}

/// Fill `buf` as far as `r` goes; the number of bytes read.
fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> Option<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(_) => return None,
        }
    }
    Some(n)
}

/// A tar header block: its checksum field (octal, bytes 148..156) is the sum of the
/// block's bytes with that field counted as spaces (what Go's tar reader checks; an
/// all-zero block, an empty archive, is not a header).
fn is_tar_header(block: &[u8; 512]) -> bool {
    let field = &block[148..156];
    let digits: String = field
        .iter()
        .map(|&b| b as char)
        .filter(|c| !matches!(c, '\0' | ' '))
        .collect();
    let Ok(want) = u32::from_str_radix(&digits, 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(b)
            }
        })
        .sum();
    !digits.is_empty() && sum == want
}

/// A reader of the decompressed archive at `path`.
fn open_archive(path: &Path, kind: &str) -> Result<Box<dyn Read>> {
    let f = std::fs::File::open(path).map_err(io_err("open", path))?;
    let r = std::io::BufReader::new(f);
    Ok(match kind {
        "gzip" => Box::new(flate2::read::MultiGzDecoder::new(r)),
        "bzip2" => Box::new(bzip2::read::MultiBzDecoder::new(r)),
        "zstd" => Box::new(zstd::stream::read::Decoder::new(r).map_err(io_err("read", path))?),
        "xz" => {
            // lzma-rs decodes into a writer; archives given to ADD are small enough to
            // hold decompressed in a scratch file.
            let mut out =
                tempfile::tempfile().map_err(io_err("create a scratch file for", path))?;
            let mut input = r;
            lzma_rs::xz_decompress(&mut input, &mut out).map_err(|e| BuildError::Copy {
                path: path.display().to_string(),
                reason: format!("invalid xz archive: {e}"),
            })?;
            use std::io::Seek;
            out.seek(std::io::SeekFrom::Start(0))
                .map_err(io_err("read", path))?;
            Box::new(out)
        }
        _ => Box::new(r),
    })
}

/// Extract the tar at `src` into `dir` (a directory in the layer), refusing entries that
/// would leave it.
fn extract(src: &Path, kind: &str, dir: &Path) -> Result<()> {
    let r = open_archive(src, kind)?;
    let mut ar = tar::Archive::new(r);
    ar.set_preserve_permissions(true);
    ar.set_preserve_ownerships(true);
    ar.set_preserve_mtime(true);
    ar.set_unpack_xattrs(true);
    ar.set_overwrite(true);
    // `unpack` refuses `..` and absolute paths and never writes through a symlink that
    // points out of `dir`.
    ar.unpack(dir).map_err(|e| {
        let mut reason = format!("failed to extract archive: {e}");
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            reason.push_str(&format!(": {c}"));
            cause = c.source();
        }
        BuildError::Copy {
            path: src.display().to_string(),
            reason,
        }
    })
}

/// Download `url` (rustls, system roots); returns the body and the Last-Modified time.
fn download(url: &str) -> Result<(Vec<u8>, Option<i64>)> {
    let bad = |reason: String| BuildError::Copy {
        path: url.to_string(),
        reason,
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| bad(e.to_string()))?;
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        let resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| bad(format!("failed to download: {e}")))?;
        if !resp.status().is_success() {
            return Err(bad(format!(
                "failed to download: invalid response status {}",
                resp.status()
            )));
        }
        let modified = resp
            .headers()
            .get(reqwest::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| jiff::fmt::rfc2822::parse(v).ok())
            .map(|z| z.timestamp().as_second());
        let body = resp
            .bytes()
            .await
            .map_err(|e| bad(format!("failed to download: {e}")))?;
        Ok((body.to_vec(), modified))
    })
}

fn url_basename(url: &str) -> String {
    let path = url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(url)
        .split(['?', '#'])
        .next()
        .unwrap_or("");
    let path = path.split_once('/').map(|(_, p)| p).unwrap_or("");
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("__unnamed__")
        .to_string()
}

/// The files of one source already copied, by inode: a second name of one of them is
/// copied as a hardlink to the first.
#[derive(Default)]
struct HardLinks<'a> {
    seen: std::collections::HashMap<(usize, u64, u64), &'a str>,
}

impl<'a> HardLinks<'a> {
    /// The destination `it` is a hardlink to, or `None` when it is to be copied (and is
    /// remembered when other names of its file may follow).
    fn first(&mut self, it: &'a Item, meta: &std::fs::Metadata) -> Option<&'a str> {
        if !meta.is_file() || meta.nlink() < 2 {
            return None;
        }
        let key = (it.source, meta.dev(), meta.ino());
        match self.seen.get(&key) {
            Some(first) => Some(first),
            None => {
                self.seen.insert(key, &it.dst);
                None
            }
        }
    }
}

/// What the image has where the copy writes: BuildKit refuses to merge a directory into a
/// file or symlink, or to replace a directory with a file. Checked when the copy runs (a
/// cache hit was checked when it ran), and only below directories the image has, so an
/// unchanged build does not look each copied path up in every layer.
///
/// The same holds between the copy's own items: a later source cannot put a directory
/// where an earlier one put a file, nor a file where an earlier one put a directory
/// (BuildKit copies the sources one after the other into the same tree).
fn check_conflicts(items: &[Item], lower: &Lower<'_>) -> Result<()> {
    let mut dir_exists: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    // What the copy itself has written so far: path → is a directory.
    let mut written: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    for it in items {
        let makes_dir = match &it.kind {
            Kind::Dir | Kind::DestDir | Kind::Extract => true,
            Kind::Leaf => it.meta.as_ref().is_some_and(|m| m.is_dir()),
            Kind::Data(..) => false,
        };
        if let Some(&was_dir) = written.get(it.dst.as_str()) {
            let reason = match (was_dir, makes_dir) {
                (false, true) => "cannot copy to non-directory",
                (true, false) => "cannot replace a directory with a file",
                _ => "",
            };
            if !reason.is_empty() {
                return Err(BuildError::Copy {
                    path: it.dst.clone(),
                    reason: reason.into(),
                });
            }
        }
        written.insert(&it.dst, makes_dir);
        let parent = match it.dst.rfind('/') {
            Some(0) | None => "/",
            Some(i) => &it.dst[..i],
        };
        let parent_is_dir = *dir_exists
            .entry(parent)
            .or_insert_with(|| parent == "/" || lower.is_dir(parent));
        if !parent_is_dir {
            continue;
        }
        // Only what decides the outcome is looked up (and so, in a speculation, what the
        // copy depends on): whether a directory is there, or for a directory whether
        // anything else is.
        let reason = match &it.kind {
            Kind::Dir | Kind::DestDir | Kind::Extract if lower.kind(&it.dst) == Some(false) => {
                "cannot copy to non-directory"
            }
            Kind::Leaf
                if it.meta.as_ref().is_some_and(|m| !m.is_dir()) && lower.is_dir(&it.dst) =>
            {
                "cannot replace a directory with a file"
            }
            Kind::Data(..) if lower.is_dir(&it.dst) => "cannot replace a directory with a file",
            _ => continue,
        };
        return Err(BuildError::Copy {
            path: it.dst.clone(),
            reason: reason.into(),
        });
    }
    Ok(())
}

/// The planned twin of the on-disk copy in [`Solver::copy_op`]: the same operations on a
/// [`PlannedLayer`], in the same order.
fn plan_copy(
    items: &[Item],
    cm: &CopyMeta,
    parents_from: &Lower<'_>,
    epoch: Option<i64>,
) -> Result<PlannedLayer> {
    let parents_from = &|p: &str| parents_from.lookup(p);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let mut plan = PlannedLayer::new(now);
    let mut dirs: Vec<(&str, &std::fs::Metadata)> = Vec::new();
    let mut links = HardLinks::default();
    for it in items {
        plan.make_parents(parents_from, &it.dst, cm)?;
        match &it.kind {
            Kind::DestDir => plan.make_parents(parents_from, &format!("{}/-", it.dst), cm)?,
            Kind::Dir => {
                plan.make_dir(&it.dst, it.meta.as_ref(), cm);
                if let Some(m) = &it.meta {
                    dirs.push((&it.dst, m));
                }
            }
            Kind::Leaf => {
                if let Some(m) = &it.meta {
                    match links.first(it, m) {
                        Some(first) => plan.hardlink(first, &it.dst)?,
                        None => plan.copy_leaf(&it.src, m, &it.dst, cm)?,
                    }
                }
            }
            Kind::Data(bytes, mode, mtime) => {
                let mtime = epoch.map_or(*mtime, |e| (*mtime).min(e));
                plan.write_data(&it.dst, bytes.clone(), *mode, mtime, cm);
            }
            Kind::Extract => {
                return Err(BuildError::Copy {
                    path: it.src.display().to_string(),
                    reason: "an archive to extract cannot be planned".into(),
                });
            }
        }
    }
    for (d, m) in dirs.iter().rev() {
        plan.finish_dir(d, m);
    }
    Ok(plan)
}

impl<'a> Solver<'a> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn copy_op(
        &self,
        st: &mut StageState,
        c: &CopyCommand,
        add: Option<AddExtras<'_>>,
        env: &BTreeMap<String, String>,
        cc: &strata_oci::ContainerConfig,
        line: usize,
        vertex: &mut dyn FnMut(&str) -> String,
        keyword: &str,
    ) -> Result<String> {
        self.copy_op_inner(st, c, add, env, cc, line, vertex, keyword, None)
    }

    /// [`Solver::copy_op`]; with `speculate`, a planned copy is only prepared, against
    /// the image as it is now, into `speculate` (see [`super::speculate`]): nothing is
    /// reported or recorded.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn copy_op_inner(
        &self,
        st: &mut StageState,
        c: &CopyCommand,
        add: Option<AddExtras<'_>>,
        env: &BTreeMap<String, String>,
        cc: &strata_oci::ContainerConfig,
        line: usize,
        vertex: &mut dyn FnMut(&str) -> String,
        keyword: &str,
        speculate: Option<&mut Option<Box<Speculated<'a>>>>,
    ) -> Result<String> {
        let lowers = self.lowers_top_first(st)?;
        let dest_raw = self.expand(&c.sources.dest, env, line)?;
        let wd = if cc.working_dir.is_empty() {
            "/"
        } else {
            &cc.working_dir
        };
        let dest_abs = if dest_raw.starts_with('/') {
            dest_raw.clone()
        } else {
            format!("{wd}/{dest_raw}")
        };
        let dest_is_dir_syntax =
            dest_raw.ends_with('/') || dest_raw == "." || dest_raw.ends_with("/.");
        // The destination is resolved through the image's symlinks (the last component
        // too), as BuildKit does; a `--link` layer is built without the image below it.
        let dest = if c.link {
            clean_abs(&dest_abs)
        } else {
            fsutil::resolve_dest(&lowers, &clean_abs(&dest_abs))
        };
        let mut srcs = Vec::new();
        for s in &c.sources.source_paths {
            srcs.push(self.expand(s, env, line)?);
        }
        let inline = &c.sources.source_contents;
        let existing_dir =
            !c.link && fsutil::lookup(&lowers, &dest).is_some_and(|(_, m)| m.is_dir());
        let owner = match &c.chown {
            Some(v) => {
                let v = self.expand(&v.value, env, line)?;
                fsutil::resolve_chown(&lowers, &v)?
            }
            None => (0, 0),
        };
        let (chmod, symbolic) = match &c.chmod {
            Some(v) => match Chmod::parse(&self.expand(&v.value, env, line)?) {
                Ok(Chmod::Octal(m)) => (Some(m), None),
                Ok(Chmod::Symbolic(s)) => (None, Some(s)),
                Err(m) => {
                    return Err(BuildError::Dockerfile {
                        message: m,
                        line: Some(line),
                    });
                }
            },
            None => (None, None),
        };
        let cm = CopyMeta {
            owner,
            chmod,
            symbolic,
        };
        let mut excludes = Vec::new();
        for e in &c.excludes {
            excludes.push(self.expand(e, env, line)?);
        }
        let matcher = PatternMatcher::new(&excludes).map_err(|e| BuildError::Dockerfile {
            message: format!("invalid --exclude pattern: {e}"),
            line: Some(line),
        })?;
        let excluded = |p: &str| !excludes.is_empty() && matcher.matches(p);
        let local: Vec<&String> = srcs.iter().filter(|s| !is_url(s)).collect();
        // Source root: the context, or a read-only view of another stage/image.
        let mut ctx_opt: Option<Arc<Context>> = None;
        // With `--from`, the snapshot directories behind the view, topmost first.
        let mut from_layers: Vec<PathBuf> = Vec::new();
        let (source_root, source_key, view): (PathBuf, String, Option<View>) = match &c.from {
            None if local.is_empty() => (PathBuf::new(), "none".into(), None),
            None => {
                let ctx = self.context()?;
                let root = ctx.root.clone();
                ctx_opt = Some(ctx);
                (root, "context".to_string(), None)
            }
            Some(from) => {
                let name = self.expand(&from.value, &self.global_args.clone(), line)?;
                let state = match self.find_done_stage(&name, st.at.0)? {
                    Some(s) => s,
                    None => self.resolve_image(&name)?,
                };
                let mut l = self.snapshots.ensure(self.store, &state.layers)?;
                l.reverse();
                let v = View::open(&self.snapshots, &l)?;
                from_layers = l;
                (v.path().to_path_buf(), state.key.to_string(), Some(v))
            }
        };
        let wildcard = srcs.iter().any(|s| has_glob(s));
        // Pass 1: the top-level matches of every source.
        struct Top {
            host: PathBuf,
            rel: String,
            /// The name the source was given (a followed symlink's, not its target's).
            name: String,
            meta: std::fs::Metadata,
            /// Path kept under the destination with --parents.
            keep: String,
        }
        let mut tops: Vec<Top> = Vec::new();
        for s in &local {
            let (pivot, pattern) = match s.split_once("/./") {
                Some((p, rest)) if c.parents => (
                    clean_abs(p).trim_start_matches('/').to_string(),
                    format!("{p}/{rest}"),
                ),
                _ => (String::new(), s.to_string()),
            };
            let rel = clean_abs(&pattern).trim_start_matches('/').to_string();
            let mut any = false;
            for r in expand_glob(&source_root, &rel) {
                // A source that is a symlink is followed (inside the root), as BuildKit's
                // COPY follows it: its target's content is copied under the link's name.
                // Symlinks below a source directory are copied as links.
                let host = fsutil::resolve_in(&source_root, &r, true);
                let Ok(meta) = std::fs::symlink_metadata(&host) else {
                    continue;
                };
                let resolved = host
                    .strip_prefix(&source_root)
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if let Some(ctx) = &ctx_opt
                    && !ctx.contains(&resolved)
                {
                    continue;
                }
                let base = r.rsplit('/').next().unwrap_or(&r).to_string();
                if !r.is_empty() && excluded(&base) {
                    continue;
                }
                let keep = r
                    .strip_prefix(&pivot)
                    .unwrap_or(&r)
                    .trim_start_matches('/')
                    .to_string();
                tops.push(Top {
                    host,
                    rel: resolved,
                    name: base,
                    meta,
                    keep,
                });
                any = true;
            }
            if !any && !has_glob(&rel) {
                return Err(BuildError::SourceNotFound {
                    path: format!("/{rel}"),
                });
            }
        }
        let urls: Vec<&String> = srcs.iter().filter(|s| is_url(s)).collect();
        // Several sources and a destination without a slash are not refused (the classic
        // builder's rule): as in BuildKit, each is copied to the destination in turn.
        let dest_dir =
            dest_is_dir_syntax || (wildcard && tops.len() > 1) || c.parents || existing_dir;
        let into = |name: &str| -> String {
            if dest_dir {
                clean_abs(&format!("{dest}/{name}"))
            } else {
                dest.clone()
            }
        };
        // Pass 2: the flat list of items.
        let mut items: Vec<Item> = Vec::new();
        let unpack = add.as_ref().is_some_and(|a| a.unpack);
        for (source, t) in tops.iter().enumerate() {
            let base = t.name.clone();
            if t.meta.is_dir() {
                let root_dst = if c.parents && !t.keep.is_empty() {
                    clean_abs(&format!("{dest}/{}", t.keep))
                } else {
                    dest.clone()
                };
                if root_dst != "/" {
                    let keep_path = c.parents && !t.keep.is_empty();
                    items.push(Item {
                        src: t.host.clone(),
                        meta: Some(t.meta.clone()),
                        dst: root_dst.clone(),
                        kind: if keep_path { Kind::Dir } else { Kind::DestDir },
                        ctx_rel: ctx_opt.as_ref().map(|_| t.rel.clone()),
                        source,
                    });
                }
                let children: Vec<(String, std::fs::Metadata)> = match &ctx_opt {
                    Some(ctx) => ctx
                        .below(&t.rel)
                        .map(|(k, e)| {
                            let r = if t.rel.is_empty() {
                                k.clone()
                            } else {
                                k[t.rel.len() + 1..].to_string()
                            };
                            (r, e.meta.clone())
                        })
                        .collect(),
                    None => walk_dir(&t.host)?,
                };
                let mut skipped: Vec<String> = Vec::new();
                for (r, meta) in children {
                    if skipped.iter().any(|s| r.starts_with(&format!("{s}/"))) {
                        continue;
                    }
                    if excluded(&r) {
                        if meta.is_dir() {
                            skipped.push(r);
                        }
                        continue;
                    }
                    items.push(Item {
                        src: t.host.join(&r),
                        dst: clean_abs(&format!("{root_dst}/{r}")),
                        kind: if meta.is_dir() { Kind::Dir } else { Kind::Leaf },
                        meta: Some(meta),
                        ctx_rel: ctx_opt.as_ref().map(|_| join(&t.rel, &r)),
                        source,
                    });
                }
            } else {
                let target = if c.parents {
                    clean_abs(&format!("{dest}/{}", t.keep))
                } else {
                    into(&base)
                };
                let is_archive = unpack
                    && ctx_opt.is_some()
                    && t.meta.is_file()
                    && archive_kind(&t.host).is_some();
                items.push(Item {
                    src: t.host.clone(),
                    meta: Some(t.meta.clone()),
                    dst: if is_archive { dest.clone() } else { target },
                    kind: if is_archive {
                        Kind::Extract
                    } else {
                        Kind::Leaf
                    },
                    ctx_rel: ctx_opt.as_ref().map(|_| t.rel.clone()),
                    source,
                });
            }
        }
        for f in inline {
            // Heredoc bodies expand with quotes as ordinary characters (BuildKit's rule).
            let data = f.expanded(env).map_err(|e| BuildError::Dockerfile {
                message: e.to_string(),
                line: Some(line),
            })?;
            items.push(Item {
                src: PathBuf::new(),
                meta: None,
                dst: into(&f.path),
                kind: Kind::Data(Arc::new(data.into_bytes()), 0o644, 0),
                ctx_rel: None,
                source: usize::MAX,
            });
        }
        for u in &urls {
            let (body, modified) = download(u)?;
            let got = Digest::sha256(&body);
            if let Some(want) = add.as_ref().and_then(|a| a.checksum) {
                let want = self.expand(want, env, line)?;
                if got.as_str() != want {
                    return Err(BuildError::Copy {
                        path: u.to_string(),
                        reason: format!("digest mismatch {got}: {want}"),
                    });
                }
            }
            items.push(Item {
                src: PathBuf::new(),
                meta: None,
                dst: into(&url_basename(u)),
                kind: Kind::Data(Arc::new(body), 0o600, modified.unwrap_or(0)),
                ctx_rel: None,
                source: usize::MAX,
            });
        }
        // The key: the op's definition and exactly what it copies.
        let mut key_items: Vec<String> = Vec::new();
        // Which copied files are names of one inode is part of what the copy writes.
        let mut key_links = HardLinks::default();
        for it in &items {
            let what = match (&it.kind, &it.meta) {
                (Kind::Data(d, mode, mtime), _) => {
                    format!("data {mode:o} {mtime} {}", Digest::sha256(d))
                }
                (_, Some(m)) => {
                    let ft = m.file_type();
                    let mode = m.mode() & 0o7777;
                    let tag = match it.kind {
                        Kind::Extract => "x",
                        Kind::DestDir => "dest",
                        _ => "",
                    };
                    if ft.is_symlink() {
                        format!(
                            "l{tag} {mode:o} {}",
                            std::fs::read_link(&it.src)
                                .map(|t| t.display().to_string())
                                .unwrap_or_default()
                        )
                    } else if ft.is_dir() {
                        format!("d{tag} {mode:o}")
                    } else {
                        let hash = match (&ctx_opt, &it.ctx_rel) {
                            (Some(ctx), Some(r)) => ctx.content_hash(r)?,
                            _ => String::new(),
                        };
                        match key_links.first(it, m) {
                            Some(first) => format!("f{tag} {mode:o} {hash} link {first}"),
                            None => format!("f{tag} {mode:o} {hash}"),
                        }
                    }
                }
                (_, None) => String::new(),
            };
            key_items.push(format!("{} {what}", it.dst));
        }
        let parent = if c.link {
            "link".to_string()
        } else {
            st.key.to_string()
        };
        let owner_text = format!("{}:{}", cm.owner.0, cm.owner.1);
        let chmod_text = match (&cm.chmod, &cm.symbolic) {
            (Some(m), _) => format!("{m:o}"),
            (None, Some(s)) => s.clone(),
            _ => String::new(),
        };
        // What the copy writes, as far as the cache key goes.
        let definition = |k: KeyBuilder| {
            k.field("source", &source_key)
                .list("src", &srcs)
                .list("exclude", &excludes)
                .field("dest", &dest)
                .field("owner", &owner_text)
                .field("chmod", &chmod_text)
                .list("item", &key_items)
        };
        let key = definition(KeyBuilder::new("strata.copy.v5").field("parent", &parent));
        // The key without its parent, and what else shapes a planned layer: what a
        // speculation of this copy must have had (see [`super::speculate`]).
        let fingerprint = definition(KeyBuilder::new("strata.copy.speculation.v1"))
            .field("link", &c.link.to_string())
            .field("epoch", &format!("{:?}", self.opts.source_date_epoch))
            .field("exported", &st.exported.to_string())
            .preimage()
            .to_string();
        let mut shown: Vec<String> = Vec::new();
        if let Some(from) = &c.from {
            shown.push(format!("--from={}", from.value));
        }
        if c.link {
            shown.push("--link".into());
        }
        if c.parents {
            shown.push("--parents".into());
        }
        for e in &excludes {
            shown.push(format!("--exclude={e}"));
        }
        shown.extend(srcs.iter().cloned());
        for f in inline {
            shown.push(format!("<<{}", f.path));
        }
        shown.push(dest_raw.clone());
        let name = vertex(&format!("{keyword} {}", shown.join(" ")));
        let link = c.link;
        let epoch = self.opts.source_date_epoch;
        let parent_key = st.key.clone();
        let planned = st.tail && !items.iter().any(|it| matches!(it.kind, Kind::Extract));
        if let Some(out) = speculate {
            if planned {
                let parents_from: &[PathBuf] = if link { &[] } else { &lowers };
                let lower = Lower::recording(parents_from);
                check_conflicts(&items, &lower)?;
                let plan = plan_copy(&items, &cm, &lower, epoch)?;
                let reads = lower.into_reads(&plan.times_from_image());
                let what = Path::new(&dest);
                // One thread: the cores belong to the steps on the critical path.
                let made = self.write_layer_on(what, st.exported, 1, |out, opts| {
                    plan.write(out, opts, what)?;
                    Ok(())
                })?;
                *out = Some(Box::new(Speculated {
                    fingerprint,
                    reads,
                    made,
                }));
            }
            return Ok(String::new());
        }
        if planned {
            // Nothing reads this layer back as a directory: stream the copy into the tar.
            let at = st.at;
            self.layer_op_with(st, key, name, |s, st, lowers| {
                let parents_from: &[PathBuf] = if link { &[] } else { lowers };
                // Prepared ahead, on an image below that gives the same look-ups?
                if let Some(ahead) = s.take_speculation(at)
                    && ahead.fingerprint == fingerprint
                    && ahead.holds_on(parents_from)
                {
                    s.prepared_ahead
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Ok(ahead.made);
                }
                let lower = Lower::plain(parents_from);
                check_conflicts(&items, &lower)?;
                let plan = plan_copy(&items, &cm, &lower, epoch)?;
                let what = Path::new(&dest);
                s.write_layer(what, st.exported, |out, opts| {
                    plan.write(out, opts, what)?;
                    Ok(())
                })
            })?;
        } else {
            self.layer_op(st, key, name, |_, upper, lowers| {
                let parents_from: &[PathBuf] = if link { &[] } else { lowers };
                check_conflicts(&items, &Lower::plain(parents_from))?;
                let mut dirs: Vec<(PathBuf, std::fs::Metadata)> = Vec::new();
                let mut links = HardLinks::default();
                let mut shared: std::collections::HashSet<(u64, u64)> = Default::default();
                for it in &items {
                    fsutil::make_parents(upper, parents_from, &it.dst, &cm)?;
                    let dst = upper.join(it.dst.trim_start_matches('/'));
                    match &it.kind {
                        Kind::DestDir => {
                            // The destination itself, as the parent of a child of it.
                            let child = format!("{}/-", it.dst);
                            fsutil::make_parents(upper, parents_from, &child, &cm)?;
                        }
                        Kind::Dir => {
                            fsutil::make_dir(&dst, it.meta.as_ref(), &cm)?;
                            if let Some(m) = &it.meta {
                                dirs.push((dst, m.clone()));
                            }
                        }
                        Kind::Leaf => {
                            if let Some(m) = &it.meta {
                                match links.first(it, m) {
                                    Some(first) => {
                                        let first = upper.join(first.trim_start_matches('/'));
                                        fsutil::hard_link(&first, &dst)?;
                                    }
                                    None => {
                                        // A file of another stage or image: share the
                                        // snapshot's inode when that changes nothing.
                                        let real = (!from_layers.is_empty())
                                            .then(|| it.src.strip_prefix(&source_root).ok())
                                            .flatten()
                                            .and_then(|rel| {
                                                fsutil::lookup(&from_layers, &rel.to_string_lossy())
                                            });
                                        // Each snapshot file once: two names of one
                                        // inode would be written as a hardlink.
                                        let linked = match real {
                                            Some((real, rm))
                                                if shared.insert((rm.dev(), rm.ino())) =>
                                            {
                                                fsutil::link_leaf(&real, m, &dst, &cm)?
                                            }
                                            _ => false,
                                        };
                                        if !linked {
                                            fsutil::copy_leaf(&it.src, m, &dst, &cm)?;
                                        }
                                    }
                                }
                            }
                        }
                        Kind::Extract => {
                            fsutil::make_dir(&dst, None, &CopyMeta::default())?;
                            let kind = archive_kind(&it.src).unwrap_or("tar");
                            extract(&it.src, kind, &dst)?;
                        }
                        Kind::Data(bytes, mode, mtime) => {
                            if let Ok(m) = std::fs::symlink_metadata(&dst) {
                                if m.is_dir() {
                                    std::fs::remove_dir_all(&dst)
                                        .map_err(io_err("remove", &dst))?;
                                } else {
                                    std::fs::remove_file(&dst).map_err(io_err("remove", &dst))?;
                                }
                            }
                            std::fs::write(&dst, bytes.as_slice())
                                .map_err(io_err("write", &dst))?;
                            std::os::unix::fs::lchown(&dst, Some(cm.owner.0), Some(cm.owner.1))
                                .map_err(io_err("chown", &dst))?;
                            let mode = cm.mode_for(*mode, false);
                            std::fs::set_permissions(
                                &dst,
                                std::os::unix::fs::PermissionsExt::from_mode(mode),
                            )
                            .map_err(io_err("chmod", &dst))?;
                            let t = filetime::FileTime::from_unix_time(
                                epoch.map_or(*mtime, |e| (*mtime).min(e)),
                                0,
                            );
                            filetime::set_file_times(&dst, t, t)
                                .map_err(io_err("set times of", &dst))?;
                        }
                    }
                }
                for (d, m) in dirs.iter().rev() {
                    fsutil::finish_dir(d, m)?;
                }
                Ok(())
            })?;
        }
        if link {
            // The layer's key leaves the parent out; the state after it does not.
            st.key = KeyBuilder::new("strata.stack.v1")
                .field("parent", parent_key.as_str())
                .field("layer", st.key.as_str())
                .finish();
        }
        drop(view);
        // History names the sources and the destination, without the flags (`--from`,
        // `--chown`, ...), as BuildKit writes `created_by`.
        let mut hist: Vec<String> = srcs.clone();
        hist.extend(inline.iter().map(|f| format!("<<{}", f.path)));
        hist.push(dest_raw);
        Ok(format!("{keyword} {} # buildkit", hist.join(" ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_follow_filepath_match() {
        assert!(glob_match(b"*.txt", b"a.txt"));
        assert!(!glob_match(b"*.txt", b"a.txt.bak"));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"[a-c]x", b"bx"));
        assert!(!glob_match(b"[^a-c]x", b"bx"));
        assert!(glob_match(b"[!a-c]x", b"dx"));
        assert!(glob_match(b"\\*", b"*"));
        assert!(!glob_match(b"\\*", b"a"));
        assert!(!glob_match(b"[a", b"a"));
    }

    #[test]
    fn url_names() {
        assert_eq!(url_basename("http://h/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_basename("https://h/"), "__unnamed__");
    }

    #[test]
    fn glob_expansion_per_component() {
        let d = tempfile::tempdir().unwrap();
        for f in ["a/x.txt", "b/y.txt", "b/z.md"] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "").unwrap();
        }
        assert_eq!(expand_glob(d.path(), "*/*.txt"), ["a/x.txt", "b/y.txt"]);
    }
}
