//! # strata-build — the build engine behind `strata build`
//!
//! A Dockerfile becomes an image in the local store in four parts:
//!
//! - **Frontend** ([`frontend`]): `strata_dockerfile::parse` and `parse_instructions` give
//!   typed stages; the frontend picks the target stage and the stages it depends on
//!   (`--target` pruning: other stages are never built), scopes ARGs (meta ARGs before the
//!   first FROM, predefined platform and proxy ARGs, `--build-arg`), and expands variables
//!   with `strata_dockerfile::Lex` in every instruction where Docker expands them.
//! - **Context** ([`context`]): the context directory is read in place; `.dockerignore` (or
//!   `<Dockerfile>.dockerignore`) is applied while walking, and content hashes of exactly
//!   the paths a COPY selects enter its cache key, memoised by file metadata so an unchanged
//!   context costs one `stat` per file.
//! - **Solver** ([`solver`]): each filesystem-changing instruction (RUN, COPY, WORKDIR) is an
//!   op with a cache key (a digest over a versioned canonical encoding of its definition and
//!   its parent's key, see [`cache`]); hits reuse the recorded layer, misses execute.
//!   Independent stages build concurrently. RUN runs through `strata_runtime::spawn` over an
//!   overlay of the parent snapshots, with its `--mount`s ([`mounts`]); COPY/ADD writes into
//!   a fresh directory. Either directory *is* the layer diff. Base images missing from the
//!   store come from an [`ImageResolver`] (the binary plugs in a registry pull).
//! - **Build cache maintenance**: [`prune`] (`strata builder prune`) forgets cache entries
//!   and cache mounts and collects the blobs nothing else holds.
//! - **Exporter** ([`export`]): layers (deterministic tar, diffID and digest in one pass,
//!   parallel gzip) and the image config and OCI manifest go into the store, then tags;
//!   [`export::export_local`] writes the filesystem for `--output type=local`.
//!
//! Snapshots ([`snapshot`]) are unpacked layers under `snapshots/<chainID>/`, used as
//! overlay lower directories. The library never prints: progress goes to a [`Reporter`].

pub mod cache;
pub mod context;
pub mod export;
pub mod frontend;
pub mod fsutil;
pub mod mounts;
mod planned;
pub mod snapshot;
pub mod solver;

use std::path::PathBuf;
use std::time::Duration;

pub use cache::{PruneReport, prune};
pub use frontend::BuildArgs;
pub use mounts::{SecretSource, parse_ssh};
pub use solver::{BuildOptions, BuildOutput, ImageResolver, build};

/// Errors of a build. Messages are lowercase and name the object they are about.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{message}")]
    Dockerfile {
        message: String,
        /// 1-based line, when the error is about one place in the Dockerfile.
        line: Option<usize>,
    },
    #[error("target stage {target:?} could not be found")]
    TargetNotFound { target: String },
    #[error("failed to resolve base image {reference:?}: {reason}")]
    BaseImage { reference: String, reason: String },
    #[error("invalid build argument {arg:?}: {reason}")]
    BuildArg { arg: String, reason: String },
    #[error("failed to read the build context {path}")]
    Context {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid .dockerignore {path}: {reason}")]
    Ignore { path: PathBuf, reason: String },
    #[error(
        "failed to compute cache key: failed to calculate checksum of ref: {path:?}: not found"
    )]
    SourceNotFound { path: String },
    #[error("{path}: {reason}")]
    Copy { path: String, reason: String },
    #[error("unable to find user {user}: no matching entries in passwd file")]
    UnknownUser { user: String },
    #[error("unable to find group {group}: no matching entries in group file")]
    UnknownGroup { group: String },
    #[error(
        "process \"{command}\" did not complete successfully: exit code: {code}\n[{stage}] {instruction} (line {line}):\n{output}"
    )]
    RunFailed {
        stage: String,
        instruction: String,
        line: usize,
        command: String,
        code: i32,
        /// The last lines of the command's output.
        output: String,
    },
    #[error("failed to run {instruction}")]
    Runtime {
        instruction: String,
        #[source]
        source: strata_runtime::RuntimeError,
    },
    #[error("failed to {action} {path}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] strata_store::Error),
    #[error(transparent)]
    Layer(#[from] strata_layer::LayerError),
    #[error("invalid image {reference}: {reason}")]
    Image { reference: String, reason: String },
    #[error("invalid tag {name:?}: {reason}")]
    Tag { name: String, reason: String },
    #[error("secret {id}: {reason}")]
    Secret { id: String, reason: String },
    /// A stage was not built because a stage it needs failed (the other error is reported).
    #[error("build cancelled: a stage it depends on failed")]
    Cancelled,
}

pub type Result<T, E = BuildError> = std::result::Result<T, E>;

pub(crate) fn io_err(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> BuildError {
    let path = path.into();
    move |source| BuildError::Io {
        action,
        path,
        source,
    }
}

/// What the build reports while it runs. Step ids are small integers in order of start,
/// like BuildKit's `#N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A step starts: `name` is BuildKit's vertex name (`[builder 2/5] RUN make`).
    Start { id: usize, name: String },
    /// A step's result came from the cache.
    Cached { id: usize },
    /// One line of a step's output, with the time since the step started.
    Log {
        id: usize,
        elapsed: Duration,
        line: String,
    },
    /// A step finished.
    Done { id: usize, elapsed: Duration },
    /// A step failed.
    Error {
        id: usize,
        elapsed: Duration,
        message: String,
    },
    /// The pre-image of a cache key (`--debug-cache-keys`).
    CacheKey {
        id: usize,
        key: String,
        preimage: String,
    },
}

/// Receives build progress. Implementations must be cheap: events come from worker threads.
pub trait Reporter: Sync {
    fn event(&self, event: Event);
}

/// A reporter that drops everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Reporter for NoProgress {
    fn event(&self, _: Event) {}
}
