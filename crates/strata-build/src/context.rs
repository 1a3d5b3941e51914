//! The build context, read in place.
//!
//! [`Context::open`] walks the directory once, sorted, applying `.dockerignore` (or
//! `<Dockerfile>.dockerignore` beside the Dockerfile, which wins) with
//! [`strata_patterns::PatternMatcher::matches_using_parent_results`], so each path costs one
//! test per pattern. An excluded directory is skipped whole unless an exception pattern
//! (`!…`) starts with its path (BuildKit's rule: `!README.md` does not reopen `.git/`, while
//! `!logs/keep` reopens `logs/`). The result is the list of included paths
//! with their `lstat` metadata; nothing is read yet.
//!
//! [`Context::content_hash`] hashes one file's content (sha256), memoised by
//! (path, size, mtime, ctime, inode, mode) in `meta/build-context/<id>.json` of the store,
//! so an unchanged context costs one `stat` per file and no reads.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use strata_patterns::{MatchInfo, PatternMatcher};

use crate::{BuildError, Result, io_err};

/// One included path (relative, slash-separated, no leading `./`).
#[derive(Debug, Clone)]
pub struct Entry {
    pub meta: fs::Metadata,
}

/// Memo key: everything that changes when a file's content may have changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    size: u64,
    mtime: i64,
    mtime_ns: i64,
    ctime: i64,
    ctime_ns: i64,
    ino: u64,
    mode: u32,
}

impl Stamp {
    fn of(m: &fs::Metadata) -> Stamp {
        Stamp {
            size: m.size(),
            mtime: m.mtime(),
            mtime_ns: m.mtime_nsec(),
            ctime: m.ctime(),
            ctime_ns: m.ctime_nsec(),
            ino: m.ino(),
            mode: m.mode(),
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Memo {
    files: HashMap<String, (Stamp, String)>,
}

/// A walked context.
#[derive(Debug)]
pub struct Context {
    pub root: PathBuf,
    pub entries: BTreeMap<String, Entry>,
    /// Whether `.dockerignore` left anything out (a bind mount of a directory then needs a
    /// filtered copy rather than the directory itself).
    pub excluded_any: bool,
    memo: Mutex<Memo>,
    memo_path: Option<PathBuf>,
    memo_dirty: Mutex<bool>,
}

/// Read the ignore file for `dockerfile` in `root`: `<Dockerfile>.dockerignore` next to the
/// Dockerfile first, else `.dockerignore` at the context root.
pub fn ignore_patterns(root: &Path, dockerfile: Option<&Path>) -> Result<Vec<String>> {
    let mut candidates = Vec::new();
    if let Some(df) = dockerfile
        && let Some(name) = df.file_name()
    {
        let mut n = name.to_os_string();
        n.push(".dockerignore");
        candidates.push(df.with_file_name(n));
    }
    candidates.push(root.join(".dockerignore"));
    for c in candidates {
        // Read as bytes, as BuildKit does: a comment in Latin-1 must not fail the build.
        match fs::read(&c) {
            Ok(bytes) => {
                return Ok(strata_patterns::parse_ignore_file(
                    &String::from_utf8_lossy(&bytes),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(BuildError::Context { path: c, source }),
        }
    }
    Ok(Vec::new())
}

impl Context {
    /// Walk `root` with the given ignore patterns. `memo_path` is where content hashes are
    /// remembered between builds.
    pub fn open(root: &Path, patterns: &[String], memo_path: Option<PathBuf>) -> Result<Context> {
        let matcher = PatternMatcher::new(patterns).map_err(|e| BuildError::Ignore {
            path: root.join(".dockerignore"),
            reason: e.to_string(),
        })?;
        let mut entries = BTreeMap::new();
        let mut excluded_any = false;
        let ctx_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| BuildError::Context { path, source }
        };
        fs::metadata(root).map_err(ctx_err(root))?;
        // Stack of (dir relative path, match info of that dir).
        let mut stack: Vec<(String, MatchInfo)> = vec![(String::new(), MatchInfo::default())];
        while let Some((dir, info)) = stack.pop() {
            let abs = if dir.is_empty() {
                root.to_path_buf()
            } else {
                root.join(&dir)
            };
            let mut names: Vec<(String, fs::Metadata)> = Vec::new();
            for item in fs::read_dir(&abs).map_err(ctx_err(&abs))? {
                let item = item.map_err(ctx_err(&abs))?;
                let meta = item.metadata().map_err(ctx_err(&item.path()))?;
                names.push((item.file_name().to_string_lossy().into_owned(), meta));
            }
            names.sort_by(|a, b| a.0.cmp(&b.0));
            let mut subdirs = Vec::new();
            for (name, meta) in names {
                let rel = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let (excluded, child_info) = if matcher.is_empty() {
                    (false, MatchInfo::default())
                } else {
                    matcher.matches_using_parent_results(&rel, &info)
                };
                let is_dir = meta.is_dir();
                if excluded {
                    excluded_any = true;
                    // As BuildKit's walker (fsutil) does: an excluded directory is entered
                    // only when an exception pattern starts with its path.
                    let dir_slash = format!("{rel}/");
                    if is_dir
                        && matcher.exclusions()
                        && matcher.patterns().iter().any(|p| {
                            p.is_exclusion() && format!("{}/", p.as_str()).starts_with(&dir_slash)
                        })
                    {
                        subdirs.push((rel, child_info));
                    }
                    continue;
                }
                if is_dir {
                    subdirs.push((rel.clone(), child_info));
                }
                entries.insert(rel, Entry { meta });
            }
            // Reverse so the stack pops them in name order (only matters for errors).
            stack.extend(subdirs.into_iter().rev());
        }
        let memo = memo_path
            .as_ref()
            .and_then(|p| fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        Ok(Context {
            root: root.to_path_buf(),
            entries,
            excluded_any,
            memo: Mutex::new(memo),
            memo_path,
            memo_dirty: Mutex::new(false),
        })
    }

    /// Whether `rel` (cleaned, relative) is in the context, including the root (`""`).
    pub fn contains(&self, rel: &str) -> bool {
        rel.is_empty() || self.entries.contains_key(rel)
    }

    /// Included paths under directory `rel` (all of them for the root), in order.
    pub fn below<'a>(&'a self, rel: &'a str) -> impl Iterator<Item = (&'a String, &'a Entry)> + 'a {
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        self.entries
            .range::<String, _>(prefix.clone()..)
            .take_while(move |(k, _)| k.starts_with(&prefix))
    }

    /// The sha256 (hex) of a regular file's content, memoised by its metadata.
    pub fn content_hash(&self, rel: &str) -> Result<String> {
        match self.entries.get(rel) {
            Some(e) => self.content_hash_of(rel, &e.meta),
            None => {
                let path = self.root.join(rel);
                let meta = fs::symlink_metadata(&path).map_err(io_err("stat", &path))?;
                self.content_hash_of(rel, &meta)
            }
        }
    }

    /// Regular files whose memoised hash is missing or stale, in walk order (one look at
    /// the memo for all of them: cheap when the context is unchanged).
    pub fn unhashed_files(&self) -> Vec<&str> {
        let Ok(memo) = self.memo.lock() else {
            return Vec::new();
        };
        self.entries
            .iter()
            .filter(|(_, e)| e.meta.is_file())
            .filter(|(rel, e)| {
                memo.files
                    .get(rel.as_str())
                    .is_none_or(|(s, _)| *s != Stamp::of(&e.meta))
            })
            .map(|(rel, _)| rel.as_str())
            .collect()
    }

    /// [`Context::content_hash`] with the metadata from the walk (no second `stat`).
    fn content_hash_of(&self, rel: &str, meta: &fs::Metadata) -> Result<String> {
        let path = self.root.join(rel);
        let stamp = Stamp::of(meta);
        if let Ok(memo) = self.memo.lock()
            && let Some((s, h)) = memo.files.get(rel)
            && *s == stamp
        {
            return Ok(h.clone());
        }
        let mut f = fs::File::open(&path).map_err(io_err("open", &path))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = f.read(&mut buf).map_err(io_err("read", &path))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        let h = hex::encode(hasher.finalize());
        if let Ok(mut memo) = self.memo.lock() {
            memo.files.insert(rel.to_string(), (stamp, h.clone()));
        }
        if let Ok(mut d) = self.memo_dirty.lock() {
            *d = true;
        }
        Ok(h)
    }

    /// Persist the memo (best effort: it is a cache).
    pub fn save_memo(&self) {
        let dirty = self.memo_dirty.lock().map(|d| *d).unwrap_or(false);
        let (Some(path), true) = (&self.memo_path, dirty) else {
            return;
        };
        let Ok(memo) = self.memo.lock() else { return };
        let Ok(bytes) = serde_json::to_vec(&*memo) else {
            return;
        };
        if let Some(dir) = path.parent() {
            let _ = fs::create_dir_all(dir);
            let tmp = dir.join(format!(".tmp-{}", rand::random::<u64>()));
            if fs::write(&tmp, &bytes).is_ok() && fs::rename(&tmp, path).is_err() {
                let _ = fs::remove_file(&tmp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_applies_ignore_patterns_with_exceptions() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "a.md",
            "README.md",
            "src/x.c",
            "src/x.bak",
            "logs/l.txt",
            "keep/k",
        ] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        let pats: Vec<String> = ["logs/", "**/*.bak", "*.md", "!README.md"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ctx = Context::open(d.path(), &pats, None).unwrap();
        let names: Vec<&str> = ctx.entries.keys().map(String::as_str).collect();
        assert_eq!(names, ["README.md", "keep", "keep/k", "src", "src/x.c"]);
        assert_eq!(ctx.below("src").count(), 1);
    }

    #[test]
    fn excluded_directories_are_entered_only_for_an_exception_under_them() {
        let d = tempfile::tempdir().unwrap();
        for f in ["logs/keep", "logs/drop", ".git/README.md", "README.md"] {
            let p = d.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        let pats: Vec<String> = ["logs", ".git", "!logs/keep", "!README.md"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let ctx = Context::open(d.path(), &pats, None).unwrap();
        let names: Vec<&str> = ctx.entries.keys().map(String::as_str).collect();
        assert_eq!(names, ["README.md", "logs/keep"]);
    }

    #[test]
    fn an_ignore_file_that_is_not_utf8_is_read() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(".dockerignore"), b"# caf\xe9\nx.txt\n").unwrap();
        let pats = ignore_patterns(d.path(), None).unwrap();
        assert_eq!(pats, ["x.txt"]);
    }

    #[test]
    fn content_hash_is_memoised_and_persisted() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("f"), "hello").unwrap();
        let memo = d.path().join("memo/m.json");
        let ctx = Context::open(d.path(), &[], Some(memo.clone())).unwrap();
        let h = ctx.content_hash("f").unwrap();
        assert_eq!(
            h,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        ctx.save_memo();
        assert!(memo.exists());
        let ctx2 = Context::open(d.path(), &[], Some(memo)).unwrap();
        assert_eq!(ctx2.content_hash("f").unwrap(), h);
        assert!(!*ctx2.memo_dirty.lock().unwrap());
    }
}
