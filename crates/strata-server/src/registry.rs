//! The registry's data model, over any [`Storage`].
//!
//! Blobs (layers, configs, and manifests too) live once, globally, by digest. A
//! repository only holds *links*, all as metadata documents:
//!
//! ```text
//! catalog/<hex(name)>                              the repository exists (hex keeps byte order)
//! repos/<name>/_blobs/<alg>/<hex>                  blob linked into the repository
//! repos/<name>/_manifests/<alg>/<hex>              manifest revision; content: its media type
//! repos/<name>/_tags/<tag>                         content: the manifest digest
//! repos/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  subject → referrer; content: descriptor JSON
//! uploads/<id>                                     upload session; content: repository name
//! ```
//!
//! Names are validated by [`crate::names`] before they get here, and their components
//! can never start with `_`, so `repos/a/_tags` cannot collide with a repository `a/_tags`.
//! Deleting a blob or manifest removes the link only; the bytes go when `gc` finds them
//! unreferenced. Blob existence in a repository is link *and* bytes, so a link left
//! dangling by gc reads as absent.
//!
//! Uploads are hashed as their chunks stream through this process (sha256, the digest
//! almost every client asks for), so committing a blob does not read it back. The state
//! is an optimisation only: when a chunk arrives at another replica, or the client asks
//! for sha512, the commit re-reads the stage.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use strata_oci::media_type::{self, Kind};
use strata_oci::{Algorithm, Descriptor, Digest, Digester, Document, Parsed};

use crate::error::{ApiError, Code};
use crate::names::Reference;
use crate::storage::{ByteStream, Committed, ObjectInfo, Storage, StorageError};
use axum::http::StatusCode;

/// The registry over one storage backend.
pub struct Registry {
    storage: Arc<dyn Storage>,
    hashes: Mutex<HashMap<String, SessionHash>>,
}

struct SessionHash {
    offset: u64,
    digester: Digester,
}

/// A manifest as served.
pub struct ManifestEntry {
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Bytes,
}

/// What a manifest PUT did.
pub struct PutManifest {
    pub digest: Digest,
    pub subject: Option<Digest>,
    pub tags: Vec<String>,
}

fn blob_link(name: &str, d: &Digest) -> String {
    format!("repos/{name}/_blobs/{}/{}", d.algorithm().as_str(), d.hex())
}
fn revision(name: &str, d: &Digest) -> String {
    format!(
        "repos/{name}/_manifests/{}/{}",
        d.algorithm().as_str(),
        d.hex()
    )
}
fn tag_key(name: &str, tag: &str) -> String {
    format!("repos/{name}/_tags/{tag}")
}
fn tags_prefix(name: &str) -> String {
    format!("repos/{name}/_tags")
}
fn referrers_prefix(name: &str, subject: &Digest) -> String {
    format!(
        "repos/{name}/_referrers/{}/{}",
        subject.algorithm().as_str(),
        subject.hex()
    )
}
fn referrer_key(name: &str, subject: &Digest, r: &Digest) -> String {
    format!(
        "{}/{}-{}",
        referrers_prefix(name, subject),
        r.algorithm().as_str(),
        r.hex()
    )
}
fn catalog_key(name: &str) -> String {
    format!("catalog/{}", hex::encode(name))
}
fn upload_key(id: &str) -> String {
    format!("uploads/{id}")
}

/// Whether a descriptor may legitimately point at content this registry never received.
fn foreign(desc: &Descriptor) -> bool {
    desc.media_type.contains("nondistributable") || desc.media_type.contains(".foreign.")
}

impl Registry {
    pub fn new(storage: Arc<dyn Storage>) -> Registry {
        Registry {
            storage,
            hashes: Mutex::new(HashMap::new()),
        }
    }

    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    // ----- repositories -----

    pub async fn repo_exists(&self, name: &str) -> Result<bool, StorageError> {
        Ok(self.storage.meta_get(&catalog_key(name)).await?.is_some())
    }

    async fn ensure_repo(&self, name: &str) -> Result<(), StorageError> {
        if !self.repo_exists(name).await? {
            self.storage
                .meta_put(&catalog_key(name), Bytes::new())
                .await?;
        }
        Ok(())
    }

    /// All repository names, sorted bytewise.
    pub async fn catalog(&self) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self
            .storage
            .meta_list("catalog")
            .await?
            .into_iter()
            .filter_map(|h| hex::decode(h).ok())
            .filter_map(|b| String::from_utf8(b).ok())
            .collect();
        names.sort();
        Ok(names)
    }

    // ----- blobs -----

    /// A blob linked into `name`, with its size.
    pub async fn blob(&self, name: &str, d: &Digest) -> Result<Option<ObjectInfo>, StorageError> {
        if self.storage.meta_get(&blob_link(name, d)).await?.is_none() {
            return Ok(None);
        }
        self.storage.blob_stat(d).await
    }

    async fn link_blob(&self, name: &str, d: &Digest) -> Result<(), StorageError> {
        self.ensure_repo(name).await?;
        self.storage
            .meta_put(&blob_link(name, d), Bytes::new())
            .await
    }

    /// Unlink a blob from a repository; `false` if it was not linked.
    pub async fn delete_blob(&self, name: &str, d: &Digest) -> Result<bool, StorageError> {
        self.storage.meta_delete(&blob_link(name, d)).await
    }

    /// Link a blob that exists in `from` (or, with `from = None`, anywhere in the
    /// registry) into `name`. `false` if there is nothing to mount.
    pub async fn mount(
        &self,
        name: &str,
        from: Option<&str>,
        d: &Digest,
    ) -> Result<bool, StorageError> {
        let present = match from {
            Some(src) => self.blob(src, d).await?.is_some(),
            None => self.storage.blob_stat(d).await?.is_some(),
        };
        if present {
            self.link_blob(name, d).await?;
        }
        Ok(present)
    }

    pub async fn read_blob(
        &self,
        d: &Digest,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        self.storage.blob_read(d, range).await
    }

    // ----- uploads -----

    /// Open an upload session for `name`.
    pub async fn start_upload(&self, name: &str) -> Result<String, StorageError> {
        let id = format!("{:032x}", rand::random::<u128>());
        self.storage.upload_create(&id).await?;
        self.storage
            .meta_put(&upload_key(&id), Bytes::from(name.to_string()))
            .await?;
        Ok(id)
    }

    /// Bytes received so far by a session of `name`.
    pub async fn upload_size(&self, name: &str, id: &str) -> Result<u64, ApiError> {
        self.check_session(name, id).await?;
        self.storage
            .upload_size(id)
            .await?
            .ok_or_else(ApiError::upload_unknown)
    }

    async fn check_session(&self, name: &str, id: &str) -> Result<(), ApiError> {
        if crate::storage::check_upload_id(id).is_err() {
            return Err(ApiError::upload_unknown());
        }
        match self.storage.meta_get(&upload_key(id)).await? {
            Some(owner) if owner.as_ref() == name.as_bytes() => Ok(()),
            _ => Err(ApiError::upload_unknown()),
        }
    }

    /// Append a chunk. `offset` is where the client says it starts (from
    /// `Content-Range`), `None` to append at the end. Returns the new size.
    pub async fn upload_append(
        &self,
        name: &str,
        id: &str,
        offset: Option<u64>,
        body: ByteStream,
    ) -> Result<u64, ApiError> {
        let size = self.upload_size(name, id).await?;
        let offset = offset.unwrap_or(size);
        if offset != size {
            return Err(StorageError::OffsetMismatch {
                id: id.to_string(),
                offset,
                size,
            }
            .into());
        }
        let taken = self.take_hash(id);
        let state = match taken {
            Some(s) if s.offset == offset => Some(s.digester),
            _ if offset == 0 => Some(Algorithm::Sha256.digester()),
            _ => None,
        };
        let shared = state.map(|d| Arc::new(Mutex::new((d, 0u64))));
        let body = match shared.clone() {
            Some(h) => body
                .map(move |chunk| {
                    if let (Ok(b), Ok(mut g)) = (&chunk, h.lock()) {
                        g.0.update(b);
                        g.1 += b.len() as u64;
                    }
                    chunk
                })
                .boxed(),
            None => body,
        };
        let new_size = self.storage.upload_append(id, offset, body).await?;
        if let Some(h) = shared
            && let Ok(m) = Arc::try_unwrap(h)
            && let Ok((digester, n)) = m.into_inner()
            && offset + n == new_size
            && let Ok(mut map) = self.hashes.lock()
        {
            map.insert(
                id.to_string(),
                SessionHash {
                    offset: new_size,
                    digester,
                },
            );
        }
        Ok(new_size)
    }

    fn take_hash(&self, id: &str) -> Option<SessionHash> {
        self.hashes.lock().ok().and_then(|mut m| m.remove(id))
    }

    /// Complete an upload: verify `digest` over everything received, publish the blob
    /// and link it into `name`. On a digest mismatch the session is discarded.
    pub async fn upload_finish(
        &self,
        name: &str,
        id: &str,
        digest: &Digest,
    ) -> Result<u64, ApiError> {
        self.check_session(name, id).await?;
        let known = self.take_hash(id).map(|s| Committed {
            digest: s.digester.finish(),
            size: s.offset,
        });
        let res = self.storage.upload_commit(id, digest, known).await;
        // The stage is gone on success and on a digest mismatch; keep the session only
        // if storage failed for another reason (the client may retry).
        if !matches!(
            res,
            Err(StorageError::Io { .. } | StorageError::Object { .. })
        ) {
            self.storage.meta_delete(&upload_key(id)).await?;
        }
        let size = res?;
        self.link_blob(name, digest).await?;
        Ok(size)
    }

    /// Cancel an upload session.
    pub async fn upload_cancel(&self, name: &str, id: &str) -> Result<(), ApiError> {
        self.check_session(name, id).await?;
        self.take_hash(id);
        self.storage.upload_delete(id).await?;
        self.storage.meta_delete(&upload_key(id)).await?;
        Ok(())
    }

    /// Remove sessions created more than `max_age` seconds ago. Returns how many.
    pub async fn expire_uploads(&self, max_age: i64) -> Result<usize, StorageError> {
        let cutoff = crate::storage::now_secs() - max_age;
        let mut n = 0;
        let live = self.storage.upload_list().await?;
        for (id, created) in &live {
            if *created <= cutoff {
                self.take_hash(id);
                self.storage.upload_delete(id).await?;
                self.storage.meta_delete(&upload_key(id)).await?;
                n += 1;
            }
        }
        // Session documents whose stage is gone (crash between the two writes).
        for id in self.storage.meta_list("uploads").await? {
            if !live.iter().any(|(l, _)| *l == id) {
                self.storage.meta_delete(&upload_key(&id)).await?;
            }
        }
        if let Ok(mut m) = self.hashes.lock() {
            m.retain(|id, _| live.iter().any(|(l, c)| l == id && *c > cutoff));
        }
        Ok(n)
    }

    // ----- manifests -----

    /// Store a manifest under `reference` (a tag, or the digest it must have), plus any
    /// extra `tags`.
    pub async fn put_manifest(
        &self,
        name: &str,
        reference: &Reference,
        content_type: Option<&str>,
        bytes: Bytes,
        extra_tags: &[String],
    ) -> Result<PutManifest, ApiError> {
        let digest = match reference {
            Reference::Digest(d) => {
                let actual = Digest::of(d.algorithm(), &bytes);
                if &actual != d {
                    return Err(ApiError::digest_invalid(
                        "manifest digest did not match the reference",
                    )
                    .detail(serde_json::json!({
                        "expected": d.as_str(), "actual": actual.as_str()
                    })));
                }
                actual
            }
            Reference::Tag(_) => Digest::sha256(&bytes),
        };
        let hint = content_type
            .map(|c| c.split(';').next().unwrap_or("").trim())
            .filter(|c| matches!(media_type::kind(c), Kind::Manifest | Kind::Index));
        let parsed =
            Parsed::parse_with_digest(bytes.to_vec(), digest.clone(), hint).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    Code::ManifestInvalid,
                    e.to_string(),
                )
            })?;
        let (subject, referrer) = match &parsed.value {
            Document::Manifest(m) => {
                for desc in m.references().filter(|d| Some(*d) != m.subject.as_ref()) {
                    if foreign(desc) {
                        continue;
                    }
                    if self.blob(name, &desc.digest).await?.is_none() {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            Code::ManifestBlobUnknown,
                            "manifest references a blob unknown to the repository",
                        )
                        .detail(serde_json::json!({ "digest": desc.digest.as_str() })));
                    }
                }
                let at = m
                    .artifact_type
                    .clone()
                    .unwrap_or_else(|| m.config.media_type.clone());
                (m.subject.clone(), (Some(at), m.annotations.clone()))
            }
            // Index children are not required: sparse indexes are valid (some platforms
            // may be absent), and children may be pushed by digest in any order.
            Document::Index(i) => (
                i.subject.clone(),
                (i.artifact_type.clone(), i.annotations.clone()),
            ),
        };
        self.ensure_repo(name).await?;
        self.storage.blob_put(&digest, bytes.clone()).await?;
        self.storage
            .meta_put(
                &revision(name, &digest),
                Bytes::from(parsed.media_type.clone()),
            )
            .await?;
        self.storage
            .meta_put(&blob_link(name, &digest), Bytes::new())
            .await?;
        if let Some(s) = &subject {
            let mut desc = Descriptor::new(
                parsed.media_type.clone(),
                digest.clone(),
                bytes.len() as i64,
            );
            desc.artifact_type = referrer.0;
            desc.annotations = referrer.1;
            let json = serde_json::to_vec(&desc).map_err(ApiError::internal)?;
            self.storage
                .meta_put(&referrer_key(name, &s.digest, &digest), Bytes::from(json))
                .await?;
        }
        let mut tags = Vec::new();
        if let Reference::Tag(t) = reference {
            tags.push(t.clone());
        }
        tags.extend(extra_tags.iter().cloned());
        for t in &tags {
            self.storage
                .meta_put(&tag_key(name, t), Bytes::from(digest.to_string()))
                .await?;
        }
        Ok(PutManifest {
            digest,
            subject: subject.map(|s| s.digest),
            tags,
        })
    }

    /// Resolve a reference to a manifest digest in `name`.
    pub async fn resolve(
        &self,
        name: &str,
        reference: &Reference,
    ) -> Result<Option<Digest>, StorageError> {
        let d = match reference {
            Reference::Digest(d) => d.clone(),
            Reference::Tag(t) => match self.storage.meta_get(&tag_key(name, t)).await? {
                Some(b) => match std::str::from_utf8(&b)
                    .ok()
                    .and_then(|s| Digest::parse(s).ok())
                {
                    Some(d) => d,
                    None => return Ok(None),
                },
                None => return Ok(None),
            },
        };
        if self.storage.meta_get(&revision(name, &d)).await?.is_some() {
            Ok(Some(d))
        } else {
            Ok(None)
        }
    }

    /// A manifest's digest, media type and size, without its bytes.
    pub async fn manifest_head(
        &self,
        name: &str,
        reference: &Reference,
    ) -> Result<Option<(Digest, String, u64)>, StorageError> {
        let Some(d) = self.resolve(name, reference).await? else {
            return Ok(None);
        };
        let Some(mt) = self.storage.meta_get(&revision(name, &d)).await? else {
            return Ok(None);
        };
        let Some(info) = self.storage.blob_stat(&d).await? else {
            return Ok(None);
        };
        Ok(Some((
            d,
            String::from_utf8_lossy(&mt).into_owned(),
            info.size,
        )))
    }

    /// A manifest with its bytes.
    pub async fn manifest(
        &self,
        name: &str,
        reference: &Reference,
    ) -> Result<Option<ManifestEntry>, StorageError> {
        let Some((digest, media_type, _)) = self.manifest_head(name, reference).await? else {
            return Ok(None);
        };
        let mut s = match self.storage.blob_read(&digest, None).await {
            Ok(s) => s,
            Err(StorageError::BlobNotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut buf = bytes::BytesMut::new();
        while let Some(c) = s.next().await {
            buf.extend_from_slice(&c.map_err(|e| StorageError::io(&digest, e))?);
        }
        Ok(Some(ManifestEntry {
            digest,
            media_type,
            bytes: buf.freeze(),
        }))
    }

    /// Delete a tag (the manifest stays). `false` if there was no such tag.
    pub async fn delete_tag(&self, name: &str, tag: &str) -> Result<bool, StorageError> {
        self.storage.meta_delete(&tag_key(name, tag)).await
    }

    /// Delete a manifest revision, the tags pointing at it and its referrer entry.
    /// `false` if there was no such manifest.
    pub async fn delete_manifest(&self, name: &str, d: &Digest) -> Result<bool, StorageError> {
        let Some(entry) = self.manifest(name, &Reference::Digest(d.clone())).await? else {
            return Ok(false);
        };
        if let Ok(p) = Parsed::parse_with_digest(entry.bytes.to_vec(), d.clone(), None) {
            let subject = match &p.value {
                Document::Manifest(m) => m.subject.clone(),
                Document::Index(i) => i.subject.clone(),
            };
            if let Some(s) = subject {
                self.storage
                    .meta_delete(&referrer_key(name, &s.digest, d))
                    .await?;
            }
        }
        for t in self.tags(name).await? {
            if let Some(b) = self.storage.meta_get(&tag_key(name, &t)).await?
                && b.as_ref() == d.as_str().as_bytes()
            {
                self.storage.meta_delete(&tag_key(name, &t)).await?;
            }
        }
        self.storage.meta_delete(&blob_link(name, d)).await?;
        self.storage.meta_delete(&revision(name, d)).await
    }

    /// The tags of a repository, sorted bytewise.
    pub async fn tags(&self, name: &str) -> Result<Vec<String>, StorageError> {
        self.storage.meta_list(&tags_prefix(name)).await
    }

    /// Every manifest revision of a repository.
    pub async fn revisions(&self, name: &str) -> Result<Vec<Digest>, StorageError> {
        let mut out = Vec::new();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let prefix = format!("repos/{name}/_manifests/{}", alg.as_str());
            for hex in self.storage.meta_list(&prefix).await? {
                if let Ok(d) = Digest::parse(&format!("{}:{hex}", alg.as_str())) {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    /// Every blob linked into a repository.
    pub async fn blob_links(&self, name: &str) -> Result<Vec<Digest>, StorageError> {
        let mut out = Vec::new();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            let prefix = format!("repos/{name}/_blobs/{}", alg.as_str());
            for hex in self.storage.meta_list(&prefix).await? {
                if let Ok(d) = Digest::parse(&format!("{}:{hex}", alg.as_str())) {
                    out.push(d);
                }
            }
        }
        Ok(out)
    }

    /// The referrers of `subject` in `name`, optionally only those of one artifact type.
    pub async fn referrers(
        &self,
        name: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, StorageError> {
        let prefix = referrers_prefix(name, subject);
        let mut out = Vec::new();
        for entry in self.storage.meta_list(&prefix).await? {
            let Some(b) = self.storage.meta_get(&format!("{prefix}/{entry}")).await? else {
                continue;
            };
            let Ok(desc) = serde_json::from_slice::<Descriptor>(&b) else {
                continue;
            };
            if let Some(at) = artifact_type
                && desc.artifact_type.as_deref() != Some(at)
            {
                continue;
            }
            out.push(desc);
        }
        Ok(out)
    }
}
