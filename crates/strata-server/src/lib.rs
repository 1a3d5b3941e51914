//! # strata-server — an OCI Distribution 1.1 registry
//!
//! `strata serve` and the in-process registry of Strata's own tests. The layers, top
//! down:
//!
//! - `server`: binding, TLS (rustls), request logs (`tracing`), Prometheus metrics,
//!   `/healthz`, graceful shutdown, the upload janitor. Entry points: [`Server::bind`] /
//!   [`Server::run`], or [`serve`].
//! - `api`: the `/v2/` endpoints of the distribution spec — ping, blobs (ranges),
//!   uploads (monolithic, chunked, streamed, cross-repository mounts), manifests (OCI
//!   and Docker, images and indexes, by tag and digest, `?tag=` parameters), tags and
//!   catalog listings with pagination, referrers — with the spec's error envelope.
//! - `auth`: open, htpasswd Basic, or a built-in token service with per-repository
//!   scopes from an access-control file; read-only mode lives in `api`.
//! - `registry`: the data model (global blobs, per-repository links, revisions, tags,
//!   referrer index) over the [`storage::Storage`] trait.
//! - [`storage`]: the trait and its backends, local filesystem and object store (S3).
//! - [`gc`]: mark and sweep, safe while serving.
//! - `ui`: a read-only HTML page of repositories, tags and layers.
//!
//! Both `sha256` and `sha512` work everywhere. The library never prints; it logs through
//! `tracing`.

mod api;
mod auth;
pub mod config;
pub mod error;
pub mod gc;
mod metrics;
pub mod names;
mod registry;
mod server;
pub mod storage;
mod ui;

pub use config::{AuthConfig, Config, Limits, S3Config, StorageConfig, TlsConfig, TokenConfig};
pub use error::ServerError;
pub use gc::GcReport;
pub use server::{Server, serve};

/// Collect garbage in the registry `config` describes (see [`gc`]). With `dry_run`,
/// report what would be deleted without deleting anything.
pub async fn gc(config: &Config, dry_run: bool) -> Result<GcReport, ServerError> {
    let storage = server::open_storage(&config.storage)?;
    let reg = registry::Registry::new(storage);
    Ok(gc::collect(
        &reg,
        config.gc.grace_period_secs,
        config.limits.upload_expiry_secs,
        dry_run,
    )
    .await?)
}
