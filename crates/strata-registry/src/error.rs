//! The client's error type. Every variant names what it is about (registry, repository,
//! digest, path) so the CLI can print it as is. Secrets (passwords, tokens) never enter an
//! error: request URLs carry none, and credential errors name only the helper and host.

use std::path::PathBuf;

use strata_oci::{Digest, DocumentError, ReferenceError};

/// Errors from the registry client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid reference {input:?}: {source}")]
    Reference {
        input: String,
        #[source]
        source: ReferenceError,
    },
    /// The request never got a response (DNS, connect, TLS, reset, timeout).
    #[error("failed to reach {url}: {message}")]
    Transport { url: String, message: String },
    /// The registry answered with an error status.
    #[error("{}", registry_message(.url, *.status, .errors))]
    Status {
        url: String,
        status: u16,
        /// `(code, message)` pairs from the registry's error body, if it sent any.
        errors: Vec<(String, String)>,
    },
    #[error("{registry}: unauthorized: {message}")]
    Unauthorized { registry: String, message: String },
    #[error("manifest for {reference} not found: manifest unknown: {message}")]
    ManifestUnknown { reference: String, message: String },
    #[error("{what} {expected} from {registry}: digest mismatch (got {actual})")]
    DigestMismatch {
        registry: String,
        what: &'static str,
        expected: Digest,
        actual: Digest,
    },
    #[error("blob {digest} from {registry}: {message}")]
    BadBlob {
        registry: String,
        digest: Digest,
        message: String,
    },
    #[error("{what} from {registry} is larger than {limit} bytes")]
    TooLarge {
        registry: String,
        what: String,
        limit: u64,
    },
    #[error("no matching manifest for {platform} in the manifest list entries of {reference}")]
    NoMatchingPlatform { reference: String, platform: String },
    #[error(
        "image with reference {reference} was found but does not match the specified platform: wanted {wanted}, actual: {actual}"
    )]
    PlatformMismatch {
        reference: String,
        wanted: String,
        actual: String,
    },
    #[error("{registry} is not a registry Strata can use: {message}")]
    Protocol { registry: String, message: String },
    #[error("an image does not exist locally with the tag: {name}")]
    NoSuchImage { name: String },
    #[error("image {name} cannot be pushed: {message}")]
    Unpushable { name: String, message: String },
    #[error(transparent)]
    Store(#[from] strata_store::Error),
    #[error(transparent)]
    Document(#[from] DocumentError),
    #[error("invalid image config {digest}: {message}")]
    Config { digest: Digest, message: String },
    #[error("failed to {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed {path}: {source}")]
    ConfigFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// A `docker-credential-*` helper failed (its message, never the secret).
    #[error("error {action} credentials for {server} with docker-credential-{helper}: {message}")]
    CredentialHelper {
        helper: String,
        action: &'static str,
        server: String,
        message: String,
    },
    #[error("invalid credentials for {server} in {path}: {message}")]
    BadCredentials {
        server: String,
        path: PathBuf,
        message: String,
    },
    #[error("layer handler refused layer {digest}: {message}")]
    LayerHandler { digest: Digest, message: String },
    #[error("cannot start the network runtime: {0}")]
    Runtime(String),
    #[error("invalid insecure registry entry {entry:?}: {message}")]
    InsecureEntry { entry: String, message: String },
}

/// Result alias for registry operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Docker's rendering of a registry error: `code: message` joined, or the status.
fn registry_message(url: &str, status: u16, errors: &[(String, String)]) -> String {
    if errors.is_empty() {
        return format!("unexpected status {status} from {url}");
    }
    let parts: Vec<String> = errors
        .iter()
        .map(|(code, msg)| {
            let code = code.to_ascii_lowercase().replace('_', " ");
            if msg.is_empty() || msg == &code {
                code
            } else {
                format!("{code}: {msg}")
            }
        })
        .collect();
    format!("{} (status {status} from {url})", parts.join("; "))
}

impl Error {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }

    /// Whether this error came from the registry's answer rather than the network, i.e.
    /// retrying is pointless.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Error::Transport { .. })
    }
}
