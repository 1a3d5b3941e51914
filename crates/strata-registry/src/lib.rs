//! # strata-registry — Strata's distribution client
//!
//! Moves images between the local store ([`strata_store::Store`]) and any registry that
//! speaks the OCI Distribution Spec or Docker's registry API: `pull`, `push`, tag listing,
//! `search`, and `login` verification, with Docker's credentials file and helpers.
//!
//! ```text
//! Client ── one per command; options + credentials (credentials::DockerConfig)
//!   └─ Registry ── one per host: scheme (TLS / insecure fallback), auth challenge,
//!        │         token cache, retries, redirects            (client, auth)
//!        ├─ pull: reference → manifest/index → platform → blobs ⇉ store ingest → tag
//!        ├─ push: HEAD ⇉ mount ⇉ upload (PUT | PATCH…PUT) → manifest last
//!        └─ search: /v1/search, else /v2/_catalog filtered
//! ```
//!
//! The network side is `reqwest` (rustls with `ring`, HTTP/2) on `tokio`; writing into the
//! store is synchronous file I/O through the store's verified ingest. Library code never
//! prints: progress goes through [`Progress`], errors are [`Error`]s naming the registry,
//! repository and digest. The protocol logic (challenges, token flow, resumable downloads,
//! upload sessions, credentials) is written here because no crate implements it with
//! cross-repository mount scopes, 202 fallbacks and Docker's credential store; see each
//! module's doc.
//!
//! For the build engine, [`pull_image`] is the image resolver: a blocking call that makes
//! sure an image is in the store and returns its manifest descriptor.

pub mod auth;
pub mod client;
pub mod credentials;
mod error;
pub mod progress;
pub mod pull;
pub mod push;
pub mod search;

pub use client::{Client, ClientOptions, Registry, insecure_registries_from, is_insecure};
pub use credentials::{AuthEntry, DockerConfig};
pub use error::{Error, Result};
pub use progress::{Event, NoProgress, Progress};
pub use pull::{HandlerError, LayerHandler, PullOptions, Pulled};
pub use push::{Pushed, resolve_local};
pub use search::{SearchResult, split_search_term};

use strata_oci::reference::Reference;
use strata_oci::{Descriptor, Platform};
use strata_store::Store;

/// Run the future `make` returns to completion on a fresh tokio runtime in a scoped thread,
/// so it works whether or not the caller is itself inside a runtime.
pub fn block_on<T, F, Fut>(make: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Fut + Send,
    Fut: std::future::Future<Output = Result<T>>,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .map_err(|e| Error::Runtime(e.to_string()))?;
            rt.block_on(make())
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Runtime("the network thread panicked".into())))
    })
}

/// The image resolver for `FROM`: make sure `reference` (normalised, e.g. from
/// [`Reference::parse_docker`]) is in `store` for `platform`, pulling it if needed, and return
/// the image manifest's descriptor. An image already tagged locally is returned without
/// touching the network when its platform matches (a digest reference is matched by
/// digest); otherwise it is pulled (and tagged, as `docker build` does).
pub fn pull_image(
    store: &Store,
    reference: &Reference,
    platform: &Platform,
    opts: &ClientOptions,
) -> Result<Descriptor> {
    pull_image_with(store, reference, platform, opts, None)
}

/// [`pull_image`], handing each layer to `layer_handler` as it lands (to unpack it while
/// the others download).
pub fn pull_image_with(
    store: &Store,
    reference: &Reference,
    platform: &Platform,
    opts: &ClientOptions,
    layer_handler: Option<std::sync::Arc<dyn LayerHandler>>,
) -> Result<Descriptor> {
    if let Some(local) = local_image(store, reference, platform)? {
        return Ok(local);
    }
    let client = Client::new(opts.clone())?;
    let pull_opts = PullOptions {
        platform: platform.clone(),
        platform_explicit: true,
        layer_handler,
    };
    block_on(|| async {
        client
            .pull(store, reference, &pull_opts, &NoProgress)
            .await
            .map(|p| p.descriptor)
    })
}

/// The local image for `reference` if present (by tag, or by digest/repo digest) and for
/// `platform`.
fn local_image(
    store: &Store,
    reference: &Reference,
    platform: &Platform,
) -> Result<Option<Descriptor>> {
    let images = store.images()?;
    let found = if let Some(digest) = reference.digest() {
        let wanted = format!("{}@{}", reference.name(), digest);
        images.by_digest(&digest).cloned().or_else(|| {
            images
                .digests()
                .into_iter()
                .find(|d| {
                    images
                        .meta(d)
                        .is_some_and(|m| m.repo_digests.contains(&wanted))
                })
                .and_then(|d| images.by_digest(d).cloned())
        })
    } else {
        images
            .resolve(&reference.clone().tag_name_only().to_string())
            .cloned()
    };
    let Some(desc) = found else {
        return Ok(None);
    };
    let summary = match images.meta(&desc.digest).and_then(|m| m.summary.clone()) {
        Some(s) => Some(s),
        None => store.image_summary(&desc)?,
    };
    let matches = summary
        .and_then(|s| s.platform)
        .is_none_or(|p| p.matches(platform));
    // The index entry carries the tag's annotations; the resolver answers with the bare
    // descriptor, as a pull does.
    Ok(matches.then(|| Descriptor::new(desc.media_type.clone(), desc.digest.clone(), desc.size)))
}
