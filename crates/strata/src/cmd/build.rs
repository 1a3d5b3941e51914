//! `strata build` — build an image from a Dockerfile, daemonless (see `strata-build`).
//!
//! Progress goes to stderr in BuildKit's plain format (`#N [stage i/n] INSTRUCTION`,
//! output lines with their time offset, `CACHED`, `DONE 0.3s`); the image ID goes to stdout
//! with `-q`, and to `--iidfile`.

use std::io::{Read, Write};
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
    let dockerfile = match &dockerfile_path {
        None => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .context("failed to read the Dockerfile from stdin")?;
            s
        }
        Some(p) => std::fs::read_to_string(p)
            .with_context(|| format!("failed to read dockerfile: open {}", p.display()))?,
    };
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
    let opts = BuildOptions {
        context: args.context.clone(),
        dockerfile_path,
        dockerfile,
        target: args.target.clone(),
        build_args: BuildArgValues::parse(&args.build_args)?,
        no_cache: args.no_cache,
        tags: args.tags.clone(),
        network,
        compression: CompressOptions::new(compression),
        source_date_epoch,
        debug_cache_keys: args.debug_cache_keys,
    };
    let store = ctx.store()?;
    let quiet = args.quiet || args.progress == "quiet";
    let plain = Plain {
        start: Instant::now(),
        out: Mutex::new(std::io::stderr()),
        starts: Mutex::new(Default::default()),
    };
    let reporter: &dyn Reporter = if quiet { &NoProgress } else { &plain };
    let started = Instant::now();
    let out = strata_build::build(&store, &opts, reporter)?;
    if let Some(p) = &args.iidfile {
        std::fs::write(p, out.image_id.as_str())
            .with_context(|| format!("failed to write {}", p.display()))?;
    }
    if quiet {
        println!("{}", out.image_id);
    } else {
        let mut e = std::io::stderr();
        let _ = writeln!(
            e,
            "#0 writing image {} done\n#0 naming to {} done\n#0 DONE {:.1}s",
            out.image_id,
            if out.tags.is_empty() {
                "<none>".to_string()
            } else {
                out.tags.join(", ")
            },
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
