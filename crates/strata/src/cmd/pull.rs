//! `strata pull` — Docker's `docker pull`: by tag or digest, `--platform`, `--all-tags`,
//! `-q`. Status and per-layer progress go to stderr (redrawn in place on a terminal, one line
//! per change otherwise); the pulled name goes to stdout as Docker's last line does.
//!
//! Layers are unpacked into snapshots (`snapshots/<chainID>/`, the overlay lower directories
//! that `run` and `build` stack) while the rest of the image still downloads: the
//! [`SnapshotUnpacker`] is the pull's layer handler. A layer whose snapshot already exists is
//! not unpacked again, so a second pull of an unchanged image costs one manifest request.
//!
//! This file also holds what the registry commands share: client options from the flags and
//! the `insecure-registries` config, and the Docker-style per-layer progress printer.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use strata_oci::reference::Reference;
use strata_oci::{Digest, Platform};
use strata_registry::{Client, ClientOptions, Event, Progress, PullOptions, Pulled};

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable (os[/arch[/variant]])
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Skip image verification (accepted for compatibility; content is always verified)
    #[arg(long, hide = true)]
    pub disable_content_trust: bool,
    /// Allow plain HTTP and unverified TLS for this registry
    #[arg(long)]
    pub insecure: bool,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

/// Files read for Docker's `insecure-registries` list: `$STRATA_CONFIG` if set, else
/// `/etc/strata/daemon.json` and `$XDG_CONFIG_HOME/strata/daemon.json`
/// (`~/.config/strata/daemon.json`).
fn daemon_json_paths() -> Vec<PathBuf> {
    if let Some(p) = std::env::var_os("STRATA_CONFIG").filter(|p| !p.is_empty()) {
        return vec![PathBuf::from(p)];
    }
    let mut v = vec![PathBuf::from("/etc/strata/daemon.json")];
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        v.push(PathBuf::from(x).join("strata/daemon.json"));
    } else if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        v.push(PathBuf::from(h).join(".config/strata/daemon.json"));
    }
    v
}

/// Client options for a registry command.
pub(crate) fn client_options(insecure: bool) -> anyhow::Result<ClientOptions> {
    let mut opts = ClientOptions {
        insecure,
        ..ClientOptions::default()
    };
    for p in daemon_json_paths() {
        opts.insecure_registries
            .extend(strata_registry::insecure_registries_from(&p)?);
    }
    Ok(opts)
}

/// A tokio runtime for one command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the network runtime")
}

pub fn run(ctx: &Ctx, args: PullArgs) -> anyhow::Result<()> {
    let reference = Reference::parse_normalized(&args.name).map_err(|e| anyhow!("{e}"))?;
    let (platform, explicit) = match &args.platform {
        Some(p) => (
            Platform::parse(p).ok_or_else(|| anyhow!("invalid platform {p:?}"))?,
            true,
        ),
        None => (Platform::host(), false),
    };
    let store = ctx.store()?;
    let client = Client::new(client_options(args.insecure)?)?;
    let opts = PullOptions {
        platform,
        platform_explicit: explicit,
        layer_handler: Some(std::sync::Arc::new(SnapshotUnpacker::default())),
    };
    let rt = runtime()?;
    let mut err = std::io::stderr();
    let mut out = std::io::stdout();
    if args.all_tags {
        if !reference.is_name_only() {
            bail!("tag can't be used with --all-tags/-a");
        }
        if !args.quiet {
            writeln!(err, "Pulling repository {}", reference.familiar_name())?;
        }
        let tags = rt.block_on(client.list_tags(&reference))?;
        for tag in tags {
            let r = reference.with_tag(&tag).map_err(|e| anyhow!("{e}"))?;
            let printer = LayerPrinter::new(args.quiet, false);
            let pulled = rt.block_on(client.pull(&store, &r, &opts, &printer))?;
            printer.finish();
            if !args.quiet {
                report(&mut err, &pulled)?;
            }
        }
        writeln!(out, "{}", reference.name())?;
        return Ok(());
    }
    let reference = if reference.is_name_only() {
        if !args.quiet {
            writeln!(err, "Using default tag: latest")?;
        }
        reference.tag_name_only()
    } else {
        reference
    };
    let printer = LayerPrinter::new(args.quiet, false);
    let pulled = rt.block_on(client.pull(&store, &reference, &opts, &printer));
    printer.finish();
    let pulled = pulled?;
    if !args.quiet {
        report(&mut err, &pulled)?;
    }
    writeln!(out, "{}", pulled.reference)?;
    Ok(())
}

/// The pull of `run` and `create` (Docker's CLI pulls a missing image itself): the
/// reference as given (already `:latest` when it had no tag), the host's platform, layers
/// unpacked into snapshots as `strata pull` does, progress and Docker's `Digest:` and
/// `Status:` lines on stderr; nothing on stdout, which carries the container's output or
/// ID.
pub(crate) fn pull_for_run(
    store: &strata_store::Store,
    reference: &Reference,
) -> anyhow::Result<()> {
    let client = Client::new(client_options(false)?)?;
    let opts = PullOptions {
        platform: Platform::host(),
        platform_explicit: false,
        layer_handler: Some(std::sync::Arc::new(SnapshotUnpacker::default())),
    };
    let printer = LayerPrinter::new(false, false);
    let pulled = {
        // The runtime and its threads are gone before the container is made (`run`
        // blocks signals and forks on a thread of its own afterwards).
        let rt = runtime()?;
        rt.block_on(client.pull(store, reference, &opts, &printer))
    };
    printer.finish();
    report(&mut std::io::stderr(), &pulled?)
}

/// Unpacks each pulled layer into its snapshot as soon as that layer is in the store, several
/// layers at a time (each unpacks into its own scratch directory, so they do not depend on
/// each other). A snapshot is named by its chainID, which needs the diffIDs of every layer
/// below it: each unpacked directory waits in [`Unpacked`] until the layers below it are
/// done, and is then renamed into place, in order. The diffID of a layer is computed from
/// its stream as it is applied and checked against the image config when the config is
/// already in the store (it is fetched first, but concurrently with the layers); a layer
/// whose snapshot already exists is not unpacked again.
#[derive(Default)]
pub(crate) struct SnapshotUnpacker {
    state: Mutex<Unpacked>,
    /// The config's diffIDs, read once the config is in the store.
    config_ids: std::sync::OnceLock<Vec<Digest>>,
}

/// Layers unpacked so far: diffIDs of the committed prefix, and the layers above it that are
/// waiting for a lower one (their scratch directories are removed if the pull fails).
#[derive(Default)]
struct Unpacked {
    committed: Vec<Digest>,
    waiting: std::collections::BTreeMap<usize, (Digest, Option<strata_build::snapshot::TempDir>)>,
}

impl SnapshotUnpacker {
    /// The image config's diffIDs, if the config is in the store yet (read once).
    fn config_diff_ids(
        &self,
        store: &strata_store::Store,
        manifest: &strata_oci::Manifest,
    ) -> Option<&[Digest]> {
        if let Some(ids) = self.config_ids.get() {
            return Some(ids);
        }
        let bytes = store.read_blob(&manifest.config.digest).ok()?;
        let config = strata_oci::ImageConfig::parse(&bytes).ok()?;
        let ids = config.diff_ids().to_vec();
        if ids.len() != manifest.layers.len() {
            return None;
        }
        Some(self.config_ids.get_or_init(|| ids))
    }
}

impl strata_registry::LayerHandler for SnapshotUnpacker {
    fn concurrent(&self) -> bool {
        true
    }

    fn layer_ready(
        &self,
        store: &strata_store::Store,
        manifest: &strata_oci::Manifest,
        index: usize,
    ) -> Result<(), strata_registry::HandlerError> {
        let snapshots = strata_build::snapshot::Snapshots::new(store)?;
        let layer = &manifest.layers[index];
        let config_ids = self.config_diff_ids(store, manifest);
        let known = config_ids.and_then(|ids| {
            let chain = strata_layer::chain_ids(&ids[..=index]);
            let exists = chain.last().is_some_and(|c| snapshots.path(c).exists());
            exists.then(|| ids[index].clone())
        });
        let done = match known {
            Some(diff_id) => (diff_id, None),
            None => {
                // No prune may remove the scratch directory while the layer unpacks.
                let _hold = snapshots.hold()?;
                let (tmp, diff_id) = snapshots
                    .unpack(store, &layer.digest)
                    .map_err(|e| format!("unpacking layer {}: {e}", layer.digest))?;
                if let Some(ids) = config_ids
                    && ids[index] != diff_id
                {
                    return Err(format!(
                        "layer {}: its content has diffID {diff_id}, the image config says {}",
                        layer.digest, ids[index]
                    )
                    .into());
                }
                (diff_id, Some(tmp))
            }
        };
        let mut state = self.state.lock().map_err(|_| "snapshot state poisoned")?;
        state.waiting.insert(index, done);
        // Commit every layer whose lower layers are all committed.
        loop {
            let next = state.committed.len();
            let Some((diff_id, tmp)) = state.waiting.remove(&next) else {
                break;
            };
            state.committed.push(diff_id);
            let chain = strata_layer::chain_ids(&state.committed);
            let chain_id = chain.last().ok_or("no chain ID")?;
            if let Some(tmp) = tmp {
                snapshots.commit(chain_id, tmp.path())?;
            }
        }
        Ok(())
    }
}

fn report(err: &mut dyn Write, pulled: &Pulled) -> anyhow::Result<()> {
    writeln!(err, "Digest: {}", pulled.digest)?;
    let shown = pulled.reference.familiar_string();
    if pulled.up_to_date {
        writeln!(err, "Status: Image is up to date for {shown}")?;
    } else {
        writeln!(err, "Status: Downloaded newer image for {shown}")?;
    }
    Ok(())
}

/// Docker's per-layer progress on stderr: `ID: Status` lines, with progress bars redrawn in
/// place on a terminal.
pub(crate) struct LayerPrinter {
    quiet: bool,
    tty: bool,
    push: bool,
    state: Mutex<PrinterState>,
}

#[derive(Default)]
struct PrinterState {
    /// Layer IDs in the order their lines were printed, and each line's text.
    lines: Vec<(String, String)>,
    index: HashMap<String, usize>,
    last_draw: Option<Instant>,
    /// Layers that were in the store already: Docker shows `Already exists` alone for
    /// them, no `Pull complete` when they are handed to the unpacker.
    existing: std::collections::HashSet<String>,
}

fn short(d: &Digest) -> String {
    d.hex().chars().take(12).collect()
}

fn bar(done: u64, total: u64) -> String {
    let width = 50usize;
    let filled = if total == 0 {
        width
    } else {
        ((done as f64 / total as f64) * width as f64) as usize
    }
    .min(width);
    let mut s = String::from("[");
    if filled > 0 {
        s.push_str(&"=".repeat(filled - 1));
        s.push('>');
    }
    s.push_str(&" ".repeat(width - filled));
    s.push(']');
    format!(
        "{s} {:>8}/{}",
        crate::units::human_size(done),
        crate::units::human_size(total)
    )
}

impl LayerPrinter {
    pub(crate) fn new(quiet: bool, push: bool) -> LayerPrinter {
        LayerPrinter {
            quiet,
            tty: std::io::stderr().is_terminal(),
            push,
            state: Mutex::new(PrinterState::default()),
        }
    }

    /// Set `id`'s line to `text`; on a terminal redraw it in place, else print it once.
    fn set(&self, id: String, text: String, transient: bool) {
        let Ok(mut st) = self.state.lock() else {
            return;
        };
        let mut err = std::io::stderr().lock();
        if !self.tty {
            if transient {
                return;
            }
            let _ = writeln!(err, "{id}: {text}");
            return;
        }
        if transient {
            let now = Instant::now();
            if st
                .last_draw
                .is_some_and(|t| now.duration_since(t) < Duration::from_millis(100))
            {
                if let Some(&i) = st.index.get(&id) {
                    st.lines[i].1 = text;
                }
                return;
            }
            st.last_draw = Some(now);
        }
        match st.index.get(&id).copied() {
            None => {
                let n = st.lines.len();
                st.index.insert(id.clone(), n);
                let _ = writeln!(err, "{id}: {text}");
                st.lines.push((id, text));
            }
            Some(i) => {
                let up = st.lines.len() - i;
                let _ = write!(err, "\x1b[{up}A\r\x1b[2K{id}: {text}\x1b[{up}B\r");
                st.lines[i].1 = text;
            }
        }
        let _ = err.flush();
    }

    /// Nothing to clean up between lines; kept so callers mark the end of a pull.
    pub(crate) fn finish(&self) {
        let _ = std::io::stderr().flush();
    }
}

impl Progress for LayerPrinter {
    fn event(&self, event: Event) {
        if self.quiet {
            return;
        }
        match event {
            Event::PullStart {
                repository,
                tag_or_digest,
            } => {
                let _ = writeln!(
                    std::io::stderr(),
                    "{tag_or_digest}: Pulling from {repository}"
                );
            }
            Event::PushStart { repository } => {
                let _ = writeln!(
                    std::io::stderr(),
                    "The push refers to repository [{repository}]"
                );
            }
            Event::Waiting { digest, .. } => {
                let text = if self.push {
                    "Preparing"
                } else {
                    "Pulling fs layer"
                };
                self.set(short(&digest), text.into(), false)
            }
            Event::Exists { digest } => {
                if let Ok(mut st) = self.state.lock() {
                    st.existing.insert(short(&digest));
                }
                let text = if self.push {
                    "Layer already exists"
                } else {
                    "Already exists"
                };
                self.set(short(&digest), text.into(), false)
            }
            Event::Transferring {
                digest,
                done,
                total,
            } => {
                let verb = if self.push { "Pushing" } else { "Downloading" };
                self.set(short(&digest), format!("{verb} {}", bar(done, total)), true)
            }
            Event::Complete { digest } if self.push => {
                self.set(short(&digest), "Pushed".into(), false)
            }
            // Docker's steps after a download; `Pull complete` follows once unpacked.
            Event::Complete { digest } => {
                self.set(short(&digest), "Verifying Checksum".into(), false);
                self.set(short(&digest), "Download complete".into(), false)
            }
            Event::Retrying {
                digest, attempt, ..
            } => self.set(
                short(&digest),
                format!("Retrying (attempt {attempt})"),
                false,
            ),
            Event::Mounted { digest, from } => {
                self.set(short(&digest), format!("Mounted from {from}"), false)
            }
            Event::Extracted { digest } => {
                let id = short(&digest);
                let existed = self.state.lock().is_ok_and(|st| st.existing.contains(&id));
                if !existed {
                    self.set(id, "Pull complete".into(), false)
                }
            }
        }
    }
}
