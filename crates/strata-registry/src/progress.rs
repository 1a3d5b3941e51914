//! Progress events. The library never prints: pulls and pushes report what happens to each
//! blob through [`Progress`], and the CLI renders Docker's per-layer lines from them.

use strata_oci::Digest;

/// What is happening to one blob (or to the whole operation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A pull of `tag_or_digest` from `repository` (the path, `library/busybox`) starts
    /// (`1.0: Pulling from library/busybox`).
    PullStart {
        repository: String,
        tag_or_digest: String,
    },
    /// A push to `repository` starts (`The push refers to repository [...]`).
    PushStart { repository: String },
    /// The blob is queued.
    Waiting { digest: Digest, size: u64 },
    /// The blob is already present (in the store, or in the target repository).
    Exists { digest: Digest },
    /// Bytes transferred so far.
    Transferring {
        digest: Digest,
        done: u64,
        total: u64,
    },
    /// The blob was transferred and checked.
    Complete { digest: Digest },
    /// A download or upload failed and is retried (resumed where possible).
    Retrying {
        digest: Digest,
        attempt: u32,
        error: String,
    },
    /// Pushed by a cross-repository mount from `from`.
    Mounted { digest: Digest, from: String },
    /// A layer was handed to the layer handler (unpacked) after download.
    Extracted { digest: Digest },
}

/// A receiver of progress events. Called from the client's tasks: keep it cheap.
pub trait Progress: Send + Sync {
    fn event(&self, event: Event);
}

/// Ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _: Event) {}
}

impl<F: Fn(Event) + Send + Sync> Progress for F {
    fn event(&self, event: Event) {
        self(event)
    }
}
