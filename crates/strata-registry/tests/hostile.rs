//! A deliberately hostile registry (axum, on 127.0.0.1): wrong digests, truncated bodies,
//! resets and stalls mid-stream, 500s, wrong sizes, missing blobs, huge manifests, redirects
//! to another host, broken token servers. Strata either retries (resuming with `Range`) and
//! succeeds, or fails with a clear error — and never commits a blob that does not verify.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use common::*;
use strata_oci::reference::Reference;
use strata_oci::{Digest, Manifest, media_type};
use strata_registry::{AuthEntry, Client, DockerConfig, NoProgress, PullOptions};
use strata_store::Store;

/// (path, Range header, Authorization header) of one request.
type Logged = (String, Option<String>, Option<String>);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Good,
    WrongDigest,
    TruncateOnce,
    ResetOnce,
    Error500Once,
    Error500Always,
    LongerBody,
    StallOnce,
    MissingBlob,
    WrongManifestHeader,
    HugeManifest,
    RedirectBlob,
    BasicAuth,
    TokenServer500,
    TokenGarbage,
    AuthNeverAccepted,
}

struct Hostile {
    mode: Mode,
    manifest: Vec<u8>,
    layer: Digest,
    blobs: HashMap<String, Vec<u8>>,
    once: AtomicBool,
    /// Every request, in order.
    log: Mutex<Vec<Logged>>,
    redirect_to: Mutex<String>,
    token_hits: AtomicUsize,
}

type St = State<Arc<Hostile>>;

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Hostile {
    fn record(&self, path: &str, h: &HeaderMap) {
        self.log.lock().unwrap().push((
            path.to_string(),
            header_str(h, header::RANGE),
            header_str(h, header::AUTHORIZATION),
        ));
    }

    /// The first time only (for "once" faults).
    fn first(&self) -> bool {
        !self.once.swap(true, Ordering::SeqCst)
    }

    fn denied(&self, h: &HeaderMap, host: &str) -> Option<Response> {
        let challenge = match self.mode {
            // The redirecting registry demands credentials too, so that the test can tell
            // the registry's requests (which carry them) from the storage's (which must not).
            Mode::BasicAuth | Mode::RedirectBlob => {
                if header_str(h, header::AUTHORIZATION).as_deref() == Some("Basic dXNlcjpzM2NyM3Q=")
                {
                    return None;
                }
                "Basic realm=\"hostile\"".to_string()
            }
            Mode::TokenServer500 | Mode::TokenGarbage | Mode::AuthNeverAccepted => {
                format!(
                    "Bearer realm=\"http://{host}/token\",service=\"hostile\",scope=\"repository:app:pull\""
                )
            }
            _ => return None,
        };
        Some(
            (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, challenge)],
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
                .into_response(),
        )
    }
}

fn host_of(h: &HeaderMap) -> String {
    header_str(h, header::HOST).unwrap_or_default()
}

async fn ping(State(s): St, h: HeaderMap) -> Response {
    s.record("/v2/", &h);
    if let Some(r) = s.denied(&h, &host_of(&h)) {
        return r;
    }
    (StatusCode::OK, "{}").into_response()
}

async fn token(State(s): St) -> Response {
    s.token_hits.fetch_add(1, Ordering::SeqCst);
    match s.mode {
        Mode::TokenServer500 => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        Mode::TokenGarbage => (StatusCode::OK, "<html>not json").into_response(),
        _ => (StatusCode::OK, r#"{"token":"nope","expires_in":300}"#).into_response(),
    }
}

async fn manifest(State(s): St, Path(reference): Path<String>, h: HeaderMap) -> Response {
    s.record(&format!("manifests/{reference}"), &h);
    if let Some(r) = s.denied(&h, &host_of(&h)) {
        return r;
    }
    let digest = Digest::sha256(&s.manifest);
    match s.mode {
        Mode::WrongManifestHeader => (
            [
                (header::CONTENT_TYPE, media_type::OCI_MANIFEST.to_string()),
                (
                    header::HeaderName::from_static("docker-content-digest"),
                    Digest::sha256(b"other").to_string(),
                ),
            ],
            s.manifest.clone(),
        )
            .into_response(),
        Mode::HugeManifest => {
            let mut big = s.manifest.clone();
            big.resize(5 << 20, b' ');
            ([(header::CONTENT_TYPE, media_type::OCI_MANIFEST)], big).into_response()
        }
        _ => (
            [
                (header::CONTENT_TYPE, media_type::OCI_MANIFEST.to_string()),
                (
                    header::HeaderName::from_static("docker-content-digest"),
                    digest.to_string(),
                ),
            ],
            s.manifest.clone(),
        )
            .into_response(),
    }
}

fn range_start(h: &HeaderMap) -> u64 {
    header_str(h, header::RANGE)
        .and_then(|r| r.strip_prefix("bytes=").map(str::to_string))
        .and_then(|r| r.trim_end_matches('-').parse().ok())
        .unwrap_or(0)
}

async fn blob(State(s): St, Path(digest): Path<String>, h: HeaderMap) -> Response {
    s.record(&format!("blobs/{digest}"), &h);
    if let Some(r) = s.denied(&h, &host_of(&h)) {
        return r;
    }
    let Some(data) = s.blobs.get(&digest).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
        )
            .into_response();
    };
    let is_layer = digest == s.layer.as_str();
    if is_layer {
        match s.mode {
            Mode::MissingBlob => {
                return (
                    StatusCode::NOT_FOUND,
                    r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
                )
                    .into_response();
            }
            Mode::WrongDigest => {
                let mut bad = data.clone();
                let n = bad.len();
                bad[n / 2] ^= 0xff;
                return bad.into_response();
            }
            Mode::LongerBody => {
                let mut more = data.clone();
                more.extend_from_slice(&[0u8; 1000]);
                return more.into_response();
            }
            Mode::Error500Once | Mode::Error500Always
                if s.mode == Mode::Error500Always || s.first() =>
            {
                return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response();
            }
            Mode::TruncateOnce if s.first() => {
                // A clean end, half way through.
                return data[..data.len() / 2].to_vec().into_response();
            }
            Mode::ResetOnce if s.first() => {
                // Half the body reaches the client, then the connection breaks. The pause
                // lets the first half leave the server before the reset: an error right
                // after it may abort the connection before anything was flushed.
                let half = Bytes::from(data[..data.len() / 2].to_vec());
                let stream = futures::stream::unfold(0u8, move |step| {
                    let half = half.clone();
                    async move {
                        match step {
                            0 => Some((Ok::<Bytes, std::io::Error>(half), 1)),
                            1 => {
                                tokio::time::sleep(Duration::from_millis(300)).await;
                                Some((Err(std::io::Error::other("reset")), 2))
                            }
                            _ => None,
                        }
                    }
                });
                return (
                    [(header::CONTENT_LENGTH, data.len().to_string())],
                    Body::from_stream(stream),
                )
                    .into_response();
            }
            Mode::StallOnce if s.first() => {
                let half = Bytes::from(data[..data.len() / 2].to_vec());
                let stream = futures::stream::unfold(0u8, move |step| {
                    let half = half.clone();
                    async move {
                        match step {
                            0 => Some((Ok::<Bytes, std::io::Error>(half), 1)),
                            _ => {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                None
                            }
                        }
                    }
                });
                return (
                    [(header::CONTENT_LENGTH, data.len().to_string())],
                    Body::from_stream(stream),
                )
                    .into_response();
            }
            Mode::RedirectBlob => {
                let to = format!("{}/storage/{digest}", s.redirect_to.lock().unwrap());
                return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)]).into_response();
            }
            _ => {}
        }
    }
    let start = range_start(&h) as usize;
    if start > 0 && start < data.len() {
        return (
            StatusCode::PARTIAL_CONTENT,
            [(
                header::CONTENT_RANGE,
                format!("bytes {}-{}/{}", start, data.len() - 1, data.len()),
            )],
            data[start..].to_vec(),
        )
            .into_response();
    }
    data.into_response()
}

/// The "object storage" a blob is redirected to: records the headers it got.
async fn storage(State(s): St, Path(digest): Path<String>, h: HeaderMap) -> Response {
    s.record(&format!("storage/{digest}"), &h);
    match s.blobs.get(&digest) {
        Some(d) => d.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

struct Fixture {
    state: Arc<Hostile>,
    host: String,
    manifest_digest: Digest,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

async fn hostile(mode: Mode) -> Fixture {
    let (layer_blob, diff_id) = layer(&[("big", &noise(600_000, 11))]);
    let layer_desc = strata_oci::Descriptor::new(
        media_type::OCI_LAYER_GZIP,
        Digest::sha256(&layer_blob),
        layer_blob.len() as i64,
    );
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": strata_oci::Platform::host().architecture,
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    }))
    .unwrap();
    let config_desc = strata_oci::Descriptor::new(
        media_type::OCI_CONFIG,
        Digest::sha256(&config),
        config.len() as i64,
    );
    let manifest_bytes = serde_json::to_vec(&Manifest::new_oci(
        config_desc.clone(),
        vec![layer_desc.clone()],
    ))
    .unwrap();
    let mut blobs = HashMap::new();
    blobs.insert(layer_desc.digest.to_string(), layer_blob);
    blobs.insert(config_desc.digest.to_string(), config);
    let state = Arc::new(Hostile {
        mode,
        manifest: manifest_bytes.clone(),
        layer: layer_desc.digest.clone(),
        blobs,
        once: AtomicBool::new(false),
        log: Mutex::new(Vec::new()),
        redirect_to: Mutex::new(String::new()),
        token_hits: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .route("/v2/", axum::routing::get(ping))
        .route("/token", axum::routing::get(token))
        .route(
            "/v2/app/manifests/{reference}",
            axum::routing::get(manifest),
        )
        .route("/v2/app/blobs/{digest}", axum::routing::get(blob))
        .with_state(state.clone());
    let (host, stop) = serve_router(app).await;
    let mut stops = vec![stop];
    if mode == Mode::RedirectBlob {
        let storage_app = axum::Router::new()
            .route("/storage/{digest}", axum::routing::get(storage))
            .with_state(state.clone());
        let (shost, sstop) = serve_router(storage_app).await;
        *state.redirect_to.lock().unwrap() = format!("http://{shost}");
        stops.push(sstop);
    }
    Fixture {
        state,
        host,
        manifest_digest: Digest::sha256(&manifest_bytes),
        _stops: stops,
    }
}

fn quick_options() -> strata_registry::ClientOptions {
    strata_registry::ClientOptions {
        read_timeout: Duration::from_millis(500),
        ..options()
    }
}

async fn pull(
    f: &Fixture,
    opts: strata_registry::ClientOptions,
) -> (
    tempfile::TempDir,
    Store,
    Result<strata_registry::Pulled, strata_registry::Error>,
) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let r = Reference::parse_normalized(&format!("{}/app:1", f.host)).unwrap();
    let res = Client::new(opts)
        .unwrap()
        .pull(&store, &r, &PullOptions::default(), &NoProgress)
        .await;
    (tmp, store, res)
}

fn ranges(f: &Fixture) -> Vec<Option<String>> {
    f.state
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(p, _, _)| p == &format!("blobs/{}", f.state.layer))
        .map(|(_, r, _)| r.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn good_registry_pulls() {
    let f = hostile(Mode::Good).await;
    let (_t, store, res) = pull(&f, quick_options()).await;
    assert_eq!(res.unwrap().descriptor.digest, f.manifest_digest);
    assert!(store.has_blob(&f.state.layer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_digest_is_never_committed() {
    let f = hostile(Mode::WrongDigest).await;
    let (_t, store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(
        err.contains("digest mismatch") && err.contains(f.state.layer.as_str()),
        "{err}"
    );
    assert!(!store.has_blob(&f.state.layer));
    assert!(store.images().unwrap().entries().is_empty());
    // Nothing is left in the ingest area either.
    let leftovers: Vec<_> = std::fs::read_dir(store.root().join("ingest"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("blob-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_body_is_resumed_with_range() {
    let f = hostile(Mode::TruncateOnce).await;
    let (_t, store, res) = pull(&f, quick_options()).await;
    res.unwrap();
    assert!(store.has_blob(&f.state.layer));
    let r = ranges(&f);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0], None);
    let half = f.state.blobs[f.state.layer.as_str()].len() / 2;
    assert_eq!(r[1].as_deref(), Some(format!("bytes={half}-").as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mid_stream_is_resumed() {
    let f = hostile(Mode::ResetOnce).await;
    let (_t, store, res) = pull(&f, quick_options()).await;
    res.unwrap();
    assert!(store.has_blob(&f.state.layer));
    let r = ranges(&f);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(
        r[1].as_deref()
            .is_some_and(|v| v.starts_with("bytes=") && v != "bytes=0-"),
        "{r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_times_out_and_resumes() {
    let f = hostile(Mode::StallOnce).await;
    let (_t, store, res) = pull(&f, quick_options()).await;
    res.unwrap();
    assert!(store.has_blob(&f.state.layer));
    let r = ranges(&f);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(r[1].is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_then_reported() {
    let f = hostile(Mode::Error500Once).await;
    let (_t, _store, res) = pull(&f, quick_options()).await;
    res.unwrap();
    assert_eq!(ranges(&f).len(), 2);

    let f = hostile(Mode::Error500Always).await;
    let (_t, store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(err.contains("500"), "{err}");
    assert_eq!(ranges(&f).len(), 4, "first try plus three retries");
    assert!(!store.has_blob(&f.state.layer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longer_body_is_refused() {
    let f = hostile(Mode::LongerBody).await;
    let (_t, store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(err.contains("more data than the expected"), "{err}");
    assert!(!store.has_blob(&f.state.layer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_blob_names_it() {
    let f = hostile(Mode::MissingBlob).await;
    let (_t, _store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(
        err.contains(f.state.layer.as_str()) && err.contains("blob unknown"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifest_digest_header_must_match() {
    let f = hostile(Mode::WrongManifestHeader).await;
    let (_t, store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(
        err.contains("manifest") && err.contains("digest mismatch"),
        "{err}"
    );
    assert!(!store.has_blob(&f.manifest_digest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_manifest_is_refused() {
    let f = hostile(Mode::HugeManifest).await;
    let (_t, _store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(err.contains("larger than 4194304 bytes"), "{err}");
}

/// Options whose credentials file holds `user:s3cr3t` for the fixture's registry (the
/// directory lives as long as the returned guard).
fn with_basic_credentials(f: &Fixture) -> (tempfile::TempDir, strata_registry::ClientOptions) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("config.json");
    let mut cfg = DockerConfig::load(&path).unwrap();
    cfg.store(&f.host, &AuthEntry::basic("user", "s3cr3t"))
        .unwrap();
    let opts = strata_registry::ClientOptions {
        docker_config: Some(path),
        ..quick_options()
    };
    (tmp, opts)
}

const BASIC: &str = "Basic dXNlcjpzM2NyM3Q=";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_to_storage_drops_authorization() {
    let f = hostile(Mode::RedirectBlob).await;
    let (_cfg, opts) = with_basic_credentials(&f);
    let (_t, store, res) = pull(&f, opts).await;
    res.unwrap();
    assert!(store.has_blob(&f.state.layer));
    let log = f.state.log.lock().unwrap();
    // The registry got the credentials for the layer; the storage it redirected to did not.
    let layer = format!("blobs/{}", f.state.layer);
    assert!(
        log.iter()
            .any(|(p, _, a)| *p == layer && a.as_deref() == Some(BASIC)),
        "{log:?}"
    );
    let storage: Vec<_> = log
        .iter()
        .filter(|(p, _, _)| p.starts_with("storage/"))
        .collect();
    assert_eq!(storage.len(), 1);
    assert_eq!(storage[0].2, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn basic_auth_is_sent_with_every_registry_request() {
    let f = hostile(Mode::BasicAuth).await;
    let (_cfg, opts) = with_basic_credentials(&f);
    let (_t, _store, res) = pull(&f, opts).await;
    res.unwrap();
    {
        let log = f.state.log.lock().unwrap();
        assert!(
            log.iter()
                .filter(|(p, _, _)| p.starts_with("blobs/"))
                .all(|(_, _, a)| a.as_deref() == Some(BASIC))
        );
    }
    // Without credentials: a clear refusal.
    let (_t, _store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(
        err.contains("unauthorized: authentication required"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_token_servers_fail_clearly() {
    let f = hostile(Mode::TokenServer500).await;
    let (_t, _store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(err.contains("500") && err.contains("/token"), "{err}");
    assert_eq!(
        f.state.token_hits.load(Ordering::SeqCst),
        4,
        "retried, then gave up"
    );

    let f = hostile(Mode::TokenGarbage).await;
    let (_t, _store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(err.contains("malformed token response"), "{err}");

    // A registry that rejects every token: one fresh token per request, then an error.
    let f = hostile(Mode::AuthNeverAccepted).await;
    let (_t, _store, res) = pull(&f, quick_options()).await;
    let err = res.unwrap_err().to_string();
    assert!(err.contains("unauthorized"), "{err}");
    assert!(f.state.token_hits.load(Ordering::SeqCst) <= 2);
}
