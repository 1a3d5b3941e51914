//! Pull: reference → manifest (or index → the platform's manifest) → missing blobs, fetched
//! concurrently and verified while they stream into the store → documents → tag.
//!
//! # Model
//!
//! - **Documents** are fetched with an `Accept` list of OCI and Docker v2s2 manifests and
//!   indexes, capped at [`ClientOptions::max_manifest_bytes`], and kept as the exact bytes
//!   received. A document fetched by digest must hash to it; one fetched by tag must match the
//!   `Docker-Content-Digest` the registry announces, when it announces one.
//! - **Platform**: an index is resolved to the manifest for the requested platform (default
//!   the host), preferring an exact variant match. Docker's error texts are kept
//!   (`no matching manifest for linux/arm64 in the manifest list entries`).
//! - **Blobs** already in the store are skipped (and protected by the pull's lease). Missing
//!   ones are downloaded [`ClientOptions::download_concurrency`] at a time, each streamed
//!   through the store's [`BlobWriter`](strata_store::BlobWriter), which hashes as it writes;
//!   the blob becomes visible only if digest and size match. A body that breaks off (reset,
//!   truncation, stall) is **resumed** with `Range: bytes=N-` into the same writer; a
//!   registry that ignores the range answers 200 and the first `N` bytes are skipped. A body
//!   longer than its descriptor is refused at once.
//! - **Layers are handed on while others still download**: an optional [`LayerHandler`] is
//!   called for each layer in manifest order as soon as it and every layer below it are in
//!   the store (on a blocking thread), so unpacking overlaps the network; a handler that says
//!   it is [`concurrent`](LayerHandler::concurrent) gets each layer as soon as that layer is
//!   in the store, several at a time.
//! - **Tagging**: the platform manifest is what gets tagged (as Docker's image store does);
//!   `RepoDigests` records `NAME@DIGEST` with the digest the reference resolved to (the
//!   index's, for a multi-platform image). A pull by digest adds the image untagged. When
//!   the tag already pointed at the image and nothing was downloaded, nothing is written and
//!   the pull reports *up to date*.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use futures::StreamExt as _;
use reqwest::header::{ACCEPT, RANGE};
use reqwest::{Method, StatusCode};
use strata_oci::media_type::{self, Kind};
use strata_oci::reference::Reference;
use strata_oci::{Descriptor, Digest, Document, ImageConfig, Index, Manifest, Parsed, Platform};
use strata_store::{Lease, Store};

use crate::auth::pull_scope;
use crate::client::{Client, Registry, Req, read_errors, read_limited, status_error, transport};
use crate::error::{Error, Result};
use crate::progress::{Event, NoProgress, Progress};

/// What a [`LayerHandler`] may fail with.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Receives each layer of a pulled image in order, as soon as it and all layers before it
/// are in the store — the seam through which layers are unpacked into snapshots while the
/// rest of the image still downloads.
pub trait LayerHandler: Send + Sync {
    /// Layer `index` of `manifest` is in `store`.
    fn layer_ready(
        &self,
        store: &Store,
        manifest: &Manifest,
        index: usize,
    ) -> std::result::Result<(), HandlerError>;

    /// `true` when layers may be handed on as soon as each one is in the store, several at a
    /// time and in any order (for handlers whose work on one layer does not need the layers
    /// below it, such as unpacking each layer into its own directory). The default is one
    /// at a time, in manifest order.
    fn concurrent(&self) -> bool {
        false
    }
}

/// How to pull.
#[derive(Clone)]
pub struct PullOptions {
    /// The platform to select from an index.
    pub platform: Platform,
    /// The platform was given explicitly (`--platform`): a single-platform image for another
    /// platform is then an error, as in Docker.
    pub platform_explicit: bool,
    /// Called for each layer in order (see [`LayerHandler`]).
    pub layer_handler: Option<Arc<dyn LayerHandler>>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: Platform::host(),
            platform_explicit: false,
            layer_handler: None,
        }
    }
}

impl std::fmt::Debug for PullOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PullOptions")
            .field("platform", &self.platform)
            .field("platform_explicit", &self.platform_explicit)
            .field("layer_handler", &self.layer_handler.is_some())
            .finish()
    }
}

/// The outcome of a pull.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The reference pulled (normalised; `:latest` added to a bare name).
    pub reference: Reference,
    /// The image manifest now in the store (what the tag points to).
    pub descriptor: Descriptor,
    /// The digest the reference resolved to at the registry (an index's for a
    /// multi-platform image) — the `RepoDigests` entry.
    pub digest: Digest,
    /// Blobs downloaded (0 when everything was present).
    pub downloaded: usize,
    /// The tag already pointed at this image and nothing had to be downloaded.
    pub up_to_date: bool,
}

/// The `Accept` header for manifests.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// The tag or digest part of a reference as the registry API wants it.
pub(crate) fn tag_or_digest(reference: &Reference) -> String {
    match (reference.digest_str(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => strata_oci::reference::DEFAULT_TAG.to_string(),
    }
}

impl Client {
    /// Fetch the manifest or index `reference` names, verified (see the module doc).
    pub async fn fetch_document(&self, reference: &Reference) -> Result<Parsed<Document>> {
        let reg = self.registry(reference.domain())?;
        let scopes = vec![pull_scope(reference.path())];
        get_document(
            &reg,
            reference,
            &tag_or_digest(reference),
            reference.digest().as_ref(),
            None,
            &scopes,
        )
        .await
    }

    /// Every tag of the repository `reference` names (following `Link` pagination).
    pub async fn list_tags(&self, reference: &Reference) -> Result<Vec<String>> {
        let reg = self.registry(reference.domain())?;
        let scopes = vec![pull_scope(reference.path())];
        let mut url = reg
            .url(&format!("v2/{}/tags/list?n=1000", reference.path()))
            .await?;
        let mut tags = Vec::new();
        for _ in 0..10_000 {
            let resp = reg
                .send(Req::new(Method::GET, url.clone(), &scopes))
                .await?;
            if resp.status() == StatusCode::NOT_FOUND {
                let (_, errors) = read_errors(resp).await;
                return Err(Error::Status {
                    url: url.to_string(),
                    status: 404,
                    errors,
                });
            }
            if !resp.status().is_success() {
                return Err(status_error(&url, resp).await);
            }
            let next = next_link(resp.headers()).and_then(|l| url.join(&l).ok());
            let body = read_limited(resp, 16 << 20, &reg.domain, "tag list").await?;
            #[derive(serde::Deserialize)]
            struct List {
                #[serde(default)]
                tags: Option<Vec<String>>,
            }
            let list: List = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                registry: reg.domain.clone(),
                message: format!("malformed tag list: {e}"),
            })?;
            tags.extend(list.tags.unwrap_or_default());
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(tags)
    }

    /// Pull `reference` into `store` (see the module doc).
    pub async fn pull(
        &self,
        store: &Store,
        reference: &Reference,
        opts: &PullOptions,
        progress: &dyn Progress,
    ) -> Result<Pulled> {
        let reference = if reference.is_name_only() {
            reference.clone().tag_name_only()
        } else {
            reference.clone()
        };
        let reg = self.registry(reference.domain())?;
        let path = reference.path().to_string();
        let scopes = vec![pull_scope(&path)];
        let tod = tag_or_digest(&reference);
        let top = get_document(
            &reg,
            &reference,
            &tod,
            reference.digest().as_ref(),
            None,
            &scopes,
        )
        .await?;
        // As Docker: `Pulling from` once the registry has answered with the manifest, so a
        // missing tag or an unreachable registry prints only the error.
        progress.event(Event::PullStart {
            repository: reference.path().to_string(),
            tag_or_digest: tod.clone(),
        });
        let (doc, index_doc) = match &top.value {
            Document::Manifest(_) => (top.clone(), None),
            Document::Index(ix) => {
                let chosen = choose_platform(ix, &opts.platform).ok_or_else(|| {
                    Error::NoMatchingPlatform {
                        reference: reference.familiar_string(),
                        platform: opts.platform.to_slash_string(),
                    }
                })?;
                let child_ref = reference.with_digest(&chosen.digest);
                let child = get_document(
                    &reg,
                    &child_ref,
                    chosen.digest.as_str(),
                    Some(&chosen.digest),
                    Some(&chosen.media_type),
                    &scopes,
                )
                .await?;
                (child, Some(top.clone()))
            }
        };
        let manifest = match &doc.value {
            Document::Manifest(m) => m.clone(),
            Document::Index(_) => {
                return Err(Error::Protocol {
                    registry: reg.domain.clone(),
                    message: format!("index {} nests another index", top.digest),
                });
            }
        };
        if media_type::kind(&manifest.config.media_type) != Kind::Config {
            return Err(Error::Protocol {
                registry: reg.domain.clone(),
                message: format!(
                    "{} is not a container image (config media type {:?})",
                    reference.familiar_string(),
                    manifest.config.media_type
                ),
            });
        }

        let lease = store.lease()?;
        let manifest = Arc::new(manifest);
        let downloaded = fetch_blobs(
            &reg, &path, &scopes, store, &lease, &manifest, opts, progress,
        )
        .await?;

        // The config must describe this manifest (and, when asked, the platform).
        let config_bytes = store.read_blob(&manifest.config.digest)?;
        let config = ImageConfig::parse(&config_bytes).map_err(|e| Error::Config {
            digest: manifest.config.digest.clone(),
            message: e.to_string(),
        })?;
        if config.diff_ids().len() != manifest.layers.len() {
            return Err(Error::Config {
                digest: manifest.config.digest.clone(),
                message: format!(
                    "{} diff IDs for {} layers",
                    config.diff_ids().len(),
                    manifest.layers.len()
                ),
            });
        }
        if opts.platform_explicit && index_doc.is_none() {
            let actual = config.platform();
            if !actual.matches(&opts.platform) {
                return Err(Error::PlatformMismatch {
                    reference: reference.familiar_string(),
                    wanted: opts.platform.to_slash_string(),
                    actual: actual.to_slash_string(),
                });
            }
        }

        write_document(store, &lease, &doc)?;
        if let Some(ix) = &index_doc {
            write_document(store, &lease, ix)?;
        }
        let descriptor = Descriptor::new(
            doc.media_type.clone(),
            doc.digest.clone(),
            doc.bytes.len() as i64,
        );
        let repo_digest = format!("{}@{}", reference.name(), top.digest);
        let name = reference.to_string();
        let by_digest = reference.digest_str().is_some();
        let desc2 = descriptor.clone();
        let unchanged = store.update(|txn| -> Result<bool> {
            let mut unchanged = true;
            if by_digest {
                if txn.images().by_digest(&desc2.digest).is_none() {
                    txn.add_dangling(&desc2)?;
                    unchanged = false;
                }
            } else if txn.resolve(&name).map(|d| &d.digest) != Some(&desc2.digest) {
                txn.tag(&name, &desc2)?;
                unchanged = false;
            }
            let has = txn
                .meta(&desc2.digest)
                .is_some_and(|m| m.repo_digests.contains(&repo_digest));
            if !has {
                let prefix = format!("{}@", reference.name());
                let meta = txn.meta_mut(&desc2.digest);
                meta.repo_digests.retain(|r| !r.starts_with(&prefix));
                meta.repo_digests.push(repo_digest.clone());
            }
            Ok(unchanged)
        })?;
        drop(lease);
        Ok(Pulled {
            reference,
            descriptor,
            digest: top.digest.clone(),
            downloaded,
            up_to_date: unchanged && downloaded == 0,
        })
    }
}

/// Choose the manifest for `want` from an index: an exact variant match first, then any
/// match ([`Platform::matches`]). Attestation manifests (`unknown/unknown`) never match.
pub fn choose_platform<'a>(ix: &'a Index, want: &Platform) -> Option<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = ix
        .manifests
        .iter()
        .filter(|d| media_type::kind(&d.media_type) == Kind::Manifest)
        .filter(|d| d.platform.as_ref().is_some_and(|p| p.matches(want)))
        .collect();
    candidates
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.variant == want.variant)
        })
        .or_else(|| candidates.first())
        .copied()
}

pub(crate) fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    for v in headers.get_all(reqwest::header::LINK) {
        let Ok(s) = v.to_str() else { continue };
        for part in s.split(',') {
            let part = part.trim();
            if part.contains("rel=\"next\"") || part.contains("rel=next") {
                let start = part.find('<')?;
                let end = part.find('>')?;
                return Some(part[start + 1..end].to_string());
            }
        }
    }
    None
}

/// Media type from a `Content-Type`, without parameters, if it names a document.
fn document_hint(ct: Option<&str>) -> Option<String> {
    let ct = ct?.split(';').next()?.trim();
    media_type::is_manifest_like(ct).then(|| ct.to_string())
}

/// GET a manifest or index and verify it.
pub(crate) async fn get_document(
    reg: &Registry,
    reference: &Reference,
    tag_or_digest: &str,
    expected: Option<&Digest>,
    descriptor_media_type: Option<&str>,
    scopes: &[String],
) -> Result<Parsed<Document>> {
    let url = reg
        .url(&format!(
            "v2/{}/manifests/{}",
            reference.path(),
            tag_or_digest
        ))
        .await?;
    let resp = reg
        .send(Req::new(Method::GET, url.clone(), scopes).header(ACCEPT, MANIFEST_ACCEPT))
        .await?;
    let status = resp.status();
    if status == StatusCode::NOT_FOUND {
        let (_, errors) = read_errors(resp).await;
        return Err(Error::ManifestUnknown {
            reference: reference.familiar_string(),
            message: errors
                .first()
                .map(|(_, m)| m.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "manifest unknown".into()),
        });
    }
    if !status.is_success() {
        return Err(status_error(&url, resp).await);
    }
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let announced = resp
        .headers()
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| Digest::parse(s.trim()).ok());
    let limit = reg.options().max_manifest_bytes;
    let bytes = read_limited(
        resp,
        limit,
        &reg.domain,
        &format!("manifest {tag_or_digest}"),
    )
    .await?;
    let check = expected.or(announced.as_ref());
    let digest = match check {
        Some(want) => {
            let got = Digest::of(want.algorithm(), &bytes);
            if &got != want {
                return Err(Error::DigestMismatch {
                    registry: reg.domain.clone(),
                    what: "manifest",
                    expected: want.clone(),
                    actual: got,
                });
            }
            got
        }
        None => Digest::sha256(&bytes),
    };
    let hint = descriptor_media_type
        .map(str::to_string)
        .or_else(|| document_hint(content_type.as_deref()));
    Ok(Parsed::parse_with_digest(bytes, digest, hint.as_deref())?)
}

/// Store a document's exact bytes under its digest.
fn write_document(store: &Store, lease: &Lease, doc: &Parsed<Document>) -> Result<()> {
    if store.lease_existing(lease, &doc.digest)? {
        return Ok(());
    }
    let mut w = store.writer_with(lease, doc.digest.algorithm())?;
    w.write_all(&doc.bytes)
        .map_err(Error::io("write", w.path().to_path_buf()))?;
    w.commit(Some(&doc.digest), Some(doc.bytes.len() as u64))?;
    Ok(())
}

/// Fetch every missing blob of `manifest`; run the layer handler in order alongside.
/// Returns how many blobs were downloaded.
#[allow(clippy::too_many_arguments)]
async fn fetch_blobs(
    reg: &Registry,
    path: &str,
    scopes: &[String],
    store: &Store,
    lease: &Lease,
    manifest: &Arc<Manifest>,
    opts: &PullOptions,
    progress: &dyn Progress,
) -> Result<usize> {
    // Config first, then layers; a digest listed twice is fetched once.
    let mut order: Vec<Descriptor> = Vec::new();
    for d in std::iter::once(&manifest.config).chain(manifest.layers.iter()) {
        if !order.iter().any(|o| o.digest == d.digest) {
            order.push(d.clone());
        }
    }
    // One signal per layer index, sent when that layer's blob is in the store.
    let mut senders: HashMap<Digest, Vec<futures::channel::oneshot::Sender<()>>> = HashMap::new();
    let mut receivers = Vec::new();
    if opts.layer_handler.is_some() {
        for l in &manifest.layers {
            let (tx, rx) = futures::channel::oneshot::channel();
            senders.entry(l.digest.clone()).or_default().push(tx);
            receivers.push(rx);
        }
    }
    let senders = std::sync::Mutex::new(senders);
    // Docker shows layers only; the config is fetched silently.
    let silent = |d: &Digest| {
        *d == manifest.config.digest && !manifest.layers.iter().any(|l| l.digest == *d)
    };
    let quiet = NoProgress;
    // Blobs the store has are leased (kept from a concurrent prune) and shown as existing
    // right away: Docker prints `Already exists` alone for them, not `Pulling fs layer`
    // first.
    let mut existing = std::collections::HashSet::new();
    for d in &order {
        if store.lease_existing(lease, &d.digest)? {
            existing.insert(d.digest.clone());
        }
    }
    for d in order.iter().filter(|d| !silent(&d.digest)) {
        if existing.contains(&d.digest) {
            progress.event(Event::Exists {
                digest: d.digest.clone(),
            });
        } else {
            progress.event(Event::Waiting {
                digest: d.digest.clone(),
                size: u64::try_from(d.size).unwrap_or(0),
            });
        }
    }
    let existing = &existing;
    let concurrency = reg.options().download_concurrency.max(1);
    let downloads = futures::stream::iter(order.iter())
        .map(|desc| {
            let senders = &senders;
            let progress: &dyn Progress = if silent(&desc.digest) {
                &quiet
            } else {
                progress
            };
            async move {
                let fetched = if existing.contains(&desc.digest) {
                    false
                } else {
                    download_blob(reg, path, scopes, store, lease, desc, progress).await?;
                    progress.event(Event::Complete {
                        digest: desc.digest.clone(),
                    });
                    true
                };
                if let Ok(mut s) = senders.lock()
                    && let Some(txs) = s.remove(&desc.digest)
                {
                    for tx in txs {
                        let _ = tx.send(());
                    }
                }
                Ok::<bool, Error>(fetched)
            }
        })
        .buffer_unordered(concurrency)
        .fold(Ok(0usize), |acc, r| async move {
            match (acc, r) {
                (Ok(n), Ok(f)) => Ok(n + usize::from(f)),
                (Err(e), _) | (_, Err(e)) => Err(e),
            }
        });
    // Hand layer `i` to the handler on a blocking thread once its blob is in the store;
    // `false` when its download failed (the download side reports that error).
    let hand_on = |i: usize, rx: futures::channel::oneshot::Receiver<()>| {
        let handler = opts.layer_handler.clone();
        let (s, m) = (store.clone(), manifest.clone());
        async move {
            let Some(h) = handler else { return Ok(false) };
            if rx.await.is_err() {
                return Ok(false);
            }
            let digest = m.layers[i].digest.clone();
            let res = tokio::task::spawn_blocking(move || h.layer_ready(&s, &m, i))
                .await
                .map_err(|e| Error::LayerHandler {
                    digest: digest.clone(),
                    message: e.to_string(),
                })?;
            res.map_err(|e| Error::LayerHandler {
                digest: digest.clone(),
                message: e.to_string(),
            })?;
            progress.event(Event::Extracted { digest });
            Ok::<bool, Error>(true)
        }
    };
    let handler = async {
        let Some(h) = opts.layer_handler.as_ref() else {
            return Ok(());
        };
        if h.concurrent() {
            let all = receivers
                .into_iter()
                .enumerate()
                .map(|(i, rx)| hand_on(i, rx));
            futures::future::try_join_all(all).await?;
            return Ok(());
        }
        for (i, rx) in receivers.into_iter().enumerate() {
            if !hand_on(i, rx).await? {
                return Ok(());
            }
        }
        Ok::<(), Error>(())
    };
    let (downloaded, handled) = futures::future::join(downloads, handler).await;
    let downloaded = downloaded?;
    handled?;
    Ok(downloaded)
}

/// Download one blob into the store, resuming with `Range` after a broken body.
async fn download_blob(
    reg: &Registry,
    path: &str,
    scopes: &[String],
    store: &Store,
    lease: &Lease,
    desc: &Descriptor,
    progress: &dyn Progress,
) -> Result<()> {
    let digest = &desc.digest;
    let bad = |message: String| Error::BadBlob {
        registry: reg.domain.clone(),
        digest: digest.clone(),
        message,
    };
    let total =
        u64::try_from(desc.size).map_err(|_| bad(format!("negative size {}", desc.size)))?;
    let url = reg.url(&format!("v2/{path}/blobs/{digest}")).await?;
    let mut writer = store.writer_with(lease, digest.algorithm())?;
    let mut attempt: u32 = 0;
    let max = reg.options().retries;
    let mut last_report = 0u64;
    'attempts: loop {
        let offset = writer.size();
        if offset == total && total > 0 {
            break;
        }
        // Retried here rather than in `send`, so a retry resumes from what was written.
        let mut req = Req::new(Method::GET, url.clone(), scopes).no_retry();
        if offset > 0 {
            req = req.header(RANGE, format!("bytes={offset}-"));
        }
        let resp = reg.send(req).await;
        let mut resp = match resp {
            Ok(r) => r,
            Err(e @ Error::Transport { .. }) if attempt < max => {
                attempt += 1;
                progress.event(Event::Retrying {
                    digest: digest.clone(),
                    attempt,
                    error: e.to_string(),
                });
                tokio::time::sleep(reg.delay(attempt)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let status = resp.status();
        let mut skip = 0u64;
        match status {
            StatusCode::OK => skip = offset,
            StatusCode::PARTIAL_CONTENT if offset > 0 => {
                let start = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if start != Some(offset) {
                    return Err(bad(format!(
                        "resumed download starts at the wrong offset (asked {offset})"
                    )));
                }
            }
            StatusCode::NOT_FOUND => {
                let (_, errors) = read_errors(resp).await;
                let msg = errors
                    .first()
                    .map(|(_, m)| m.clone())
                    .filter(|m| !m.is_empty())
                    .unwrap_or_else(|| "blob unknown to registry".into());
                return Err(bad(msg));
            }
            _ => {
                let err = status_error(&url, resp).await;
                if attempt < max && status.is_server_error() {
                    attempt += 1;
                    progress.event(Event::Retrying {
                        digest: digest.clone(),
                        attempt,
                        error: err.to_string(),
                    });
                    tokio::time::sleep(reg.delay(attempt)).await;
                    continue;
                }
                return Err(err);
            }
        }
        loop {
            match resp.chunk().await {
                Ok(Some(mut chunk)) => {
                    if skip > 0 {
                        let n = skip.min(chunk.len() as u64) as usize;
                        skip -= n as u64;
                        chunk = chunk.slice(n..);
                    }
                    if writer.size() + chunk.len() as u64 > total {
                        return Err(bad(format!("more data than the expected {total} bytes")));
                    }
                    writer
                        .write_all(&chunk)
                        .map_err(Error::io("write", writer.path().to_path_buf()))?;
                    let done = writer.size();
                    if done - last_report >= 256 * 1024 || done == total {
                        last_report = done;
                        progress.event(Event::Transferring {
                            digest: digest.clone(),
                            done,
                            total,
                        });
                    }
                }
                Ok(None) => {
                    if writer.size() == total {
                        break 'attempts;
                    }
                    if attempt >= max {
                        return Err(bad(format!(
                            "body ended after {} of {total} bytes",
                            writer.size()
                        )));
                    }
                    attempt += 1;
                    progress.event(Event::Retrying {
                        digest: digest.clone(),
                        attempt,
                        error: format!("body ended after {} of {total} bytes", writer.size()),
                    });
                    tokio::time::sleep(reg.delay(attempt)).await;
                    continue 'attempts;
                }
                Err(e) => {
                    let err = transport(&url, &e);
                    if attempt >= max {
                        return Err(err);
                    }
                    attempt += 1;
                    progress.event(Event::Retrying {
                        digest: digest.clone(),
                        attempt,
                        error: err.to_string(),
                    });
                    tokio::time::sleep(reg.delay(attempt)).await;
                    continue 'attempts;
                }
            }
        }
    }
    writer
        .commit(Some(digest), Some(total))
        .map_err(|e| match e {
            strata_store::Error::DigestMismatch { expected, actual } => Error::DigestMismatch {
                registry: reg.domain.clone(),
                what: "blob",
                expected,
                actual,
            },
            other => Error::Store(other),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(arch: &str, variant: Option<&str>, os: &str) -> Descriptor {
        let mut d = Descriptor::new(
            media_type::OCI_MANIFEST,
            Digest::sha256(format!("{os}{arch}{variant:?}").as_bytes()),
            1,
        );
        d.platform = Some(Platform {
            architecture: arch.into(),
            os: os.into(),
            os_version: None,
            os_features: None,
            variant: variant.map(str::to_string),
            features: None,
        });
        d
    }

    #[test]
    fn platform_choice_prefers_exact_variant() {
        let mut ix = Index::new_oci();
        ix.manifests = vec![
            desc("unknown", None, "unknown"),
            desc("arm", Some("v6"), "linux"),
            desc("arm", Some("v7"), "linux"),
            desc("amd64", None, "linux"),
        ];
        let want = Platform::parse("linux/arm/v7").unwrap();
        assert_eq!(choose_platform(&ix, &want), Some(&ix.manifests[2]));
        let want = Platform::parse("linux/amd64").unwrap();
        assert_eq!(choose_platform(&ix, &want), Some(&ix.manifests[3]));
        let want = Platform::parse("linux/s390x").unwrap();
        assert_eq!(choose_platform(&ix, &want), None);
    }

    #[test]
    fn link_header() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(
            reqwest::header::LINK,
            "</v2/a/tags/list?last=b&n=2>; rel=\"next\""
                .parse()
                .unwrap(),
        );
        assert_eq!(next_link(&h).unwrap(), "/v2/a/tags/list?last=b&n=2");
    }

    #[test]
    fn content_type_hint() {
        assert_eq!(
            document_hint(Some(
                "application/vnd.oci.image.manifest.v1+json; charset=utf-8"
            )),
            Some(media_type::OCI_MANIFEST.to_string())
        );
        assert_eq!(document_hint(Some("application/json")), None);
    }
}
