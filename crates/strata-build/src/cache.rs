//! Cache keys and the persistent cache index.
//!
//! A cache key is the sha256 of a canonical, type-tagged, versioned encoding: the op type
//! (`strata.exec.v1`, `strata.copy.v1`, `strata.mkdir.v1`, `strata.image.v1`,
//! `strata.scratch.v1`) followed by `name=value` fields, one per line, each value
//! JSON-quoted so no value can forge a field boundary. What enters each key:
//!
//! | op | fields |
//! |---|---|
//! | image | manifest digest of the base image |
//! | scratch | — |
//! | exec (RUN) | parent key, argv, environment, user, working directory, network, each `--mount` (type, target, id; for context binds the content hash of the bound paths, for stage binds the stage's key; never a secret's value or a cache mount's content) |
//! | copy (COPY/ADD, `strata.copy.v5`) | parent key (`link` with `--link`), source (context, or the source stage's key), source paths, `--exclude`, destination, `--chown`, `--chmod`, and every planned item: destination path, type, mode, link target, for context files the content sha256 and which earlier item the file is a hardlink of (downloads and heredocs: their sha256) |
//! | mkdir (WORKDIR) | parent key, path, user |
//! | state (`strata.state.v1`) | the op's key and the diffID of the layer it produced: the parent key of the next op |
//!
//! Timestamps, the Dockerfile's line numbers and comments never enter a key, so editing a
//! file that no COPY selects, or an unrelated line, rebuilds nothing.
//!
//! The index maps a key to the layer its op produced: `meta/build-cache/<hex>.json`, written
//! by atomic rename; each entry's blob is a GC root (`meta/roots/build-<hex>`), so `image
//! prune`/GC never collects a cached layer while the entry exists.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use strata_oci::Digest;
use strata_store::Store;

use crate::Result;

/// A cache key under construction.
#[derive(Debug, Clone)]
pub struct KeyBuilder {
    text: String,
}

impl KeyBuilder {
    pub fn new(op: &str) -> KeyBuilder {
        KeyBuilder {
            text: format!("{op}\n"),
        }
    }

    pub fn field(mut self, name: &str, value: &str) -> KeyBuilder {
        self.text.push_str(name);
        self.text.push('=');
        // JSON string quoting: unambiguous and stable.
        self.text
            .push_str(&serde_json::Value::String(value.to_string()).to_string());
        self.text.push('\n');
        self
    }

    pub fn list(mut self, name: &str, values: &[String]) -> KeyBuilder {
        for v in values {
            self = self.field(name, v);
        }
        self.field(&format!("{name}.len"), &values.len().to_string())
    }

    /// The pre-image (for `--debug-cache-keys`).
    pub fn preimage(&self) -> &str {
        &self.text
    }

    pub fn finish(&self) -> Digest {
        Digest::sha256(self.text.as_bytes())
    }
}

/// A layer as recorded in the cache and the image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub diff_id: Digest,
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

/// The cache index of one store.
#[derive(Debug, Clone)]
pub struct CacheIndex {
    dir: PathBuf,
}

impl CacheIndex {
    pub fn new(store: &Store) -> CacheIndex {
        CacheIndex {
            dir: store.root().join("meta/build-cache"),
        }
    }

    /// The record for `key`, if present and its blob still exists.
    pub fn get(&self, store: &Store, key: &Digest) -> Option<LayerRecord> {
        let bytes = fs::read(self.dir.join(format!("{}.json", key.hex()))).ok()?;
        let rec: LayerRecord = serde_json::from_slice(&bytes).ok()?;
        store.has_blob(&rec.digest).then_some(rec)
    }

    /// Record `rec` for `key` and make its blob a GC root.
    pub fn put(&self, store: &Store, key: &Digest, rec: &LayerRecord) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(crate::io_err("create directory", &self.dir))?;
        store.set_root(
            &format!("build-{}", key.hex()),
            std::slice::from_ref(&rec.digest),
        )?;
        let path = self.dir.join(format!("{}.json", key.hex()));
        let tmp = self
            .dir
            .join(format!(".tmp-{}-{}", key.hex(), rand::random::<u64>()));
        let bytes = serde_json::to_vec(rec).unwrap_or_default();
        fs::write(&tmp, bytes).map_err(crate::io_err("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(crate::io_err("rename", &path))?;
        Ok(())
    }
}

/// What [`prune`] removed.
#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    /// Cache keys of the removed entries (`sha256:…`).
    pub entries: Vec<String>,
    /// Ids (directory names) of removed `RUN --mount=type=cache` directories.
    pub cache_mounts: Vec<String>,
    /// Bytes freed: cache mount contents plus the blobs garbage collection reclaimed.
    pub bytes_reclaimed: u64,
}

/// `builder prune`: forget every build cache entry (index entry and GC root), delete the
/// cache mounts, the context hash memos and unused snapshot scratch directories, then
/// collect the blobs nothing else references. Cache mounts in use (locked by a running
/// build) are kept.
pub fn prune(store: &Store) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    let index = store.root().join("meta/build-cache");
    if let Ok(rd) = fs::read_dir(&index) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(hex) = name.strip_suffix(".json") else {
                let _ = fs::remove_file(e.path());
                continue;
            };
            fs::remove_file(e.path()).map_err(crate::io_err("remove", e.path()))?;
            store.remove_root(&format!("build-{hex}"))?;
            report.entries.push(format!("sha256:{hex}"));
        }
    }
    // Roots whose index entry is already gone (a build killed between the two writes).
    for (name, _) in store.roots()? {
        if name.starts_with("build-") {
            store.remove_root(&name)?;
        }
    }
    let mounts = crate::mounts::cache_mount_dir(store.root());
    if let Ok(rd) = fs::read_dir(&mounts) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".lock") || !e.path().is_dir() {
                continue;
            }
            let (lock, _) = crate::mounts::cache_mount_lock(&mounts, &name)?;
            if lock.try_lock().is_err() {
                continue;
            }
            report.bytes_reclaimed += crate::snapshot::dir_size(&e.path());
            fs::remove_dir_all(e.path()).map_err(crate::io_err("remove", e.path()))?;
            report.cache_mounts.push(name);
        }
    }
    let _ = fs::remove_dir_all(store.root().join("meta/build-context"));
    let _ = fs::remove_dir_all(store.root().join("meta/build-compressed"));
    let _ = fs::remove_dir_all(store.root().join("meta/build-export"));
    let gc = store.gc(&strata_store::gc::GcOptions::default())?;
    report.bytes_reclaimed += gc.bytes_reclaimed;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_forge_fields() {
        let a = KeyBuilder::new("strata.exec.v1").field("a", "x\nb=\"y\"");
        let b = KeyBuilder::new("strata.exec.v1")
            .field("a", "x")
            .field("b", "y");
        assert_ne!(a.finish(), b.finish());
        assert!(a.preimage().starts_with("strata.exec.v1\na="));
    }

    #[test]
    fn lists_are_length_prefixed() {
        let a = KeyBuilder::new("t").list("l", &["a".into(), "b".into()]);
        let b = KeyBuilder::new("t")
            .list("l", &["a".into()])
            .field("l", "b");
        assert_ne!(a.finish(), b.finish());
    }

    #[test]
    fn index_round_trip_needs_the_blob() {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path()).unwrap();
        let lease = store.lease().unwrap();
        let desc = store.write_blob(&lease, b"layer", "x").unwrap();
        let idx = CacheIndex::new(&store);
        let key = KeyBuilder::new("t").finish();
        let rec = LayerRecord {
            diff_id: desc.digest.clone(),
            digest: desc.digest.clone(),
            size: 5,
            media_type: "x".into(),
        };
        assert!(idx.get(&store, &key).is_none());
        idx.put(&store, &key, &rec).unwrap();
        assert_eq!(idx.get(&store, &key), Some(rec.clone()));
        let missing = LayerRecord {
            digest: Digest::sha256(b"other"),
            ..rec
        };
        let key2 = KeyBuilder::new("u").finish();
        idx.put(&store, &key2, &missing).unwrap();
        assert!(idx.get(&store, &key2).is_none());
    }
}
