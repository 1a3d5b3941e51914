//! The object-store backend: S3 and anything else `object_store` speaks (its in-memory
//! store runs the same code in tests).
//!
//! ```text
//! PREFIX/blobs/<alg>/<hex>                      published blobs
//! PREFIX/uploads/<id>/created                   creation time (seconds); marks the stage
//! PREFIX/uploads/<id>/part-<offset, 20 digits>  one object per appended chunk
//! PREFIX/meta/<key>                             metadata documents
//! ```
//!
//! Object stores have no append and no rename, so an upload is staged as one object per
//! chunk, named by its starting offset (zero-padded, so listing order is byte order). A
//! part becomes visible only when its own write completes, so a stage is always a run of
//! whole chunks; its size is the sum of the contiguous parts from offset 0. The commit
//! streams the parts in order through the hasher into a multipart upload at the blob's
//! final key and completes that upload only if the digest matches — S3 makes an object
//! visible atomically on completion, so a wrong or partial blob is never readable. When
//! the digest is already known (hashed in-process while the chunk streamed through) and
//! there is a single part, the commit is a server-side copy instead.
//!
//! Memory stays flat: chunks and commits stream through [`WriteMultipart`] in
//! [`PART_SIZE`] pieces with at most two parts in flight.

use std::io;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    GetOptions, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart, memory::InMemory,
};
use strata_oci::{Algorithm, Digest};

use super::{
    ByteStream, Committed, ObjectInfo, Storage, StorageError, check_key, check_upload_id, now_secs,
};

/// Size of multipart pieces (S3 requires at least 5 MiB for all but the last).
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's limit for a single server-side copy.
const MAX_COPY: u64 = 5 * 1024 * 1024 * 1024;

/// Storage over an [`ObjectStore`], under a key prefix.
#[derive(Debug, Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    kind: &'static str,
}

impl ObjectStorage {
    /// Wrap an object store. `prefix` (may be empty) is prepended to every key, so several
    /// registries can share a bucket.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str, kind: &'static str) -> ObjectStorage {
        ObjectStorage {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            kind,
        }
    }

    /// An in-memory store (tests, and `storage = "memory"` for throwaway registries).
    pub fn memory() -> ObjectStorage {
        ObjectStorage::new(Arc::new(InMemory::new()), "", "memory")
    }

    /// An S3-compatible bucket.
    #[cfg(feature = "aws")]
    pub fn s3(cfg: &crate::config::S3Config) -> Result<ObjectStorage, StorageError> {
        use object_store::aws::AmazonS3Builder;
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&cfg.bucket)
            .with_region(cfg.region.as_deref().unwrap_or("us-east-1"));
        if let Some(ep) = &cfg.endpoint {
            b = b
                .with_endpoint(ep)
                .with_allow_http(ep.starts_with("http://"));
        }
        if let (Some(id), Some(secret)) = (&cfg.access_key_id, &cfg.secret_access_key) {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        b = b.with_virtual_hosted_style_request(cfg.virtual_hosted_style);
        let store = b.build().map_err(|e| StorageError::Object {
            path: format!("s3://{}", cfg.bucket),
            source: e,
        })?;
        Ok(ObjectStorage::new(
            Arc::new(store),
            cfg.prefix.as_deref().unwrap_or(""),
            "s3",
        ))
    }

    fn path(&self, rel: &str) -> Path {
        if self.prefix.is_empty() {
            Path::from(rel)
        } else {
            Path::from(format!("{}/{rel}", self.prefix))
        }
    }

    fn blob_path(&self, d: &Digest) -> Path {
        self.path(&format!("blobs/{}/{}", d.algorithm().as_str(), d.hex()))
    }

    fn upload_path(&self, id: &str, leaf: &str) -> Result<Path, StorageError> {
        check_upload_id(id)?;
        Ok(self.path(&format!("uploads/{id}/{leaf}")))
    }

    fn err(&self, path: &Path, source: object_store::Error) -> StorageError {
        StorageError::Object {
            path: path.to_string(),
            source,
        }
    }

    async fn head(&self, path: &Path) -> Result<Option<object_store::ObjectMeta>, StorageError> {
        match self.store.head(path).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(path, e)),
        }
    }

    /// The parts of an upload as (offset, path, size), contiguous from 0; `None` if the
    /// upload does not exist.
    async fn parts(&self, id: &str) -> Result<Option<Vec<(u64, Path, u64)>>, StorageError> {
        let created = self.upload_path(id, "created")?;
        let dir = self.upload_path(id, "")?;
        let listing = self
            .store
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|e| self.err(&dir, e))?;
        let mut found_marker = false;
        let mut parts = Vec::new();
        for o in listing.objects {
            if o.location == created {
                found_marker = true;
                continue;
            }
            let name = o.location.filename().unwrap_or_default();
            if let Some(off) = name
                .strip_prefix("part-")
                .and_then(|s| s.parse::<u64>().ok())
            {
                parts.push((off, o.location.clone(), o.size));
            }
        }
        if !found_marker {
            return Ok(None);
        }
        parts.sort_by_key(|p| p.0);
        let mut next = 0;
        let mut contiguous = Vec::new();
        for p in parts {
            if p.0 != next {
                break;
            }
            next += p.2;
            contiguous.push(p);
        }
        Ok(Some(contiguous))
    }

    /// Write a stream to `path`: a single PUT when it fits in one part, a multipart upload
    /// otherwise. Nothing is written for an empty stream. Returns the bytes written.
    async fn write_stream(&self, path: &Path, mut body: ByteStream) -> Result<u64, StorageError> {
        let mut buf = BytesMut::new();
        let mut writer: Option<WriteMultipart> = None;
        let mut total = 0u64;
        let result: Result<(), StorageError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| StorageError::io(path, e))?;
                total += chunk.len() as u64;
                match writer.as_mut() {
                    Some(w) => {
                        w.wait_for_capacity(2)
                            .await
                            .map_err(|e| self.err(path, e))?;
                        w.put(chunk);
                    }
                    None => {
                        buf.extend_from_slice(&chunk);
                        if buf.len() >= PART_SIZE {
                            let up = self
                                .store
                                .put_multipart(path)
                                .await
                                .map_err(|e| self.err(path, e))?;
                            let mut w = WriteMultipart::new_with_chunk_size(up, PART_SIZE);
                            w.put(std::mem::take(&mut buf).freeze());
                            writer = Some(w);
                        }
                    }
                }
            }
            Ok(())
        }
        .await;
        match (result, writer) {
            (Err(e), Some(w)) => {
                let _ = w.abort().await;
                Err(e)
            }
            (Err(e), None) => Err(e),
            (Ok(()), Some(w)) => {
                w.finish().await.map_err(|e| self.err(path, e))?;
                Ok(total)
            }
            (Ok(()), None) => {
                if total > 0 {
                    self.store
                        .put(path, PutPayload::from(buf.freeze()))
                        .await
                        .map_err(|e| self.err(path, e))?;
                }
                Ok(total)
            }
        }
    }
}

#[async_trait]
impl Storage for ObjectStorage {
    fn kind(&self) -> &'static str {
        self.kind
    }

    async fn blob_stat(&self, digest: &Digest) -> Result<Option<ObjectInfo>, StorageError> {
        Ok(self
            .head(&self.blob_path(digest))
            .await?
            .map(|m| ObjectInfo {
                size: m.size,
                modified: m.last_modified.timestamp(),
            }))
    }

    async fn blob_read(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        let path = self.blob_path(digest);
        let not_found = || StorageError::BlobNotFound {
            digest: digest.clone(),
        };
        if let Some(r) = &range {
            // object_store refuses empty ranges; check bounds here so every backend
            // reports the same error.
            let size = self.head(&path).await?.ok_or_else(not_found)?.size;
            if r.start > r.end || r.end > size {
                return Err(StorageError::RangeInvalid {
                    digest: digest.clone(),
                    start: r.start,
                    end: r.end,
                    size,
                });
            }
            if r.start == r.end {
                return Ok(futures::stream::empty().boxed());
            }
        }
        let opts = GetOptions::new().with_range(range);
        match self.store.get_opts(&path, opts).await {
            Ok(r) => {
                let p = path.to_string();
                Ok(r.into_stream()
                    .map_err(move |e| io::Error::other(format!("reading {p}: {e}")))
                    .boxed())
            }
            Err(object_store::Error::NotFound { .. }) => Err(not_found()),
            Err(e) => Err(self.err(&path, e)),
        }
    }

    async fn blob_put(&self, digest: &Digest, data: Bytes) -> Result<(), StorageError> {
        let path = self.blob_path(digest);
        self.store
            .put(&path, PutPayload::from(data))
            .await
            .map(|_| ())
            .map_err(|e| self.err(&path, e))
    }

    async fn blob_delete(&self, digest: &Digest) -> Result<bool, StorageError> {
        let path = self.blob_path(digest);
        if self.head(&path).await?.is_none() {
            return Ok(false);
        }
        self.store
            .delete(&path)
            .await
            .map_err(|e| self.err(&path, e))?;
        Ok(true)
    }

    async fn blob_list(&self) -> Result<Vec<(Digest, ObjectInfo)>, StorageError> {
        let base = self.path("blobs");
        let metas: Vec<_> = self
            .store
            .list(Some(&base))
            .try_collect()
            .await
            .map_err(|e| self.err(&base, e))?;
        let mut out = Vec::new();
        for m in metas {
            let parts: Vec<_> = m.location.parts().collect();
            let n = parts.len();
            if n < 2 {
                continue;
            }
            let (alg, hex) = (parts[n - 2].as_ref(), parts[n - 1].as_ref());
            if Algorithm::from_name(alg).is_none() {
                continue;
            }
            if let Ok(d) = Digest::parse(&format!("{alg}:{hex}")) {
                out.push((
                    d,
                    ObjectInfo {
                        size: m.size,
                        modified: m.last_modified.timestamp(),
                    },
                ));
            }
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    async fn upload_create(&self, id: &str) -> Result<(), StorageError> {
        let p = self.upload_path(id, "created")?;
        self.store
            .put(&p, PutPayload::from(now_secs().to_string()))
            .await
            .map(|_| ())
            .map_err(|e| self.err(&p, e))
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>, StorageError> {
        Ok(self.parts(id).await?.map(|ps| ps.iter().map(|p| p.2).sum()))
    }

    async fn upload_append(
        &self,
        id: &str,
        offset: u64,
        body: ByteStream,
    ) -> Result<u64, StorageError> {
        let size: u64 = match self.parts(id).await? {
            Some(ps) => ps.iter().map(|p| p.2).sum(),
            None => return Err(StorageError::UploadNotFound { id: id.to_string() }),
        };
        if size != offset {
            return Err(StorageError::OffsetMismatch {
                id: id.to_string(),
                offset,
                size,
            });
        }
        let part = self.upload_path(id, &format!("part-{offset:020}"))?;
        let n = self.write_stream(&part, body).await?;
        Ok(offset + n)
    }

    async fn upload_commit(
        &self,
        id: &str,
        expected: &Digest,
        known: Option<Committed>,
    ) -> Result<u64, StorageError> {
        let parts = self
            .parts(id)
            .await?
            .ok_or_else(|| StorageError::UploadNotFound { id: id.to_string() })?;
        let size: u64 = parts.iter().map(|p| p.2).sum();
        let target = self.blob_path(expected);
        let known =
            known.filter(|k| k.size == size && k.digest.algorithm() == expected.algorithm());
        if let Some(k) = &known
            && &k.digest != expected
        {
            self.upload_delete(id).await?;
            return Err(StorageError::DigestMismatch {
                id: id.to_string(),
                expected: expected.clone(),
                actual: k.digest.clone(),
            });
        }
        if self.head(&target).await?.is_some() {
            return self
                .commit_to_published(id, expected, &parts, size, known.is_some())
                .await;
        }
        if known.is_some() && parts.len() == 1 && size <= MAX_COPY {
            self.store
                .copy(&parts[0].1, &target)
                .await
                .map_err(|e| self.err(&target, e))?;
            self.upload_delete(id).await?;
            return Ok(size);
        }
        // Stream parts → hasher → multipart upload at the final key; complete only on a
        // digest match.
        let mut hasher = expected.algorithm().digester();
        let up = self
            .store
            .put_multipart(&target)
            .await
            .map_err(|e| self.err(&target, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(up, PART_SIZE);
        let copied: Result<(), StorageError> = async {
            for (_, p, _) in &parts {
                let mut s = self
                    .store
                    .get(p)
                    .await
                    .map_err(|e| self.err(p, e))?
                    .into_stream();
                while let Some(chunk) = s.next().await {
                    let chunk = chunk.map_err(|e| self.err(p, e))?;
                    hasher.update(&chunk);
                    w.wait_for_capacity(2)
                        .await
                        .map_err(|e| self.err(&target, e))?;
                    w.put(chunk);
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = copied {
            let _ = w.abort().await;
            // Some stores (Garage) cancel the other multipart uploads to a key when one
            // completes: a concurrent upload of the same content got there first.
            if self.head(&target).await?.is_some_and(|m| m.size == size) {
                return self
                    .commit_to_published(id, expected, &parts, size, known.is_some())
                    .await;
            }
            return Err(e);
        }
        let actual = hasher.finish();
        if &actual != expected {
            let _ = w.abort().await;
            self.upload_delete(id).await?;
            return Err(StorageError::DigestMismatch {
                id: id.to_string(),
                expected: expected.clone(),
                actual,
            });
        }
        if size == 0 {
            // A multipart upload needs at least one part; an empty blob is a plain PUT.
            let _ = w.abort().await;
            self.store
                .put(&target, PutPayload::default())
                .await
                .map_err(|e| self.err(&target, e))?;
        } else if let Err(e) = w.finish().await {
            // As above: the key may have been published by a concurrent upload of the same
            // content, which cancelled ours. Ours was verified just now.
            if self.head(&target).await?.is_none_or(|m| m.size != size) {
                return Err(self.err(&target, e));
            }
        }
        self.upload_delete(id).await?;
        Ok(size)
    }

    async fn upload_delete(&self, id: &str) -> Result<bool, StorageError> {
        let dir = self.upload_path(id, "")?;
        let objs: Vec<_> = self
            .store
            .list(Some(&dir))
            .try_collect()
            .await
            .map_err(|e| self.err(&dir, e))?;
        let existed = !objs.is_empty();
        // Parts first, the `created` marker last: an interrupted delete leaves a stage
        // that still expires.
        let created = self.upload_path(id, "created")?;
        for o in objs.iter().filter(|o| o.location != created) {
            match self.store.delete(&o.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.err(&o.location, e)),
            }
        }
        match self.store.delete(&created).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err(&created, e)),
        }
        Ok(existed)
    }

    async fn upload_list(&self) -> Result<Vec<(String, i64)>, StorageError> {
        let base = self.path("uploads");
        let listing = self
            .store
            .list_with_delimiter(Some(&base))
            .await
            .map_err(|e| self.err(&base, e))?;
        let mut out = Vec::new();
        for p in listing.common_prefixes {
            let Some(id) = p.filename().map(str::to_string) else {
                continue;
            };
            if check_upload_id(&id).is_err() {
                continue;
            }
            let created = self.upload_path(&id, "created")?;
            let t = match self.store.get(&created).await {
                Ok(r) => {
                    let b = r.bytes().await.map_err(|e| self.err(&created, e))?;
                    std::str::from_utf8(&b)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(0)
                }
                // Parts without a marker: left by an interrupted delete; expire now.
                Err(object_store::Error::NotFound { .. }) => 0,
                Err(e) => return Err(self.err(&created, e)),
            };
            out.push((id, t));
        }
        out.sort();
        Ok(out)
    }

    async fn meta_get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        check_key(key)?;
        let p = self.path(&format!("meta/{key}"));
        match self.store.get(&p).await {
            Ok(r) => Ok(Some(r.bytes().await.map_err(|e| self.err(&p, e))?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err(&p, e)),
        }
    }

    async fn meta_put(&self, key: &str, value: Bytes) -> Result<(), StorageError> {
        check_key(key)?;
        let p = self.path(&format!("meta/{key}"));
        self.store
            .put(&p, PutPayload::from(value))
            .await
            .map(|_| ())
            .map_err(|e| self.err(&p, e))
    }

    async fn meta_delete(&self, key: &str) -> Result<bool, StorageError> {
        check_key(key)?;
        let p = self.path(&format!("meta/{key}"));
        if self.head(&p).await?.is_none() {
            return Ok(false);
        }
        match self.store.delete(&p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(true),
            Err(e) => Err(self.err(&p, e)),
        }
    }

    async fn meta_list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let prefix = prefix.trim_end_matches('/');
        check_key(prefix)?;
        let p = self.path(&format!("meta/{prefix}"));
        let listing = self
            .store
            .list_with_delimiter(Some(&p))
            .await
            .map_err(|e| self.err(&p, e))?;
        let mut out: Vec<String> = listing
            .objects
            .iter()
            .filter_map(|o| o.location.filename().map(str::to_string))
            .chain(
                listing
                    .common_prefixes
                    .iter()
                    .filter_map(|c| c.filename().map(str::to_string)),
            )
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

impl ObjectStorage {
    /// Finish upload `id` whose blob `expected` is already published (by a concurrent upload
    /// of the same content, verified when it was published): verify our own bytes unless
    /// that was done already, then drop the upload.
    async fn commit_to_published(
        &self,
        id: &str,
        expected: &Digest,
        parts: &[(u64, Path, u64)],
        size: u64,
        verified: bool,
    ) -> Result<u64, StorageError> {
        if !verified {
            let actual = self.hash_parts(parts, expected.algorithm()).await?;
            if &actual != expected {
                self.upload_delete(id).await?;
                return Err(StorageError::DigestMismatch {
                    id: id.to_string(),
                    expected: expected.clone(),
                    actual,
                });
            }
        }
        self.upload_delete(id).await?;
        Ok(size)
    }

    async fn hash_parts(
        &self,
        parts: &[(u64, Path, u64)],
        algorithm: Algorithm,
    ) -> Result<Digest, StorageError> {
        let mut hasher = algorithm.digester();
        for (_, p, _) in parts {
            let mut s = self
                .store
                .get(p)
                .await
                .map_err(|e| self.err(p, e))?
                .into_stream();
            while let Some(chunk) = s.next().await {
                hasher.update(&chunk.map_err(|e| self.err(p, e))?);
            }
        }
        Ok(hasher.finish())
    }
}
