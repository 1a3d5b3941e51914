//! `strata build` — build an image from a Dockerfile, daemonless (see `strata-build`).
//!
//! Progress goes to stderr in BuildKit's plain format (`#N [stage i/n] INSTRUCTION`,
//! output lines with their time offset, `CACHED`, `DONE 0.3s`); the image ID goes to stdout
//! with `-q`, and to `--iidfile`.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use anyhow::Context as _;
use strata_build::{BuildArgs as BuildArgValues, BuildOptions, Event, NoProgress, Reporter};
use strata_layer::{CompressOptions, Compression};
use strata_runtime::Network;

use crate::Ctx;

#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// The build context directory
    pub context: PathBuf,
    /// Name of the Dockerfile (default: CONTEXT/Dockerfile; `-` reads stdin)
    #[arg(short = 'f', long = "file")]
    pub file: Option<String>,
    /// Name and optionally a tag (`name:tag`); may be repeated
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    pub target: Option<String>,
    /// Set build-time variables (`KEY=VALUE`, or `KEY` to take it from the environment)
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    pub no_cache: bool,
    /// Write the image ID to the file
    #[arg(long)]
    pub iidfile: Option<PathBuf>,
    /// Suppress the build output and print the image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Type of progress output: auto, plain, quiet
    #[arg(long, default_value = "auto")]
    pub progress: String,
    /// Networking mode for RUN instructions: host (default) or none
    #[arg(long, default_value = "host")]
    pub network: String,
    /// Layer compression: gzip (default), zstd or uncompressed
    #[arg(long, default_value = "gzip")]
    pub compression: String,
    /// Compression level (gzip 0-9, zstd 1-22; default: gzip 4, zstd 3)
    #[arg(long, value_name = "N")]
    pub compression_level: Option<i32>,
    /// Clamp file times and set created times to this Unix time (else $SOURCE_DATE_EPOCH)
    #[arg(long)]
    pub source_date_epoch: Option<i64>,
    /// Print the pre-image of every cache key
    #[arg(long)]
    pub debug_cache_keys: bool,
    /// Check the Dockerfile for problems instead of building (see `strata lint`)
    #[arg(long)]
    pub check: bool,
    /// Output format of `--check`: text, json or sarif
    #[arg(long = "check-format")]
    pub check_format: Option<String>,
    /// Do not use cache for the specified stages (may be repeated)
    #[arg(long = "no-cache-filter", value_name = "STAGE")]
    pub no_cache_filter: Vec<String>,
    /// Secret to expose to the build: `id=mysecret[,src=/local/secret|,env=VAR]`
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// SSH agent socket to expose to the build: `default` or `ID=SOCKET`
    #[arg(long = "ssh")]
    pub ssh: Vec<String>,
    /// Output destination: `type=oci,dest=f.tar`, `type=docker,dest=f.tar`,
    /// `type=local,dest=DIR` (the image is kept in the store too)
    #[arg(short = 'o', long = "output")]
    pub output: Vec<String>,
    /// Scan the built image for known vulnerabilities against the offline OSV index, as
    /// `strata scan` does (the report goes to stdout, or to stderr with -q)
    #[arg(long)]
    pub scan: bool,
    /// With --scan: only report these severities (UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL)
    #[arg(long = "scan-severity", value_delimiter = ',', value_name = "SEVERITY")]
    pub scan_severity: Vec<String>,
    /// With --scan: leave out vulnerabilities that have no fixed version yet
    #[arg(long = "scan-ignore-unfixed")]
    pub scan_ignore_unfixed: bool,
    /// With --scan: exit with this status when vulnerabilities are reported
    #[arg(long = "scan-exit-code", default_value_t = 0, value_name = "N")]
    pub scan_exit_code: u8,
    /// With --scan: report format, table, json or sarif
    #[arg(long = "scan-format", default_value = "table")]
    pub scan_format: String,
}

impl BuildArgs {
    /// The `strata scan` flags of `--scan`, checked before the build starts.
    fn scan_flags(&self, quiet: bool) -> anyhow::Result<Option<crate::cmd::scan::ScanFlags>> {
        if !self.scan {
            return Ok(None);
        }
        let flags = crate::cmd::scan::ScanFlags {
            severity: self.scan_severity.clone(),
            exit_code: self.scan_exit_code,
            ignore_unfixed: self.scan_ignore_unfixed,
            format: self.scan_format.clone(),
            // stdout carries the image ID with -q.
            output: quiet.then(|| PathBuf::from("/dev/stderr")),
        };
        flags.check()?;
        Ok(Some(flags))
    }
}

/// FROM images missing from the store are pulled, as `docker build` does.
#[derive(Debug)]
struct RegistryResolver {
    opts: strata_registry::ClientOptions,
}

impl strata_build::ImageResolver for RegistryResolver {
    fn fetch(
        &self,
        store: &strata_store::Store,
        reference: &str,
        platform: &strata_oci::Platform,
    ) -> Result<(), String> {
        let r = strata_oci::Reference::parse_docker(reference).map_err(|e| e.to_string())?;
        // Layers are unpacked into snapshots as they land, as `strata pull` does: the
        // build's first step then finds its lower directories ready.
        let unpack = std::sync::Arc::new(crate::cmd::pull::SnapshotUnpacker::default());
        strata_registry::pull_image_with(store, &r, platform, &self.opts, Some(unpack))
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// One `--output`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Output {
    Oci(PathBuf),
    Docker(PathBuf),
    Local(PathBuf),
}

fn parse_output(v: &str) -> anyhow::Result<Output> {
    let mut kind = None;
    let mut dest = None;
    for field in v.split(',') {
        match field.split_once('=') {
            Some(("type", t)) => kind = Some(t.to_string()),
            Some(("dest", d)) => dest = Some(PathBuf::from(d)),
            // `-o DIR` is Docker's shorthand for type=local.
            None if !v.contains('=') => {
                kind = Some("local".into());
                dest = Some(PathBuf::from(field));
            }
            _ => anyhow::bail!("invalid output {v:?}: unexpected field {field:?}"),
        }
    }
    let dest = dest.ok_or_else(|| anyhow::anyhow!("invalid output {v:?}: dest is required"))?;
    match kind.as_deref() {
        Some("oci") => Ok(Output::Oci(dest)),
        Some("docker") => Ok(Output::Docker(dest)),
        Some("local") => Ok(Output::Local(dest)),
        Some(other) => anyhow::bail!("unsupported output type {other:?} (oci, docker or local)"),
        None => anyhow::bail!("invalid output {v:?}: type is required"),
    }
}

/// BuildKit's `--progress=plain` rendering.
struct Plain {
    start: Instant,
    out: Mutex<std::io::Stderr>,
    starts: Mutex<std::collections::HashMap<usize, Instant>>,
}

impl Reporter for Plain {
    fn event(&self, event: Event) {
        let Ok(mut out) = self.out.lock() else { return };
        let _ = match event {
            Event::Start { id, name } => {
                if let Ok(mut s) = self.starts.lock() {
                    s.insert(id, Instant::now());
                }
                writeln!(out, "#{id} {name}")
            }
            Event::Cached { id } => writeln!(out, "#{id} CACHED\n"),
            Event::Log { id, elapsed, line } => {
                writeln!(out, "#{id} {:.3} {line}", elapsed.as_secs_f64())
            }
            Event::Done { id, elapsed } => {
                writeln!(out, "#{id} DONE {:.1}s\n", elapsed.as_secs_f64())
            }
            Event::Error {
                id,
                elapsed,
                message,
            } => writeln!(
                out,
                "#{id} ERROR: {message}\n#{id} {:.1}s",
                elapsed.as_secs_f64()
            ),
            Event::CacheKey { id, key, preimage } => {
                writeln!(out, "#{id} cache key {key}:\n{preimage}")
            }
        };
        let _ = self.start;
    }
}

pub fn run(ctx: &Ctx, args: BuildArgs) -> anyhow::Result<()> {
    let dockerfile_path = match args.file.as_deref() {
        Some("-") => None,
        Some(f) => Some(PathBuf::from(f)),
        None => Some(args.context.join("Dockerfile")),
    };
    if args.check {
        return crate::cmd::lint::check_for_build(
            ctx,
            dockerfile_path,
            args.context.clone(),
            args.build_args.clone(),
            args.check_format.clone(),
        );
    }
    let bytes = match &dockerfile_path {
        None => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .context("failed to read the Dockerfile from stdin")?;
            b
        }
        Some(p) => std::fs::read(p)
            .with_context(|| format!("failed to read dockerfile: open {}", p.display()))?,
    };
    // BuildKit reads a Dockerfile as bytes: text that is not UTF-8 (a Latin-1 comment, say)
    // builds, and where it reaches the image config Go's JSON encoding turns each bad byte
    // into U+FFFD, which is what a lossy decoding gives here too.
    let dockerfile = String::from_utf8_lossy(&bytes).into_owned();
    let network = match args.network.as_str() {
        "host" | "default" => Network::Host,
        "none" => Network::None,
        other => anyhow::bail!("network mode {other:?} not supported (use host or none)"),
    };
    let compression = match args.compression.as_str() {
        "gzip" => Compression::Gzip,
        "zstd" => Compression::Zstd,
        "uncompressed" | "none" => Compression::None,
        other => anyhow::bail!("unknown compression {other:?} (gzip, zstd or uncompressed)"),
    };
    let source_date_epoch = match args.source_date_epoch {
        Some(t) => Some(t),
        None => match std::env::var("SOURCE_DATE_EPOCH") {
            Ok(v) if !v.is_empty() => Some(
                v.parse::<i64>()
                    .with_context(|| format!("invalid SOURCE_DATE_EPOCH {v:?}"))?,
            ),
            _ => None,
        },
    };
    let mut opts = BuildOptions::new(args.context.clone(), dockerfile);
    opts.dockerfile_path = dockerfile_path;
    opts.target = args.target.clone();
    opts.build_args = BuildArgValues::parse(&args.build_args)?;
    opts.no_cache = args.no_cache;
    opts.tags = args.tags.clone();
    opts.network = network;
    opts.compression = CompressOptions::new(compression);
    if let Some(level) = args.compression_level {
        if compression == Compression::None {
            anyhow::bail!("--compression-level needs gzip or zstd layers");
        }
        opts.compression.level = Some(level);
        // Checked here so a bad level fails before any step runs.
        strata_layer::Compressor::new(std::io::sink(), &opts.compression)
            .map_err(|e| anyhow::anyhow!("--compression-level: {e}"))?;
    }
    opts.source_date_epoch = source_date_epoch;
    opts.debug_cache_keys = args.debug_cache_keys;
    opts.no_cache_filter = args.no_cache_filter.clone();
    for s in &args.secrets {
        let (id, src) = strata_build::SecretSource::parse(s)?;
        opts.secrets.insert(id, src);
    }
    for s in &args.ssh {
        let (id, sock) = strata_build::parse_ssh(s)?;
        opts.ssh.insert(id, sock);
    }
    opts.resolver = Some(std::sync::Arc::new(RegistryResolver {
        opts: crate::cmd::pull::client_options(false)?,
    }));
    let outputs: Vec<Output> = args
        .output
        .iter()
        .map(|o| parse_output(o))
        .collect::<anyhow::Result<_>>()?;
    let store = ctx.store()?;
    let quiet = args.quiet || args.progress == "quiet";
    // With --progress=json stdout carries the events, so the report goes to stderr too.
    let scan = args.scan_flags(quiet || args.progress == "json" || args.progress == "rawjson")?;
    let mode = match args.progress.as_str() {
        _ if quiet => "quiet",
        "auto" | "tty" if std::io::stderr().is_terminal() => "tty",
        "auto" | "plain" | "tty" => "plain",
        "json" | "rawjson" => "json",
        other => anyhow::bail!("invalid progress mode {other:?} (auto, plain, tty, json or quiet)"),
    };
    let started = Instant::now();
    let plain = Plain {
        start: started,
        out: Mutex::new(std::io::stderr()),
        starts: Mutex::new(Default::default()),
    };
    let json = progress::Json::new();
    let tty = progress::Tty::start();
    let reporter: &dyn Reporter = match mode {
        "quiet" => &NoProgress,
        "json" => &json,
        "tty" => &tty,
        _ => &plain,
    };
    let result = strata_build::build(&store, &opts, reporter);
    tty.finish(mode == "tty");
    let out = result?;
    for o in &outputs {
        write_output(&store, &out, o)?;
    }
    if let Some(p) = &args.iidfile {
        std::fs::write(p, out.image_id.as_str())
            .with_context(|| format!("failed to write {}", p.display()))?;
    }
    let names = if out.tags.is_empty() {
        "<none>".to_string()
    } else {
        out.tags.join(", ")
    };
    match mode {
        "quiet" => println!("{}", out.image_id),
        "json" => json.summary(&out.image_id.to_string(), &out.tags),
        _ => {
            let mut e = std::io::stderr();
            let _ = writeln!(
                e,
                "#0 writing image {} done\n#0 naming to {names} done\n#0 DONE {:.1}s",
                out.image_id,
                started.elapsed().as_secs_f64()
            );
        }
    }
    if let Some(flags) = &scan {
        let shown = out
            .tags
            .first()
            .cloned()
            .unwrap_or_else(|| out.image_id.to_string());
        crate::cmd::scan::scan_stored(ctx, &shown, &out.manifest.digest, flags)?;
    }
    Ok(())
}

fn write_output(
    store: &strata_store::Store,
    out: &strata_build::BuildOutput,
    o: &Output,
) -> anyhow::Result<()> {
    use strata_store::archive::{SaveImage, save_docker, save_oci};
    let image = SaveImage {
        descriptor: out.manifest.clone(),
        names: out.tags.clone(),
    };
    let write_tar = |dest: &PathBuf, docker: bool| -> anyhow::Result<()> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir)
            .with_context(|| format!("failed to export: create a file in {}", dir.display()))?;
        let w = std::io::BufWriter::new(tmp.as_file());
        if docker {
            save_docker(store, std::slice::from_ref(&image), None, w)?;
        } else {
            save_oci(store, std::slice::from_ref(&image), w)?;
        }
        tmp.persist(dest)
            .with_context(|| format!("failed to export: write {}", dest.display()))?;
        Ok(())
    };
    match o {
        Output::Oci(d) => write_tar(d, false),
        Output::Docker(d) => write_tar(d, true),
        Output::Local(d) => strata_build::export::export_local(store, &out.manifest, d)
            .with_context(|| format!("failed to export to {}", d.display())),
    }
}

/// `strata builder prune`: remove the build cache (see `strata_build::prune`) and the
/// unpacked layers no image or container needs.
pub fn prune(ctx: &Ctx, force: bool) -> anyhow::Result<()> {
    if !force
        && !crate::cmd::prune::confirm(
            "WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] ",
        )?
    {
        return Ok(());
    }
    let store = ctx.store()?;
    let mut report = strata_build::prune(&store)?;
    // The build's unpacked layers that no image or container uses go with the cache.
    let snapshots = crate::cmd::prune::prune_snapshots(ctx, &store)?;
    report.bytes_reclaimed += snapshots.bytes;
    let mut stdout = std::io::stdout().lock();
    if !report.entries.is_empty() || !report.cache_mounts.is_empty() {
        writeln!(stdout, "ID\tRECLAIMABLE")?;
        for e in report.entries.iter().chain(&report.cache_mounts) {
            let id = e.trim_start_matches("sha256:");
            writeln!(stdout, "{}", &id[..id.len().min(25)])?;
        }
    }
    writeln!(
        stdout,
        "Total:\t{}",
        crate::units::human_size(report.bytes_reclaimed)
    )?;
    Ok(())
}

/// The TTY view and the JSON stream.
mod progress {
    use std::collections::BTreeMap;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use strata_build::{Event, Reporter};

    /// `--progress=json`: one JSON object per line on stderr, shaped like BuildKit's
    /// `rawjson` status (`vertexes` with started/completed/cached/error, `logs`).
    pub struct Json {
        start: Instant,
        starts: Mutex<BTreeMap<usize, (String, f64)>>,
    }

    impl Json {
        pub fn new() -> Json {
            Json {
                start: Instant::now(),
                starts: Mutex::new(BTreeMap::new()),
            }
        }

        fn emit(&self, v: serde_json::Value) {
            let mut e = std::io::stderr().lock();
            let _ = writeln!(e, "{v}");
        }

        pub fn summary(&self, image_id: &str, tags: &[String]) {
            self.emit(serde_json::json!({"imageID": image_id, "tags": tags}));
        }
    }

    impl Reporter for Json {
        fn event(&self, event: Event) {
            let now = self.start.elapsed().as_secs_f64();
            let mut starts = match self.starts.lock() {
                Ok(s) => s,
                Err(_) => return,
            };
            let vertex = |id: usize, name: &str, started: f64| serde_json::json!({"id": id, "name": name, "started": started});
            let v = match event {
                Event::Start { id, name } => {
                    let v = vertex(id, &name, now);
                    starts.insert(id, (name, now));
                    serde_json::json!({"vertexes": [v]})
                }
                Event::Cached { id } => {
                    let (name, s) = starts.get(&id).cloned().unwrap_or_default();
                    let mut v = vertex(id, &name, s);
                    v["cached"] = true.into();
                    v["completed"] = now.into();
                    serde_json::json!({"vertexes": [v]})
                }
                Event::Done { id, .. } => {
                    let (name, s) = starts.get(&id).cloned().unwrap_or_default();
                    let mut v = vertex(id, &name, s);
                    v["completed"] = now.into();
                    serde_json::json!({"vertexes": [v]})
                }
                Event::Error { id, message, .. } => {
                    let (name, s) = starts.get(&id).cloned().unwrap_or_default();
                    let mut v = vertex(id, &name, s);
                    v["completed"] = now.into();
                    v["error"] = message.into();
                    serde_json::json!({"vertexes": [v]})
                }
                Event::Log { id, elapsed, line } => serde_json::json!({"logs": [{
                    "vertex": id, "data": line, "elapsed": elapsed.as_secs_f64()
                }]}),
                Event::CacheKey { id, key, preimage } => {
                    serde_json::json!({"cacheKeys": [{"vertex": id, "key": key, "preimage": preimage}]})
                }
            };
            drop(starts);
            self.emit(v);
        }
    }

    #[derive(Default)]
    struct Step {
        name: String,
        start: Option<Instant>,
        end: Option<Instant>,
        cached: bool,
        error: bool,
        logs: Vec<String>,
    }

    #[derive(Default)]
    struct State {
        steps: BTreeMap<usize, Step>,
        drawn: usize,
        stop: bool,
    }

    /// The TTY view: a frame of steps redrawn in place ten times a second, like BuildKit's:
    /// `[+] Building 2.3s (5/7)`, one line per step with its time or `CACHED`, and the last
    /// lines of output under running steps. Parallel steps never interleave: each owns its
    /// lines of the frame.
    pub struct Tty {
        start: Instant,
        state: Arc<Mutex<State>>,
        ticker: Mutex<Option<std::thread::JoinHandle<()>>>,
    }

    const LOG_LINES: usize = 6;

    impl Tty {
        /// A view; its redraw thread starts with the first event.
        pub fn start() -> Tty {
            Tty {
                start: Instant::now(),
                state: Arc::new(Mutex::new(State::default())),
                ticker: Mutex::new(None),
            }
        }

        fn ensure_ticker(&self) {
            let Ok(mut t) = self.ticker.lock() else {
                return;
            };
            if t.is_some() {
                return;
            }
            let state = self.state.clone();
            let start = self.start;
            *t = Some(std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let Ok(mut st) = state.lock() else { return };
                    if st.stop {
                        return;
                    }
                    draw(&mut st, start, false);
                }
            }));
        }

        /// Stop redrawing and draw the final frame (when `draw_final`).
        pub fn finish(&self, draw_final: bool) {
            if let Ok(mut st) = self.state.lock() {
                st.stop = true;
                if draw_final {
                    draw(&mut st, self.start, true);
                }
            }
            if let Ok(mut t) = self.ticker.lock()
                && let Some(h) = t.take()
            {
                let _ = h.join();
            }
        }
    }

    fn draw(st: &mut State, start: Instant, last: bool) {
        let now = Instant::now();
        let total = st.steps.len();
        let done = st.steps.values().filter(|s| s.end.is_some()).count();
        let width = terminal_width();
        let mut lines = vec![format!(
            "[+] Building {:.1}s ({done}/{total}){}",
            start.elapsed().as_secs_f64(),
            if last { " FINISHED" } else { "" }
        )];
        for s in st.steps.values() {
            let t = match (s.start, s.end) {
                (Some(a), Some(b)) => b.duration_since(a),
                (Some(a), None) => now.duration_since(a),
                _ => Duration::ZERO,
            };
            let status = if s.cached {
                format!(" => CACHED {}", s.name)
            } else if s.error {
                format!(" => ERROR {}", s.name)
            } else {
                format!(" => {}", s.name)
            };
            let time = if s.cached {
                "0.0s".to_string()
            } else {
                format!("{:.1}s", t.as_secs_f64())
            };
            lines.push(pad(&status, &time, width));
            if s.end.is_none() || s.error {
                for l in s.logs.iter().rev().take(LOG_LINES).rev() {
                    lines.push(truncate(&format!(" => > {l}"), width));
                }
            }
        }
        let mut out = String::new();
        if st.drawn > 0 {
            out.push_str(&format!("\x1b[{}A", st.drawn));
        }
        for l in &lines {
            out.push_str("\x1b[2K");
            out.push_str(l);
            out.push('\n');
        }
        // Clear what is left of a taller previous frame.
        for _ in lines.len()..st.drawn {
            out.push_str("\x1b[2K\n");
        }
        let extra = st.drawn.saturating_sub(lines.len());
        if extra > 0 {
            out.push_str(&format!("\x1b[{extra}A"));
        }
        st.drawn = lines.len();
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(out.as_bytes());
        let _ = e.flush();
    }

    fn terminal_width() -> usize {
        // SAFETY: TIOCGWINSZ fills a winsize struct we own.
        unsafe {
            let mut ws: libc::winsize = std::mem::zeroed();
            if libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 {
                return ws.ws_col as usize;
            }
        }
        80
    }

    fn truncate(s: &str, width: usize) -> String {
        s.chars().take(width.saturating_sub(1)).collect()
    }

    fn pad(left: &str, right: &str, width: usize) -> String {
        let room = width.saturating_sub(right.len() + 2);
        let l = truncate(left, room + 1);
        let n = room.saturating_sub(l.chars().count());
        format!("{l}{}{right}", " ".repeat(n + 1))
    }

    impl Reporter for Tty {
        fn event(&self, event: Event) {
            self.ensure_ticker();
            let Ok(mut st) = self.state.lock() else {
                return;
            };
            let now = Instant::now();
            match event {
                Event::Start { id, name } => {
                    st.steps.insert(
                        id,
                        Step {
                            name,
                            start: Some(now),
                            ..Step::default()
                        },
                    );
                }
                Event::Cached { id } => {
                    if let Some(s) = st.steps.get_mut(&id) {
                        s.cached = true;
                        s.end = Some(now);
                    }
                }
                Event::Done { id, .. } => {
                    if let Some(s) = st.steps.get_mut(&id) {
                        s.end = Some(now);
                    }
                }
                Event::Error { id, .. } => {
                    if let Some(s) = st.steps.get_mut(&id) {
                        s.end = Some(now);
                        s.error = true;
                    }
                }
                Event::Log { id, line, .. } => {
                    if let Some(s) = st.steps.get_mut(&id) {
                        s.logs.push(line);
                        if s.logs.len() > LOG_LINES * 4 {
                            s.logs.drain(..LOG_LINES * 3);
                        }
                    }
                }
                Event::CacheKey { .. } => {}
            }
        }
    }
}
