//! Solver and worker: run the planned stages, instruction by instruction.
//!
//! Each stage carries an image config (mutated exactly as BuildKit's Dockerfile frontend
//! does, history included), its layer list and the cache key of its filesystem state.
//! Config-only instructions change the config and history and leave the key alone;
//! RUN, COPY/ADD and WORKDIR are ops whose key is derived from the parent key (see
//! [`crate::cache`] for the fields); a hit reuses the recorded layer, a miss executes in a
//! fresh directory that becomes both the layer blob and the next snapshot. The state key
//! after an op combines the op's key with the layer it produced, so an op re-run without
//! the cache that gives new content invalidates everything after it.
//!
//! Scheduling: every stage in the plan gets a thread that starts once its base stage is
//! done and waits for the other stages it needs (`COPY --from`, `RUN --mount from=`) at
//! the step that uses them, so independent stages — and the first steps of a stage and
//! the stages it copies from — build concurrently, as in BuildKit; a failed stage cancels
//! the stages waiting on it, the others stop before their next step, and its error is the
//! build's. A finished layer's blob is made
//! durable and its cache entry written on a committer thread while the next step runs
//! ([`Commit`]); the export waits for it. The image stage's last `COPY` from the context
//! is prepared ahead on a low-priority thread while the steps before it run, and used if
//! what it depended on is unchanged (the `speculate` module). Within an op, hashing and
//! compression use every core. Layers of stages the image does not ship are stored
//! uncompressed (nothing would read the compressed form); the exporter compresses the
//! shipped ones.
//!
//! ONBUILD triggers of a base run before the stage's own instructions. RUN mounts are
//! described in [`crate::mounts`], COPY/ADD in the `copy` module.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Instant;

use strata_dockerfile::instructions::{
    CommandKind, CopyCommand, Healthcheck, NetworkMode, PortSpec, RunScript, ShellDependentCmd,
};
use strata_dockerfile::{Command, Instructions, Lex};
use strata_layer::{CompressOptions, CreateOptions, LayerWriter};
use strata_oci::config::{Empty, HealthConfig, History};
use strata_oci::{Descriptor, Digest, Document, ImageConfig, Platform, Reference};
use strata_runtime::{ContainerSpec, Network, ProcessSpec, Rootfs};
use strata_store::{Lease, Pending, Store};

#[path = "copy.rs"]
mod copy;
#[path = "speculate.rs"]
mod speculate;

use crate::cache::{CacheIndex, KeyBuilder, LayerRecord};
use crate::context::Context;
use crate::frontend::{self, Base, BuildArgs, go_duration, go_quote_slice, go_slice};
use crate::fsutil;
use crate::mounts::{BindSource, MountEnv, MountPlan, SecretSource};
use crate::snapshot::Snapshots;
use crate::{BuildError, Event, Reporter, Result, io_err};
use strata_dockerfile::instructions::{CacheSharing, Mount, MountType};

/// Docker's default `PATH`.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const HISTORY_COMMENT: &str = "buildkit.dockerfile.v0";
const OUTPUT_TAIL: usize = 12;
/// The hostname of a RUN container.
const RUN_HOSTNAME: &str = "buildkitsandbox";

/// What to build and how.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile's path (for its `.dockerignore`), if it came from a file.
    pub dockerfile_path: Option<PathBuf>,
    /// The Dockerfile's text.
    pub dockerfile: String,
    pub target: Option<String>,
    pub build_args: BuildArgs,
    pub no_cache: bool,
    /// Names to tag the result with (as the user typed them).
    pub tags: Vec<String>,
    /// Network of RUN instructions without `--network` (Docker's default is the host's).
    pub network: Network,
    pub compression: CompressOptions,
    /// `SOURCE_DATE_EPOCH`: clamps file times in new layers and sets created times.
    pub source_date_epoch: Option<i64>,
    /// Report the pre-image of every cache key.
    pub debug_cache_keys: bool,
    /// Stages (by name) whose ops ignore the cache (`--no-cache-filter`).
    pub no_cache_filter: Vec<String>,
    /// `--secret` values by id (for `RUN --mount=type=secret`).
    pub secrets: BTreeMap<String, SecretSource>,
    /// `--ssh` agent sockets by id (`None`: `$SSH_AUTH_SOCK`).
    pub ssh: BTreeMap<String, Option<PathBuf>>,
    /// Fetches base images the store lacks (a registry pull); `None`: the store only.
    pub resolver: Option<Arc<dyn ImageResolver>>,
    /// Prepare the image stage's last `COPY` from the context while earlier steps run,
    /// and use it when what it depended on is unchanged (the module doc of `speculate`
    /// in the solver). On by default; the image is the same either way.
    pub speculate: bool,
}

/// Makes base images available that the local store lacks — the seam where a registry
/// client plugs in (the library itself never touches the network for FROM).
pub trait ImageResolver: Send + Sync + std::fmt::Debug {
    /// Put the image `reference` (normalised, `docker.io/library/x:tag`) for `platform`
    /// into `store`, tagged with that name; the error is a message for the user.
    fn fetch(
        &self,
        store: &Store,
        reference: &str,
        platform: &Platform,
    ) -> std::result::Result<(), String>;
}

impl BuildOptions {
    /// Options for building the Dockerfile text `dockerfile` in `context`, everything else
    /// at Docker's defaults.
    pub fn new(context: impl Into<PathBuf>, dockerfile: impl Into<String>) -> BuildOptions {
        BuildOptions {
            context: context.into(),
            dockerfile_path: None,
            dockerfile: dockerfile.into(),
            target: None,
            build_args: BuildArgs::default(),
            no_cache: false,
            tags: Vec::new(),
            network: Network::Host,
            compression: CompressOptions::default(),
            source_date_epoch: None,
            debug_cache_keys: false,
            no_cache_filter: Vec::new(),
            secrets: BTreeMap::new(),
            ssh: BTreeMap::new(),
            resolver: None,
            speculate: true,
        }
    }
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildOutput {
    /// The manifest in the store.
    pub manifest: Descriptor,
    /// The config digest: the image ID Docker shows.
    pub image_id: Digest,
    /// The full names tagged.
    pub tags: Vec<String>,
    /// How many steps used a layer prepared ahead of their turn (the stage's last
    /// `COPY`, see [`BuildOptions::speculate`]).
    pub prepared_ahead: usize,
    /// How many 1 MiB chunks of big files shipped layers took compressed ahead (files a
    /// shipped stage copies from another one, see [`strata_layer::ChunkMemo`]).
    pub chunks_prepared_ahead: usize,
}

/// The state of a stage while it is built.
#[derive(Debug, Clone)]
struct StageState {
    config: ImageConfig,
    layers: Vec<LayerRecord>,
    key: Digest,
    /// ARGs declared in the stage, in order of first declaration, with their values
    /// (`None`: declared without one; for RUN env and history).
    args: Vec<(String, Option<String>)>,
    /// The ARGs this stage itself declares, in order: RUN's history names only these
    /// (a base stage's ARGs keep their values but are not listed, as in BuildKit).
    own_args: Vec<String>,
    /// ARG values declared after an ENV of the same name: they hide the ENV's value from
    /// expansions and RUN (the image config keeps the ENV) until an ENV sets the name
    /// again — BuildKit adds both to one environment, the later winning.
    shadow: BTreeMap<String, String>,
    cmd_set: bool,
    /// History entries at the start of the stage's own instructions.
    base_history: usize,
    /// Ops of this stage ignore the cache (`--no-cache`, `--no-cache-filter`).
    no_cache: bool,
    /// Layers that came with the base image (the rest were built).
    base_layers: usize,
    /// The stage's layers end up in the image (it is the target or one of its bases):
    /// they are compressed as they are written. Other stages' layers are kept
    /// uncompressed, since nothing ships them.
    exported: bool,
    /// Nothing in this build reads the result of the current op back as a directory: no
    /// filesystem op follows in the stage and no other stage uses it. Its copy can then be
    /// written straight to the layer tar (see [`crate::planned`]).
    tail: bool,
    /// Where the stage is: (stage index, command index) of the op being run; the command
    /// index is `usize::MAX` outside the stage's own commands (ONBUILD triggers, a base).
    at: (usize, usize),
    /// Some op of this stage ran (missed the cache): every later op's parent key is new,
    /// so those miss too.
    executed: bool,
}

struct Solver<'a> {
    store: &'a Store,
    lease: &'a Lease,
    /// Where finished layer blobs go to be made durable and recorded in the cache (see
    /// [`Commit`]); `None` outside [`build`]'s scope, where they are committed in place.
    commits: Mutex<Option<mpsc::Sender<Commit<'a>>>>,
    opts: &'a BuildOptions,
    reporter: &'a dyn Reporter,
    ins: &'a Instructions,
    lex: Lex,
    cache: CacheIndex,
    snapshots: Snapshots,
    /// Walked once, on first use, by whichever stage needs it first.
    context: Mutex<Option<Arc<Context>>>,
    next_id: AtomicUsize,
    platform: Platform,
    global_args: BTreeMap<String, String>,
    declared_meta: Vec<String>,
    /// Stage results, by index; `done_cv` wakes stages waiting for their dependencies.
    done: Mutex<Vec<Slot>>,
    done_cv: Condvar,
    /// Per stage: whether its layers are shipped (see [`StageState::exported`]).
    exported: Vec<bool>,
    /// Per stage: whether another stage of the plan uses it (base, `COPY --from`, mount).
    used: Vec<bool>,
    /// Held while a base image is fetched.
    fetching: Mutex<()>,
    /// Per stage: the stages it needs (its base is waited for before it starts, the
    /// others at the step that uses them).
    deps: Vec<Vec<usize>>,
    /// Tail copies run ahead of their turn (see [`speculate`]), and the queue of the
    /// thread that runs them.
    specs: speculate::Specs<'a>,
    speculator: Mutex<Option<mpsc::Sender<speculate::Request>>>,
    /// Steps that used a layer prepared ahead.
    prepared_ahead: AtomicUsize,
    /// A stage failed: the others stop before their next step.
    failed: std::sync::atomic::AtomicBool,
    /// Compressed chunks of big files a shipped layer will copy from another stage,
    /// prepared while other steps run (see [`speculate`]).
    memo: Arc<strata_layer::ChunkMemo>,
    /// Per stage: where in it the shipped stages `COPY --from` (path prefixes; empty: no
    /// such copy, or nothing to prepare).
    copied_from: Vec<Vec<String>>,
}

/// A layer a step produced: its blob written and hashed in the ingest area, and the cache
/// key it is recorded under.
///
/// Committing the blob (fsync, rename into `blobs/`, fsync of the directory) and writing
/// the cache entry wait on the disk, while the next step needs only the layer's snapshot
/// and its record: so steps hand their layers to a committer thread and go on, and the
/// build waits for it before the image is exported. Order on disk stays safe: the cache
/// entry is written after its blob is in place (an entry whose blob is missing is a miss
/// anyway), and a snapshot committed before its blob is just an unused snapshot if the
/// build is killed in between (snapshot pruning removes it).
struct Commit<'a> {
    blob: Pending<'a>,
    /// The step's cache key; `None` until [`Solver::layer_op_with`] knows it.
    key: Option<Digest>,
    rec: LayerRecord,
}

/// The state of one stage's result.
#[derive(Debug, Clone)]
enum Slot {
    Pending,
    Done(Box<StageState>),
    Failed,
}

/// Build the image described by `opts` into `store`.
pub fn build(store: &Store, opts: &BuildOptions, reporter: &dyn Reporter) -> Result<BuildOutput> {
    let df = strata_dockerfile::parse(&opts.dockerfile).map_err(df_err)?;
    let ins = strata_dockerfile::parse_instructions(&df).map_err(df_err)?;
    let lex = Lex::new(df.escape_token);
    let platform = Platform::host();
    let plan = frontend::plan(
        &ins,
        &lex,
        opts.target.as_deref(),
        &opts.build_args,
        &platform,
    )?;
    let snapshots = Snapshots::new(store)?;
    // Held for the whole build: its snapshots are in use before any image names them.
    let _hold = snapshots.hold()?;
    snapshots.clean_stale();
    // The target and the stages it starts FROM ship their layers.
    let mut exported = vec![false; ins.stages.len()];
    let mut at = Some(plan.target);
    while let Some(i) = at {
        exported[i] = true;
        at = match plan.bases[i] {
            Base::Stage(j) if !exported[j] => Some(j),
            _ => None,
        };
    }
    let mut used = vec![false; ins.stages.len()];
    for deps in &plan.deps {
        for &d in deps {
            if let Some(u) = used.get_mut(d) {
                *u = true;
            }
        }
    }
    let copied_from = speculate::copied_from(&ins, &exported, opts);
    let lease = store.lease()?;
    let solver = Solver {
        store,
        lease: &lease,
        commits: Mutex::new(None),
        opts,
        reporter,
        ins: &ins,
        lex,
        cache: CacheIndex::new(store),
        snapshots,
        context: Mutex::new(None),
        next_id: AtomicUsize::new(1),
        platform,
        global_args: plan.global_args.clone(),
        declared_meta: plan.declared_meta.clone(),
        done: Mutex::new(vec![Slot::Pending; ins.stages.len()]),
        done_cv: Condvar::new(),
        exported,
        used,
        fetching: Mutex::new(()),
        deps: plan.deps.clone(),
        specs: speculate::Specs::default(),
        speculator: Mutex::new(None),
        prepared_ahead: AtomicUsize::new(0),
        failed: std::sync::atomic::AtomicBool::new(false),
        memo: Arc::new(strata_layer::ChunkMemo::new()),
        copied_from,
    };
    // Every stage gets a thread that waits for the stages it needs: independent stages
    // run concurrently. The first real error wins; stages waiting on a failed one stop.
    let solver = &solver;
    let plan_ref = &plan;
    // Whether a planned stage copies from the context: its files are then hashed on a
    // spare thread from the start, while earlier steps run (the hashes are memoised, so
    // the COPY finds them ready).
    let copies_context = plan.order.iter().any(|&i| {
        ins.stages[i].commands.iter().any(|c| match &c.kind {
            CommandKind::Copy(c) => c.from.is_none() && !c.sources.source_paths.is_empty(),
            CommandKind::Add(a) => !a.sources.source_paths.is_empty(),
            _ => false,
        })
    });
    let stages_done = std::sync::atomic::AtomicBool::new(false);
    let stages_done = &stages_done;
    let (commit_tx, commit_rx) = mpsc::channel::<Commit<'_>>();
    if let Ok(mut slot) = solver.commits.lock() {
        *slot = Some(commit_tx);
    }
    let (spec_tx, spec_rx) = mpsc::channel::<speculate::Request>();
    if let Ok(mut slot) = solver.speculator.lock() {
        *slot = Some(spec_tx);
    }
    let (results, committed): (Vec<Result<()>>, Result<()>) = std::thread::scope(|scope| {
        if copies_context {
            scope.spawn(move || solver.prehash_context(stages_done));
        }
        // Layer blobs are made durable and recorded in the cache off the steps' path: the
        // next step needs the snapshot, not the blob (see [`Commit`]).
        let committer = scope.spawn(move || -> Result<()> {
            let mut first = Ok(());
            for c in commit_rx {
                if let Err(e) = solver.commit_now(c)
                    && first.is_ok()
                {
                    first = Err(e);
                }
            }
            first
        });
        scope.spawn(move || solver.run_speculations(spec_rx));
        let handles: Vec<_> = plan_ref
            .order
            .iter()
            .map(|&i| {
                scope.spawn(move || -> Result<()> {
                    // A stage starts once its base is built; the other stages it uses
                    // (`COPY --from`, `RUN --mount=from=`) are waited for at the step
                    // that uses them, so its first steps overlap with them, as in BuildKit.
                    let base: &[usize] = match &plan_ref.bases[i] {
                        Base::Stage(j) => std::slice::from_ref(j),
                        _ => &[],
                    };
                    if !solver.wait_for(base) {
                        solver.finish(i, None);
                        return Err(BuildError::Cancelled);
                    }
                    match solver.run_stage(i, &plan_ref.bases[i]) {
                        Ok(st) => {
                            solver.finish(i, Some(st));
                            Ok(())
                        }
                        Err(e) => {
                            // The build has failed: the other stages stop at their next
                            // step instead of running to the end for nothing.
                            solver.failed.store(true, Ordering::Relaxed);
                            solver.memo.close();
                            solver.finish(i, None);
                            Err(e)
                        }
                    }
                })
            })
            .collect();
        let results = handles
            .into_iter()
            .map(|h| h.join().unwrap_or(Err(BuildError::Cancelled)))
            .collect();
        stages_done.store(true, Ordering::Relaxed);
        // Nothing will read the memo any more: work on it stops.
        solver.memo.close();
        // No stage asks for speculations any more: the speculator ends.
        if let Ok(mut slot) = solver.speculator.lock() {
            slot.take();
        }
        // No step sends any more: the committer drains the queue and ends.
        if let Ok(mut slot) = solver.commits.lock() {
            slot.take();
        }
        let committed = committer.join().unwrap_or(Err(BuildError::Cancelled));
        (results, committed)
    });
    if let Ok(ctx) = solver.context.lock()
        && let Some(ctx) = ctx.as_ref()
    {
        ctx.save_memo();
    }
    let mut first_err = None;
    for r in results {
        match r {
            Err(BuildError::Cancelled) => {}
            Err(e) => {
                first_err.get_or_insert(e);
            }
            Ok(()) => {}
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    committed?;
    let target = match solver.slot(plan.target) {
        Slot::Done(st) => *st,
        _ => {
            return Err(BuildError::TargetNotFound {
                target: frontend::stage_name(&ins, plan.target),
            });
        }
    };
    let mut out = crate::export::export(
        store,
        solver.lease,
        opts,
        target.config,
        &target.layers,
        target.base_layers,
        target.base_history,
    )?;
    out.prepared_ahead = solver.prepared_ahead.load(Ordering::Relaxed);
    out.chunks_prepared_ahead = solver.memo.hits();
    Ok(out)
}

/// Instructions that change the filesystem (a build step with a layer, shown numbered).
fn is_fs_op(kind: &CommandKind) -> bool {
    matches!(
        kind,
        CommandKind::Run(_) | CommandKind::Copy(_) | CommandKind::Add(_) | CommandKind::Workdir(_)
    )
}

fn df_err(e: strata_dockerfile::Error) -> BuildError {
    BuildError::Dockerfile {
        line: Some(e.span().start.line),
        message: e.to_string(),
    }
}

/// The environment as a map (later entries win), for expansion.
fn env_map(st: &StageState) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, v) in &st.args {
        if let Some(v) = v {
            m.insert(k.clone(), v.clone());
        }
    }
    // ENV wins over an ARG of the same name declared before it; one declared after it
    // wins over the ENV (`shadow`).
    for e in st
        .config
        .config
        .as_ref()
        .and_then(|c| c.env.clone())
        .unwrap_or_default()
    {
        let (k, v) = e.split_once('=').unwrap_or((&e, ""));
        m.insert(k.to_string(), v.to_string());
    }
    for (k, v) in &st.shadow {
        m.insert(k.clone(), v.clone());
    }
    m
}

fn add_env(env: &mut Vec<String>, k: &str, v: &str) {
    let entry = format!("{k}={v}");
    match env
        .iter_mut()
        .find(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) == k)
    {
        Some(e) => *e = entry,
        None => env.push(entry),
    }
}

/// `path` as an absolute container path, cleaned (`..` never climbs above `/`).
fn clean_abs(path: &str) -> String {
    strata_patterns::clean_path(&format!("/{path}"))
}

impl<'a> Solver<'a> {
    fn id(&self) -> usize {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The build context, walked on first use.
    fn context(&self) -> Result<Arc<Context>> {
        let mut guard = self.context.lock().map_err(|_| BuildError::Cancelled)?;
        if let Some(ctx) = guard.as_ref() {
            return Ok(ctx.clone());
        }
        let patterns = crate::context::ignore_patterns(
            &self.opts.context,
            self.opts.dockerfile_path.as_deref(),
        )?;
        let canon =
            std::fs::canonicalize(&self.opts.context).map_err(|source| BuildError::Context {
                path: self.opts.context.clone(),
                source,
            })?;
        let memo = self.store.root().join("meta/build-context").join(format!(
            "{}.json",
            &Digest::sha256(canon.as_os_str().as_encoded_bytes()).hex()[..32]
        ));
        let id = self.id();
        let start = Instant::now();
        self.reporter.event(Event::Start {
            id,
            name: "[internal] load build context".into(),
        });
        let ctx = Arc::new(Context::open(&canon, &patterns, Some(memo))?);
        self.reporter.event(Event::Done {
            id,
            elapsed: start.elapsed(),
        });
        *guard = Some(ctx.clone());
        Ok(ctx)
    }

    /// Walk the context and hash its files (best effort: errors are reported by the step
    /// that needs the file), until every stage is done.
    fn prehash_context(&self, stop: &std::sync::atomic::AtomicBool) {
        let Ok(ctx) = self.context() else {
            return;
        };
        for rel in ctx.unhashed_files() {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let _ = ctx.content_hash(rel);
        }
    }

    /// Wait until every stage in `deps` is done; false when one of them failed.
    fn wait_for(&self, deps: &[usize]) -> bool {
        let Ok(mut done) = self.done.lock() else {
            return false;
        };
        loop {
            if deps.iter().any(|&d| matches!(done[d], Slot::Failed)) {
                return false;
            }
            if deps.iter().all(|&d| matches!(done[d], Slot::Done(_))) {
                return true;
            }
            done = match self.done_cv.wait(done) {
                Ok(d) => d,
                Err(_) => return false,
            };
        }
    }

    fn finish(&self, i: usize, st: Option<StageState>) {
        if let Ok(mut done) = self.done.lock() {
            done[i] = match st {
                Some(st) => Slot::Done(Box::new(st)),
                None => Slot::Failed,
            };
        }
        self.done_cv.notify_all();
    }

    fn slot(&self, i: usize) -> Slot {
        self.done
            .lock()
            .ok()
            .and_then(|d| d.get(i).cloned())
            .unwrap_or(Slot::Failed)
    }

    fn resolve_image(&self, name: &str) -> Result<StageState> {
        let bad = |reason: String| BuildError::BaseImage {
            reference: name.to_string(),
            reason,
        };
        let full = Reference::parse_docker(name)
            .map_err(|e| bad(e.to_string()))?
            .to_string();
        let mut local = self.store.resolve(&full)?;
        if local.is_none()
            && let Some(r) = &self.opts.resolver
        {
            // One fetch at a time: stages starting FROM the same image pull it once.
            let _one = self.fetching.lock();
            local = self.store.resolve(&full)?;
            if local.is_none() {
                r.fetch(self.store, &full, &self.platform).map_err(bad)?;
                local = self.store.resolve(&full)?;
            }
        }
        let desc = local.ok_or_else(|| {
            bad(format!(
                "{full}: not found in the local store (pull or import it first)"
            ))
        })?;
        let mut doc = self.store.read_document(&desc)?;
        if let Document::Index(index) = &doc.value {
            let pick = self
                .store
                .platform_manifest(index, &self.platform)
                .cloned()
                .ok_or_else(|| bad("no manifest of the index is in the store".into()))?;
            doc = self.store.read_document(&pick)?;
        }
        let Document::Manifest(manifest) = &doc.value else {
            return Err(bad("nested index".into()));
        };
        let bytes = self.store.read_blob(&manifest.config.digest)?;
        let config = ImageConfig::parse_with_digest(&bytes, &manifest.config.digest)
            .map_err(|e| bad(e.to_string()))?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(bad("layer count differs from the config's diff_ids".into()));
        }
        let layers: Vec<LayerRecord> = manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .map(|(l, d)| LayerRecord {
                diff_id: d.clone(),
                digest: l.digest.clone(),
                size: l.size.max(0) as u64,
                media_type: l.media_type.clone(),
            })
            .collect();
        for l in &manifest.layers {
            self.store.lease_existing(self.lease, &l.digest)?;
        }
        let key = KeyBuilder::new("strata.image.v1")
            .field("manifest", doc.digest.as_str())
            .finish();
        Ok(StageState {
            base_history: config.history.len(),
            base_layers: layers.len(),
            exported: false,
            tail: false,
            config,
            layers,
            key,
            args: Vec::new(),
            own_args: Vec::new(),
            shadow: BTreeMap::new(),
            cmd_set: false,
            no_cache: false,
            at: (usize::MAX, usize::MAX),
            executed: false,
        })
    }

    fn run_stage(&self, i: usize, base: &Base) -> Result<StageState> {
        let stage = &self.ins.stages[i];
        let named = stage.name.clone();
        let mut st = match base {
            Base::Scratch => {
                let mut config = ImageConfig::new(&self.platform);
                config.rootfs.kind = "layers".into();
                let mut cc = config.config_or_default();
                cc.env = Some(vec![format!("PATH={DEFAULT_PATH}")]);
                cc.working_dir = "/".into();
                config.config = Some(cc);
                StageState {
                    config,
                    layers: Vec::new(),
                    key: KeyBuilder::new("strata.scratch.v1").finish(),
                    args: Vec::new(),
                    own_args: Vec::new(),
                    shadow: BTreeMap::new(),
                    cmd_set: false,
                    base_history: 0,
                    no_cache: false,
                    base_layers: 0,
                    exported: false,
                    tail: false,
                    at: (usize::MAX, usize::MAX),
                    executed: false,
                }
            }
            Base::Stage(j) => match self.slot(*j) {
                Slot::Done(s) => *s,
                _ => {
                    return Err(BuildError::TargetNotFound {
                        target: frontend::stage_name(self.ins, *j),
                    });
                }
            },
            Base::Image(name) => {
                let id = self.id();
                let start = Instant::now();
                self.reporter.event(Event::Start {
                    id,
                    name: format!("[internal] load metadata for {name}"),
                });
                let s = self.resolve_image(name)?;
                self.reporter.event(Event::Done {
                    id,
                    elapsed: start.elapsed(),
                });
                s
            }
        };
        st.exported = self.exported.get(i).copied().unwrap_or(true);
        st.no_cache = self.opts.no_cache
            || named.as_ref().is_some_and(|n| {
                self.opts
                    .no_cache_filter
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(n))
            })
            || self
                .opts
                .no_cache_filter
                .iter()
                .any(|f| f == &i.to_string());
        // A stage's own ARGs start empty; the base stage's carry over.
        if !matches!(base, Base::Stage(_)) {
            st.args.clear();
            st.shadow.clear();
        }
        // CMD set in a base stage does not survive an ENTRYPOINT of this one: only a CMD
        // of the stage itself does (BuildKit's per-stage cmdSet).
        st.cmd_set = false;
        st.own_args.clear();
        let total = stage.commands.iter().filter(|c| is_fs_op(&c.kind)).count()
            + usize::from(matches!(base, Base::Image(_)));
        let prefix = named.clone().unwrap_or_else(|| {
            if self.ins.stages.len() == 1 {
                String::new()
            } else {
                format!("stage-{i}")
            }
        });
        let mut index = 0usize;
        let mut vertex = |what: &str| -> String {
            index += 1;
            let width = total.to_string().len();
            if prefix.is_empty() {
                format!("[{index:>width$}/{total}] {what}")
            } else {
                format!("[{prefix} {index:>width$}/{total}] {what}")
            }
        };
        if let Base::Image(name) = base {
            let id = self.id();
            let full = Reference::parse_docker(name)
                .map(|r| r.to_string())
                .unwrap_or_else(|_| name.clone());
            self.reporter.event(Event::Start {
                id,
                name: vertex(&format!("FROM {full}")),
            });
            self.reporter.event(Event::Done {
                id,
                elapsed: std::time::Duration::ZERO,
            });
        }
        st.at = (i, usize::MAX);
        st.executed = false;
        // ONBUILD triggers of the base run first, and are not inherited.
        let triggers = st
            .config
            .config
            .as_mut()
            .and_then(|c| c.on_build.take())
            .unwrap_or_default();
        for t in &triggers {
            let bad = |e: strata_dockerfile::Error| BuildError::Dockerfile {
                message: format!("invalid ONBUILD trigger {t:?} of the base image: {e}"),
                line: Some(stage.from_meta.span.start.line),
            };
            let df = strata_dockerfile::parse(&format!("FROM scratch\n{t}\n")).map_err(bad)?;
            let ins = strata_dockerfile::parse_instructions(&df).map_err(bad)?;
            for stage in &ins.stages {
                for cmd in &stage.commands {
                    self.dispatch(&mut st, cmd, &prefix, &mut vertex)?;
                }
            }
        }
        let last_fs_op = stage.commands.iter().rposition(|c| is_fs_op(&c.kind));
        let used = self.used.get(i).copied().unwrap_or(true);
        let mut speculated = false;
        for (n, cmd) in stage.commands.iter().enumerate() {
            if self.failed.load(Ordering::Relaxed) {
                return Err(BuildError::Cancelled);
            }
            st.tail = !used && last_fs_op.is_some_and(|l| n >= l);
            st.at = (i, n);
            // The tail copy can be prepared from here on (see [`speculate`]).
            if let Some(l) = last_fs_op
                && !used
                && !speculated
                && st.executed
                && self.opts.speculate
                && speculate::worth_it(&stage.commands, n, l)
            {
                speculated = true;
                self.speculate(speculate::Request::Copy {
                    stage: i,
                    cmd: l,
                    st: Box::new(st.clone()),
                });
            }
            self.dispatch(&mut st, cmd, &prefix, &mut vertex)?;
        }
        st.tail = false;
        st.at = (i, usize::MAX);
        Ok(st)
    }

    fn history(&self, st: &mut StageState, created_by: String, empty: bool) {
        st.config.history.push(History {
            created: None,
            created_by,
            comment: HISTORY_COMMENT.into(),
            empty_layer: empty,
            ..History::default()
        });
    }

    fn expand(&self, word: &str, env: &BTreeMap<String, String>, line: usize) -> Result<String> {
        self.lex
            .process_word(word, env)
            .map_err(|e| BuildError::Dockerfile {
                message: e.to_string(),
                line: Some(line),
            })
    }

    fn dispatch(
        &self,
        st: &mut StageState,
        cmd: &Command,
        stage_label: &str,
        vertex: &mut dyn FnMut(&str) -> String,
    ) -> Result<()> {
        let line = cmd.meta.span.start.line;
        let env = env_map(st);
        let mut cc = st.config.config_or_default();
        match &cmd.kind {
            CommandKind::Env(pairs) => {
                let mut msg = String::from("ENV");
                let mut list = cc.env.clone().unwrap_or_default();
                // Every value is expanded with the environment before the instruction:
                // `ENV A=1 B=$A` does not see this A (Docker's documented rule).
                // Keys are expanded too (`ENV $K=v`), as BuildKit does.
                for p in pairs {
                    let k = self.expand(&p.key, &env, line)?;
                    let v = self.expand(&p.value, &env, line)?;
                    msg.push_str(&format!(" {k}={v}"));
                    add_env(&mut list, &k, &v);
                    st.shadow.remove(&k);
                }
                cc.env = Some(list);
                st.config.config = Some(cc);
                self.history(st, msg, true);
            }
            CommandKind::Label(pairs) => {
                let mut msg = String::from("LABEL");
                let mut labels = cc.labels.clone().unwrap_or_default();
                for p in pairs {
                    let k = self.expand(&p.key, &env, line)?;
                    let v = self.expand(&p.value, &env, line)?;
                    msg.push_str(&format!(" {k}={v}"));
                    labels.insert(k, v);
                }
                labels.sort_keys();
                cc.labels = Some(labels);
                st.config.config = Some(cc);
                self.history(st, msg, true);
            }
            CommandKind::Maintainer(m) => {
                st.config.author = m.clone();
                self.history(st, format!("MAINTAINER {m}"), true);
            }
            CommandKind::User(u) => {
                let u = self.expand(u, &env, line)?;
                cc.user = u.clone();
                st.config.config = Some(cc);
                self.history(st, format!("USER {u}"), true);
            }
            CommandKind::Workdir(w) => {
                let w = self.expand(w, &env, line)?;
                // An absolute WORKDIR is kept as written (config, history, the `mkdir -p`
                // it makes); a relative one is joined to the current one and cleaned, as
                // BuildKit does.
                let wd = if w.starts_with('/') {
                    w.clone()
                } else {
                    let base = if cc.working_dir.is_empty() {
                        "/"
                    } else {
                        &cc.working_dir
                    };
                    clean_abs(&format!("{base}/{w}"))
                };
                cc.working_dir = wd.clone();
                let user = cc.user.clone();
                st.config.config = Some(cc);
                let mut with_layer = false;
                if clean_abs(&wd) != "/" {
                    let name = vertex(&format!("WORKDIR {wd}"));
                    with_layer = self.workdir_op(st, &wd, &user, name)?;
                }
                self.history(st, format!("WORKDIR {wd}"), !with_layer);
            }
            CommandKind::Expose(e) => {
                let mut ports = cc.exposed_ports.clone().unwrap_or_default();
                // History shows the ports of this instruction only (BuildKit's `%v` of
                // the parsed specs), the config all of them.
                let mut these = std::collections::BTreeSet::new();
                for word in &e.ports {
                    for p in
                        self.lex
                            .process_words(word, &env)
                            .map_err(|e| BuildError::Dockerfile {
                                message: e.to_string(),
                                line: Some(line),
                            })?
                    {
                        let spec = PortSpec::parse(&p).map_err(|m| BuildError::Dockerfile {
                            message: m,
                            line: Some(line),
                        })?;
                        for port in spec.start..=spec.end {
                            ports.insert(format!("{port}/{}", spec.proto), Empty);
                            these.insert(format!("{port}/{}", spec.proto));
                        }
                    }
                }
                ports.sort_keys();
                let shown: Vec<String> = these.iter().map(|k| format!("{k}:{{}}")).collect();
                cc.exposed_ports = Some(ports);
                st.config.config = Some(cc);
                self.history(st, format!("EXPOSE map[{}]", shown.join(" ")), true);
            }
            CommandKind::Volume(vols) => {
                let mut set = cc.volumes.clone().unwrap_or_default();
                let mut expanded = Vec::new();
                for v in vols {
                    let v = self.expand(v, &env, line)?;
                    if v.is_empty() {
                        return Err(BuildError::Dockerfile {
                            message: "VOLUME specified can not be an empty string".into(),
                            line: Some(line),
                        });
                    }
                    set.insert(v.clone(), Empty);
                    expanded.push(v);
                }
                set.sort_keys();
                cc.volumes = Some(set);
                st.config.config = Some(cc);
                self.history(st, format!("VOLUME {}", go_slice(&expanded)), true);
            }
            CommandKind::Cmd(c) => {
                let args = with_shell(&cc, c);
                // `CMD []` leaves no Cmd: BuildKit's config omits an empty list.
                cc.cmd = (!args.is_empty()).then(|| args.clone());
                cc.args_escaped = true;
                st.config.config = Some(cc);
                st.cmd_set = true;
                self.history(st, format!("CMD {}", go_quote_slice(&args)), true);
            }
            CommandKind::Entrypoint(c) => {
                let args = with_shell(&cc, c);
                cc.entrypoint = (!args.is_empty()).then(|| args.clone());
                if !st.cmd_set {
                    cc.cmd = None;
                }
                st.config.config = Some(cc);
                self.history(st, format!("ENTRYPOINT {}", go_quote_slice(&args)), true);
            }
            CommandKind::Shell(s) => {
                cc.shell = Some(s.clone());
                st.config.config = Some(cc);
                self.history(st, format!("SHELL {}", go_slice(s)), true);
            }
            CommandKind::StopSignal(s) => {
                let s = self.expand(s, &env, line)?;
                strata_dockerfile::instructions::parse_signal(&s).map_err(|m| {
                    BuildError::Dockerfile {
                        message: m,
                        line: Some(line),
                    }
                })?;
                cc.stop_signal = s.clone();
                st.config.config = Some(cc);
                self.history(st, format!("STOPSIGNAL {s}"), true);
            }
            CommandKind::Healthcheck(h) => {
                let hc = match h {
                    Healthcheck::None => HealthConfig {
                        test: vec!["NONE".into()],
                        ..HealthConfig::default()
                    },
                    Healthcheck::Check {
                        test,
                        interval,
                        timeout,
                        start_period,
                        start_interval,
                        retries,
                    } => {
                        let ns =
                            |d: &Option<std::time::Duration>| d.map_or(0, |d| d.as_nanos() as i64);
                        HealthConfig {
                            test: test.clone(),
                            interval: ns(interval),
                            timeout: ns(timeout),
                            start_period: ns(start_period),
                            start_interval: ns(start_interval),
                            retries: i64::from(*retries),
                            ..HealthConfig::default()
                        }
                    }
                };
                // BuildKit's `fmt.Sprintf("HEALTHCHECK %q", config.Healthcheck)`: Go's `%q`
                // of the *HealthConfig, durations quoted, retries as a quoted rune. Current
                // BuildKit's HealthConfig has StartInterval (Docker 20.10's printed one
                // duration fewer); Strata supports --start-interval and writes the current form.
                let d = |n: i64| {
                    strata_dockerfile::quote::go_quote(&go_duration(
                        std::time::Duration::from_nanos(n.max(0) as u64),
                    ))
                };
                let msg = format!(
                    "HEALTHCHECK &{{{} {} {} {} {} {}}}",
                    frontend::go_quote_slice(&hc.test),
                    d(hc.interval),
                    d(hc.timeout),
                    d(hc.start_period),
                    d(hc.start_interval),
                    frontend::go_quote_rune(hc.retries)
                );
                cc.healthcheck = Some(hc);
                st.config.config = Some(cc);
                self.history(st, msg, true);
            }
            CommandKind::Onbuild(o) => {
                cc.on_build
                    .get_or_insert_with(Vec::new)
                    .push(o.expression.clone());
                // No history entry: BuildKit records ONBUILD in the config only.
                st.config.config = Some(cc);
            }
            CommandKind::Arg(a) => {
                let mut parts = Vec::new();
                for pair in &a.args {
                    let declared_meta = self.declared_meta.contains(&pair.key);
                    let value = if let Some(v) = self.opts.build_args.get(&pair.key) {
                        Some(v.to_string())
                    } else if let Some(d) = &pair.value {
                        Some(self.expand(d, &env, line)?)
                    } else if declared_meta
                        || frontend::platform_args(&self.platform).contains_key(&pair.key)
                    {
                        self.global_args.get(&pair.key).cloned()
                    } else {
                        None
                    };
                    match &value {
                        Some(v) => parts.push(format!("{}={v}", pair.key)),
                        None => parts.push(pair.key.clone()),
                    }
                    // Declared after an ENV of the same name, the ARG's value wins.
                    if let Some(v) = &value
                        && cc.env.as_ref().is_some_and(|e| {
                            e.iter()
                                .any(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) == pair.key)
                        })
                    {
                        st.shadow.insert(pair.key.clone(), v.clone());
                    }
                    // A redeclared ARG keeps its place (RUN history lists them in order).
                    // A bare redeclaration keeps the value the name has (BuildKit adds
                    // only values to the environment).
                    match st.args.iter_mut().find(|(k, _)| *k == pair.key) {
                        Some(slot) => {
                            if value.is_some() {
                                slot.1 = value;
                            }
                        }
                        None => st.args.push((pair.key.clone(), value)),
                    }
                    if !st.own_args.contains(&pair.key) {
                        st.own_args.push(pair.key.clone());
                    }
                }
                self.history(st, format!("ARG {}", parts.join(" ")), true);
            }
            CommandKind::Run(r) => {
                // A heredoc RUN with an interpreter line runs its body as a file.
                let script = r.cmd.script();
                let mut args = script.args();
                if r.cmd.prepend_shell {
                    let mut shell = cc
                        .shell
                        .clone()
                        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                    shell.push(args.join(" "));
                    args = shell;
                }
                let mut run_env = cc.env.clone().unwrap_or_default();
                for (k, v) in &st.shadow {
                    add_env(&mut run_env, k, v);
                }
                for (k, v) in &st.args {
                    let Some(v) = v else { continue };
                    if !run_env
                        .iter()
                        .any(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) == k)
                    {
                        run_env.push(format!("{k}={v}"));
                    }
                }
                for (k, v) in &self.opts.build_args.0 {
                    if frontend::PROXY_ARGS.contains(&k.as_str()) {
                        add_env(&mut run_env, k, v);
                    }
                }
                if !run_env.iter().any(|e| e.starts_with("PATH=")) {
                    run_env.push(format!("PATH={DEFAULT_PATH}"));
                }
                // `|N K=V ...`: every ARG the stage declares, one without a value too
                // (`K=`), with the value the environment gives it (ENV wins), as
                // BuildKit's runCommandString writes it.
                let mut hist_args: Vec<String> = st
                    .own_args
                    .iter()
                    .map(|k| {
                        let v = env.get(k).map_or("", |v| v.as_str());
                        format!("{k}={v}")
                    })
                    .collect();
                if !hist_args.is_empty() {
                    hist_args.insert(0, format!("|{}", hist_args.len()));
                }
                hist_args.extend(args.iter().cloned());
                let network = match r.network {
                    NetworkMode::None => Network::None,
                    NetworkMode::Host => Network::Host,
                    NetworkMode::Default => self.opts.network,
                };
                // No USER: uid 0, with root's passwd entry (groups) where the image has
                // one, and without it where it has none (a scratch image).
                let user = if cc.user.is_empty() {
                    "0".to_string()
                } else {
                    cc.user.clone()
                };
                let cwd = if cc.working_dir.is_empty() {
                    "/".to_string()
                } else {
                    cc.working_dir.clone()
                };
                let mut mounts = Vec::new();
                let mut mount_keys = Vec::new();
                for mf in &r.mounts {
                    let mut expand = |w: &str| -> std::result::Result<String, String> {
                        self.lex.process_word(w, &env).map_err(|e| e.to_string())
                    };
                    let m = mf
                        .parse(&mut expand)
                        .map_err(|message| BuildError::Dockerfile {
                            message,
                            line: Some(line),
                        })?;
                    let ssh_n = mounts
                        .iter()
                        .filter(|p| matches!(p, MountPlan::Ssh { .. }))
                        .count();
                    let (plan, key) = self.plan_mount(&m, &cwd, line, ssh_n, st.at.0)?;
                    mounts.push(plan);
                    mount_keys.push(key);
                }
                if let RunScript::Executable { name, data } = &script {
                    let target = format!("{}/{name}", RunScript::PIPES_DIR);
                    mount_keys.push(format!(
                        "script {target} {}",
                        Digest::sha256(data.as_bytes())
                    ));
                    mounts.push(MountPlan::Script {
                        target,
                        data: data.clone(),
                    });
                }
                let key_b = KeyBuilder::new("strata.exec.v1")
                    .field("parent", st.key.as_str())
                    .list("arg", &args)
                    .list("env", &run_env)
                    .field("user", &user)
                    .field("cwd", &cwd)
                    .list("mount", &mount_keys)
                    .field(
                        "network",
                        if network == Network::None {
                            "none"
                        } else {
                            "host"
                        },
                    );
                let mut shown: Vec<String> = r
                    .mounts
                    .iter()
                    .map(|m| format!("--mount={}", m.raw))
                    .collect();
                match r.network {
                    NetworkMode::None => shown.push("--network=none".into()),
                    NetworkMode::Host => shown.push("--network=host".into()),
                    NetworkMode::Default => {}
                }
                shown.push(cmd_text(&r.cmd));
                let name = vertex(&format!("RUN {}", shown.join(" ")));
                let spec = RunSpec {
                    args,
                    env: run_env,
                    user,
                    cwd,
                    network,
                    stage: stage_label.to_string(),
                    instruction: cmd.meta.original.clone(),
                    line,
                    mounts,
                };
                self.layer_op(st, key_b, name, |s, upper, lowers| {
                    s.exec_run(&spec, upper, lowers)
                })?;
                self.history(st, format!("RUN {} # buildkit", hist_args.join(" ")), false);
            }
            CommandKind::Copy(c) => {
                let msg = self.copy_op(st, c, None, &env, &cc, line, vertex, "COPY")?;
                self.history(st, msg, false);
            }
            CommandKind::Add(a) => {
                if let Some(git) = a
                    .sources
                    .source_paths
                    .iter()
                    .find(|s| s.starts_with("git@") || s.ends_with(".git"))
                {
                    return Err(BuildError::Copy {
                        path: git.clone(),
                        reason: "ADD of a Git repository is not supported; clone it in a RUN"
                            .into(),
                    });
                }
                let c = CopyCommand {
                    sources: a.sources.clone(),
                    from: None,
                    chown: a.chown.clone(),
                    chmod: a.chmod.clone(),
                    link: a.link,
                    parents: false,
                    excludes: a.excludes.clone(),
                };
                let extras = copy::AddExtras {
                    checksum: a.checksum.as_ref().map(|f| f.value.as_str()),
                    unpack: a.unpack.unwrap_or(true),
                };
                let msg = self.copy_op(st, &c, Some(extras), &env, &cc, line, vertex, "ADD")?;
                self.history(st, msg, false);
            }
            CommandKind::From(_) => {}
        }
        Ok(())
    }

    fn lowers_top_first(&self, st: &StageState) -> Result<Vec<PathBuf>> {
        let mut l = self.snapshots.ensure(self.store, &st.layers)?;
        l.reverse();
        Ok(l)
    }

    /// Run an op: on a cache hit reuse its layer, else let `exec` fill a fresh directory
    /// (overlay upper format) and turn it into a layer and the next snapshot. Returns
    /// whether a layer was added.
    fn layer_op(
        &self,
        st: &mut StageState,
        key: KeyBuilder,
        name: String,
        exec: impl FnOnce(&Self, &Path, &[PathBuf]) -> Result<()>,
    ) -> Result<bool> {
        self.layer_op_with(st, key, name, |s, st, lowers| {
            let tmp = s.snapshots.temp()?;
            let upper = tmp.path().join("upper");
            std::fs::create_dir(&upper).map_err(io_err("create directory", &upper))?;
            exec(s, &upper, lowers)?;
            let made = s.write_layer(&upper, st.exported, |out, opts| {
                strata_layer::create(&upper, out, opts)?;
                Ok(())
            })?;
            let mut diff_ids: Vec<Digest> = st.layers.iter().map(|l| l.diff_id.clone()).collect();
            diff_ids.push(made.rec.diff_id.clone());
            if let Some(chain) = strata_layer::chain_id_of(&diff_ids) {
                let snapshot = s.snapshots.commit(&chain, &upper)?;
                // Big files a shipped stage copies from here: compress them now, while
                // the next steps run.
                if let Some(prefixes) = s.copied_from.get(st.at.0).filter(|p| !p.is_empty()) {
                    s.speculate(speculate::Request::Precompress {
                        dir: snapshot,
                        prefixes: prefixes.clone(),
                    });
                }
            }
            Ok(made)
        })
    }

    /// [`Solver::layer_op`] where `make` writes the layer (and its snapshot, if it makes
    /// one) from the stage state and the snapshot directories below it, topmost first.
    fn layer_op_with(
        &self,
        st: &mut StageState,
        key: KeyBuilder,
        name: String,
        make: impl FnOnce(&Self, &StageState, &[PathBuf]) -> Result<Commit<'a>>,
    ) -> Result<bool> {
        let id = self.id();
        let start = Instant::now();
        let digest = key.finish();
        self.reporter.event(Event::Start { id, name });
        if self.opts.debug_cache_keys {
            self.reporter.event(Event::CacheKey {
                id,
                key: digest.to_string(),
                preimage: key.preimage().to_string(),
            });
        }
        if !st.no_cache
            && let Some(rec) = self.cache.get(self.store, &digest)
        {
            self.store.lease_existing(self.lease, &rec.digest)?;
            self.reporter.event(Event::Cached { id });
            st.key = state_key(&digest, &rec.diff_id);
            st.layers.push(rec);
            return Ok(true);
        }
        let result = self
            .lowers_top_first(st)
            .and_then(|lowers| make(self, st, &lowers));
        match result {
            Ok(mut made) => {
                st.executed = true;
                let rec = made.rec.clone();
                made.key = Some(digest.clone());
                self.commit(made)?;
                self.reporter.event(Event::Done {
                    id,
                    elapsed: start.elapsed(),
                });
                st.key = state_key(&digest, &rec.diff_id);
                st.layers.push(rec);
                Ok(true)
            }
            Err(e) => {
                self.reporter.event(Event::Error {
                    id,
                    elapsed: start.elapsed(),
                    message: e.to_string(),
                });
                Err(e)
            }
        }
    }

    /// Write the layer tar `tar` writes (compressed when the stage is shipped) to the
    /// store's ingest area, for [`Solver::commit`]; `what` names the layer's source in
    /// errors.
    fn write_layer(
        &self,
        what: &Path,
        compress: bool,
        tar: impl FnOnce(&mut dyn std::io::Write, &CreateOptions) -> Result<()>,
    ) -> Result<Commit<'a>> {
        self.write_layer_on(what, compress, self.opts.compression.threads, tar)
    }

    /// [`Solver::write_layer`] with compression on `threads` threads (0: all cores; the
    /// bytes are the same either way).
    fn write_layer_on(
        &self,
        what: &Path,
        compress: bool,
        threads: usize,
        tar: impl FnOnce(&mut dyn std::io::Write, &CreateOptions) -> Result<()>,
    ) -> Result<Commit<'a>> {
        let sink = self.store.writer(self.lease)?;
        let plain = CompressOptions::new(strata_layer::Compression::None);
        let shipped = CompressOptions {
            threads,
            ..self.opts.compression
        };
        let how = if compress { &shipped } else { &plain };
        // The store's writer hashes the blob anyway: the pipeline takes its digest.
        let memo = compress.then(|| self.memo.clone());
        let mut w = LayerWriter::new_digesting_with_memo(sink, how, memo)
            .map_err(io_err("compress layer of", what))?;
        tar(
            &mut w,
            &CreateOptions {
                clamp_mtime: self.opts.source_date_epoch,
                overlay_upper: true,
            },
        )?;
        let (info, sink) = w
            .finish_with(|s| s.digest())
            .map_err(io_err("compress layer of", what))?;
        Ok(Commit {
            blob: sink.finish()?,
            key: None,
            rec: LayerRecord {
                diff_id: info.diff_id,
                digest: info.digest,
                size: info.size,
                media_type: info.media_type.to_string(),
            },
        })
    }

    /// Hand a finished layer to the committer thread, or commit it here when there is
    /// none.
    fn commit(&self, c: Commit<'a>) -> Result<()> {
        let c = match self.commits.lock().ok().as_ref().and_then(|g| g.as_ref()) {
            Some(tx) => match tx.send(c) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(c)) => c,
            },
            None => c,
        };
        self.commit_now(c)
    }

    /// Make a layer blob durable under its digest, then record its cache entry.
    fn commit_now(&self, c: Commit<'a>) -> Result<()> {
        c.blob.commit(Some(&c.rec.digest), Some(c.rec.size))?;
        if let Some(key) = &c.key {
            self.cache.put(self.store, key, &c.rec)?;
        }
        Ok(())
    }

    fn workdir_op(&self, st: &mut StageState, wd: &str, user: &str, name: String) -> Result<bool> {
        let lowers = self.lowers_top_first(st)?;
        // BuildKit's `mkdir -p` goes through the image's symlinks (`WORKDIR /link/w` makes
        // `w` where the link points) and always commits a layer: an empty one when the
        // directory exists. It walks the path as written: `/c/../d/./e` makes /c, /d and
        // /d/e — every directory the path passes through, once cleaned and resolved.
        let mut targets: Vec<String> = Vec::new();
        let mut stack: Vec<&str> = Vec::new();
        for part in wd.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    stack.pop();
                }
                p => {
                    stack.push(p);
                    targets.push(fsutil::resolve_dest(
                        &lowers,
                        &format!("/{}", stack.join("/")),
                    ));
                }
            }
        }
        let exists = targets
            .iter()
            .all(|t| fsutil::lookup(&lowers, t).is_some_and(|(_, m)| m.is_dir()));
        // The stage's user owns what the WORKDIR creates, by `--chown`'s rules (a numeric
        // user without a passwd entry is also the group).
        let owner = if user.is_empty() {
            (0, 0)
        } else {
            fsutil::resolve_chown(&lowers, user)?
        };
        let key = KeyBuilder::new("strata.mkdir.v2")
            .field("parent", st.key.as_str())
            .field("path", wd)
            .field("user", user);
        let epoch = self.opts.source_date_epoch;
        self.layer_op(st, key, name, |_, upper, lowers| {
            if exists {
                return Ok(());
            }
            for target in &targets {
                let mut rel = String::new();
                for part in target.split('/').filter(|p| !p.is_empty()) {
                    if !rel.is_empty() {
                        rel.push('/');
                    }
                    rel.push_str(part);
                    let p = upper.join(&rel);
                    if std::fs::symlink_metadata(&p).is_ok() {
                        continue;
                    }
                    make_workdir_part(&p, fsutil::lookup(lowers, &rel), owner, epoch)?;
                }
            }
            Ok(())
        })
    }
}

/// One directory of a WORKDIR's path in the layer: with the image's metadata where the
/// image has it as a directory (the layer records the path down to the new part), else
/// 0755 owned by the stage's user.
fn make_workdir_part(
    p: &Path,
    lower: Option<(PathBuf, std::fs::Metadata)>,
    owner: (u32, u32),
    epoch: Option<i64>,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let (uid, gid, mode) = match lower.filter(|(_, m)| m.is_dir()) {
        Some((_, m)) => (m.uid(), m.gid(), m.mode() & 0o7777),
        None => (owner.0, owner.1, 0o755),
    };
    std::fs::create_dir(p).map_err(io_err("create directory", p))?;
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).map_err(io_err("chown", p))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
        .map_err(io_err("chmod", p))?;
    if let Some(t) = epoch {
        let ft = filetime::FileTime::from_unix_time(t, 0);
        let _ = filetime::set_file_times(p, ft, ft);
    }
    Ok(())
}

impl<'a> Solver<'a> {
    /// Resolve one `RUN --mount` into what the worker mounts and the text it adds to the
    /// cache key (see [`crate::mounts`]).
    fn plan_mount(
        &self,
        m: &Mount,
        cwd: &str,
        line: usize,
        ssh_n: usize,
        current: usize,
    ) -> Result<(MountPlan, String)> {
        let abs = |t: &str| {
            if t.starts_with('/') {
                clean_abs(t)
            } else {
                clean_abs(&format!("{cwd}/{t}"))
            }
        };
        let need_target = || -> Result<String> {
            match m.target.as_deref().filter(|t| !t.is_empty()) {
                Some(t) => Ok(abs(t)),
                None => Err(BuildError::Dockerfile {
                    message: format!("mount type {} requires a target", m.kind.as_str()),
                    line: Some(line),
                }),
            }
        };
        Ok(match m.kind {
            MountType::Bind => {
                let target = need_target()?;
                let rel = clean_abs(m.source.as_deref().unwrap_or("/"))
                    .trim_start_matches('/')
                    .to_string();
                let rw = !m.read_only;
                match &m.from {
                    None => {
                        let ctx = self.context()?;
                        let items = context_items(&ctx, &rel)?;
                        let key = format!(
                            "bind context {rel} {target} rw={rw} {}",
                            Digest::sha256(items.join("\n").as_bytes())
                        );
                        (
                            MountPlan::Bind {
                                source: BindSource::Context { ctx, rel },
                                target,
                                rw,
                            },
                            key,
                        )
                    }
                    Some(from) => {
                        let state = match self.find_done_stage(from, current)? {
                            Some(s) => s,
                            None => self.resolve_image(from)?,
                        };
                        let mut lowers = self.snapshots.ensure(self.store, &state.layers)?;
                        lowers.reverse();
                        let key = format!("bind {} {rel} {target} rw={rw}", state.key);
                        (
                            MountPlan::Bind {
                                source: BindSource::Layers { lowers, rel },
                                target,
                                rw,
                            },
                            key,
                        )
                    }
                }
            }
            MountType::Cache => {
                let target = need_target()?;
                let id =
                    m.id.clone()
                        .filter(|i| !i.is_empty())
                        .unwrap_or(target.clone());
                let sharing = m.sharing.unwrap_or(CacheSharing::Shared);
                let key = format!("cache {id} {target} {sharing:?}");
                (
                    MountPlan::Cache {
                        id,
                        target,
                        sharing,
                        uid: m.uid.unwrap_or(0),
                        gid: m.gid.unwrap_or(0),
                        mode: m.mode.unwrap_or(0o755),
                    },
                    key,
                )
            }
            MountType::Tmpfs => {
                let target = need_target()?;
                (
                    MountPlan::Tmpfs {
                        target: target.clone(),
                    },
                    format!("tmpfs {target}"),
                )
            }
            MountType::Secret => {
                let id =
                    m.id.clone()
                        .or_else(|| m.source.clone())
                        .or_else(|| {
                            m.target
                                .as_deref()
                                .and_then(|t| t.rsplit('/').next())
                                .map(str::to_string)
                        })
                        .or_else(|| m.env.clone())
                        .unwrap_or_default();
                let target = match (&m.target, &m.env) {
                    (Some(t), _) => Some(abs(t)),
                    (None, Some(_)) => None,
                    (None, None) => Some(format!("/run/secrets/{id}")),
                };
                let key = format!(
                    "secret {id} {} {}",
                    target.as_deref().unwrap_or("-"),
                    m.env.as_deref().unwrap_or("-")
                );
                (
                    MountPlan::Secret {
                        id,
                        target,
                        env: m.env.clone(),
                        required: m.required,
                        uid: m.uid.unwrap_or(0),
                        gid: m.gid.unwrap_or(0),
                        mode: m.mode.unwrap_or(0o400),
                    },
                    key,
                )
            }
            MountType::Ssh => {
                let id =
                    m.id.clone()
                        .filter(|i| !i.is_empty())
                        .unwrap_or_else(|| "default".into());
                let target = m
                    .target
                    .as_deref()
                    .map(abs)
                    .unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{ssh_n}"));
                let key = format!("ssh {id} {target}");
                (
                    MountPlan::Ssh {
                        id,
                        target,
                        required: m.required,
                    },
                    key,
                )
            }
        })
    }

    /// The result of the stage `name` means, for a step of stage `current`: waited for
    /// when the plan has it as one of `current`'s dependencies (it is built concurrently);
    /// `Err(Cancelled)` when that stage failed.
    fn find_done_stage(&self, name: &str, current: usize) -> Result<Option<StageState>> {
        // The planner's look-up, so both agree on which stage a name means.
        let Some(idx) = frontend::find_source_stage(self.ins, name).ok().flatten() else {
            return Ok(None);
        };
        if self.deps.get(current).is_some_and(|d| d.contains(&idx)) && !self.wait_for(&[idx]) {
            return Err(BuildError::Cancelled);
        }
        Ok(match self.slot(idx) {
            Slot::Done(s) => Some(*s),
            _ => None,
        })
    }

    fn exec_run(&self, spec: &RunSpec, upper: &Path, lowers: &[PathBuf]) -> Result<()> {
        let base = upper.parent().unwrap_or(upper).to_path_buf();
        let (work, merged, state) = (base.join("work"), base.join("merged"), base.join("state"));
        for d in [&work, &merged, &state] {
            std::fs::create_dir(d).map_err(io_err("create directory", d))?;
        }
        let lower = if lowers.is_empty() {
            vec![self.snapshots.empty()?]
        } else {
            lowers.to_vec()
        };
        let (uid, gid, extra) = fsutil::resolve_user(lowers, &spec.user)?;
        let mat = crate::mounts::materialize(
            &spec.mounts,
            &MountEnv {
                store_root: self.store.root(),
                snapshots: &self.snapshots,
                secrets: &self.opts.secrets,
                ssh: &self.opts.ssh,
            },
        )?;
        let mut env = spec.env.clone();
        for (k, v) in &mat.env {
            add_env(&mut env, k, v);
        }
        // As runc sets it for BuildKit's RUN: the user's home, `/` without a passwd entry.
        if !env.iter().any(|e| e.starts_with("HOME=")) {
            env.push(format!("HOME={}", fsutil::home_of(lowers, uid)));
        }
        let container = ContainerSpec {
            rootfs: Rootfs::Overlay {
                lower,
                upper: upper.to_path_buf(),
                work: work.clone(),
                target: merged,
            },
            process: ProcessSpec {
                args: spec.args.clone(),
                env,
                cwd: spec.cwd.clone(),
                uid,
                gid,
                additional_gids: extra,
            },
            // BuildKit's RUN sandbox name: build scripts that print or check the
            // hostname see what they see under `docker build`.
            hostname: RUN_HOSTNAME.into(),
            network: spec.network,
            mounts: mat.mounts.clone(),
            state_dir: state,
        };
        let (read, write) = pipe().map_err(io_err("create a pipe for", &base))?;
        let write2 = write
            .try_clone()
            .map_err(io_err("create a pipe for", &base))?;
        let start = Instant::now();
        let mut child = strata_runtime::spawn(&container, Stdio::from(write), Stdio::from(write2))
            .map_err(|source| BuildError::Runtime {
                instruction: spec.instruction.clone(),
                source,
            })?;
        drop(container);
        let id = self.next_id.load(Ordering::Relaxed).saturating_sub(1);
        let mut tail: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        for l in BufReader::new(std::fs::File::from(read)).split(b'\n') {
            let Ok(l) = l else { break };
            let line = String::from_utf8_lossy(&l).into_owned();
            self.reporter.event(Event::Log {
                id,
                elapsed: start.elapsed(),
                line: line.clone(),
            });
            if tail.len() == OUTPUT_TAIL {
                tail.pop_front();
            }
            tail.push_back(line);
        }
        let status = child.wait().map_err(io_err("wait for", &base))?;
        drop(mat);
        let _ = std::fs::remove_dir_all(&work);
        if !status.success() {
            use std::os::unix::process::ExitStatusExt;
            let code = status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
            return Err(BuildError::RunFailed {
                stage: spec.stage.clone(),
                instruction: spec.instruction.clone(),
                line: spec.line,
                command: spec.args.join(" "),
                code,
                output: tail.into_iter().collect::<Vec<_>>().join("\n"),
            });
        }
        // The stubs of the files bound in (/etc/hosts, /etc/resolv.conf) go; the /proc, /sys
        // and /dev mount points an image lacked stay in the layer, as BuildKit's runc
        // leaves them (so `FROM scratch` + RUN gives an image with those directories).
        strata_runtime::remove_mount_stubs(upper, &|p: &str| {
            matches!(p, "/proc" | "/sys" | "/dev") || fsutil::lookup(lowers, p).is_some()
        });
        let targets: Vec<String> = spec
            .mounts
            .iter()
            .filter_map(|m| m.target().map(str::to_string))
            .collect();
        crate::mounts::remove_stubs(upper, lowers, &targets);
        Ok(())
    }
}

/// A RUN, ready to execute.
struct RunSpec {
    args: Vec<String>,
    env: Vec<String>,
    user: String,
    cwd: String,
    network: Network,
    stage: String,
    instruction: String,
    line: usize,
    mounts: Vec<MountPlan>,
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    use std::os::fd::FromRawFd;
    // SAFETY: both descriptors were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// The key of a filesystem state: the op that made it and the layer it produced, so an op
/// run again without the cache (`--no-cache-filter`) that gives different content also
/// changes every key after it.
fn state_key(op: &Digest, diff_id: &Digest) -> Digest {
    KeyBuilder::new("strata.state.v1")
        .field("op", op.as_str())
        .field("layer", diff_id.as_str())
        .finish()
}

/// The instruction text shown in progress: the command as written.
fn cmd_text(cmd: &ShellDependentCmd) -> String {
    if cmd.prepend_shell {
        cmd.cmd_line.join(" ")
    } else {
        format!(
            "[{}]",
            cmd.cmd_line
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// CMD/ENTRYPOINT args: the shell form is prefixed with the SHELL.
fn with_shell(cc: &strata_oci::ContainerConfig, cmd: &ShellDependentCmd) -> Vec<String> {
    if !cmd.prepend_shell {
        return cmd.cmd_line.clone();
    }
    let mut shell = cc
        .shell
        .clone()
        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
    shell.push(cmd.cmd_line.join(" "));
    shell
}

/// The key items of context path `rel` and everything below it: path, type, mode, link
/// target and content hash.
fn context_items(ctx: &Context, rel: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut push = |k: &str, meta: &std::fs::Metadata| -> Result<()> {
        let ft = meta.file_type();
        let what = if ft.is_symlink() {
            format!(
                "l {:o} {}",
                meta.mode() & 0o7777,
                std::fs::read_link(ctx.root.join(k))
                    .map(|t| t.display().to_string())
                    .unwrap_or_default()
            )
        } else if ft.is_dir() {
            format!("d {:o}", meta.mode() & 0o7777)
        } else {
            format!("f {:o} {}", meta.mode() & 0o7777, ctx.content_hash(k)?)
        };
        out.push(format!("{k} {what}"));
        Ok(())
    };
    if !rel.is_empty() {
        let e = ctx
            .entries
            .get(rel)
            .ok_or_else(|| BuildError::SourceNotFound {
                path: format!("/{rel}"),
            })?;
        push(rel, &e.meta)?;
    }
    for (k, e) in ctx.below(rel) {
        push(k, &e.meta)?;
    }
    Ok(out)
}

/// Every entry below `dir` (relative paths, parents first, sorted), not following links.
fn walk_dir(dir: &Path) -> Result<Vec<(String, std::fs::Metadata)>> {
    crate::fsutil::walk(dir)
        .map(|e| {
            let (e, meta) = e?;
            let rel = e
                .path()
                .strip_prefix(dir)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            Ok((rel, meta))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(clean_abs("/a/./b/../c/"), "/a/c");
        assert_eq!(clean_abs("../../x"), "/x");
        let mut env = vec!["PATH=/bin".to_string(), "A=1".to_string()];
        add_env(&mut env, "A", "2");
        add_env(&mut env, "B", "3");
        assert_eq!(env, ["PATH=/bin", "A=2", "B=3"]);
    }
}
