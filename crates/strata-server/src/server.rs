//! Putting it together: storage, auth, router, TLS, request logs and metrics, the
//! upload janitor, and graceful shutdown.
//!
//! [`Server::bind`] does everything that can fail at startup (open storage, read auth
//! files and certificates, bind the socket) so a caller can learn the bound address
//! before serving — tests bind to port 0. [`Server::run`] serves until the shutdown
//! future resolves, then stops accepting connections and gives in-flight requests
//! (uploads in particular) `shutdown_grace_secs` to finish.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum_server::tls_rustls::RustlsConfig;

use crate::api::{self, RouteLabel};
use crate::auth::Auth;
use crate::config::{Config, StorageConfig};
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::storage::{FsStorage, ObjectStorage, Storage};
use crate::{ServerError, ui};

/// Shared state of a running server.
pub(crate) struct AppState {
    pub registry: Registry,
    pub auth: Auth,
    pub config: Config,
    pub metrics: Metrics,
}

/// Open the storage a configuration names.
pub(crate) fn open_storage(cfg: &StorageConfig) -> Result<Arc<dyn Storage>, ServerError> {
    Ok(match cfg {
        StorageConfig::Fs { root } => Arc::new(FsStorage::open(root)?),
        #[cfg(feature = "aws")]
        StorageConfig::S3(s3) => Arc::new(ObjectStorage::s3(s3)?),
        #[cfg(not(feature = "aws"))]
        StorageConfig::S3(_) => return Err(ServerError::S3Unavailable),
        StorageConfig::Memory => Arc::new(ObjectStorage::memory()),
    })
}

/// A bound, ready-to-run registry server.
pub struct Server {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    state: Arc<AppState>,
    tls: Option<RustlsConfig>,
}

impl Server {
    /// Open storage, load auth and TLS material, and bind the listening socket.
    pub async fn bind(config: Config) -> Result<Server, ServerError> {
        let storage = open_storage(&config.storage)?;
        Server::bind_with_storage(config, storage).await
    }

    /// As [`Server::bind`], over a storage backend the caller built (tests share one
    /// in-memory store between two servers this way).
    pub async fn bind_with_storage(
        config: Config,
        storage: Arc<dyn Storage>,
    ) -> Result<Server, ServerError> {
        let auth = Auth::new(&config.auth, config.tls.is_some())?;
        let tls = match &config.tls {
            Some(t) => Some(load_tls(&t.cert, &t.key)?),
            None => None,
        };
        let listener = std::net::TcpListener::bind(config.addr).map_err(|e| ServerError::Bind {
            addr: config.addr,
            source: e,
        })?;
        let addr = listener.local_addr().map_err(|e| ServerError::Bind {
            addr: config.addr,
            source: e,
        })?;
        tracing::info!(%addr, storage = storage.kind(), tls = tls.is_some(), auth = auth.enabled(), read_only = config.read_only, "registry bound");
        Ok(Server {
            listener,
            addr,
            state: Arc::new(AppState {
                registry: Registry::new(storage),
                auth,
                config,
                metrics: Metrics::default(),
            }),
            tls,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `shutdown` resolves, then drain in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServerError> {
        let app = router(self.state.clone());
        let handle = axum_server::Handle::new();
        let grace = Duration::from_secs(self.state.config.limits.shutdown_grace_secs);
        let h = handle.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down; finishing in-flight requests");
            h.graceful_shutdown(Some(grace));
        });
        let janitor = tokio::spawn(janitor(self.state.clone()));
        let res = match self.tls {
            Some(tls) => {
                axum_server::tls_rustls::from_tcp_rustls(self.listener, tls)
                    .map_err(ServerError::Serve)?
                    .handle(handle)
                    .serve(app.into_make_service())
                    .await
            }
            None => {
                axum_server::from_tcp(self.listener)
                    .map_err(ServerError::Serve)?
                    .handle(handle)
                    .serve(app.into_make_service())
                    .await
            }
        };
        janitor.abort();
        res.map_err(ServerError::Serve)
    }
}

/// Bind and serve in one call.
pub async fn serve(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::bind(config).await?.run(shutdown).await
}

/// Remove expired upload sessions periodically.
async fn janitor(state: Arc<AppState>) {
    let expiry = state.config.limits.upload_expiry_secs as i64;
    let period = Duration::from_secs((expiry as u64 / 4).clamp(1, 600));
    loop {
        tokio::time::sleep(period).await;
        match state.registry.expire_uploads(expiry).await {
            Ok(0) => {}
            Ok(n) => {
                state
                    .metrics
                    .uploads_expired
                    .fetch_add(n as u64, Ordering::Relaxed);
                tracing::info!(sessions = n, "expired upload sessions removed");
            }
            Err(e) => tracing::warn!(error = %e, "upload expiry failed"),
        }
    }
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v2", any(api::dispatch))
        .route("/v2/", any(api::dispatch))
        .route("/v2/{*rest}", any(api::dispatch))
        .route("/token", get(token).post(token))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/", get(ui::index))
        .route("/ui/{*rest}", get(ui::repo))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// Request log line and metrics for every request.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    let route = resp
        .extensions()
        .get::<RouteLabel>()
        .map(|l| l.0)
        .unwrap_or("other");
    let status = resp.status().as_u16();
    state
        .metrics
        .observe(method.as_str(), route, status, elapsed);
    tracing::info!(
        method = %method,
        path = %path,
        status,
        route,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    resp
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    // A cheap storage round trip: a registry that cannot reach its bucket is not healthy.
    let mut r = match state.registry.storage().meta_get("healthz").await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("storage: {e}\n")).into_response(),
    };
    r.extensions_mut().insert(RouteLabel("healthz"));
    r
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let mut r = (StatusCode::OK, state.metrics.render()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r.extensions_mut().insert(RouteLabel("metrics"));
    r
}

async fn token(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let mut params: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let headers = req.headers().clone();
    if req.method() == axum::http::Method::POST {
        match axum::body::to_bytes(req.into_body(), 64 * 1024).await {
            Ok(b) => params
                .extend(form_urlencoded::parse(&b).map(|(k, v)| (k.into_owned(), v.into_owned()))),
            Err(_) => {
                return (StatusCode::PAYLOAD_TOO_LARGE, "token request too large").into_response();
            }
        }
    }
    let mut r = match state.auth.issue_token(&headers, &params).await {
        Ok(v) => {
            let mut r = (StatusCode::OK, v.to_string()).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => e.into_response(),
    };
    r.extensions_mut().insert(RouteLabel("token"));
    r
}

fn load_tls(cert: &std::path::Path, key: &std::path::Path) -> Result<RustlsConfig, ServerError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |path: &std::path::Path, message: String| ServerError::Tls {
        path: path.to_path_buf(),
        message,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| bad(cert, e.to_string()))?;
    if certs.is_empty() {
        return Err(bad(cert, "no certificates found".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, e.to_string()))?;
    // An explicit provider: the workspace may enable several rustls providers, and then
    // rustls cannot pick a process default by itself.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(cert, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| bad(key, e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(RustlsConfig::from_config(Arc::new(cfg)))
}
