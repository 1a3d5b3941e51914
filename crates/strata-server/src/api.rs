//! The `/v2/` HTTP API (OCI Distribution Spec 1.1).
//!
//! Repository names contain slashes, so the router hands every `/v2/…` path to
//! [`dispatch`], which splits it from the end (`…/manifests/<ref>`, `…/blobs/<digest>`,
//! `…/blobs/uploads/<id>`, `…/tags/list`, `…/referrers/<digest>`) the way the spec's
//! grammar does, validates the name, checks read-only mode and authorisation, and runs
//! the operation. Bodies stream end to end: uploads go from the socket into storage
//! (through the hasher) and downloads from storage to the socket, with an idle timeout
//! on incoming bodies instead of a total deadline (a 10 GiB layer may take a while, a
//! stalled client may not). Requests without a streamed body run under a deadline.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use strata_oci::{Digest, Document, Parsed, media_type};

use crate::auth::{Action, Identity, Scope};
use crate::error::{ApiError, Code};
use crate::names::{Reference, valid_name, valid_tag};
use crate::server::AppState;
use crate::storage::{ByteStream, StorageError};

/// Which operation a request was, for metrics and logs.
#[derive(Debug, Clone, Copy)]
pub struct RouteLabel(pub &'static str);

enum Route {
    Ping,
    Catalog,
    Tags(String),
    Manifest(String, String),
    Blob(String, String),
    UploadStart(String),
    Upload(String, String),
    Referrers(String, String),
}

impl Route {
    fn label(&self) -> &'static str {
        match self {
            Route::Ping => "ping",
            Route::Catalog => "catalog",
            Route::Tags(_) => "tags",
            Route::Manifest(..) => "manifest",
            Route::Blob(..) => "blob",
            Route::UploadStart(_) | Route::Upload(..) => "upload",
            Route::Referrers(..) => "referrers",
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Route::Ping | Route::Catalog => None,
            Route::Tags(n)
            | Route::Manifest(n, _)
            | Route::Blob(n, _)
            | Route::UploadStart(n)
            | Route::Upload(n, _)
            | Route::Referrers(n, _) => Some(n),
        }
    }
}

/// Split the path after `/v2/` into a route.
fn parse_route(rest: &str) -> Option<Route> {
    if rest.is_empty() {
        return Some(Route::Ping);
    }
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let name = |k: usize| segs[..k].join("/");
    if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
        return Some(Route::Tags(name(n - 2)));
    }
    if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
        return Some(Route::UploadStart(name(n - 2)));
    }
    if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
        if segs[n - 1].is_empty() {
            return Some(Route::UploadStart(name(n - 3)));
        }
        return Some(Route::Upload(name(n - 3), segs[n - 1].to_string()));
    }
    if n >= 3 {
        let last = segs[n - 1].to_string();
        match segs[n - 2] {
            "blobs" => return Some(Route::Blob(name(n - 2), last)),
            "manifests" => return Some(Route::Manifest(name(n - 2), last)),
            "referrers" => return Some(Route::Referrers(name(n - 2), last)),
            _ => {}
        }
    }
    None
}

fn query_pairs(req: &Request) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Handle any `/v2/…` request.
pub async fn dispatch(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let path = req.uri().path().to_string();
    let rest = path
        .strip_prefix("/v2/")
        .or_else(|| path.strip_prefix("/v2"))
        .unwrap_or("");
    let Some(route) = parse_route(rest) else {
        return with_label(
            ApiError::new(StatusCode::NOT_FOUND, Code::Unsupported, "no such endpoint")
                .into_response(),
            "other",
        );
    };
    let label = route.label();
    let resp = match handle(&state, route, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    with_label(resp, label)
}

fn with_label(mut resp: Response, label: &'static str) -> Response {
    resp.extensions_mut().insert(RouteLabel(label));
    resp.headers_mut().insert(
        "Docker-Distribution-API-Version",
        HeaderValue::from_static("registry/2.0"),
    );
    resp
}

async fn handle(state: &Arc<AppState>, route: Route, req: Request) -> Result<Response, ApiError> {
    if let Some(name) = route.name()
        && !valid_name(name)
    {
        return Err(ApiError::name_invalid(name));
    }
    let method = req.method().clone();
    let write = !matches!(method, Method::GET | Method::HEAD);
    if write && state.config.read_only {
        return Err(ApiError::unsupported("the registry is in read-only mode"));
    }
    let scope = match &route {
        Route::Ping => Scope::Ping,
        Route::Catalog => Scope::Catalog,
        r => {
            let actions = match method {
                Method::GET | Method::HEAD => vec![Action::Pull],
                Method::DELETE if !matches!(r, Route::Upload(..)) => vec![Action::Delete],
                _ => vec![Action::Pull, Action::Push],
            };
            Scope::Repo {
                name: r.name().unwrap_or_default().to_string(),
                actions,
            }
        }
    };
    let identity = state.auth.check(req.headers(), &scope).await?;
    let streaming = matches!(
        (&route, &method),
        (Route::Blob(..), &Method::GET)
            | (Route::UploadStart(_), &Method::POST)
            | (Route::Upload(..), &Method::PATCH | &Method::PUT)
    );
    let fut = run(state, route, method, identity, req);
    if streaming {
        fut.await
    } else {
        match tokio::time::timeout(state.config.limits.request_timeout(), fut).await {
            Ok(r) => r,
            Err(_) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                Code::Unsupported,
                "request timed out",
            )),
        }
    }
}

async fn run(
    state: &Arc<AppState>,
    route: Route,
    method: Method,
    identity: Identity,
    req: Request,
) -> Result<Response, ApiError> {
    let q = query_pairs(&req);
    match (route, method) {
        (Route::Ping, Method::GET | Method::HEAD) => Ok(json_response(StatusCode::OK, "{}")),
        (Route::Catalog, Method::GET) => catalog(state, &identity, &q).await,
        (Route::Tags(name), Method::GET) => tags(state, &name, &q).await,
        (Route::Manifest(name, r), Method::GET) => {
            get_manifest(state, &name, &r, req.headers(), true).await
        }
        (Route::Manifest(name, r), Method::HEAD) => {
            get_manifest(state, &name, &r, req.headers(), false).await
        }
        (Route::Manifest(name, r), Method::PUT) => put_manifest(state, &name, &r, &q, req).await,
        (Route::Manifest(name, r), Method::DELETE) => delete_manifest(state, &name, &r).await,
        (Route::Blob(name, d), Method::GET) => {
            get_blob(state, &name, &d, req.headers(), true).await
        }
        (Route::Blob(name, d), Method::HEAD) => {
            get_blob(state, &name, &d, req.headers(), false).await
        }
        (Route::Blob(name, d), Method::DELETE) => {
            let d = parse_digest(&d)?;
            if state.registry.delete_blob(&name, &d).await? {
                Ok(empty(StatusCode::ACCEPTED))
            } else {
                Err(ApiError::blob_unknown(d.as_str()))
            }
        }
        (Route::UploadStart(name), Method::POST) => start_upload(state, &name, &q, req).await,
        (Route::Upload(name, id), Method::GET) => {
            let size = state.registry.upload_size(&name, &id).await?;
            Ok(upload_response(StatusCode::NO_CONTENT, &name, &id, size))
        }
        (Route::Upload(name, id), Method::PATCH) => patch_upload(state, &name, &id, req).await,
        (Route::Upload(name, id), Method::PUT) => put_upload(state, &name, &id, &q, req).await,
        (Route::Upload(name, id), Method::DELETE) => {
            state.registry.upload_cancel(&name, &id).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        (Route::Referrers(name, d), Method::GET) => referrers(state, &name, &d, &q).await,
        _ => Err(ApiError::unsupported("method not allowed on this endpoint")),
    }
}

fn empty(status: StatusCode) -> Response {
    let mut r = status.into_response();
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    r
}

fn json_response(status: StatusCode, body: impl Into<String>) -> Response {
    let mut r = (status, body.into()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

fn set(r: &mut Response, name: impl header::IntoHeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        r.headers_mut().insert(name, v);
    }
}

fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    Digest::parse(s).map_err(|e| {
        ApiError::digest_invalid(format!("invalid digest {s:?}: {e}"))
            .detail(serde_json::json!({ "digest": s }))
    })
}

fn parse_reference(s: &str) -> Result<Reference, ApiError> {
    Reference::parse(s).ok_or_else(|| {
        if s.contains(':') {
            ApiError::digest_invalid(format!("invalid digest {s:?}"))
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::ManifestInvalid,
                format!("invalid tag {s:?}"),
            )
        }
    })
}

/// Convert a request body into a storage stream that fails if the client stalls, and
/// counts bytes for the metrics.
fn body_stream(state: &Arc<AppState>, body: Body) -> ByteStream {
    let idle = state.config.limits.body_idle_timeout();
    let st = state.clone();
    let s = body.into_data_stream();
    futures::stream::unfold((s, false), move |(mut s, done)| {
        let st = st.clone();
        async move {
            if done {
                return None;
            }
            match tokio::time::timeout(idle, s.next()).await {
                Ok(Some(Ok(b))) => {
                    st.metrics
                        .bytes_received
                        .fetch_add(b.len() as u64, Ordering::Relaxed);
                    Some((Ok(b), (s, false)))
                }
                Ok(Some(Err(e))) => Some((Err(io::Error::other(e)), (s, true))),
                Ok(None) => None,
                Err(_) => Some((
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "request body stalled",
                    )),
                    (s, true),
                )),
            }
        }
    })
    .boxed()
}

// ----- listings -----

/// Apply `n`/`last` pagination to a sorted list; returns the page and whether more follow.
fn paginate(
    items: Vec<String>,
    q: &[(String, String)],
    max: usize,
) -> Result<(Vec<String>, Option<usize>), ApiError> {
    let n = match param(q, "n") {
        Some(s) => Some(s.parse::<usize>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::Unsupported,
                format!("invalid page size n={s:?}"),
            )
        })?),
        None => None,
    };
    let start: Vec<String> = match param(q, "last") {
        Some(last) => items.into_iter().filter(|t| t.as_str() > last).collect(),
        None => items,
    };
    let limit = n.unwrap_or(max).min(max);
    let more = start.len() > limit;
    let page: Vec<String> = start.into_iter().take(limit).collect();
    Ok((page, more.then_some(limit)))
}

fn link_next(r: &mut Response, base: &str, n: usize, last: Option<&String>) {
    if let Some(last) = last {
        let enc: String = form_urlencoded::byte_serialize(last.as_bytes()).collect();
        set(
            r,
            header::LINK,
            &format!("<{base}?n={n}&last={enc}>; rel=\"next\""),
        );
    }
}

async fn catalog(
    state: &Arc<AppState>,
    identity: &Identity,
    q: &[(String, String)],
) -> Result<Response, ApiError> {
    let all = state.registry.catalog().await?;
    let visible: Vec<String> = all
        .into_iter()
        .filter(|n| state.auth.can_pull(identity, n))
        .collect();
    let (page, more) = paginate(visible, q, state.config.limits.max_page)?;
    let body = serde_json::json!({ "repositories": page }).to_string();
    let mut r = json_response(StatusCode::OK, body);
    if let Some(n) = more {
        link_next(&mut r, "/v2/_catalog", n, page.last());
    }
    Ok(r)
}

async fn tags(
    state: &Arc<AppState>,
    name: &str,
    q: &[(String, String)],
) -> Result<Response, ApiError> {
    if !state.registry.repo_exists(name).await? {
        return Err(ApiError::name_unknown(name));
    }
    let all = state.registry.tags(name).await?;
    let (page, more) = paginate(all, q, state.config.limits.max_page)?;
    let body = serde_json::json!({ "name": name, "tags": page }).to_string();
    let mut r = json_response(StatusCode::OK, body);
    if let Some(n) = more {
        link_next(&mut r, &format!("/v2/{name}/tags/list"), n, page.last());
    }
    Ok(r)
}

async fn referrers(
    state: &Arc<AppState>,
    name: &str,
    subject: &str,
    q: &[(String, String)],
) -> Result<Response, ApiError> {
    let subject = parse_digest(subject)?;
    let filter = param(q, "artifactType").filter(|s| !s.is_empty());
    let list = state.registry.referrers(name, &subject, filter).await?;
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": list,
    })
    .to_string();
    let mut r = (StatusCode::OK, body).into_response();
    set(&mut r, header::CONTENT_TYPE, media_type::OCI_INDEX);
    if filter.is_some() {
        set(&mut r, "OCI-Filters-Applied", "artifactType");
    }
    Ok(r)
}

// ----- manifests -----

/// Every manifest media type a client may list in `Accept` to negotiate manifests.
const MANIFEST_TYPES: [&str; 6] = [
    media_type::OCI_MANIFEST,
    media_type::OCI_INDEX,
    media_type::DOCKER_MANIFEST,
    media_type::DOCKER_MANIFEST_LIST,
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// What a request's `Accept` headers say about serving a manifest of type `stored`.
///
/// Manifests are stored and served byte for byte, so negotiation can only pick between
/// serving as is and refusing. The rule follows the reference registry, where clients
/// learned it, with one HTTP-correct relaxation:
///
/// - a client that lists no manifest type at all (no header, `*/*`, `application/json`:
///   curl, browsers, generic HTTP libraries) is not negotiating and gets the manifest;
/// - a wildcard covering `stored` (`*/*`, `application/*`) with a non-zero `q` accepts it
///   (the reference registry ignores wildcards and answers curl's `*/*` with 404);
/// - otherwise the client negotiates, and `stored` must be listed with `q` > 0.
fn accepts(headers: &HeaderMap, stored: &str) -> bool {
    let mut negotiating = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let range = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            let covers = range == stored
                || range == "*/*"
                || range
                    .strip_suffix("/*")
                    .is_some_and(|t| stored.split('/').next() == Some(t));
            if covers && !q_zero {
                return true;
            }
            negotiating |= MANIFEST_TYPES.contains(&range.as_str());
        }
    }
    !negotiating
}

async fn get_manifest(
    state: &Arc<AppState>,
    name: &str,
    reference: &str,
    headers: &HeaderMap,
    with_body: bool,
) -> Result<Response, ApiError> {
    let reference = parse_reference(reference)?;
    let not_found = || ApiError::manifest_unknown(&reference.to_string());
    let (mut digest, mut media, mut size, mut bytes) = if with_body {
        let m = state
            .registry
            .manifest(name, &reference)
            .await?
            .ok_or_else(not_found)?;
        let size = m.bytes.len() as u64;
        (m.digest, m.media_type, size, Some(m.bytes))
    } else {
        let (d, mt, size) = state
            .registry
            .manifest_head(name, &reference)
            .await?
            .ok_or_else(not_found)?;
        (d, mt, size, None)
    };
    if !accepts(headers, &media) {
        // The reference registry's answers, which clients recognise: OCI documents are
        // "unknown" to a client that cannot read them; a Docker manifest list asked for
        // by tag becomes its linux/amd64 image for clients from before manifest lists
        // (by digest it cannot: the bytes must match the digest); a Docker image
        // manifest is served anyway, as there is nothing else to offer.
        let refuse = |what: &str, plural: &str| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                Code::ManifestUnknown,
                format!("OCI {what} found, but accept header does not support OCI {plural}"),
            )
            .detail(serde_json::json!({ "reference": reference.to_string(), "mediaType": media }))
        };
        match media.as_str() {
            media_type::OCI_MANIFEST => return Err(refuse("manifest", "manifests")),
            media_type::OCI_INDEX => return Err(refuse("index", "indexes")),
            media_type::DOCKER_MANIFEST_LIST if matches!(reference, Reference::Tag(_)) => {
                let child = default_platform_child(state, name, &reference).await?;
                let m = state
                    .registry
                    .manifest(name, &Reference::Digest(child))
                    .await?
                    .ok_or_else(not_found)?;
                size = m.bytes.len() as u64;
                (digest, media) = (m.digest, m.media_type);
                bytes = with_body.then_some(m.bytes);
            }
            _ => {}
        }
    }
    let body = bytes.map(Body::from).unwrap_or_else(Body::empty);
    let mut r = Response::new(body);
    set(&mut r, header::CONTENT_TYPE, &media);
    set(&mut r, header::CONTENT_LENGTH, &size.to_string());
    set(&mut r, "Docker-Content-Digest", digest.as_str());
    set(&mut r, header::ETAG, &format!("\"{digest}\""));
    Ok(r)
}

/// The linux/amd64 entry of the Docker manifest list `reference` names.
async fn default_platform_child(
    state: &Arc<AppState>,
    name: &str,
    reference: &Reference,
) -> Result<Digest, ApiError> {
    let missing = |why: &str| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            Code::ManifestUnknown,
            format!("manifest list {reference} {why}"),
        )
    };
    let list = state
        .registry
        .manifest(name, reference)
        .await?
        .ok_or_else(|| ApiError::manifest_unknown(&reference.to_string()))?;
    let parsed =
        Parsed::parse_with_digest(list.bytes.to_vec(), list.digest, Some(&list.media_type))
            .map_err(|_| missing("cannot be read"))?;
    let Document::Index(ix) = parsed.value else {
        return Err(missing("is not a list"));
    };
    ix.manifests
        .into_iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
        })
        .map(|d| d.digest)
        .ok_or_else(|| missing("does not contain a manifest for the platform linux/amd64"))
}

async fn put_manifest(
    state: &Arc<AppState>,
    name: &str,
    reference: &str,
    q: &[(String, String)],
    req: Request,
) -> Result<Response, ApiError> {
    let reference = parse_reference(reference)?;
    let mut extra_tags = Vec::new();
    for (k, v) in q {
        if k == "tag" {
            if !valid_tag(v) {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    Code::ManifestInvalid,
                    format!("invalid tag {v:?}"),
                ));
            }
            extra_tags.push(v.clone());
        }
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let max = state.config.limits.max_manifest_bytes;
    let bytes = read_limited(req.into_body(), max).await?;
    let out = state
        .registry
        .put_manifest(
            name,
            &reference,
            content_type.as_deref(),
            bytes,
            &extra_tags,
        )
        .await?;
    let mut r = empty(StatusCode::CREATED);
    set(
        &mut r,
        header::LOCATION,
        &format!("/v2/{name}/manifests/{}", out.digest),
    );
    set(&mut r, "Docker-Content-Digest", out.digest.as_str());
    if let Some(s) = &out.subject {
        set(&mut r, "OCI-Subject", s.as_str());
    }
    if !extra_tags.is_empty() {
        set(&mut r, "OCI-Tag", &out.tags.join(", "));
    }
    Ok(r)
}

async fn read_limited(body: Body, max: usize) -> Result<Bytes, ApiError> {
    let mut s = body.into_data_stream();
    let mut buf = BytesMut::new();
    while let Some(chunk) = s.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                Code::ManifestInvalid,
                format!("reading manifest: {e}"),
            )
        })?;
        if buf.len() + chunk.len() > max {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                Code::SizeInvalid,
                format!("manifest exceeds the limit of {max} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

async fn delete_manifest(
    state: &Arc<AppState>,
    name: &str,
    reference: &str,
) -> Result<Response, ApiError> {
    let reference = parse_reference(reference)?;
    let found = match &reference {
        Reference::Tag(t) => state.registry.delete_tag(name, t).await?,
        Reference::Digest(d) => state.registry.delete_manifest(name, d).await?,
    };
    if found {
        Ok(empty(StatusCode::ACCEPTED))
    } else {
        Err(ApiError::manifest_unknown(&reference.to_string()))
    }
}

// ----- blobs -----

/// Parse a single `Range: bytes=…` against a blob of `size` bytes. `Ok(None)` means
/// "serve the whole blob" (no header, several ranges, or another unit); `Err` means 416.
fn parse_range(h: Option<&HeaderValue>, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(spec) = h
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        return Ok(Some(size.saturating_sub(n)..size));
    }
    let start: u64 = a.parse().map_err(|_| ())?;
    let end = if b.is_empty() {
        size.saturating_sub(1)
    } else {
        let e: u64 = b.parse().map_err(|_| ())?;
        if e < start {
            return Err(());
        }
        e.min(size.saturating_sub(1))
    };
    if start >= size {
        return Err(());
    }
    Ok(Some(start..end + 1))
}

async fn get_blob(
    state: &Arc<AppState>,
    name: &str,
    digest: &str,
    headers: &HeaderMap,
    with_body: bool,
) -> Result<Response, ApiError> {
    let d = parse_digest(digest)?;
    let info = state
        .registry
        .blob(name, &d)
        .await?
        .ok_or_else(|| ApiError::blob_unknown(d.as_str()))?;
    let range = if with_body {
        parse_range(headers.get(header::RANGE), info.size).map_err(|()| {
            ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                Code::BlobUnknown,
                "requested range not satisfiable",
            )
            .header(header::CONTENT_RANGE, &format!("bytes */{}", info.size))
        })?
    } else {
        None
    };
    let (status, len) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, info.size),
    };
    let body = if with_body {
        let st = state.clone();
        let s = state
            .registry
            .read_blob(&d, range.clone())
            .await
            .map_err(|e| match e {
                StorageError::BlobNotFound { .. } => ApiError::blob_unknown(d.as_str()),
                other => other.into(),
            })?
            .inspect(move |c| {
                if let Ok(b) = c {
                    st.metrics
                        .bytes_sent
                        .fetch_add(b.len() as u64, Ordering::Relaxed);
                }
            });
        Body::from_stream(s)
    } else {
        Body::empty()
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    set(&mut r, header::CONTENT_TYPE, "application/octet-stream");
    set(&mut r, header::CONTENT_LENGTH, &len.to_string());
    set(&mut r, header::ACCEPT_RANGES, "bytes");
    set(&mut r, "Docker-Content-Digest", d.as_str());
    set(&mut r, header::ETAG, &format!("\"{d}\""));
    set(&mut r, header::CACHE_CONTROL, "max-age=31536000");
    if let Some(rg) = &range {
        set(
            &mut r,
            header::CONTENT_RANGE,
            &format!("bytes {}-{}/{}", rg.start, rg.end - 1, info.size),
        );
    }
    Ok(r)
}

// ----- uploads -----

fn upload_response(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
    let mut r = empty(status);
    set(
        &mut r,
        header::LOCATION,
        &format!("/v2/{name}/blobs/uploads/{id}"),
    );
    set(
        &mut r,
        header::RANGE,
        &format!("0-{}", size.saturating_sub(1)),
    );
    set(&mut r, "Docker-Upload-UUID", id);
    r
}

fn created_blob(name: &str, d: &Digest) -> Response {
    let mut r = empty(StatusCode::CREATED);
    set(&mut r, header::LOCATION, &format!("/v2/{name}/blobs/{d}"));
    set(&mut r, "Docker-Content-Digest", d.as_str());
    r
}

async fn start_upload(
    state: &Arc<AppState>,
    name: &str,
    q: &[(String, String)],
    req: Request,
) -> Result<Response, ApiError> {
    if let Some(m) = param(q, "mount") {
        let d = parse_digest(m)?;
        let from = param(q, "from").filter(|f| !f.is_empty());
        let mountable = match from {
            Some(src) if valid_name(src) => {
                // Mounting reads the source: the caller must be allowed to pull it. If
                // not, fall back to a plain upload, as the spec allows.
                let pull = Scope::Repo {
                    name: src.to_string(),
                    actions: vec![Action::Pull],
                };
                state.auth.check(req.headers(), &pull).await.is_ok()
                    && state.registry.mount(name, Some(src), &d).await?
            }
            Some(_) => false,
            None => state.auth.anonymous_mount() && state.registry.mount(name, None, &d).await?,
        };
        if mountable {
            return Ok(created_blob(name, &d));
        }
        let id = state.registry.start_upload(name).await?;
        return Ok(upload_response(StatusCode::ACCEPTED, name, &id, 0));
    }
    if let Some(dg) = param(q, "digest") {
        let d = parse_digest(dg)?;
        let id = state.registry.start_upload(name).await?;
        let body = body_stream(state, req.into_body());
        let res = async {
            state
                .registry
                .upload_append(name, &id, Some(0), body)
                .await?;
            state.registry.upload_finish(name, &id, &d).await
        }
        .await;
        if let Err(e) = res {
            let _ = state.registry.upload_cancel(name, &id).await;
            return Err(e);
        }
        return Ok(created_blob(name, &d));
    }
    let id = state.registry.start_upload(name).await?;
    Ok(upload_response(StatusCode::ACCEPTED, name, &id, 0))
}

/// `Content-Range: <start>-<end>` (also tolerating a `bytes ` prefix). Returns the start
/// and, if the header is well formed, the expected length.
fn content_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(v) = headers.get(header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            Code::BlobUploadInvalid,
            "invalid Content-Range header",
        )
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    let s = s
        .strip_prefix("bytes ")
        .or_else(|| s.strip_prefix("bytes="))
        .unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let a: u64 = a.trim().parse().map_err(|_| bad())?;
    let b: u64 = b.trim().parse().map_err(|_| bad())?;
    if b < a {
        return Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            Code::BlobUploadInvalid,
            "invalid Content-Range header",
        ));
    }
    Ok(Some((a, b - a + 1)))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

/// On a 416 the client needs to learn where to resume: add the session's location and
/// current range to the error.
async fn with_upload_state(
    state: &Arc<AppState>,
    name: &str,
    id: &str,
    mut e: ApiError,
) -> ApiError {
    if e.status == StatusCode::RANGE_NOT_SATISFIABLE
        && let Ok(size) = state.registry.upload_size(name, id).await
    {
        e = e
            .header(header::LOCATION, &format!("/v2/{name}/blobs/uploads/{id}"))
            .header(header::RANGE, &format!("0-{}", size.saturating_sub(1)))
            .header(header::HeaderName::from_static("docker-upload-uuid"), id);
    }
    e
}

async fn append_checked(
    state: &Arc<AppState>,
    name: &str,
    id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<u64, ApiError> {
    let cr = content_range(headers)?;
    if let (Some((_, len)), Some(cl)) = (cr, content_length(headers))
        && len != cl
    {
        return Err(ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            Code::BlobUploadInvalid,
            format!("Content-Range covers {len} bytes but Content-Length is {cl}"),
        ));
    }
    let body = body_stream(state, body);
    state
        .registry
        .upload_append(name, id, cr.map(|c| c.0), body)
        .await
}

async fn patch_upload(
    state: &Arc<AppState>,
    name: &str,
    id: &str,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    match append_checked(state, name, id, &parts.headers, body).await {
        Ok(size) => Ok(upload_response(StatusCode::ACCEPTED, name, id, size)),
        Err(e) => Err(with_upload_state(state, name, id, e).await),
    }
}

async fn put_upload(
    state: &Arc<AppState>,
    name: &str,
    id: &str,
    q: &[(String, String)],
    req: Request,
) -> Result<Response, ApiError> {
    let d = parse_digest(param(q, "digest").unwrap_or(""))?;
    let (parts, body) = req.into_parts();
    let has_body = content_length(&parts.headers) != Some(0)
        && (parts.headers.contains_key(header::CONTENT_LENGTH)
            || parts.headers.contains_key(header::TRANSFER_ENCODING));
    if has_body && let Err(e) = append_checked(state, name, id, &parts.headers, body).await {
        return Err(with_upload_state(state, name, id, e).await);
    }
    state.registry.upload_finish(name, id, &d).await?;
    Ok(created_blob(name, &d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        let oci = media_type::OCI_MANIFEST;
        let h = |values: &[&str]| {
            let mut m = HeaderMap::new();
            for v in values {
                m.append(header::ACCEPT, HeaderValue::from_str(v).unwrap());
            }
            m
        };
        // Not negotiating: served.
        assert!(accepts(&h(&[]), oci));
        assert!(accepts(&h(&["*/*"]), oci));
        assert!(accepts(&h(&["application/json"]), oci));
        // Wildcards cover.
        assert!(accepts(
            &h(&[media_type::DOCKER_MANIFEST, "*/*;q=0.1"]),
            oci
        ));
        assert!(accepts(
            &h(&[media_type::DOCKER_MANIFEST, "application/*"]),
            oci
        ));
        assert!(!accepts(&h(&[media_type::DOCKER_MANIFEST, "text/*"]), oci));
        // Listed, in one header or several, any case, with parameters.
        assert!(accepts(
            &h(&[&format!("{}, {oci}; q=0.5", media_type::DOCKER_MANIFEST)]),
            oci
        ));
        assert!(accepts(&h(&[media_type::DOCKER_MANIFEST, oci]), oci));
        assert!(accepts(
            &h(&["Application/VND.OCI.Image.Manifest.v1+JSON"]),
            oci
        ));
        // Negotiating without it, or refusing it with q=0.
        assert!(!accepts(&h(&[media_type::DOCKER_MANIFEST]), oci));
        assert!(!accepts(&h(&[&format!("{oci};q=0")]), oci));
        assert!(!accepts(&h(&[media_type::OCI_INDEX]), oci));
    }

    #[test]
    fn routes_split_from_the_end() {
        assert!(matches!(parse_route(""), Some(Route::Ping)));
        assert!(matches!(parse_route("_catalog"), Some(Route::Catalog)));
        assert!(matches!(parse_route("a/b/tags/list"), Some(Route::Tags(n)) if n == "a/b"));
        assert!(
            matches!(parse_route("a/manifests/b/manifests/v1"), Some(Route::Manifest(n, r)) if n == "a/manifests/b" && r == "v1")
        );
        assert!(matches!(parse_route("a/blobs/uploads/"), Some(Route::UploadStart(n)) if n == "a"));
        assert!(matches!(parse_route("a/blobs/uploads"), Some(Route::UploadStart(n)) if n == "a"));
        assert!(
            matches!(parse_route("x/y/blobs/uploads/abc"), Some(Route::Upload(n, i)) if n == "x/y" && i == "abc")
        );
        assert!(matches!(parse_route("a/blobs/sha256:x"), Some(Route::Blob(n, _)) if n == "a"));
        assert!(matches!(
            parse_route("a/referrers/sha256:x"),
            Some(Route::Referrers(..))
        ));
        assert!(parse_route("a/unknown/x").is_none());
    }

    #[test]
    fn ranges() {
        let h = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(
            parse_range(Some(&h("bytes=500-1499")), 2048),
            Ok(Some(500..1500))
        );
        assert_eq!(
            parse_range(Some(&h("bytes=500-")), 2048),
            Ok(Some(500..2048))
        );
        assert_eq!(
            parse_range(Some(&h("bytes=-500")), 2048),
            Ok(Some(1548..2048))
        );
        assert_eq!(
            parse_range(Some(&h("bytes=2000-5000")), 2048),
            Ok(Some(2000..2048))
        );
        assert_eq!(parse_range(Some(&h("bytes=500-0")), 2048), Err(()));
        assert_eq!(parse_range(Some(&h("bytes=5000-10000")), 2048), Err(()));
        assert_eq!(parse_range(Some(&h("bytes=0-1,5-6")), 2048), Ok(None));
        assert_eq!(parse_range(None, 2048), Ok(None));
        assert_eq!(parse_range(Some(&h("bytes=0-")), 0), Err(()));
    }

    #[test]
    fn pagination() {
        let items: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let q = vec![("n".to_string(), "2".to_string())];
        assert_eq!(
            paginate(items.clone(), &q, 100).unwrap(),
            (vec!["a".into(), "b".into()], Some(2))
        );
        let q = vec![
            ("n".to_string(), "2".to_string()),
            ("last".to_string(), "b".to_string()),
        ];
        assert_eq!(
            paginate(items.clone(), &q, 100).unwrap(),
            (vec!["c".into(), "d".into()], None)
        );
        assert_eq!(paginate(items.clone(), &[], 3).unwrap().1, Some(3));
        let q = vec![("n".to_string(), "x".to_string())];
        assert!(paginate(items, &q, 100).is_err());
    }
}
