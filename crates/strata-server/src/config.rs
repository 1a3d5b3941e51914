//! Server configuration: one serde struct, read from TOML or YAML (by file extension),
//! with defaults for everything but the storage location. Command-line flags of
//! `strata serve` map onto the same fields.
//!
//! ```toml
//! addr = "127.0.0.1:5000"
//! read_only = false
//! [storage]
//! type = "fs"            # or "s3" (bucket, endpoint, region, prefix, ...) or "memory"
//! root = "/var/lib/strata/registry"
//! [auth]
//! htpasswd = "/etc/strata/htpasswd"   # bcrypt entries; enables Basic auth
//! acl = "/etc/strata/acl.toml"        # who may pull/push/delete where
//! [auth.token]                        # issue bearer tokens at /token instead of Basic
//! secret_file = "/etc/strata/token.key"
//! [tls]
//! cert = "cert.pem"
//! key = "key.pem"
//! [limits]
//! max_manifest_bytes = 4194304
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ServerError;

/// Everything `strata serve` needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen address; port 0 picks a free port (see [`crate::Server::local_addr`]).
    #[serde(default = "default_addr")]
    pub addr: SocketAddr,
    pub storage: StorageConfig,
    #[serde(default)]
    pub auth: AuthConfig,
    #[serde(default)]
    pub tls: Option<TlsConfig>,
    /// Refuse every write (pushes, deletes, uploads).
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub gc: GcConfig,
}

fn default_addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5000))
}

/// Where the registry keeps its data.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageConfig {
    /// A local directory.
    Fs { root: PathBuf },
    /// An S3-compatible bucket.
    S3(S3Config),
    /// Process memory: nothing survives a restart (tests, demos).
    Memory,
}

/// An S3-compatible bucket. Credentials fall back to the usual `AWS_*` environment.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// e.g. `http://127.0.0.1:3900` for a local Garage or MinIO.
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    /// Key prefix inside the bucket.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub access_key_id: Option<String>,
    #[serde(default)]
    pub secret_access_key: Option<String>,
    /// `bucket.host` addressing instead of `host/bucket`.
    #[serde(default)]
    pub virtual_hosted_style: bool,
}

/// Authentication and authorisation. With nothing set, the registry is open.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// An htpasswd file with bcrypt entries. Enables Basic auth (or logins at the token
    /// endpoint when `token` is set).
    #[serde(default)]
    pub htpasswd: Option<PathBuf>,
    /// An access-control file (see [`crate::auth`]). Without one, every authenticated
    /// user may do everything and anonymous clients nothing.
    #[serde(default)]
    pub acl: Option<PathBuf>,
    /// Issue short-lived bearer tokens at `/token`.
    #[serde(default)]
    pub token: Option<TokenConfig>,
}

/// The built-in token service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Public URL of the token endpoint; default: `<scheme>://<Host header>/token`.
    #[serde(default)]
    pub realm: Option<String>,
    #[serde(default = "default_service")]
    pub service: String,
    #[serde(default = "default_service")]
    pub issuer: String,
    /// File holding the HMAC secret that signs tokens. Replicas behind one load balancer
    /// must share it; without it each process generates its own.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Token lifetime in seconds.
    #[serde(default = "default_ttl")]
    pub ttl_secs: u64,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            realm: None,
            service: default_service(),
            issuer: default_service(),
            secret_file: None,
            ttl_secs: default_ttl(),
        }
    }
}

fn default_service() -> String {
    "strata".to_string()
}
fn default_ttl() -> u64 {
    300
}

/// TLS with a PEM certificate chain and private key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Request limits and timeouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest manifest accepted (the spec asks registries to take at least 4 MiB).
    pub max_manifest_bytes: usize,
    /// Deadline for requests without a streamed body (manifests, tags, listings), seconds.
    pub request_timeout_secs: u64,
    /// Longest pause allowed while a blob body streams in or out, seconds.
    pub body_idle_timeout_secs: u64,
    /// Upload sessions untouched for this long are removed, seconds.
    pub upload_expiry_secs: u64,
    /// On shutdown, how long in-flight requests (uploads) may take to finish, seconds.
    pub shutdown_grace_secs: u64,
    /// Largest page for tag and catalog listings.
    pub max_page: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_manifest_bytes: 4 * 1024 * 1024,
            request_timeout_secs: 60,
            body_idle_timeout_secs: 60,
            upload_expiry_secs: 24 * 3600,
            shutdown_grace_secs: 60,
            max_page: 10_000,
        }
    }
}

impl Limits {
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs.max(1))
    }
    pub(crate) fn body_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.body_idle_timeout_secs.max(1))
    }
}

/// Garbage collection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GcConfig {
    /// Blobs younger than this are never collected, seconds: they may belong to a push
    /// whose manifest has not arrived yet. This is what makes `gc` safe while serving.
    pub grace_period_secs: u64,
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            grace_period_secs: 3600,
        }
    }
}

impl Config {
    /// A configuration with defaults over the given storage.
    pub fn new(storage: StorageConfig) -> Config {
        Config {
            addr: default_addr(),
            storage,
            auth: AuthConfig::default(),
            tls: None,
            read_only: false,
            limits: Limits::default(),
            gc: GcConfig::default(),
        }
    }

    /// Read a configuration file: YAML for `.yaml`/`.yml`, TOML otherwise.
    pub fn from_file(path: &Path) -> Result<Config, ServerError> {
        let text = read(path)?;
        parse(path, &text)
    }

    /// As [`Config::from_file`], but a file without a `storage` section gets
    /// `default_storage` (`strata serve` puts the registry under the store root then,
    /// and a `--storage` flag replaces the file's choice anyway).
    pub fn from_file_or(
        path: &Path,
        default_storage: impl FnOnce() -> StorageConfig,
    ) -> Result<Config, ServerError> {
        let text = read(path)?;
        let bad = |message: String| ServerError::Config {
            path: path.to_path_buf(),
            message,
        };
        // Look at the document as a generic tree first; only a file that lacks the
        // section takes the detour (the direct parse keeps line numbers in errors).
        let mut tree: serde_json::Value = if is_yaml(path) {
            serde_yaml::from_str(&text).map_err(|e| bad(e.to_string()))?
        } else {
            toml::from_str(&text).map_err(|e| bad(e.to_string()))?
        };
        if tree.is_null() {
            // An empty YAML document: nothing but the default storage.
            tree = serde_json::Value::Object(serde_json::Map::new());
        }
        let Some(map) = tree.as_object_mut() else {
            return parse(path, &text);
        };
        if map.contains_key("storage") {
            return parse(path, &text);
        }
        let storage = serde_json::to_value(default_storage()).map_err(|e| bad(e.to_string()))?;
        map.insert("storage".to_string(), storage);
        serde_json::from_value(tree).map_err(|e| bad(e.to_string()))
    }
}

fn read(path: &Path) -> Result<String, ServerError> {
    std::fs::read_to_string(path).map_err(|e| ServerError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

fn parse(path: &Path, text: &str) -> Result<Config, ServerError> {
    if is_yaml(path) {
        serde_yaml::from_str(text).map_err(|e| ServerError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    } else {
        toml::from_str(text).map_err(|e| ServerError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_toml_and_yaml() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("c.toml");
        std::fs::write(
            &t,
            "addr = \"0.0.0.0:5001\"\nread_only = true\n[storage]\ntype = \"s3\"\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:9000\"\n[auth.token]\nttl_secs = 60\n",
        )
        .unwrap();
        let c = Config::from_file(&t).unwrap();
        assert_eq!(c.addr.port(), 5001);
        assert!(c.read_only);
        assert!(matches!(c.storage, StorageConfig::S3(ref s) if s.bucket == "b"));
        assert_eq!(c.auth.token.unwrap().ttl_secs, 60);

        let y = dir.path().join("c.yaml");
        std::fs::write(
            &y,
            "storage:\n  type: fs\n  root: /tmp/x\nlimits:\n  max_manifest_bytes: 10\n",
        )
        .unwrap();
        let c = Config::from_file(&y).unwrap();
        assert_eq!(c.limits.max_manifest_bytes, 10);
        assert_eq!(c.limits.request_timeout_secs, 60);

        std::fs::write(&y, "storage:\n  type: fs\n  root: /x\nbogus: 1\n").unwrap();
        let err = Config::from_file(&y).unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn a_file_without_storage_takes_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let fallback = || StorageConfig::Fs {
            root: PathBuf::from("/default/registry"),
        };
        let t = dir.path().join("c.toml");
        std::fs::write(&t, "read_only = true\n[limits]\nmax_page = 7\n").unwrap();
        let c = Config::from_file_or(&t, fallback).unwrap();
        assert!(c.read_only);
        assert_eq!(c.limits.max_page, 7);
        assert!(
            matches!(c.storage, StorageConfig::Fs { ref root } if root == Path::new("/default/registry"))
        );
        // A file that names its storage keeps it.
        std::fs::write(&t, "[storage]\ntype = \"memory\"\n").unwrap();
        let c = Config::from_file_or(&t, fallback).unwrap();
        assert!(matches!(c.storage, StorageConfig::Memory));
        // An empty YAML file is all defaults.
        let y = dir.path().join("c.yml");
        std::fs::write(&y, "").unwrap();
        let c = Config::from_file_or(&y, fallback).unwrap();
        assert!(matches!(c.storage, StorageConfig::Fs { .. }));
        assert_eq!(c.addr.port(), 5000);
        // Unknown fields are still refused on the detour.
        std::fs::write(&y, "bogus: 1\n").unwrap();
        let err = Config::from_file_or(&y, fallback).unwrap_err().to_string();
        assert!(err.contains("bogus"), "{err}");
    }
}
