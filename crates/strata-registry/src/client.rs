//! The transport: one [`Client`] per command, one [`Registry`] per registry host, every
//! request through [`Registry::send`].
//!
//! # Model
//!
//! **Scheme.** TLS (rustls, `ring`, the system's roots plus any `certs.d/HOST/*.crt`) is the
//! default. A registry is *insecure* when it is a loopback address (`localhost`,
//! `127.0.0.0/8`, `::1` — as Docker treats them), when it is listed in the insecure
//! registries (Docker's `insecure-registries`: `host`, `host:port` or an IP CIDR), or when
//! the user passed `--insecure`. For an insecure registry Strata tries HTTPS without
//! verifying the certificate, and falls back to plain HTTP if no TLS connection can be made —
//! Docker's behaviour. Secure registries are never spoken to in plain HTTP.
//!
//! **Ping.** The first request to a registry is `GET /v2/`: it settles the scheme and
//! records the authentication challenge (see [`crate::auth`]), so later requests carry the
//! right `Authorization` from the start instead of each paying a 401 round trip.
//!
//! **Retries.** Connection errors, 5xx and 429 answers are retried with exponential backoff
//! (`retries` times; request bodies are rebuilt from their [`Body`] description, files are
//! reopened). Requests that must not be repeated blindly (an upload `PATCH`) opt out and are
//! retried as a whole by their caller.
//!
//! **Redirects** (blob downloads are often redirected to object storage) are followed by
//! reqwest, which drops `Authorization` whenever the host or port changes, so registry
//! credentials never reach the storage host.
//!
//! HTTP/2 is negotiated by ALPN on TLS connections; plain-HTTP registries get HTTP/1.1 with a
//! pool of keep-alive connections.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode, Url};

use crate::auth::{self, Challenge, Token, TokenResponse};
use crate::credentials::{AuthEntry, DockerConfig, server_key};
use crate::error::{Error, Result};

/// How the client behaves. `Default` is what `strata pull`/`push` use.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Allow plain HTTP and unverified TLS for every registry (`--insecure`).
    pub insecure: bool,
    /// Docker's `insecure-registries`: `host`, `host:port`, or an IP CIDR (`10.0.0.0/8`).
    pub insecure_registries: Vec<String>,
    /// Credentials file (`~/.docker/config.json`); `None` means anonymous only.
    pub docker_config: Option<PathBuf>,
    /// Directories holding `HOST[:PORT]/*.crt` extra CA certificates (Docker's `certs.d`).
    pub certs_dirs: Vec<PathBuf>,
    pub user_agent: String,
    /// Retries after the first attempt, for connection errors, 5xx and 429.
    pub retries: u32,
    /// First backoff delay; doubles per retry up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    pub connect_timeout: Duration,
    /// Longest wait for any read (a stalled body fails, and is resumed).
    pub read_timeout: Duration,
    /// Blobs downloaded at once.
    pub download_concurrency: usize,
    /// Blobs uploaded at once.
    pub upload_concurrency: usize,
    /// Blobs up to this size are uploaded in one `PUT`; larger ones in `PATCH` chunks.
    pub monolithic_limit: u64,
    /// Blobs up to this size are first offered as one `POST …/uploads/?digest=` carrying
    /// the body (the spec's single-request upload). A registry that answers with an upload
    /// session instead is remembered, and gets `POST` + `PUT` from then on. Registries that
    /// ignore the body still read and discard one this small (Go's `net/http` drains up to
    /// 256 KiB), so the connection survives. 0 never offers it.
    pub single_post_limit: u64,
    /// Size of one `PATCH` chunk.
    pub chunk_size: u64,
    /// Largest manifest or index accepted (the spec asks registries for at least 4 MiB).
    pub max_manifest_bytes: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure: false,
            insecure_registries: Vec::new(),
            docker_config: DockerConfig::default_path(),
            certs_dirs: vec![
                PathBuf::from("/etc/strata/certs.d"),
                PathBuf::from("/etc/docker/certs.d"),
            ],
            user_agent: format!("strata/{}", env!("CARGO_PKG_VERSION")),
            retries: 4,
            backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            download_concurrency: 6,
            upload_concurrency: 5,
            monolithic_limit: 32 << 20,
            single_post_limit: 256 << 10,
            chunk_size: 64 << 20,
            max_manifest_bytes: 4 << 20,
        }
    }
}

/// Read Docker's `insecure-registries` list from a `daemon.json`-shaped file; a missing
/// file is an empty list.
pub fn insecure_registries_from(path: &Path) -> Result<Vec<String>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("read", path)(e)),
    };
    #[derive(serde::Deserialize)]
    struct Daemon {
        #[serde(default, rename = "insecure-registries")]
        insecure: Vec<String>,
    }
    let d: Daemon = serde_json::from_slice(&bytes).map_err(|source| Error::ConfigFile {
        path: path.to_path_buf(),
        source,
    })?;
    for entry in &d.insecure {
        check_insecure_entry(entry)?;
    }
    Ok(d.insecure)
}

fn check_insecure_entry(entry: &str) -> Result<()> {
    let e = entry
        .strip_prefix("http://")
        .or_else(|| entry.strip_prefix("https://"))
        .unwrap_or(entry);
    if let Some((ip, bits)) = e.split_once('/') {
        let ip: IpAddr = ip.parse().map_err(|_| Error::InsecureEntry {
            entry: entry.to_string(),
            message: "not an IP network".into(),
        })?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        match bits.parse::<u8>() {
            Ok(b) if b <= max => Ok(()),
            _ => Err(Error::InsecureEntry {
                entry: entry.to_string(),
                message: "invalid prefix length".into(),
            }),
        }
    } else if e.is_empty() {
        Err(Error::InsecureEntry {
            entry: entry.to_string(),
            message: "empty".into(),
        })
    } else {
        Ok(())
    }
}

/// Split `host[:port]` (with `[v6]:port`) and return the host part.
fn host_part(domain: &str) -> &str {
    if let Some(rest) = domain.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match domain.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => domain,
    }
}

fn is_loopback(domain: &str) -> bool {
    let host = host_part(domain);
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn in_cidr(ip: IpAddr, net: &str) -> bool {
    let Some((base, bits)) = net.split_once('/') else {
        return false;
    };
    let (Ok(base), Ok(bits)) = (base.parse::<IpAddr>(), bits.parse::<u32>()) else {
        return false;
    };
    match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

/// Whether `domain` may be spoken to without verified TLS.
pub fn is_insecure(opts: &ClientOptions, domain: &str) -> bool {
    if opts.insecure || is_loopback(domain) {
        return true;
    }
    let host = host_part(domain);
    let ip = host.parse::<IpAddr>().ok();
    opts.insecure_registries.iter().any(|entry| {
        let e = entry
            .strip_prefix("http://")
            .or_else(|| entry.strip_prefix("https://"))
            .unwrap_or(entry)
            .trim_end_matches('/');
        if e.contains('/') {
            ip.is_some_and(|ip| in_cidr(ip, e))
        } else {
            e == domain || e == host
        }
    })
}

/// The API host for a reference domain (Docker Hub's API lives on `registry-1.docker.io`).
pub fn api_host(domain: &str) -> &str {
    match domain {
        "docker.io" | "index.docker.io" => "registry-1.docker.io",
        other => other,
    }
}

/// A request body that can be rebuilt for every attempt.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    Empty,
    Bytes(bytes::Bytes),
    /// `len` bytes of a file from `offset`.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

/// One request, described so it can be sent again.
pub(crate) struct Req<'a> {
    pub method: Method,
    pub url: Url,
    pub scopes: &'a [String],
    pub headers: Vec<(HeaderName, String)>,
    pub body: Body,
    /// Whether connection errors and 5xx may be retried by [`Registry::send`].
    pub retry: bool,
}

impl<'a> Req<'a> {
    pub fn new(method: Method, url: Url, scopes: &'a [String]) -> Req<'a> {
        Req {
            method,
            url,
            scopes,
            headers: Vec::new(),
            body: Body::Empty,
            retry: true,
        }
    }
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }
    pub fn no_retry(mut self) -> Self {
        self.retry = false;
        self
    }
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: HashMap<String, Token>,
}

/// Everything about one registry host for the lifetime of a [`Client`].
pub struct Registry {
    /// The domain as references spell it (`docker.io`, `localhost:5000`).
    pub domain: String,
    insecure: bool,
    http: reqwest::Client,
    base: tokio::sync::OnceCell<Url>,
    creds: Option<AuthEntry>,
    state: Mutex<AuthState>,
    /// Held while fetching a token, so concurrent requests needing the same scopes wait
    /// for one token request instead of each making their own.
    fetching: tokio::sync::Mutex<()>,
    /// Whether the registry takes single-`POST` uploads: `SINGLE_POST_*`.
    single_post: AtomicU8,
    opts: Arc<ClientOptions>,
}

const SINGLE_POST_UNKNOWN: u8 = 0;
const SINGLE_POST_ACCEPTED: u8 = 1;
const SINGLE_POST_REFUSED: u8 = 2;

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("domain", &self.domain)
            .field("insecure", &self.insecure)
            .finish_non_exhaustive()
    }
}

/// A registry client: options, credentials, and one [`Registry`] per host.
pub struct Client {
    opts: Arc<ClientOptions>,
    config: Option<DockerConfig>,
    registries: Mutex<HashMap<String, Arc<Registry>>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client; reads the credentials file named in `opts` (missing is fine).
    pub fn new(opts: ClientOptions) -> Result<Client> {
        // reqwest is built without a bundled crypto provider; use ring (as the server does).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = match &opts.docker_config {
            Some(p) => Some(DockerConfig::load(p)?),
            None => None,
        };
        Ok(Client {
            opts: Arc::new(opts),
            config,
            registries: Mutex::new(HashMap::new()),
        })
    }

    /// The options this client was made with.
    pub fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// The registry for `domain`, with the stored credentials for it.
    pub fn registry(&self, domain: &str) -> Result<Arc<Registry>> {
        if let Ok(map) = self.registries.lock()
            && let Some(r) = map.get(domain)
        {
            return Ok(r.clone());
        }
        let creds = match &self.config {
            Some(c) => c.get(&server_key(domain))?,
            None => None,
        };
        let reg = Arc::new(Registry::new(domain, creds, self.opts.clone())?);
        if let Ok(mut map) = self.registries.lock() {
            map.insert(domain.to_string(), reg.clone());
        }
        Ok(reg)
    }

    /// A registry for `domain` with explicit credentials (login verification); not cached.
    pub fn registry_with(&self, domain: &str, creds: Option<AuthEntry>) -> Result<Arc<Registry>> {
        Ok(Arc::new(Registry::new(domain, creds, self.opts.clone())?))
    }
}

impl Registry {
    fn new(domain: &str, creds: Option<AuthEntry>, opts: Arc<ClientOptions>) -> Result<Registry> {
        let insecure = is_insecure(&opts, domain);
        let mut b = reqwest::Client::builder()
            .user_agent(opts.user_agent.clone())
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .redirect(reqwest::redirect::Policy::limited(10))
            .pool_idle_timeout(Duration::from_secs(30))
            .tls_danger_accept_invalid_certs(insecure);
        for dir in &opts.certs_dirs {
            for cert in extra_certs(&dir.join(domain)) {
                b = b.add_root_certificate(cert);
            }
        }
        let http = b.build().map_err(|e| Error::Transport {
            url: domain.to_string(),
            message: format!("cannot set up the HTTP client: {e}"),
        })?;
        Ok(Registry {
            domain: domain.to_string(),
            insecure,
            http,
            base: tokio::sync::OnceCell::new(),
            creds,
            state: Mutex::new(AuthState::default()),
            fetching: tokio::sync::Mutex::new(()),
            single_post: AtomicU8::new(SINGLE_POST_UNKNOWN),
            opts,
        })
    }

    pub(crate) fn options(&self) -> &ClientOptions {
        &self.opts
    }

    /// `Some(true)` once the registry accepted a single-`POST` upload, `Some(false)` once it
    /// answered one with an upload session, `None` before either.
    pub(crate) fn single_post(&self) -> Option<bool> {
        match self.single_post.load(Ordering::Relaxed) {
            SINGLE_POST_ACCEPTED => Some(true),
            SINGLE_POST_REFUSED => Some(false),
            _ => None,
        }
    }

    pub(crate) fn set_single_post(&self, accepted: bool) {
        let v = if accepted {
            SINGLE_POST_ACCEPTED
        } else {
            SINGLE_POST_REFUSED
        };
        self.single_post.store(v, Ordering::Relaxed);
    }

    /// `scheme://host/`, settled by the first ping.
    pub async fn base(&self) -> Result<&Url> {
        self.base.get_or_try_init(|| self.ping()).await
    }

    /// `GET /v2/`: choose the scheme and record the challenge.
    async fn ping(&self) -> Result<Url> {
        let host = api_host(&self.domain);
        let https = parse_url(&format!("https://{host}/"))?;
        let attempt = self.ping_at(&https).await;
        match attempt {
            Ok(()) => Ok(https),
            Err(Error::Transport { .. }) if self.insecure => {
                let http = parse_url(&format!("http://{host}/"))?;
                match self.ping_at(&http).await {
                    Ok(()) => Ok(http),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn ping_at(&self, base: &Url) -> Result<()> {
        let url = join(base, "v2/")?;
        let mut attempt = 0;
        loop {
            match self.http.get(url.clone()).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    if status == StatusCode::UNAUTHORIZED {
                        let challenges = challenges_of(resp.headers());
                        self.set_challenge(challenges);
                        return Ok(());
                    }
                    if status.is_server_error() && attempt < self.opts.retries {
                        attempt += 1;
                        tokio::time::sleep(self.delay(attempt)).await;
                        continue;
                    }
                    if status.is_success() {
                        return Ok(());
                    }
                    // Some registries answer 404 on /v2/ yet serve the API; go on.
                    tracing::debug!(%url, %status, "unexpected ping answer");
                    return Ok(());
                }
                Err(e) => {
                    // A TLS handshake against a plain-HTTP server fails at once, so with an
                    // insecure registry give up on HTTPS without retrying.
                    if attempt < self.opts.retries && !(self.insecure && base.scheme() == "https") {
                        attempt += 1;
                        tokio::time::sleep(self.delay(attempt)).await;
                        continue;
                    }
                    return Err(transport(&url, &e));
                }
            }
        }
    }

    fn set_challenge(&self, challenges: Vec<Challenge>) {
        // Prefer Bearer (it carries scopes) over Basic when both are offered.
        let chosen = challenges
            .iter()
            .find(|c| matches!(c, Challenge::Bearer { .. }))
            .or_else(|| challenges.first())
            .cloned();
        if chosen.is_some()
            && let Ok(mut st) = self.state.lock()
        {
            st.challenge = chosen;
        }
    }

    pub(crate) fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        (self.opts.backoff * factor).min(self.opts.max_backoff)
    }

    /// A URL under the registry's base: `v2/NAME/blobs/DIGEST`.
    pub async fn url(&self, path: &str) -> Result<Url> {
        let base = self.base().await?;
        join(base, path)
    }

    /// The `Authorization` value for a request needing `scopes`, fetching a token if needed.
    async fn authorization(&self, scopes: &[String], force_new: bool) -> Result<Option<String>> {
        let challenge = self.state.lock().ok().and_then(|s| s.challenge.clone());
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic { .. }) => Ok(self.creds.as_ref().and_then(basic_header)),
            Some(Challenge::Bearer {
                realm,
                service,
                scopes: wanted,
                ..
            }) => {
                if let Some(t) = self.creds.as_ref().and_then(|c| c.registry_token.clone()) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                let all = auth::merge_scopes(scopes.iter().cloned().chain(wanted));
                let key = auth::scope_key(&all);
                let cached = || {
                    self.state
                        .lock()
                        .ok()
                        .and_then(|s| s.tokens.get(&key).cloned())
                        .filter(Token::is_fresh)
                };
                if !force_new && let Some(tok) = cached() {
                    return Ok(Some(format!("Bearer {}", tok.value)));
                }
                let stale = cached().map(|t| t.value);
                let _one_at_a_time = self.fetching.lock().await;
                // Someone else may have fetched while we waited.
                if let Some(tok) = cached()
                    && (!force_new || Some(&tok.value) != stale.as_ref())
                {
                    return Ok(Some(format!("Bearer {}", tok.value)));
                }
                let tok = self
                    .fetch_token(&realm, service.as_deref(), &all, false)
                    .await?
                    .0;
                let header = format!("Bearer {}", tok.value);
                if let Ok(mut st) = self.state.lock() {
                    st.tokens.insert(key, tok);
                }
                Ok(Some(header))
            }
        }
    }

    /// Ask the token server for a token. Returns the token and any refresh token issued.
    pub(crate) async fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        offline: bool,
    ) -> Result<(Token, Option<String>)> {
        let mut url = parse_url(realm).map_err(|_| Error::Protocol {
            registry: self.domain.clone(),
            message: format!("invalid token realm {realm:?}"),
        })?;
        if url.scheme() == "http" && !self.insecure && !is_loopback(url.host_str().unwrap_or("")) {
            return Err(Error::Protocol {
                registry: self.domain.clone(),
                message: format!("refusing to send credentials to a plain-HTTP token realm {url}"),
            });
        }
        let issued = Instant::now();
        let refresh = self.creds.as_ref().and_then(|c| c.identity_token.clone());
        let mut attempt = 0;
        loop {
            let req = if let Some(refresh) = &refresh {
                let mut form = form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token");
                form.append_pair("refresh_token", refresh);
                form.append_pair("client_id", "strata");
                if let Some(s) = service {
                    form.append_pair("service", s);
                }
                if !scopes.is_empty() {
                    form.append_pair("scope", &scopes.join(" "));
                }
                self.http
                    .post(url.clone())
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form.finish())
            } else {
                {
                    let mut q = url.query_pairs_mut();
                    q.clear();
                    if let Some(s) = service {
                        q.append_pair("service", s);
                    }
                    for s in scopes {
                        q.append_pair("scope", s);
                    }
                    if offline {
                        q.append_pair("offline_token", "true");
                        q.append_pair("client_id", "strata");
                    }
                }
                if url.query() == Some("") {
                    url.set_query(None);
                }
                let mut r = self.http.get(url.clone());
                if let Some(h) = self.creds.as_ref().and_then(basic_header) {
                    r = r.header(reqwest::header::AUTHORIZATION, h);
                }
                r
            };
            let resp = match req.send().await {
                Ok(r) => r,
                Err(e) if attempt < self.opts.retries => {
                    attempt += 1;
                    tracing::debug!(error = %e, "token request failed; retrying");
                    tokio::time::sleep(self.delay(attempt)).await;
                    continue;
                }
                Err(e) => return Err(transport(&url, &e)),
            };
            let status = resp.status();
            if (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS)
                && attempt < self.opts.retries
            {
                attempt += 1;
                tokio::time::sleep(self.delay(attempt)).await;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                let (_, errors) = read_errors(resp).await;
                return Err(Error::Unauthorized {
                    registry: self.domain.clone(),
                    message: errors
                        .first()
                        .map(|(_, m)| m.clone())
                        .filter(|m| !m.is_empty())
                        .unwrap_or_else(|| "incorrect username or password".to_string()),
                });
            }
            if !status.is_success() {
                return Err(status_error(&url, resp).await);
            }
            let body = read_limited(resp, 1 << 20, &self.domain, "token response").await?;
            let tr: TokenResponse = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                registry: self.domain.clone(),
                message: format!("malformed token response: {e}"),
            })?;
            let value = tr.token.or(tr.access_token).filter(|t| !t.is_empty());
            let Some(value) = value else {
                return Err(Error::Protocol {
                    registry: self.domain.clone(),
                    message: "the token server returned no token".into(),
                });
            };
            return Ok((Token::new(value, tr.expires_in, issued), tr.refresh_token));
        }
    }

    /// Verify the credentials this registry was made with; returns an identity token if
    /// the token server issued one. A registry without authentication accepts anything.
    pub async fn verify_login(&self) -> Result<Option<String>> {
        self.base().await?;
        let challenge = self.state.lock().ok().and_then(|s| s.challenge.clone());
        match challenge {
            None => Ok(None),
            Some(Challenge::Basic { .. }) => {
                let url = self.url("v2/").await?;
                let resp = self.send(Req::new(Method::GET, url.clone(), &[])).await?;
                if resp.status().is_success() {
                    Ok(None)
                } else {
                    Err(status_error(&url, resp).await)
                }
            }
            Some(Challenge::Bearer { realm, service, .. }) => {
                let (_, refresh) = self
                    .fetch_token(&realm, service.as_deref(), &[], true)
                    .await?;
                Ok(refresh)
            }
        }
    }

    /// Send a request with authentication, retries and backoff. Returns the response
    /// whatever its status, except that a 401 after a fresh token becomes
    /// [`Error::Unauthorized`].
    pub(crate) async fn send(&self, req: Req<'_>) -> Result<Response> {
        self.base().await?;
        let mut attempt = 0u32;
        let mut reauthed = false;
        loop {
            let authz = self.authorization(req.scopes, false).await?;
            let mut rb = self.http.request(req.method.clone(), req.url.clone());
            for (k, v) in &req.headers {
                rb = rb.header(k.clone(), v.as_str());
            }
            if let Some(a) = &authz {
                rb = rb.header(reqwest::header::AUTHORIZATION, a.as_str());
            }
            rb = match &req.body {
                Body::Empty => rb,
                Body::Bytes(b) => rb.body(b.clone()),
                Body::File { path, offset, len } => rb
                    .header(reqwest::header::CONTENT_LENGTH, len.to_string())
                    .body(file_body(path, *offset, *len)?),
            };
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    if req.retry && attempt < self.opts.retries {
                        attempt += 1;
                        tracing::debug!(url = %req.url, error = %e, attempt, "request failed; retrying");
                        tokio::time::sleep(self.delay(attempt)).await;
                        continue;
                    }
                    return Err(transport(&req.url, &e));
                }
            };
            let status = resp.status();
            if status == StatusCode::UNAUTHORIZED {
                let challenges = challenges_of(resp.headers());
                if reauthed || (challenges.is_empty() && authz.is_none()) {
                    let (_, errors) = read_errors(resp).await;
                    return Err(Error::Unauthorized {
                        registry: self.domain.clone(),
                        message: errors
                            .first()
                            .map(|(c, m)| {
                                if m.is_empty() {
                                    c.to_ascii_lowercase()
                                } else {
                                    m.clone()
                                }
                            })
                            .unwrap_or_else(|| "authentication required".to_string()),
                    });
                }
                reauthed = true;
                self.set_challenge(challenges);
                // Drop cached tokens for this scope set and fetch a fresh one (merged
                // with whatever scope the registry asked for).
                self.authorization(req.scopes, true).await?;
                continue;
            }
            if (status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS)
                && req.retry
                && attempt < self.opts.retries
            {
                attempt += 1;
                tracing::debug!(url = %req.url, %status, attempt, "server error; retrying");
                tokio::time::sleep(self.delay(attempt)).await;
                continue;
            }
            return Ok(resp);
        }
    }
}

fn extra_certs(dir: &Path) -> Vec<reqwest::Certificate> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.extension().is_some_and(|e| e == "crt")
            && let Ok(bytes) = std::fs::read(&p)
        {
            match reqwest::Certificate::from_pem_bundle(&bytes) {
                Ok(certs) => out.extend(certs),
                Err(e) => {
                    tracing::warn!(path = %p.display(), error = %e, "ignoring unreadable CA certificate")
                }
            }
        }
    }
    out
}

fn basic_header(c: &AuthEntry) -> Option<String> {
    if c.username.is_empty() && c.password.is_empty() {
        return None;
    }
    Some(format!(
        "Basic {}",
        B64.encode(format!("{}:{}", c.username, c.password))
    ))
}

fn challenges_of(headers: &HeaderMap) -> Vec<Challenge> {
    headers
        .get_all(reqwest::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .flat_map(auth::parse_challenges)
        .collect()
}

fn file_body(path: &Path, offset: u64, len: u64) -> Result<reqwest::Body> {
    use std::io::{Seek, SeekFrom};
    use tokio::io::AsyncReadExt as _;
    let mut f = std::fs::File::open(path).map_err(Error::io("open", path))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(Error::io("seek", path))?;
    let reader = tokio::fs::File::from_std(f).take(len);
    let stream = tokio_util::io::ReaderStream::with_capacity(reader, 256 * 1024);
    Ok(reqwest::Body::wrap_stream(stream))
}

pub(crate) fn parse_url(s: &str) -> Result<Url> {
    Url::parse(s).map_err(|e| Error::Protocol {
        registry: s.to_string(),
        message: format!("invalid URL: {e}"),
    })
}

pub(crate) fn join(base: &Url, path: &str) -> Result<Url> {
    base.join(path).map_err(|e| Error::Protocol {
        registry: base.to_string(),
        message: format!("invalid URL path {path:?}: {e}"),
    })
}

pub(crate) fn transport(url: &Url, e: &reqwest::Error) -> Error {
    // reqwest's Display includes the URL; show the chain of causes instead.
    let mut message = String::new();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    if e.is_timeout() {
        message.push_str("timed out");
    } else if e.is_connect() {
        message.push_str("connection failed");
    } else if e.is_body() || e.is_decode() {
        message.push_str("error reading the response body");
    } else {
        message.push_str("request failed");
    }
    while let Some(s) = src {
        let text = s.to_string();
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        src = s.source();
    }
    let mut shown = url.clone();
    shown.set_query(None);
    Error::Transport {
        url: shown.to_string(),
        message,
    }
}

/// Read at most `limit` bytes of a body; more is an error.
pub(crate) async fn read_limited(
    mut resp: Response,
    limit: u64,
    registry: &str,
    what: &str,
) -> Result<Vec<u8>> {
    if let Some(len) = resp.content_length()
        && len > limit
    {
        return Err(Error::TooLarge {
            registry: registry.to_string(),
            what: what.to_string(),
            limit,
        });
    }
    let url = resp.url().clone();
    let mut out = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(c)) => {
                if out.len() as u64 + c.len() as u64 > limit {
                    return Err(Error::TooLarge {
                        registry: registry.to_string(),
                        what: what.to_string(),
                        limit,
                    });
                }
                out.extend_from_slice(&c);
            }
            Ok(None) => return Ok(out),
            Err(e) => return Err(transport(&url, &e)),
        }
    }
}

/// The `errors` array of a registry error body, as `(code, message)` pairs.
pub(crate) async fn read_errors(resp: Response) -> (StatusCode, Vec<(String, String)>) {
    let status = resp.status();
    let body = read_limited(resp, 64 * 1024, "", "error body")
        .await
        .unwrap_or_default();
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default)]
        errors: Vec<Item>,
    }
    #[derive(serde::Deserialize)]
    struct Item {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let errors = serde_json::from_slice::<Body>(&body)
        .map(|b| b.errors.into_iter().map(|i| (i.code, i.message)).collect())
        .unwrap_or_default();
    (status, errors)
}

/// Turn an unexpected answer into [`Error::Status`].
pub(crate) async fn status_error(url: &Url, resp: Response) -> Error {
    let (status, errors) = read_errors(resp).await;
    let mut shown = url.clone();
    shown.set_query(None);
    Error::Status {
        url: shown.to_string(),
        status: status.as_u16(),
        errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_rules() {
        let mut o = ClientOptions::default();
        assert!(is_insecure(&o, "localhost:5000"));
        assert!(is_insecure(&o, "127.0.0.1:5000"));
        assert!(is_insecure(&o, "[::1]:5000"));
        assert!(!is_insecure(&o, "registry.example:5000"));
        assert!(!is_insecure(&o, "10.1.2.3:5000"));
        o.insecure_registries = vec!["10.0.0.0/8".into(), "reg.example".into()];
        assert!(is_insecure(&o, "10.1.2.3:5000"));
        assert!(is_insecure(&o, "reg.example:443"));
        assert!(!is_insecure(&o, "11.1.2.3"));
        o.insecure = true;
        assert!(is_insecure(&o, "anything.example"));
    }

    #[test]
    fn daemon_json() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("daemon.json");
        assert!(insecure_registries_from(&p).unwrap().is_empty());
        std::fs::write(
            &p,
            r#"{"insecure-registries":["a:5000","10.0.0.0/8"],"x":1}"#,
        )
        .unwrap();
        assert_eq!(insecure_registries_from(&p).unwrap().len(), 2);
        std::fs::write(&p, r#"{"insecure-registries":["10.0.0.0/99"]}"#).unwrap();
        assert!(insecure_registries_from(&p).is_err());
    }

    #[test]
    fn backoff_grows_and_caps() {
        let o = Arc::new(ClientOptions::default());
        let r = Registry::new("localhost:1", None, o).unwrap();
        assert_eq!(r.delay(1), Duration::from_millis(250));
        assert_eq!(r.delay(2), Duration::from_millis(500));
        assert_eq!(r.delay(10), Duration::from_secs(8));
    }
}
