//! Registry credentials, kept where and as Docker keeps them, so `docker login`,
//! `strata login` and `skopeo --authfile` share one file.
//!
//! # Model
//!
//! `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`) is a JSON object of which
//! Strata reads and writes three keys and keeps every other key as it found it:
//!
//! - `auths`: server → `{"auth": base64("user:password"), "identitytoken": "…"}`. Keys are
//!   registry hosts (`localhost:5000`), except Docker Hub's, which is
//!   `https://index.docker.io/v1/`. Lookups also accept keys written with a scheme or path
//!   (`https://host/v2/`), as Docker's `ConvertToHostname` does.
//! - `credHelpers`: server → helper name, for that server only;
//! - `credsStore`: helper name for every other server. When it is set, `login` stores the
//!   secret in the helper and leaves an empty `auths` entry so the server still shows up.
//!
//! A helper `NAME` is the program `docker-credential-NAME` on `PATH`, spoken to with the
//! credential-helper protocol: `get` (server URL on stdin, `{"ServerURL","Username",
//! "Secret"}` on stdout), `store` (that JSON on stdin) and `erase` (server URL on stdin). A
//! `get` that fails with `credentials not found in native keychain` means "no credentials".
//! A `Username` of `<token>` means the secret is an identity (refresh) token.
//!
//! Secrets never appear in `Debug` output or errors: [`AuthEntry`]'s `Debug` redacts them,
//! and helper errors carry only the helper's message.
//!
//! Written by hand: the file is a handful of keys, and no crate implements Docker's lookup
//! rules and helper protocol together.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};

/// The `auths` key of Docker Hub.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";

/// What a registry login consists of.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthEntry {
    pub username: String,
    pub password: String,
    /// An OAuth2 refresh token issued by a token server at login (`identitytoken`); used
    /// instead of the password when present.
    pub identity_token: Option<String>,
    /// A bearer token to send as is (`registrytoken`).
    pub registry_token: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "identity_token",
                &self.identity_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "registry_token",
                &self.registry_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl AuthEntry {
    /// Username and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> AuthEntry {
        AuthEntry {
            username: username.into(),
            password: password.into(),
            identity_token: None,
            registry_token: None,
        }
    }

    /// Whether there is anything to authenticate with.
    pub fn is_empty(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.identity_token.is_none()
            && self.registry_token.is_none()
    }
}

/// The `auths` key for a registry domain as it appears in a reference (`docker.io` is
/// Docker Hub's legacy URL; any other domain is used as is).
pub fn server_key(domain: &str) -> String {
    match domain {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_SERVER.to_string(),
        other => other.to_string(),
    }
}

/// Docker's `ConvertToHostname`: `https://host:5000/v2/` → `host:5000`.
pub fn to_hostname(server: &str) -> &str {
    let s = server
        .strip_prefix("http://")
        .or_else(|| server.strip_prefix("https://"))
        .unwrap_or(server);
    s.split('/').next().unwrap_or(s)
}

/// Normalise what the user typed after `login`/`logout` (`http://h:5000/`, `docker.io`,
/// nothing) to the key credentials are stored under.
pub fn normalize_server(input: Option<&str>) -> String {
    match input.map(str::trim).filter(|s| !s.is_empty()) {
        None => DOCKER_HUB_SERVER.to_string(),
        Some(s) => {
            let host = to_hostname(s);
            server_key(host)
        }
    }
}

/// `~/.docker/config.json`, loaded: every key kept, three understood.
#[derive(Debug, Clone)]
pub struct DockerConfig {
    path: PathBuf,
    doc: Map<String, Value>,
}

impl DockerConfig {
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".docker/config.json"))
    }

    /// Read `path`; a missing file is an empty configuration.
    pub fn load(path: impl AsRef<Path>) -> Result<DockerConfig> {
        let path = path.as_ref().to_path_buf();
        let doc = match fs::read(&path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(m)) => m,
                Ok(_) => {
                    return Err(Error::ConfigFile {
                        path,
                        source: serde::de::Error::custom("expected a JSON object"),
                    });
                }
                Err(source) => return Err(Error::ConfigFile { path, source }),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => return Err(Error::io("read", &path)(e)),
        };
        Ok(DockerConfig { path, doc })
    }

    /// The file this configuration was read from (and is saved to).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The helper responsible for `server`, if any (`credHelpers`, then `credsStore`).
    pub fn helper_for(&self, server: &str) -> Option<String> {
        let host = to_hostname(server);
        if let Some(Value::Object(helpers)) = self.doc.get("credHelpers") {
            for (k, v) in helpers {
                if (k == server || to_hostname(k) == host)
                    && let Some(name) = v.as_str().filter(|n| !n.is_empty())
                {
                    return Some(name.to_string());
                }
            }
        }
        self.doc
            .get("credsStore")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
    }

    /// The credentials for `server` (a key as [`server_key`] makes it), or `None`.
    pub fn get(&self, server: &str) -> Result<Option<AuthEntry>> {
        if let Some(helper) = self.helper_for(server) {
            return helper_get(&helper, server);
        }
        let Some((key, entry)) = self.auths_entry(server) else {
            return Ok(None);
        };
        let entry = decode_entry(entry).map_err(|message| Error::BadCredentials {
            server: key.to_string(),
            path: self.path.clone(),
            message,
        })?;
        Ok(Some(entry).filter(|e| !e.is_empty()))
    }

    fn auths_entry<'a>(&'a self, server: &'a str) -> Option<(&'a str, &'a Value)> {
        let Some(Value::Object(auths)) = self.doc.get("auths") else {
            return None;
        };
        if let Some(v) = auths.get(server) {
            return Some((server, v));
        }
        let host = to_hostname(server);
        auths
            .iter()
            .find(|(k, _)| to_hostname(k) == host)
            .map(|(k, v)| (k.as_str(), v))
    }

    /// Store credentials for `server` (in its helper, or in `auths`) and save the file.
    pub fn store(&mut self, server: &str, entry: &AuthEntry) -> Result<()> {
        if let Some(helper) = self.helper_for(server) {
            helper_store(&helper, server, entry)?;
            // Docker keeps an empty entry so `auths` still lists the server.
            self.with_auths(|auths| auths.insert(server.to_string(), Value::Object(Map::new())));
        } else {
            let mut obj = Map::new();
            if !entry.username.is_empty() || !entry.password.is_empty() {
                let raw = format!("{}:{}", entry.username, entry.password);
                obj.insert("auth".into(), Value::String(B64.encode(raw)));
            }
            if let Some(t) = &entry.identity_token {
                obj.insert("identitytoken".into(), Value::String(t.clone()));
            }
            if let Some(t) = &entry.registry_token {
                obj.insert("registrytoken".into(), Value::String(t.clone()));
            }
            // Drop entries for the same host written in another form (`https://h/`).
            let host = to_hostname(server).to_string();
            self.with_auths(|auths| {
                auths.retain(|k, _| k == server || to_hostname(k) != host);
                auths.insert(server.to_string(), Value::Object(obj));
            });
        }
        self.save()
    }

    /// Remove the credentials for `server`; returns whether any were recorded. Saves the
    /// file when something changed.
    pub fn erase(&mut self, server: &str) -> Result<bool> {
        let mut found = false;
        if let Some(helper) = self.helper_for(server) {
            found |= helper_erase(&helper, server)?;
        }
        let host = to_hostname(server).to_string();
        let removed = self.with_auths(|auths| {
            let before = auths.len();
            auths.retain(|k, _| k != server && to_hostname(k) != host);
            auths.len() != before
        });
        if removed {
            found = true;
            self.save()?;
        }
        Ok(found)
    }

    /// Run `f` on the `auths` object, creating it (or replacing a non-object) first.
    fn with_auths<R>(&mut self, f: impl FnOnce(&mut Map<String, Value>) -> R) -> R {
        let slot = self
            .doc
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        match slot.as_object_mut() {
            Some(m) => f(m),
            None => f(&mut Map::new()),
        }
    }

    /// Write the file atomically with mode 0600 (the directory 0700 when created).
    pub fn save(&self) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if !dir.as_os_str().is_empty() && !dir.exists() {
            fs::create_dir_all(dir).map_err(Error::io("create directory", dir))?;
            set_mode(dir, 0o700);
        }
        let mut bytes =
            serde_json::to_vec_pretty(&Value::Object(self.doc.clone())).map_err(|source| {
                Error::ConfigFile {
                    path: self.path.clone(),
                    source,
                }
            })?;
        bytes.push(b'\n');
        let tmp = dir.join(format!(
            ".{}.tmp-{}",
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("config.json"),
            std::process::id()
        ));
        {
            let mut f = fs::File::create(&tmp).map_err(Error::io("create", &tmp))?;
            set_mode(&tmp, 0o600);
            f.write_all(&bytes).map_err(Error::io("write", &tmp))?;
            f.sync_all().map_err(Error::io("fsync", &tmp))?;
        }
        fs::rename(&tmp, &self.path).map_err(Error::io("replace", &self.path))
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}

fn decode_entry(v: &Value) -> std::result::Result<AuthEntry, String> {
    let get = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let mut entry = AuthEntry::default();
    if let Some(auth) = get("auth") {
        let raw = B64
            .decode(auth.trim())
            .map_err(|_| "the auth field is not valid base64".to_string())?;
        let raw = String::from_utf8(raw).map_err(|_| "the auth field is not UTF-8".to_string())?;
        let (u, p) = raw
            .split_once(':')
            .ok_or_else(|| "the auth field has no ':' between user and password".to_string())?;
        entry.username = u.to_string();
        entry.password = p.trim_end_matches('\0').to_string();
    } else {
        entry.username = get("username").unwrap_or_default().to_string();
        entry.password = get("password").unwrap_or_default().to_string();
    }
    entry.identity_token = get("identitytoken").map(str::to_string);
    entry.registry_token = get("registrytoken").map(str::to_string);
    Ok(entry)
}

const NOT_FOUND: &str = "credentials not found in native keychain";

fn run_helper(
    helper: &str,
    action: &'static str,
    server: &str,
    input: &[u8],
) -> Result<std::result::Result<Vec<u8>, String>> {
    let program = format!("docker-credential-{helper}");
    let herr = |message: String| Error::CredentialHelper {
        helper: helper.to_string(),
        action: match action {
            "get" => "getting",
            "store" => "storing",
            _ => "erasing",
        },
        server: server.to_string(),
        message,
    };
    let mut child = Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| herr(format!("cannot run {program}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .map_err(|e| herr(format!("cannot write to {program}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| herr(format!("{program} failed: {e}")))?;
    if out.status.success() {
        Ok(Ok(out.stdout))
    } else {
        // Helpers print their error on stdout; stderr as a fallback.
        let mut msg = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if msg.is_empty() {
            msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        }
        if msg.is_empty() {
            msg = format!("{program} exited with {}", out.status);
        }
        Ok(Err(msg))
    }
}

fn helper_get(helper: &str, server: &str) -> Result<Option<AuthEntry>> {
    match run_helper(helper, "get", server, server.as_bytes())? {
        Err(msg) if msg.contains(NOT_FOUND) => Ok(None),
        Err(message) => Err(Error::CredentialHelper {
            helper: helper.to_string(),
            action: "getting",
            server: server.to_string(),
            message,
        }),
        Ok(stdout) => {
            let v: Value =
                serde_json::from_slice(&stdout).map_err(|e| Error::CredentialHelper {
                    helper: helper.to_string(),
                    action: "getting",
                    server: server.to_string(),
                    message: format!("malformed answer: {e}"),
                })?;
            let s = |k: &str| {
                v.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let (user, secret) = (s("Username"), s("Secret"));
            let entry = if user == "<token>" {
                AuthEntry {
                    identity_token: Some(secret),
                    ..AuthEntry::default()
                }
            } else {
                AuthEntry::basic(user, secret)
            };
            Ok(Some(entry).filter(|e| !e.is_empty()))
        }
    }
}

fn helper_store(helper: &str, server: &str, entry: &AuthEntry) -> Result<()> {
    let (user, secret) = match &entry.identity_token {
        Some(t) => ("<token>".to_string(), t.clone()),
        None => (entry.username.clone(), entry.password.clone()),
    };
    let body = json!({"ServerURL": server, "Username": user, "Secret": secret}).to_string();
    match run_helper(helper, "store", server, body.as_bytes())? {
        Ok(_) => Ok(()),
        Err(message) => Err(Error::CredentialHelper {
            helper: helper.to_string(),
            action: "storing",
            server: server.to_string(),
            message,
        }),
    }
}

fn helper_erase(helper: &str, server: &str) -> Result<bool> {
    match run_helper(helper, "erase", server, server.as_bytes())? {
        Ok(_) => Ok(true),
        Err(msg) if msg.contains(NOT_FOUND) => Ok(false),
        Err(message) => Err(Error::CredentialHelper {
            helper: helper.to_string(),
            action: "erasing",
            server: server.to_string(),
            message,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_hostnames() {
        assert_eq!(server_key("docker.io"), DOCKER_HUB_SERVER);
        assert_eq!(server_key("localhost:5000"), "localhost:5000");
        assert_eq!(to_hostname("https://h:5000/v2/"), "h:5000");
        assert_eq!(normalize_server(None), DOCKER_HUB_SERVER);
        assert_eq!(normalize_server(Some("http://h:1/")), "h:1");
        assert_eq!(normalize_server(Some("index.docker.io")), DOCKER_HUB_SERVER);
    }

    #[test]
    fn reads_writes_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d/config.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"auths":{"https://h:5000/v2/":{"auth":"dTpw"}},"psFormat":"x"}"#,
        )
        .unwrap();
        let mut cfg = DockerConfig::load(&path).unwrap();
        assert_eq!(
            cfg.get("h:5000").unwrap().unwrap(),
            AuthEntry::basic("u", "p")
        );
        cfg.store("h:5000", &AuthEntry::basic("a", "b:c")).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["psFormat"], "x");
        assert_eq!(v["auths"]["h:5000"]["auth"], B64.encode("a:b:c"));
        assert!(v["auths"].get("https://h:5000/v2/").is_none());
        let cfg = DockerConfig::load(&path).unwrap();
        assert_eq!(cfg.get("h:5000").unwrap().unwrap().password, "b:c");
        let mut cfg = cfg;
        assert!(cfg.erase("h:5000").unwrap());
        assert!(!cfg.erase("h:5000").unwrap());
        assert!(cfg.get("h:5000").unwrap().is_none());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let mut e = AuthEntry::basic("user", "hunter2");
        e.identity_token = Some("tok-secret".into());
        let s = format!("{e:?}");
        assert!(s.contains("user") && !s.contains("hunter2") && !s.contains("tok-secret"));
    }

    #[test]
    fn malformed_auth_names_the_server_not_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, r#"{"auths":{"h":{"auth":"bm9jb2xvbg=="}}}"#).unwrap();
        let err = DockerConfig::load(&path).unwrap().get("h").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("invalid credentials for h"), "{msg}");
        assert!(!msg.contains("nocolon"), "{msg}");
    }
}
