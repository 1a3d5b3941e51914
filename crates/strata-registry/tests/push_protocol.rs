//! The requests a push makes, against a recording registry (axum, on 127.0.0.1) that
//! either takes single-`POST` uploads or — like distribution 2.8 — ignores their body and
//! opens a session: small blobs go up in one request where the registry allows it, and
//! fall back to `POST` + `PUT` (remembered for the rest of the push) where it does not;
//! existing blobs cost a `HEAD` and nothing more; the manifest goes last.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use common::*;
use strata_oci::reference::Reference;
use strata_oci::{Descriptor, Digest, Manifest};
use strata_registry::{Client, ClientOptions, NoProgress};
use strata_store::Store;

#[derive(Default)]
struct Recording {
    /// Whether `POST …/uploads/?digest=` with a body is an upload (else: a session).
    single_post: bool,
    blobs: Mutex<HashMap<String, Vec<u8>>>,
    sessions: Mutex<HashMap<String, Vec<u8>>>,
    next_session: Mutex<u32>,
    /// `METHOD path?query` of every request, in order.
    log: Mutex<Vec<String>>,
}

type St = State<Arc<Recording>>;

fn error(status: StatusCode, code: &str) -> Response {
    (
        status,
        format!(r#"{{"errors":[{{"code":"{code}","message":"{code}"}}]}}"#),
    )
        .into_response()
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl Recording {
    fn store(&self, digest: &str, data: Vec<u8>) -> Response {
        if Digest::sha256(&data).as_str() != digest {
            return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID");
        }
        self.blobs.lock().unwrap().insert(digest.to_string(), data);
        let mut r = StatusCode::CREATED.into_response();
        r.headers_mut()
            .insert("docker-content-digest", digest.parse().unwrap());
        r
    }

    fn open_session(&self, name: &str) -> Response {
        let mut n = self.next_session.lock().unwrap();
        *n += 1;
        let id = format!("s{n}");
        self.sessions.lock().unwrap().insert(id.clone(), Vec::new());
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))],
        )
            .into_response()
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

async fn handle(State(s): St, method: Method, uri: Uri, body: Bytes) -> Response {
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    s.log
        .lock()
        .unwrap()
        .push(format!("{method} {}{query}", uri.path()));
    let path = uri.path();
    if path == "/v2/" {
        return StatusCode::OK.into_response();
    }
    let Some(rest) = path.strip_prefix("/v2/") else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some((name, id)) = rest.split_once("/blobs/uploads/") {
        if id.is_empty() && method == Method::POST {
            if let (Some(d), Some(_from)) = (query_param(&uri, "mount"), query_param(&uri, "from"))
            {
                if s.blobs.lock().unwrap().contains_key(&d) {
                    return s.store(&d, s.blobs.lock().unwrap()[&d].clone());
                }
                return s.open_session(name);
            }
            if let Some(d) = query_param(&uri, "digest")
                && s.single_post
            {
                return s.store(&d, body.to_vec());
            }
            // Not taking single POSTs: the body is ignored, as distribution 2.8 does.
            return s.open_session(name);
        }
        let known = s.sessions.lock().unwrap().contains_key(id);
        if !known {
            return error(StatusCode::NOT_FOUND, "BLOB_UPLOAD_UNKNOWN");
        }
        return match method {
            Method::PATCH => {
                s.sessions
                    .lock()
                    .unwrap()
                    .get_mut(id)
                    .unwrap()
                    .extend_from_slice(&body);
                (
                    StatusCode::ACCEPTED,
                    [(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))],
                )
                    .into_response()
            }
            Method::PUT => {
                let mut data = s.sessions.lock().unwrap().remove(id).unwrap();
                data.extend_from_slice(&body);
                let digest = query_param(&uri, "digest").unwrap_or_default();
                s.store(&digest, data)
            }
            Method::DELETE => {
                s.sessions.lock().unwrap().remove(id);
                StatusCode::NO_CONTENT.into_response()
            }
            _ => StatusCode::METHOD_NOT_ALLOWED.into_response(),
        };
    }
    if let Some((_, digest)) = rest.split_once("/blobs/") {
        return match s.blobs.lock().unwrap().get(digest) {
            Some(b) => ([(header::CONTENT_LENGTH, b.len().to_string())], "").into_response(),
            None => error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN"),
        };
    }
    if rest.contains("/manifests/") && method == Method::PUT {
        // Like every real registry: no manifest whose blobs are missing.
        let m: Manifest = match serde_json::from_slice(&body) {
            Ok(m) => m,
            Err(_) => return error(StatusCode::BAD_REQUEST, "MANIFEST_INVALID"),
        };
        let blobs = s.blobs.lock().unwrap();
        if m.references()
            .any(|d| !blobs.contains_key(d.digest.as_str()))
        {
            return error(StatusCode::BAD_REQUEST, "MANIFEST_BLOB_UNKNOWN");
        }
        let mut r = StatusCode::CREATED.into_response();
        r.headers_mut().insert(
            "docker-content-digest",
            Digest::sha256(&body).as_str().parse().unwrap(),
        );
        return r;
    }
    StatusCode::NOT_FOUND.into_response()
}

async fn start(state: Arc<Recording>) -> (String, tokio::sync::oneshot::Sender<()>) {
    serve_router(axum::Router::new().fallback(handle).with_state(state)).await
}

/// An image with a layer above the single-POST limit, a small layer, and its config.
fn image(store: &Store) -> (Descriptor, Manifest) {
    let image = make_image(
        store,
        "local/app:1",
        &[noise(400_000, 5), b"small".to_vec()],
    );
    let manifest: Manifest =
        serde_json::from_slice(&store.read_blob(&image.digest).unwrap()).unwrap();
    (image, manifest)
}

fn push_options() -> ClientOptions {
    ClientOptions {
        single_post_limit: 256 << 10,
        ..options()
    }
}

async fn push(
    state: &Arc<Recording>,
    opts: ClientOptions,
) -> (tempfile::TempDir, Manifest, strata_registry::Pushed) {
    let (host, _stop) = start(state.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("src")).unwrap();
    let (image, manifest) = image(&store);
    let dest = Reference::parse_normalized(&format!("{host}/app:1")).unwrap();
    let pushed = Client::new(opts)
        .unwrap()
        .push(&store, &image, &dest, &NoProgress)
        .await
        .unwrap();
    assert_eq!(pushed.digest, image.digest);
    // Every blob arrived whole (the registry checked each digest).
    let blobs = state.blobs.lock().unwrap();
    for d in manifest.references() {
        assert!(
            blobs.contains_key(d.digest.as_str()),
            "{} missing",
            d.digest
        );
    }
    drop(blobs);
    (tmp, manifest, pushed)
}

fn count(log: &[String], pred: impl Fn(&str) -> bool) -> usize {
    log.iter().filter(|l| pred(l)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn small_blobs_go_up_in_one_request_where_the_registry_takes_it() {
    let state = Arc::new(Recording {
        single_post: true,
        ..Default::default()
    });
    let (_tmp, manifest, pushed) = push(&state, push_options()).await;
    assert_eq!(pushed.uploaded, 3);
    let log = state.requests();
    let big = &manifest.layers[0];
    assert!(big.size > 256 << 10, "the first layer is above the limit");
    // The small layer and the config: one POST each, with the digest, and nothing more.
    for d in [&manifest.layers[1], &manifest.config] {
        let posts = count(&log, |l| {
            l.starts_with("POST") && l.contains(d.digest.hex())
        });
        assert_eq!(posts, 1, "{}: {log:#?}", d.digest);
    }
    // The large one: a session and one PUT.
    assert_eq!(
        count(&log, |l| l == "POST /v2/app/blobs/uploads/"),
        1,
        "{log:#?}"
    );
    assert_eq!(
        count(&log, |l| l.starts_with("PUT /v2/app/blobs/uploads/")),
        1
    );
    assert_eq!(count(&log, |l| l.starts_with("PATCH")), 0);
    // The manifest is the last request.
    assert_eq!(log.last().unwrap(), "PUT /v2/app/manifests/1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_single_post_falls_back_to_a_session_and_is_remembered() {
    let state = Arc::new(Recording::default());
    // One blob at a time, largest first: the big layer (a session), then the larger of the
    // small layer and the config (offered as a single POST, answered with a session), then
    // the other (not offered again).
    let opts = ClientOptions {
        upload_concurrency: 1,
        ..push_options()
    };
    let (_tmp, manifest, pushed) = push(&state, opts).await;
    assert_eq!(pushed.uploaded, 3);
    let log = state.requests();
    let offers: Vec<&String> = log
        .iter()
        .filter(|l| l.starts_with("POST") && l.contains("digest="))
        .collect();
    assert_eq!(offers.len(), 1, "{log:#?}");
    let first_small = [&manifest.layers[1], &manifest.config]
        .into_iter()
        .max_by_key(|d| d.size)
        .unwrap();
    assert!(offers[0].contains(first_small.digest.hex()), "{log:#?}");
    // Each blob ended with a PUT into its session; none was left open.
    assert_eq!(
        count(&log, |l| l.starts_with("PUT /v2/app/blobs/uploads/")),
        3
    );
    assert!(state.sessions.lock().unwrap().is_empty());
    assert_eq!(log.last().unwrap(), "PUT /v2/app/manifests/1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_blobs_cost_a_head_and_nothing_more() {
    let state = Arc::new(Recording {
        single_post: true,
        ..Default::default()
    });
    // A first push fills the registry; the second finds every blob there.
    let (_tmp, _manifest, _) = push(&state, push_options()).await;
    state.log.lock().unwrap().clear();
    let (host, _stop) = start(state.clone()).await;
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("src")).unwrap();
    let (image, _) = image(&store);
    let dest = Reference::parse_normalized(&format!("{host}/app:1")).unwrap();
    let again = Client::new(push_options())
        .unwrap()
        .push(&store, &image, &dest, &NoProgress)
        .await
        .unwrap();
    assert_eq!((again.uploaded, again.existed), (0, 3));
    let log = state.requests();
    assert_eq!(count(&log, |l| l.starts_with("HEAD")), 3, "{log:#?}");
    // No upload was started, no body went up: only the manifest follows the HEADs.
    assert_eq!(
        count(&log, |l| l.contains("/blobs/uploads/")),
        0,
        "{log:#?}"
    );
    assert_eq!(log.last().unwrap(), "PUT /v2/app/manifests/1");
}
