//! Authentication and authorisation.
//!
//! Three modes, chosen by [`AuthConfig`]:
//!
//! - **open** (nothing configured): everyone may do everything.
//! - **basic** (`htpasswd`): HTTP Basic against bcrypt entries; anonymous requests get
//!   `401` with `WWW-Authenticate: Basic realm="strata"`.
//! - **token** (`htpasswd` + `token`): the Docker token flow. `/v2/` answers `401` with
//!   `WWW-Authenticate: Bearer realm="…/token",service="strata",scope="repository:NAME:pull,push"`;
//!   clients log in at `/token` (HTTP Basic, or anonymously) and receive a short-lived
//!   HS256 JWT whose `access` claim lists exactly the granted repository actions
//!   (`pull`, `push`, `delete`) — the same claim layout as Docker's token spec. A token
//!   lacking a scope gets `401` with `error="insufficient_scope"`, so clients fetch a
//!   wider token; if the access-control file refuses, they end with `denied`.
//!
//! The access-control file (TOML, or YAML by extension) is a list of grants:
//!
//! ```toml
//! [[rules]]
//! account = "alice"          # a user; "*" = any authenticated user; "anonymous" = everyone
//! repository = "team/*"      # exact name, or a glob where `*` matches any run of characters
//! actions = ["pull", "push"] # or ["*"] for pull, push and delete
//! ```
//!
//! Without a file, authenticated users may do everything and anonymous clients nothing.
//! A repository the caller may not pull is left out of `_catalog`.
//!
//! Passwords are checked with bcrypt on the blocking pool. Unknown users are checked
//! against a dummy hash of the same cost, so a wrong user name and a wrong password take
//! the same time. Successful checks are remembered for a minute (keyed by a SHA-256 of
//! the credentials) because Basic clients send them with every request.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use strata_oci::Digest;

use crate::ServerError;
use crate::config::{AuthConfig, TokenConfig};
use crate::error::{ApiError, Code};

/// A repository action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Pull,
    Push,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }
    fn parse_list(s: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for a in s.split(',') {
            match a.trim() {
                "pull" => out.push(Action::Pull),
                "push" => out.push(Action::Push),
                "delete" => out.push(Action::Delete),
                "*" => out.extend([Action::Pull, Action::Push, Action::Delete]),
                _ => {}
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// What a request needs.
#[derive(Debug, Clone)]
pub enum Scope {
    /// `GET /v2/`: any authenticated caller.
    Ping,
    /// `GET /v2/_catalog`.
    Catalog,
    /// Actions on one repository.
    Repo { name: String, actions: Vec<Action> },
}

impl Scope {
    fn challenge_scope(&self) -> Option<String> {
        match self {
            Scope::Ping => None,
            Scope::Catalog => Some("registry:catalog:*".to_string()),
            Scope::Repo { name, actions } => Some(format!(
                "repository:{name}:{}",
                actions
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct AclFile {
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
struct Rule {
    account: String,
    repository: String,
    actions: Vec<String>,
}

/// The access-control list.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    rules: Option<Vec<(String, String, Vec<Action>)>>,
}

impl Acl {
    fn load(path: &Path) -> Result<Acl, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let bad = |message: String| ServerError::Config {
            path: path.to_path_buf(),
            message,
        };
        let file: AclFile = match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?,
            _ => toml::from_str(&text).map_err(|e| bad(e.to_string()))?,
        };
        let rules = file
            .rules
            .into_iter()
            .map(|r| {
                (
                    r.account,
                    r.repository,
                    Action::parse_list(&r.actions.join(",")),
                )
            })
            .collect();
        Ok(Acl { rules: Some(rules) })
    }

    /// The actions `user` (None = anonymous) may perform on `repo`.
    pub fn allowed(&self, user: Option<&str>, repo: &str) -> Vec<Action> {
        let Some(rules) = &self.rules else {
            return if user.is_some() {
                vec![Action::Pull, Action::Push, Action::Delete]
            } else {
                Vec::new()
            };
        };
        let mut out = Vec::new();
        for (account, pattern, actions) in rules {
            let who = account == "anonymous"
                || (account == "*" && user.is_some())
                || user == Some(account.as_str());
            if who && glob(pattern, repo) {
                out.extend(actions.iter().copied());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// `*` matches any run of characters (including `/`); everything else literally.
fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else if let Some(pos) = rest.find(p) {
            rest = &rest[pos + p.len()..];
        } else {
            return false;
        }
    }
    true
}

/// Users and bcrypt hashes from an htpasswd file.
struct Htpasswd {
    users: HashMap<String, String>,
    dummy: String,
    verified: Mutex<HashMap<[u8; 32], Instant>>,
}

const VERIFIED_TTL: Duration = Duration::from_secs(60);

impl Htpasswd {
    fn load(path: &Path) -> Result<Htpasswd, ServerError> {
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::Io {
            path: path.to_path_buf(),
            source: e,
        })?;
        let mut users = HashMap::new();
        let mut cost = bcrypt::DEFAULT_COST;
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: &str| ServerError::AuthFile {
                what: "htpasswd file",
                path: path.to_path_buf(),
                line: i + 1,
                message: message.to_string(),
            };
            let (user, hash) = line
                .split_once(':')
                .ok_or_else(|| err("expected user:hash"))?;
            if !(hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$")) {
                return Err(err("only bcrypt entries are supported (htpasswd -B)"));
            }
            if let Some(c) = hash.get(4..6).and_then(|c| c.parse::<u32>().ok()) {
                cost = c;
            }
            users.insert(user.to_string(), hash.to_string());
        }
        let dummy =
            bcrypt::hash("strata-dummy-password", cost).map_err(|e| ServerError::AuthFile {
                what: "htpasswd file",
                path: path.to_path_buf(),
                line: 0,
                message: e.to_string(),
            })?;
        Ok(Htpasswd {
            users,
            dummy,
            verified: Mutex::new(HashMap::new()),
        })
    }

    async fn verify(&self, user: &str, password: &str) -> bool {
        let key: [u8; 32] = {
            let d = Digest::sha256(format!("{user}\0{password}").as_bytes());
            let mut k = [0u8; 32];
            if let Ok(b) = hex::decode(d.hex()) {
                k.copy_from_slice(&b[..32]);
            }
            k
        };
        if let Ok(m) = self.verified.lock()
            && m.get(&key).is_some_and(|t| t.elapsed() < VERIFIED_TTL)
        {
            return true;
        }
        let (hash, known) = match self.users.get(user) {
            Some(h) => (h.clone(), true),
            None => (self.dummy.clone(), false),
        };
        let pw = password.to_string();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(pw, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        let ok = ok && known;
        if ok && let Ok(mut m) = self.verified.lock() {
            m.retain(|_, t| t.elapsed() < VERIFIED_TTL);
            m.insert(key, Instant::now());
        }
        ok
    }
}

/// One entry of a token's `access` claim (Docker's token format).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Grant {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    access: Vec<Grant>,
}

struct Tokens {
    cfg: TokenConfig,
    secret: Vec<u8>,
}

/// Who is calling, once authenticated.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    /// The user name, `None` for anonymous callers.
    pub user: Option<String>,
    /// For token callers, what the token grants.
    grants: Option<Vec<Grant>>,
}

/// The authenticator.
pub struct Auth {
    htpasswd: Option<Htpasswd>,
    acl: Acl,
    tokens: Option<Tokens>,
    tls: bool,
}

impl Auth {
    /// Load the files named by `cfg`. `tls` decides the scheme of the default realm.
    pub fn new(cfg: &AuthConfig, tls: bool) -> Result<Auth, ServerError> {
        let htpasswd = cfg.htpasswd.as_deref().map(Htpasswd::load).transpose()?;
        let acl = match &cfg.acl {
            Some(p) => Acl::load(p)?,
            None => Acl::default(),
        };
        let tokens = match &cfg.token {
            Some(t) => {
                // Explicit, so feature unification elsewhere in the workspace can never
                // leave jsonwebtoken without (or with two) providers.
                let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
                let secret = match &t.secret_file {
                    Some(p) => read_secret(p)?,
                    None => rand::random::<[u8; 32]>().to_vec(),
                };
                Some(Tokens {
                    cfg: t.clone(),
                    secret,
                })
            }
            None => None,
        };
        Ok(Auth {
            htpasswd,
            acl,
            tokens,
            tls,
        })
    }

    /// Whether any authentication is configured.
    pub fn enabled(&self) -> bool {
        self.htpasswd.is_some() || self.tokens.is_some()
    }

    /// Whether anonymous cross-repository mounts (`mount` without `from`) are allowed:
    /// only on an open registry, where every repository is readable by everyone anyway.
    pub fn anonymous_mount(&self) -> bool {
        !self.enabled()
    }

    /// Authenticate the request and check it may do `scope`.
    pub async fn check(&self, headers: &HeaderMap, scope: &Scope) -> Result<Identity, ApiError> {
        if !self.enabled() {
            return Ok(Identity::default());
        }
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some(tokens) = &self.tokens {
            let Some(token) = auth
                .strip_prefix("Bearer ")
                .or_else(|| auth.strip_prefix("bearer "))
            else {
                return Err(self.challenge(headers, scope, None));
            };
            let claims = tokens
                .verify(token.trim())
                .ok_or_else(|| self.challenge(headers, scope, Some("invalid_token")))?;
            let id = Identity {
                user: (claims.sub != ANONYMOUS).then_some(claims.sub),
                grants: Some(claims.access),
            };
            if self.permits(&id, scope) {
                return Ok(id);
            }
            return Err(self.challenge(headers, scope, Some("insufficient_scope")));
        }
        let user = match basic_credentials(auth) {
            Some((u, p)) => {
                if self.verify_password(&u, &p).await {
                    Some(u)
                } else {
                    return Err(self.challenge(headers, scope, None));
                }
            }
            None => None,
        };
        let id = Identity { user, grants: None };
        if self.permits(&id, scope) {
            Ok(id)
        } else if id.user.is_none() {
            Err(self.challenge(headers, scope, None))
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                Code::Denied,
                "requested access to the resource is denied",
            ))
        }
    }

    async fn verify_password(&self, user: &str, password: &str) -> bool {
        match &self.htpasswd {
            Some(h) => h.verify(user, password).await,
            None => false,
        }
    }

    fn permits(&self, id: &Identity, scope: &Scope) -> bool {
        match scope {
            Scope::Ping => id.user.is_some() || id.grants.is_some(),
            Scope::Catalog => match &id.grants {
                Some(g) => g
                    .iter()
                    .any(|g| g.kind == "registry" && g.name == "catalog"),
                None => id.user.is_some(),
            },
            Scope::Repo { name, actions } => match &id.grants {
                Some(g) => actions.iter().all(|a| {
                    g.iter().any(|g| {
                        g.kind == "repository"
                            && g.name == *name
                            && g.actions.iter().any(|x| x == a.as_str())
                    })
                }),
                None => {
                    let allowed = self.acl.allowed(id.user.as_deref(), name);
                    actions.iter().all(|a| allowed.contains(a))
                }
            },
        }
    }

    /// Whether `id` may pull from `repo` (filters `_catalog` and the web page).
    pub fn can_pull(&self, id: &Identity, repo: &str) -> bool {
        !self.enabled()
            || self
                .acl
                .allowed(id.user.as_deref(), repo)
                .contains(&Action::Pull)
    }

    /// Identify a caller of the web page: Basic credentials if valid, else anonymous.
    pub async fn viewer(&self, headers: &HeaderMap) -> Identity {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if let Some((u, p)) = basic_credentials(auth)
            && self.verify_password(&u, &p).await
        {
            return Identity {
                user: Some(u),
                grants: None,
            };
        }
        Identity::default()
    }

    fn realm(&self, headers: &HeaderMap, tokens: &Tokens) -> String {
        if let Some(r) = &tokens.cfg.realm {
            return r.clone();
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{host}/token")
    }

    fn challenge(&self, headers: &HeaderMap, scope: &Scope, error: Option<&str>) -> ApiError {
        let value = match &self.tokens {
            Some(t) => {
                let mut v = format!(
                    "Bearer realm=\"{}\",service=\"{}\"",
                    self.realm(headers, t),
                    t.cfg.service
                );
                if let Some(s) = scope.challenge_scope() {
                    v.push_str(&format!(",scope=\"{s}\""));
                }
                if let Some(e) = error {
                    v.push_str(&format!(",error=\"{e}\""));
                }
                v
            }
            None => "Basic realm=\"strata\"".to_string(),
        };
        let mut err = ApiError::new(
            StatusCode::UNAUTHORIZED,
            Code::Unauthorized,
            "authentication required",
        )
        .header(header::WWW_AUTHENTICATE, &value);
        if let Scope::Repo { name, actions } = scope {
            err = err.detail(serde_json::json!([{
                "Type": "repository",
                "Name": name,
                "Action": actions.first().map(|a| a.as_str()).unwrap_or("pull"),
            }]));
        }
        err
    }

    /// Serve the token endpoint: `GET /token?service=…&scope=…` (Docker) or
    /// `POST /token` with an OAuth2 password grant form (containerd).
    pub async fn issue_token(
        &self,
        headers: &HeaderMap,
        params: &[(String, String)],
    ) -> Result<serde_json::Value, ApiError> {
        let Some(tokens) = &self.tokens else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                Code::Unsupported,
                "token authentication is not enabled",
            ));
        };
        let param = |k: &str| {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.clone())
        };
        let creds = basic_credentials(
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or(""),
        )
        .or_else(|| {
            match (
                param("grant_type").as_deref(),
                param("username"),
                param("password"),
            ) {
                (Some("password"), Some(u), Some(p)) => Some((u, p)),
                _ => None,
            }
        });
        let user = match creds {
            Some((u, p)) => {
                if self.verify_password(&u, &p).await {
                    Some(u)
                } else {
                    return Err(ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        Code::Unauthorized,
                        "invalid username or password",
                    )
                    .header(header::WWW_AUTHENTICATE, "Basic realm=\"strata\""));
                }
            }
            None => None,
        };
        let mut access: Vec<Grant> = Vec::new();
        let scopes = params
            .iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>());
        for s in scopes {
            let mut it = s.splitn(2, ':');
            let (Some(kind), Some(rest)) = (it.next(), it.next()) else {
                continue;
            };
            let Some((name, actions)) = rest.rsplit_once(':') else {
                continue;
            };
            match kind {
                "repository" if crate::names::valid_name(name) => {
                    let allowed = self.acl.allowed(user.as_deref(), name);
                    let granted: Vec<String> = Action::parse_list(actions)
                        .into_iter()
                        .filter(|a| allowed.contains(a))
                        .map(|a| a.as_str().to_string())
                        .collect();
                    if let Some(g) = access
                        .iter_mut()
                        .find(|g| g.kind == "repository" && g.name == name)
                    {
                        for a in granted {
                            if !g.actions.contains(&a) {
                                g.actions.push(a);
                            }
                        }
                    } else {
                        access.push(Grant {
                            kind: "repository".into(),
                            name: name.into(),
                            actions: granted,
                        });
                    }
                }
                "registry" if name == "catalog" => access.push(Grant {
                    kind: "registry".into(),
                    name: "catalog".into(),
                    actions: vec!["*".into()],
                }),
                _ => {}
            }
        }
        let now = jiff::Timestamp::now();
        let iat = now.as_second().max(0) as u64;
        let claims = Claims {
            iss: tokens.cfg.issuer.clone(),
            sub: user.clone().unwrap_or_else(|| ANONYMOUS.to_string()),
            aud: tokens.cfg.service.clone(),
            exp: iat + tokens.cfg.ttl_secs,
            nbf: iat.saturating_sub(10),
            iat,
            jti: format!("{:032x}", rand::random::<u128>()),
            access,
        };
        let token = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(&tokens.secret),
        )
        .map_err(ApiError::internal)?;
        Ok(serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": tokens.cfg.ttl_secs,
            "issued_at": now.to_string(),
        }))
    }
}

const ANONYMOUS: &str = "anonymous";

impl Tokens {
    fn verify(&self, token: &str) -> Option<Claims> {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_audience(&[&self.cfg.service]);
        v.set_issuer(&[&self.cfg.issuer]);
        v.leeway = 5;
        jsonwebtoken::decode::<Claims>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(&self.secret),
            &v,
        )
        .ok()
        .map(|d| d.claims)
    }
}

fn read_secret(path: &PathBuf) -> Result<Vec<u8>, ServerError> {
    let b = std::fs::read(path).map_err(|e| ServerError::Io {
        path: path.clone(),
        source: e,
    })?;
    let trimmed = String::from_utf8_lossy(&b).trim().as_bytes().to_vec();
    if trimmed.len() < 16 {
        return Err(ServerError::Config {
            path: path.clone(),
            message: "token secret must be at least 16 bytes".into(),
        });
    }
    Ok(trimmed)
}

/// Decode `Basic base64(user:password)`.
fn basic_credentials(auth: &str) -> Option<(String, String)> {
    let b64 = auth
        .strip_prefix("Basic ")
        .or_else(|| auth.strip_prefix("basic "))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("team/*", "team/a/b"));
        assert!(glob("*", "x"));
        assert!(glob("a*c", "abc"));
        assert!(!glob("a*c", "abd"));
        assert!(glob("exact", "exact"));
        assert!(!glob("team/*", "other/a"));
    }

    #[test]
    fn acl_rules() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("acl.toml");
        std::fs::write(
            &p,
            r#"
[[rules]]
account = "alice"
repository = "team/*"
actions = ["pull", "push"]
[[rules]]
account = "anonymous"
repository = "public/*"
actions = ["pull"]
[[rules]]
account = "*"
repository = "shared"
actions = ["*"]
"#,
        )
        .unwrap();
        let acl = Acl::load(&p).unwrap();
        assert_eq!(
            acl.allowed(Some("alice"), "team/x"),
            vec![Action::Pull, Action::Push]
        );
        assert_eq!(acl.allowed(None, "public/x"), vec![Action::Pull]);
        assert_eq!(acl.allowed(Some("bob"), "public/x"), vec![Action::Pull]);
        assert!(acl.allowed(None, "team/x").is_empty());
        assert!(acl.allowed(None, "shared").is_empty());
        assert_eq!(acl.allowed(Some("bob"), "shared").len(), 3);
        assert!(Acl::default().allowed(None, "x").is_empty());
        assert_eq!(Acl::default().allowed(Some("u"), "x").len(), 3);
    }
}
