//! Debian's `docker-registry` (distribution 2.8) on a free 127.0.0.1 port, one instance per
//! test, with no auth, htpasswd Basic auth, or token auth against a token server running in
//! the test (JWTs signed with an ECDSA key whose certificate the registry trusts).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// `true` when docker-registry is installed; otherwise print why the test skips.
pub fn registry_available(test: &str) -> bool {
    if have("docker-registry") {
        return true;
    }
    eprintln!(
        "skipping {test}: docker-registry is not installed (apt-get install docker-registry)"
    );
    false
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running distribution registry; killed on drop.
pub struct Distribution {
    child: Child,
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub enum Auth<'a> {
    None,
    Htpasswd(&'a Path),
    Token { realm: &'a str, cert: &'a Path },
}

impl Distribution {
    /// The registry's storage root (`docker/registry/v2/…` below it).
    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    pub fn start(auth: Auth<'_>) -> Distribution {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let auth_yaml = match auth {
            Auth::None => String::new(),
            Auth::Htpasswd(p) => format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                p.display()
            ),
            Auth::Token { realm, cert } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
                cert.display()
            ),
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: strata-test\n{auth_yaml}",
            dir.path().join("data").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let host = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(&host).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Distribution {
            child,
            host,
            _dir: dir,
        }
    }
}

/// An htpasswd file with one bcrypt entry.
pub fn htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    let hash = bcrypt::hash(password, 5).unwrap();
    let p = dir.join("htpasswd");
    std::fs::write(&p, format!("{user}:{hash}\n")).unwrap();
    p
}

/// The token server's signing material.
pub struct Signer {
    pub cert_path: PathBuf,
    key: jsonwebtoken::EncodingKey,
    kid: String,
}

/// libtrust's key ID: base32 of the first 30 bytes of sha256(SPKI DER), in groups of four
/// separated by `:` — how distribution 2.8 names the keys of its `rootcertbundle`.
fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = strata_oci::Digest::sha256(spki_der);
    let bytes = hex_decode(digest.hex());
    let b32 = base32(&bytes[..30]);
    b32.as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for &b in data {
        buffer = (buffer << 8) | b as u64;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

impl Signer {
    pub fn new(dir: &Path) -> Signer {
        let key_pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["token-signer".to_string()]).unwrap();
        let cert = params.self_signed(&key_pair).unwrap();
        let cert_path = dir.join("token-cert.pem");
        std::fs::write(&cert_path, cert.pem()).unwrap();
        let key = jsonwebtoken::EncodingKey::from_ec_der(&key_pair.serialize_der());
        let kid = libtrust_key_id(&rcgen::PublicKeyData::subject_public_key_info(&key_pair));
        Signer {
            cert_path,
            key,
            kid,
        }
    }

    fn sign(&self, subject: &str, access: serde_json::Value) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = serde_json::json!({
            "iss": "test-issuer",
            "sub": subject,
            "aud": "test-registry",
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{now}-{subject}-{}", rand_id()),
            "access": access,
        });
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.key).unwrap()
    }
}

fn rand_id() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed) as u64
}

/// Token server policy: `alice:secret` (or her refresh token) gets every action she asks
/// for; anonymous clients get `pull` on `public/*` only.
pub struct TokenServer {
    pub realm: String,
    pub requests: Arc<AtomicUsize>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

struct TokenState {
    signer: Signer,
    requests: Arc<AtomicUsize>,
}

pub const REFRESH_TOKEN: &str = "refresh-token-for-alice";

fn who(headers: &HeaderMap) -> Result<Option<String>, ()> {
    let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let b64 = h.strip_prefix("Basic ").ok_or(())?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| ())?;
    let raw = String::from_utf8(raw).map_err(|_| ())?;
    match raw.split_once(':') {
        Some(("alice", "secret")) => Ok(Some("alice".into())),
        _ => Err(()),
    }
}

fn grant(user: Option<&str>, scopes: &[String]) -> serde_json::Value {
    let mut access = Vec::new();
    for s in scopes {
        for one in s.split(' ') {
            let parts: Vec<&str> = one.splitn(3, ':').collect();
            if parts.len() != 3 {
                continue;
            }
            let (ty, name, actions) = (parts[0], parts[1], parts[2]);
            let allowed: Vec<&str> = actions
                .split(',')
                .filter(|a| user.is_some() || (*a == "pull" && name.starts_with("public/")))
                .collect();
            access.push(serde_json::json!({"type": ty, "name": name, "actions": allowed}));
        }
    }
    serde_json::Value::Array(access)
}

async fn token_get(
    State(st): State<Arc<TokenState>>,
    headers: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    st.requests.fetch_add(1, Ordering::SeqCst);
    let Ok(user) = who(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            "{\"details\":\"incorrect username or password\"}",
        )
            .into_response();
    };
    let scopes: Vec<String> = q
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.clone())
        .collect();
    let offline = q.iter().any(|(k, v)| k == "offline_token" && v == "true");
    let token = st.signer.sign(
        user.as_deref().unwrap_or(""),
        grant(user.as_deref(), &scopes),
    );
    let mut body = serde_json::json!({"token": token, "expires_in": 300});
    if offline && user.is_some() {
        body["refresh_token"] = REFRESH_TOKEN.into();
    }
    axum::Json(body).into_response()
}

async fn token_post(State(st): State<Arc<TokenState>>, body: String) -> Response {
    st.requests.fetch_add(1, Ordering::SeqCst);
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(a, _)| a == k).map(|(_, v)| v.clone());
    if get("grant_type").as_deref() != Some("refresh_token")
        || get("refresh_token").as_deref() != Some(REFRESH_TOKEN)
    {
        return (StatusCode::UNAUTHORIZED, "bad refresh token").into_response();
    }
    let scopes: Vec<String> = get("scope").into_iter().collect();
    let token = st.signer.sign("alice", grant(Some("alice"), &scopes));
    axum::Json(serde_json::json!({"access_token": token, "expires_in": 300})).into_response()
}

impl TokenServer {
    /// Start on the current tokio runtime.
    pub async fn start(signer: Signer) -> TokenServer {
        let requests = Arc::new(AtomicUsize::new(0));
        let state = Arc::new(TokenState {
            signer,
            requests: requests.clone(),
        });
        let app = axum::Router::new()
            .route("/token", axum::routing::get(token_get).post(token_post))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        TokenServer {
            realm: format!("http://{addr}/token"),
            requests,
            stop: Some(tx),
        }
    }
}
