//! Speculation: the image stage's last `COPY` from the context, prepared while earlier
//! steps run.
//!
//! # Model
//!
//! A multi-stage build spends its end in the final stage: `COPY --from=builder …` waits
//! for the builder, and the usual last step, `COPY . /app/`, then reads, hashes and
//! compresses the context — often tens of megabytes — on the critical path, although
//! nothing it copies depends on what the builder makes. So when a stage that no other
//! stage uses reaches a run of steps that change only the filesystem (`RUN`, `COPY`,
//! `ADD`: no `ENV`, `WORKDIR`, `USER`, `ARG` in between) ending in its tail `COPY` from the
//! context (the planned copy of [`crate::planned`]), and an earlier step of the stage ran
//! (so every later step, the tail included, misses the cache), the tail is run ahead on
//! a low-priority thread with single-threaded compression — the cores are for the steps
//! on the critical path — against the image *as it is then*. Its layer blob goes to the
//! store's ingest area, kept with what the copy depended on.
//!
//! What a planned copy's layer is a function of, besides the context walk and the
//! instruction (both the same when the real step comes):
//! - the destination as resolved through the image's symlinks, whether it is an existing
//!   directory, the `--chown` owner from the image's passwd/group, and each copied item:
//!   all of it is in the op's cache-key pre-image, which is kept without its parent
//!   field as the speculation's *fingerprint*;
//! - what the copy looked up in the image below while checking conflicts and making
//!   parents: each path and what was there (type and mode bits, owner, time), recorded
//!   as it goes by [`Lower`].
//!
//! When the real step comes it computes its pre-image as always and replays the recorded
//! look-ups on the real image below; when everything is equal the speculative layer is
//! byte for byte the one the step would write, and it is used (its blob committed and
//! recorded in the cache like any other). Otherwise it is dropped and the step runs as
//! usual. The one value that can differ is the time given to directories the copy
//! changes: the time the layer was planned instead of a second or so later — the build's
//! time either way, as BuildKit's is.
//!
//! The same thread compresses ahead the big files a shipped stage will `COPY --from` a
//! stage that is not shipped: when a step of such a stage commits its snapshot, the
//! regular files of 1 MiB or more under the paths those copies name go into the build's
//! [`strata_layer::ChunkMemo`], chunk by chunk as a layer carries them. When the copy's
//! layer is written, its gzip takes those chunks, found by content, instead of
//! compressing them on the critical path — the same bytes either way. A file replaced
//! by a later step was compressed for nothing, on an otherwise idle core; the memo holds
//! at most [`MEMO_LIMIT`] bytes.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use strata_dockerfile::instructions::CommandKind;

use super::{Commit, Solver, StageState, env_map};
use crate::fsutil;

/// What a look-up in the image below told the copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Fact {
    /// Whether a directory is there.
    IsDir(bool),
    /// Whether anything is there, and whether it is a directory.
    Kind(Option<bool>),
    /// What is there: `st_mode` (type and permission bits), owner and modification time
    /// (`None` once known not to matter), or nothing.
    Meta(Option<(u32, u32, u32, Option<i64>)>),
}

impl Fact {
    /// Whether `now` (what is at the path in another image) tells the same.
    fn agrees(&self, now: Option<&std::fs::Metadata>) -> bool {
        match self {
            Fact::IsDir(d) => now.is_some_and(|m| m.is_dir()) == *d,
            Fact::Kind(k) => now.map(|m| m.is_dir()) == *k,
            Fact::Meta(None) => now.is_none(),
            Fact::Meta(Some((mode, uid, gid, t))) => now.is_some_and(|m| {
                m.mode() == *mode
                    && m.uid() == *uid
                    && m.gid() == *gid
                    && t.is_none_or(|t| m.mtime() == t)
            }),
        }
    }
}

/// The image below a copy, looked up path by path; when recording, every look-up and its
/// result are kept in order.
pub(super) struct Lower<'l> {
    lowers: &'l [PathBuf],
    reads: Option<RefCell<Vec<(String, Fact)>>>,
}

impl<'l> Lower<'l> {
    pub fn plain(lowers: &'l [PathBuf]) -> Lower<'l> {
        Lower {
            lowers,
            reads: None,
        }
    }

    pub fn recording(lowers: &'l [PathBuf]) -> Lower<'l> {
        Lower {
            lowers,
            reads: Some(RefCell::new(Vec::new())),
        }
    }

    fn find(&self, path: &str) -> Option<std::fs::Metadata> {
        fsutil::lookup(self.lowers, path).map(|(_, m)| m)
    }

    fn record(&self, path: &str, fact: Fact) {
        if let Some(reads) = &self.reads {
            reads.borrow_mut().push((path.to_string(), fact));
        }
    }

    /// What is at `path` (absolute, in the image) in the snapshot directories, topmost
    /// first, as [`fsutil::lookup`] finds it.
    pub fn lookup(&self, path: &str) -> Option<std::fs::Metadata> {
        let found = self.find(path);
        let fact = found
            .as_ref()
            .map(|m| (m.mode(), m.uid(), m.gid(), Some(m.mtime())));
        self.record(path, Fact::Meta(fact));
        found
    }

    /// Whether a directory is at `path`.
    pub fn is_dir(&self, path: &str) -> bool {
        let dir = self.find(path).is_some_and(|m| m.is_dir());
        self.record(path, Fact::IsDir(dir));
        dir
    }

    /// Whether anything is at `path`, and whether it is a directory.
    pub fn kind(&self, path: &str) -> Option<bool> {
        let kind = self.find(path).map(|m| m.is_dir());
        self.record(path, Fact::Kind(kind));
        kind
    }

    /// The recorded look-ups, with the times of all paths but `times_used` dropped: the
    /// copy gives every directory it changes a time of its own, so only the image times
    /// that reach the layer unchanged are part of what it depended on.
    pub fn into_reads(self, times_used: &[String]) -> Vec<(String, Fact)> {
        let mut reads = self.reads.map(RefCell::into_inner).unwrap_or_default();
        for (path, f) in &mut reads {
            if let Fact::Meta(Some((_, _, _, t))) = f
                && !times_used.iter().any(|u| u == path)
            {
                *t = None;
            }
        }
        reads
    }
}

/// A stage's tail copy, run ahead of its turn.
pub(super) struct Speculated<'a> {
    /// The op's cache-key pre-image without the parent, and the layer's other settings.
    pub fingerprint: String,
    /// The look-ups it made in the image below, and what they found.
    pub reads: Vec<(String, Fact)>,
    /// Its layer, written to the ingest area.
    pub made: Commit<'a>,
}

impl Speculated<'_> {
    /// Whether the look-ups find the same on `lowers` (the real image below the step).
    pub fn holds_on(&self, lowers: &[PathBuf]) -> bool {
        self.reads
            .iter()
            .all(|(path, was)| was.agrees(fsutil::lookup(lowers, path).map(|(_, m)| m).as_ref()))
    }
}

/// The state of one speculation, by (stage, command index).
pub(super) enum Spec<'a> {
    /// Waiting for the speculator thread (behind other work); the step does not wait for
    /// it but runs itself, and the speculator then skips it.
    Queued,
    Running,
    Ready(Box<Speculated<'a>>),
    /// It could not be prepared (the real step reports whatever was wrong), or it was not
    /// a planned copy after all.
    Failed,
}

/// Work for the speculator thread.
pub(super) enum Request {
    /// Run the tail command `cmd` of stage `stage` ahead, from the state `st`.
    Copy {
        stage: usize,
        cmd: usize,
        st: Box<StageState>,
    },
    /// Compress the big files under `prefixes` of the snapshot `dir` into the build's
    /// [`ChunkMemo`](strata_layer::ChunkMemo).
    Precompress { dir: PathBuf, prefixes: Vec<String> },
}

/// The most compressed data the build's chunk memo holds: beyond it, big files are left
/// to be compressed when their layer is written.
const MEMO_LIMIT: usize = 128 << 20;

/// Per stage: the path prefixes (absolute, in the stage's filesystem) that shipped stages
/// `COPY --from` it — the files worth compressing ahead. Empty for every stage when the
/// build does not speculate or its layers are not gzip.
pub(super) fn copied_from(
    ins: &strata_dockerfile::Instructions,
    exported: &[bool],
    opts: &super::BuildOptions,
) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new(); ins.stages.len()];
    if !opts.speculate || opts.compression.compression != strata_layer::Compression::Gzip {
        return out;
    }
    for (i, stage) in ins.stages.iter().enumerate() {
        if !exported.get(i).copied().unwrap_or(false) {
            continue;
        }
        for c in &stage.commands {
            let CommandKind::Copy(c) = &c.kind else {
                continue;
            };
            let Some(from) = &c.from else {
                continue;
            };
            let Some(j) = crate::frontend::find_source_stage(ins, &from.value)
                .ok()
                .flatten()
            else {
                continue;
            };
            if exported.get(j).copied().unwrap_or(true) {
                continue;
            }
            for src in &c.sources.source_paths {
                out[j].push(source_prefix(src));
            }
        }
    }
    out
}

/// The directory a COPY source selects from: the path up to its first component with a
/// glob character, or `/` when it names a variable.
fn source_prefix(src: &str) -> String {
    if src.contains('$') {
        return "/".into();
    }
    let clean = super::clean_abs(src);
    let mut prefix = String::new();
    for part in clean.split('/').filter(|p| !p.is_empty()) {
        if part.contains(['*', '?', '[', '\\']) {
            break;
        }
        prefix.push('/');
        prefix.push_str(part);
    }
    if prefix.is_empty() {
        "/".into()
    } else {
        prefix
    }
}

fn under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Speculations, and the condition their results are waited for on.
#[derive(Default)]
pub(super) struct Specs<'a> {
    pub slots: std::sync::Mutex<HashMap<(usize, usize), Spec<'a>>>,
    pub ready: std::sync::Condvar,
}

/// Whether the stage's commands from `from` up to its tail `tail` allow running the tail
/// ahead: filesystem-only steps in between, and a tail that copies from the context.
pub(super) fn worth_it(
    commands: &[strata_dockerfile::instructions::Command],
    from: usize,
    tail: usize,
) -> bool {
    if from >= tail {
        return false;
    }
    let between_fs_only = commands[from..tail].iter().all(|c| {
        matches!(
            c.kind,
            CommandKind::Run(_) | CommandKind::Copy(_) | CommandKind::Add(_)
        )
    });
    let tail_from_context = matches!(
        &commands[tail].kind,
        CommandKind::Copy(c) if c.from.is_none() && !c.sources.source_paths.is_empty()
    );
    between_fs_only && tail_from_context
}

impl<'a> Solver<'a> {
    /// Queue `req`; a copy's slot is `Queued` from now on, so that its step finds it.
    pub(super) fn speculate(&self, req: Request) {
        let Ok(guard) = self.speculator.lock() else {
            return;
        };
        let Some(tx) = guard.as_ref() else {
            return;
        };
        if let Request::Copy { stage, cmd, .. } = &req
            && let Ok(mut slots) = self.specs.slots.lock()
        {
            slots.insert((*stage, *cmd), Spec::Queued);
        }
        if let Err(std::sync::mpsc::SendError(Request::Copy { stage, cmd, .. })) = tx.send(req)
            && let Ok(mut slots) = self.specs.slots.lock()
        {
            slots.insert((stage, cmd), Spec::Failed);
        }
    }

    /// The speculator thread's work: run each request's copy and file the result.
    pub(super) fn run_speculations(&self, requests: std::sync::mpsc::Receiver<Request>) {
        // Below the build's steps: a speculation uses the cores they leave idle.
        // SAFETY: setpriority(2) on this thread's own id changes only its nice value.
        unsafe {
            libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
        }
        for req in requests {
            let (stage, cmd, st) = match req {
                Request::Copy { stage, cmd, st } => (stage, cmd, st),
                Request::Precompress { dir, prefixes } => {
                    self.precompress(&dir, &prefixes);
                    continue;
                }
            };
            let at = (stage, cmd);
            // Taken over by its step while it waited in the queue?
            match self.specs.slots.lock() {
                Ok(mut slots) if matches!(slots.get(&at), Some(Spec::Queued)) => {
                    slots.insert(at, Spec::Running);
                }
                _ => continue,
            }
            let result = self.speculate_copy(stage, cmd, *st).ok().flatten();
            if let Ok(mut slots) = self.specs.slots.lock() {
                slots.insert(
                    at,
                    match result {
                        Some(s) => Spec::Ready(s),
                        None => Spec::Failed,
                    },
                );
            }
            self.specs.ready.notify_all();
        }
    }

    /// Put the big regular files of the snapshot `dir` under `prefixes` into the memo.
    /// Best effort: a file that cannot be read is left to its layer.
    fn precompress(&self, dir: &std::path::Path, prefixes: &[String]) {
        let level = self
            .opts
            .compression
            .level
            .unwrap_or(strata_layer::compression::DEFAULT_GZIP_LEVEL);
        let Ok(level) = u32::try_from(level) else {
            return;
        };
        let Ok(files) = super::walk_dir(dir) else {
            return;
        };
        for (rel, meta) in files {
            if self.failed.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            let path = format!("/{rel}");
            if !meta.is_file() || !prefixes.iter().any(|p| under(&path, p)) {
                continue;
            }
            let Ok(f) = std::fs::File::open(dir.join(&rel)) else {
                continue;
            };
            let r = std::io::BufReader::with_capacity(1 << 20, f);
            if self
                .memo
                .add_file(r, meta.len(), level, MEMO_LIMIT)
                .is_err()
            {
                continue;
            }
        }
    }

    fn speculate_copy(
        &self,
        stage: usize,
        cmd: usize,
        mut st: StageState,
    ) -> crate::Result<Option<Box<Speculated<'a>>>> {
        let command = &self.ins.stages[stage].commands[cmd];
        let CommandKind::Copy(c) = &command.kind else {
            return Ok(None);
        };
        st.at = (stage, cmd);
        st.tail = true;
        let env = env_map(&st);
        let cc = st.config.config_or_default();
        let line = command.meta.span.start.line;
        let mut out = None;
        let mut vertex = |s: &str| s.to_string();
        self.copy_op_inner(
            &mut st,
            c,
            None,
            &env,
            &cc,
            line,
            &mut vertex,
            "COPY",
            Some(&mut out),
        )?;
        Ok(out)
    }

    /// The speculation of the op at `at`, waiting for it while it runs; `None` when there
    /// is none, it failed, or it has not started (it is then cancelled: the step is as fast
    /// as the speculation would be).
    pub(super) fn take_speculation(&self, at: (usize, usize)) -> Option<Box<Speculated<'a>>> {
        let mut slots = self.specs.slots.lock().ok()?;
        loop {
            match slots.remove(&at)? {
                Spec::Queued => {
                    slots.insert(at, Spec::Failed);
                    return None;
                }
                Spec::Running => {
                    slots.insert(at, Spec::Running);
                    slots = self.specs.ready.wait(slots).ok()?;
                }
                Spec::Ready(s) => return Some(s),
                Spec::Failed => return None,
            }
        }
    }
}
