//! The image configuration (`application/vnd.oci.image.config.v1+json` and Docker's
//! `application/vnd.docker.container.image.v1+json`): platform, the default container
//! settings (`config`), the layer diffIDs (`rootfs`) and the build `history`.
//!
//! # Model
//!
//! One set of types reads both what Docker's classic builder writes (every
//! `container.Config` field present, `null` for unset lists, plus `container`,
//! `container_config` and `docker_version`) and what BuildKit and OCI tools write (unset
//! fields omitted). Field names are the JSON names verbatim, including Docker's
//! capitalised ones inside `config` (`Env`, `Cmd`, `Healthcheck`, `OnBuild`, `Shell`…).
//!
//! - **Unset vs empty.** Lists and maps whose emptiness means something are `Option`s:
//!   `Cmd: null` (or absent) is `None`, `Cmd: []` is `Some(vec![])` — Docker's rules for
//!   combining `ENTRYPOINT` and `CMD` treat them differently. Plain strings and booleans
//!   are Go values in Docker, where unset and empty are the same; they are `String`/`bool`
//!   here and are omitted from our output when empty, as BuildKit does.
//! - **Nothing is lost.** Every struct keeps fields it does not know in `extra` (in
//!   document order), and writes them back.
//! - **Stable bytes.** Maps are [`IndexMap`]s. Top-level fields are declared in
//!   alphabetical order, which is the order Docker itself writes them in.
//! - **Durations** in `Healthcheck` are nanosecond integers (Go's `time.Duration`).
//! - **Timestamps** (`created`) stay strings exactly as written (RFC 3339); interpreting
//!   them is the caller's business.
//! - `Cmd`, `Entrypoint` and `Shell` also accept a bare JSON string, as Docker's
//!   `strslice` does (`"Cmd": "sh"` reads as `["sh"]`).
//!
//! A config that came from elsewhere is stored and digested as received (see
//! [`crate::Parsed`]); these types are for reading it and for writing new ones.

use indexmap::IndexMap;
use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{Annotations, Digest, Parsed, Platform};

/// Fields a type does not model, kept in document order.
pub type Extra = IndexMap<String, Value>;

/// A set of keys whose values are empty objects (`{"80/tcp": {}}`), as Docker writes
/// `ExposedPorts` and `Volumes`.
pub type KeySet = IndexMap<String, Empty>;

/// The `{}` value of a [`KeySet`]. Any JSON value is accepted on input (Docker ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        s.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for Empty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(d).map(|_| Empty)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// Docker's `strslice`: `null`, a string, or an array of strings.
fn strslice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum StrSlice {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<StrSlice>::deserialize(d)? {
        None => None,
        Some(StrSlice::One(s)) => Some(vec![s]),
        Some(StrSlice::Many(v)) => Some(v),
    })
}

/// An image configuration. See the module documentation for the conventions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ImageConfig {
    /// CPU architecture in Go's names (`amd64`, `arm64`).
    #[serde(default)]
    pub architecture: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// Free text; `docker import` writes `Imported from …` here.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// The defaults for containers run from this image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ContainerConfig>,
    /// Docker's classic builder: ID of the container the last layer was committed from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    /// Docker's classic builder: the config of that container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_config: Option<ContainerConfig>,
    /// Creation time, RFC 3339, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub docker_version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
    /// Legacy (schema 1 era) image ID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default)]
    pub os: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    /// Legacy parent image ID (set by the classic builder for local images).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub parent: String,
    pub rootfs: RootFs,
    /// Legacy size field of schema 1 era configs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The container defaults (`config` and `container_config`), Docker's `container.Config`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domainname: String,
    /// `USER`: `name`, `uid`, `name:group` or `uid:gid`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub attach_stdin: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub attach_stdout: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub attach_stderr: bool,
    /// `EXPOSE`: keys like `80/tcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<KeySet>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tty: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub open_stdin: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdin_once: bool,
    /// `ENV`: `KEY=value` entries in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(
        default,
        deserialize_with = "strslice",
        skip_serializing_if = "Option::is_none"
    )]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// Windows only: the command line is already escaped.
    #[serde(default, skip_serializing_if = "is_false")]
    pub args_escaped: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// `VOLUME`: container paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<KeySet>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    #[serde(
        default,
        deserialize_with = "strslice",
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub network_disabled: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
    /// `ONBUILD` instructions, as source text, run when this image is a base.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Annotations>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `SHELL`: the shell for shell-form `RUN`, `CMD` and `ENTRYPOINT`.
    #[serde(
        default,
        deserialize_with = "strslice",
        skip_serializing_if = "Option::is_none"
    )]
    pub shell: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `HEALTHCHECK`. An empty `Test` inherits the base image's check; `["NONE"]` disables it;
/// `["CMD", …]` runs a command, `["CMD-SHELL", "…"]` a shell command.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    /// Nanoseconds; 0 means the default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Nanoseconds; 0 means the default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// Nanoseconds; 0 means the default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// Nanoseconds; 0 means the default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// 0 means the default.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The layers, by diffID (digest of the uncompressed tar), bottom first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub diff_ids: Vec<Digest>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl Default for RootFs {
    fn default() -> RootFs {
        RootFs {
            kind: ROOTFS_TYPE_LAYERS.to_string(),
            diff_ids: Vec::new(),
            extra: Extra::new(),
        }
    }
}

/// The only rootfs type there is.
pub const ROOTFS_TYPE_LAYERS: &str = "layers";

/// One build step. Steps that changed no files have `empty_layer` set and no diffID.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct History {
    /// RFC 3339, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub empty_layer: bool,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Why an image configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("malformed image config {digest}: {source}")]
    Json {
        digest: Digest,
        #[source]
        source: serde_json::Error,
    },
    #[error("unsupported rootfs type {kind:?} in image config {digest} (expected \"layers\")")]
    RootFsType { kind: String, digest: Digest },
}

impl ImageConfig {
    /// An empty configuration for a platform (no layers, no history).
    pub fn new(platform: &Platform) -> ImageConfig {
        ImageConfig {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            os_version: platform.os_version.clone().unwrap_or_default(),
            os_features: platform.os_features.clone().unwrap_or_default(),
            variant: platform.variant.clone().unwrap_or_default(),
            ..ImageConfig::default()
        }
    }

    /// Parse configuration bytes. Errors name the sha256 digest of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<ImageConfig, ConfigError> {
        Self::parse_inner(bytes, || Digest::sha256(bytes))
    }

    /// As [`ImageConfig::parse`], naming `digest` in errors (e.g. the descriptor's).
    pub fn parse_with_digest(bytes: &[u8], digest: &Digest) -> Result<ImageConfig, ConfigError> {
        Self::parse_inner(bytes, || digest.clone())
    }

    /// Parse and keep the bytes and their sha256 digest alongside the value.
    pub fn parse_raw(bytes: Vec<u8>, media_type: &str) -> Result<Parsed<ImageConfig>, ConfigError> {
        let digest = Digest::sha256(&bytes);
        let value = Self::parse_inner(&bytes, || digest.clone())?;
        Ok(Parsed {
            value,
            bytes,
            digest,
            media_type: media_type.to_string(),
        })
    }

    fn parse_inner(bytes: &[u8], digest: impl Fn() -> Digest) -> Result<ImageConfig, ConfigError> {
        let config: ImageConfig =
            serde_json::from_slice(bytes).map_err(|source| ConfigError::Json {
                digest: digest(),
                source,
            })?;
        if config.rootfs.kind != ROOTFS_TYPE_LAYERS {
            return Err(ConfigError::RootFsType {
                kind: config.rootfs.kind,
                digest: digest(),
            });
        }
        Ok(config)
    }

    /// The platform this image is for.
    pub fn platform(&self) -> Platform {
        let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            os_version: non_empty(&self.os_version),
            os_features: (!self.os_features.is_empty()).then(|| self.os_features.clone()),
            variant: non_empty(&self.variant),
            features: None,
        }
    }

    /// The container defaults, or empty ones when the image has none.
    pub fn config_or_default(&self) -> ContainerConfig {
        self.config.clone().unwrap_or_default()
    }

    /// The layer diffIDs, bottom first.
    pub fn diff_ids(&self) -> &[Digest] {
        &self.rootfs.diff_ids
    }
}

impl ContainerConfig {
    /// The configuration in the shape the Docker daemon prints it (`docker inspect`'s
    /// `Config`): Go's `container.Config` field order, every field without `omitempty`
    /// present (empty strings, `false`, `null`), unknown fields last.
    pub fn to_docker_json(&self) -> Value {
        let mut m = serde_json::Map::new();
        let s = |v: &str| Value::String(v.to_string());
        let list = |v: &Option<Vec<String>>| match v {
            Some(v) => Value::from(v.clone()),
            None => Value::Null,
        };
        let set = |v: &Option<KeySet>| match v {
            Some(v) => Value::Object(
                v.keys()
                    .map(|k| (k.clone(), Value::Object(Default::default())))
                    .collect(),
            ),
            None => Value::Null,
        };
        m.insert("Hostname".into(), s(&self.hostname));
        m.insert("Domainname".into(), s(&self.domainname));
        m.insert("User".into(), s(&self.user));
        m.insert("AttachStdin".into(), self.attach_stdin.into());
        m.insert("AttachStdout".into(), self.attach_stdout.into());
        m.insert("AttachStderr".into(), self.attach_stderr.into());
        if self.exposed_ports.as_ref().is_some_and(|p| !p.is_empty()) {
            m.insert("ExposedPorts".into(), set(&self.exposed_ports));
        }
        m.insert("Tty".into(), self.tty.into());
        m.insert("OpenStdin".into(), self.open_stdin.into());
        m.insert("StdinOnce".into(), self.stdin_once.into());
        m.insert("Env".into(), list(&self.env));
        m.insert("Cmd".into(), list(&self.cmd));
        if let Some(h) = &self.healthcheck {
            m.insert(
                "Healthcheck".into(),
                serde_json::to_value(h).unwrap_or(Value::Null),
            );
        }
        if self.args_escaped {
            m.insert("ArgsEscaped".into(), true.into());
        }
        m.insert("Image".into(), s(&self.image));
        m.insert("Volumes".into(), set(&self.volumes));
        m.insert("WorkingDir".into(), s(&self.working_dir));
        m.insert("Entrypoint".into(), list(&self.entrypoint));
        if self.network_disabled {
            m.insert("NetworkDisabled".into(), true.into());
        }
        if !self.mac_address.is_empty() {
            m.insert("MacAddress".into(), s(&self.mac_address));
        }
        m.insert("OnBuild".into(), list(&self.on_build));
        m.insert(
            "Labels".into(),
            match &self.labels {
                Some(l) => Value::Object(l.iter().map(|(k, v)| (k.clone(), s(v))).collect()),
                None => Value::Null,
            },
        );
        if !self.stop_signal.is_empty() {
            m.insert("StopSignal".into(), s(&self.stop_signal));
        }
        if let Some(t) = self.stop_timeout {
            m.insert("StopTimeout".into(), t.into());
        }
        if self.shell.as_ref().is_some_and(|v| !v.is_empty()) {
            m.insert("Shell".into(), list(&self.shell));
        }
        for (k, v) in &self.extra {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like a config from Docker's classic builder: every field present.
    const CLASSIC: &str = r##"{"architecture":"amd64","config":{"Hostname":"","Domainname":"","User":"app","AttachStdin":false,"AttachStdout":false,"AttachStderr":false,"ExposedPorts":{"80/tcp":{}},"Tty":false,"OpenStdin":false,"StdinOnce":false,"Env":["PATH=/usr/bin"],"Cmd":null,"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"StartInterval":5000000000,"Retries":3},"ArgsEscaped":true,"Image":"sha256:1111111111111111111111111111111111111111111111111111111111111111","Volumes":{"/data":{}},"WorkingDir":"/srv","Entrypoint":["/bin/app"],"OnBuild":["RUN echo hi"],"Labels":{"z":"1","a":"2"},"StopSignal":"SIGQUIT","StopTimeout":7,"Shell":["/bin/bash","-c"]},"container":"abc","container_config":{"Cmd":["/bin/sh","-c","#(nop) ","ENTRYPOINT [\"/bin/app\"]"]},"created":"2024-01-02T03:04:05.123456789Z","docker_version":"24.0.7","history":[{"created":"2024-01-02T03:04:05Z","created_by":"/bin/sh -c #(nop) ADD file:x in / "},{"created_by":"ENTRYPOINT [\"/bin/app\"]","empty_layer":true,"comment":"buildkit.dockerfile.v0"}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]},"moby.future":{"x":[1,2]}}"##;

    #[test]
    fn reads_every_docker_field() {
        let c = ImageConfig::parse(CLASSIC.as_bytes()).unwrap();
        let cc = c.config.as_ref().unwrap();
        assert_eq!(cc.user, "app");
        assert_eq!(cc.cmd, None);
        assert_eq!(
            cc.entrypoint.as_deref(),
            Some(&["/bin/app".to_string()][..])
        );
        let h = cc.healthcheck.as_ref().unwrap();
        assert_eq!(
            (h.interval, h.start_interval, h.retries),
            (30_000_000_000, 5_000_000_000, 3)
        );
        assert!(cc.args_escaped);
        assert_eq!(
            cc.volumes.as_ref().unwrap().keys().collect::<Vec<_>>(),
            ["/data"]
        );
        assert_eq!(
            cc.on_build.as_deref(),
            Some(&["RUN echo hi".to_string()][..])
        );
        assert_eq!(
            cc.labels.as_ref().unwrap().keys().collect::<Vec<_>>(),
            ["z", "a"]
        );
        assert_eq!(
            (cc.stop_signal.as_str(), cc.stop_timeout),
            ("SIGQUIT", Some(7))
        );
        assert_eq!(cc.shell.as_ref().unwrap().len(), 2);
        assert_eq!(c.container, "abc");
        assert_eq!(c.docker_version, "24.0.7");
        assert_eq!(c.history.len(), 2);
        assert!(c.history[1].empty_layer);
        assert_eq!(c.history[1].comment, "buildkit.dockerfile.v0");
        assert_eq!(c.diff_ids().len(), 1);
        assert_eq!(c.extra["moby.future"], serde_json::json!({"x": [1, 2]}));
        assert_eq!(c.created.as_deref(), Some("2024-01-02T03:04:05.123456789Z"));
    }

    #[test]
    fn round_trips_without_loss() {
        let c = ImageConfig::parse(CLASSIC.as_bytes()).unwrap();
        let again = ImageConfig::parse(&serde_json::to_vec(&c).unwrap()).unwrap();
        assert_eq!(c, again);
        // Unknown fields come back in place.
        let v: Value = serde_json::to_value(&c).unwrap();
        assert_eq!(v["moby.future"]["x"][1], 2);
    }

    #[test]
    fn cmd_null_empty_and_string_forms() {
        let cfg = |cmd: &str| {
            let json = format!(
                r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{{cmd}}}}}"#
            );
            ImageConfig::parse(json.as_bytes())
                .unwrap()
                .config
                .unwrap()
                .cmd
        };
        assert_eq!(cfg(""), None);
        assert_eq!(cfg(r#""Cmd":null"#), None);
        assert_eq!(cfg(r#""Cmd":[]"#), Some(vec![]));
        assert_eq!(cfg(r#""Cmd":"sh""#), Some(vec!["sh".to_string()]));
        // And the distinction survives writing.
        let mut c = ContainerConfig {
            cmd: Some(vec![]),
            ..ContainerConfig::default()
        };
        assert_eq!(serde_json::to_string(&c).unwrap(), r#"{"Cmd":[]}"#);
        c.cmd = None;
        assert_eq!(serde_json::to_string(&c).unwrap(), "{}");
    }

    #[test]
    fn errors_name_the_digest() {
        let bad = br#"{"architecture":1}"#;
        let e = ImageConfig::parse(bad).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("malformed image config {}", Digest::sha256(bad)))
        );
        let odd = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers+base","diff_ids":[]}}"#;
        assert!(matches!(
            ImageConfig::parse(odd),
            Err(ConfigError::RootFsType { .. })
        ));
        let missing = br#"{"architecture":"amd64","os":"linux"}"#;
        assert!(ImageConfig::parse(missing).is_err());
    }

    #[test]
    fn docker_inspect_shape() {
        let c = ImageConfig::parse(CLASSIC.as_bytes()).unwrap();
        let v = c.config.unwrap().to_docker_json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "Hostname",
                "Domainname",
                "User",
                "AttachStdin",
                "AttachStdout",
                "AttachStderr",
                "ExposedPorts",
                "Tty",
                "OpenStdin",
                "StdinOnce",
                "Env",
                "Cmd",
                "Healthcheck",
                "ArgsEscaped",
                "Image",
                "Volumes",
                "WorkingDir",
                "Entrypoint",
                "OnBuild",
                "Labels",
                "StopSignal",
                "StopTimeout",
                "Shell"
            ]
        );
        assert_eq!(v["Cmd"], Value::Null);
        let empty = ContainerConfig::default().to_docker_json();
        assert_eq!(empty["Labels"], Value::Null);
        assert_eq!(empty["Hostname"], "");
        assert!(empty.get("ExposedPorts").is_none());
    }

    #[test]
    fn parse_raw_keeps_bytes() {
        let p = ImageConfig::parse_raw(
            CLASSIC.as_bytes().to_vec(),
            crate::media_type::DOCKER_CONFIG,
        )
        .unwrap();
        assert_eq!(p.bytes, CLASSIC.as_bytes());
        assert_eq!(p.digest, Digest::sha256(CLASSIC.as_bytes()));
        assert_eq!(p.descriptor().size, CLASSIC.len() as i64);
    }

    #[test]
    fn platform_round_trip() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        let c = ImageConfig::new(&p);
        assert_eq!(c.platform(), p);
        assert_eq!(c.rootfs.kind, "layers");
    }
}
