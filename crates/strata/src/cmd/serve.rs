//! `strata serve` — run the OCI Distribution registry of `strata-server`, and
//! `strata serve gc` — collect its garbage.
//!
//! The command line maps onto [`strata_server::Config`]: a `--config` file (YAML or
//! TOML) is read first, then every flag given replaces the file's value. Without either,
//! the registry lives on the local filesystem under the store root
//! (`$STRATA_ROOT/registry`). The server prints one line on stderr once it listens —
//! `strata serve: listening on http://127.0.0.1:5000` — with the address actually bound,
//! so `--addr 127.0.0.1:0` is usable by scripts and tests. SIGINT and SIGTERM stop
//! accepting connections and let in-flight requests (uploads) finish within the
//! configured grace period.
//!
//! Request logs go through `tracing`: `STRATA_LOG=strata_server=info` shows one line per
//! request.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use strata_server::{Config, S3Config, StorageConfig, TlsConfig, TokenConfig};

use crate::Ctx;

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    pub command: Option<ServeCommand>,

    // Boxed: the flags are large next to the other commands' arguments.
    #[command(flatten)]
    pub server: Box<ServerFlags>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ServeCommand {
    /// Delete blobs no manifest references (safe while the registry serves)
    Gc(GcArgs),
}

/// Where the registry's data lives; shared by `serve` and `serve gc`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct StorageFlags {
    /// Configuration file (YAML for .yaml/.yml, TOML otherwise); flags override it
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Storage: fs:DIR, s3://BUCKET[/PREFIX] or memory [default: fs:$STRATA_ROOT/registry]
    #[arg(long, value_name = "URL")]
    pub storage: Option<String>,

    /// S3 endpoint, e.g. http://127.0.0.1:3900 for a local Garage or MinIO
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,

    /// S3 region
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ServerFlags {
    /// Address to listen on (port 0 picks a free port)
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,

    #[command(flatten)]
    pub storage: StorageFlags,

    /// htpasswd file with bcrypt entries: enables authentication
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,

    /// Access-control file: who may pull, push and delete where
    #[arg(long, value_name = "FILE")]
    pub acl: Option<PathBuf>,

    /// Issue bearer tokens at /token instead of accepting Basic credentials on /v2/
    #[arg(long)]
    pub token: bool,

    /// Public URL of the token endpoint (implies --token) [default: <scheme>://<host>/token]
    #[arg(long, value_name = "URL")]
    pub token_realm: Option<String>,

    /// File holding the token signing secret; replicas behind one load balancer must
    /// share it (implies --token)
    #[arg(long, value_name = "FILE")]
    pub token_secret_file: Option<PathBuf>,

    /// TLS certificate chain (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// TLS private key (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Refuse every write (pushes, deletes, uploads)
    #[arg(long)]
    pub read_only: bool,
}

#[derive(Debug, clap::Args)]
pub struct GcArgs {
    /// Report what would be deleted without deleting anything
    #[arg(long)]
    pub dry_run: bool,

    /// Keep unreferenced blobs younger than this (e.g. 3600, 90s, 30m, 1h) [default: the
    /// configuration's, 1h]
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_secs)]
    pub grace_period: Option<u64>,

    #[command(flatten)]
    pub storage: StorageFlags,
}

pub fn run(ctx: &Ctx, args: ServeArgs) -> anyhow::Result<()> {
    match args.command {
        Some(ServeCommand::Gc(gc)) => run_gc(ctx, gc),
        None => run_server(ctx, *args.server),
    }
}

/// Seconds from `90`, `90s`, `30m`, `1h` or `2d`.
fn parse_duration_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: expected e.g. 90, 90s, 30m, 1h"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("invalid duration {s:?}: unknown unit {unit:?}")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("invalid duration {s:?}: too large"))
}

/// `fs:DIR`, `s3://BUCKET[/PREFIX]` or `memory`.
fn parse_storage(spec: &str) -> anyhow::Result<StorageConfig> {
    if let Some(dir) = spec.strip_prefix("fs:") {
        if dir.is_empty() {
            bail!("invalid --storage {spec:?}: fs: needs a directory");
        }
        return Ok(StorageConfig::Fs {
            root: PathBuf::from(dir),
        });
    }
    if let Some(rest) = spec.strip_prefix("s3://") {
        let (bucket, prefix) = match rest.split_once('/') {
            Some((b, p)) => (b, p.trim_matches('/')),
            None => (rest, ""),
        };
        if bucket.is_empty() {
            bail!("invalid --storage {spec:?}: s3:// needs a bucket name");
        }
        return Ok(StorageConfig::S3(S3Config {
            bucket: bucket.to_string(),
            prefix: (!prefix.is_empty()).then(|| prefix.to_string()),
            ..S3Config::default()
        }));
    }
    if spec == "memory" {
        return Ok(StorageConfig::Memory);
    }
    bail!("invalid --storage {spec:?}: expected fs:DIR, s3://BUCKET[/PREFIX] or memory")
}

/// The configuration the storage flags (and the file they name) describe.
fn base_config(ctx: &Ctx, flags: &StorageFlags) -> anyhow::Result<Config> {
    let default_storage = || -> anyhow::Result<StorageConfig> {
        Ok(StorageConfig::Fs {
            root: ctx.root()?.join("registry"),
        })
    };
    let mut config = match &flags.config {
        Some(path) => {
            // The default storage needs the store root, which may be unavailable; only
            // compute it when the file leaves the storage out and no flag replaces it.
            let mut missing_root = None;
            let config = Config::from_file_or(path, || match default_storage() {
                Ok(s) => s,
                Err(e) => {
                    missing_root = Some(e);
                    StorageConfig::Memory
                }
            })
            .with_context(|| format!("cannot read the configuration {}", path.display()))?;
            if let Some(e) = missing_root
                && flags.storage.is_none()
            {
                return Err(e);
            }
            config
        }
        None if flags.storage.is_some() => Config::new(StorageConfig::Memory),
        None => Config::new(default_storage()?),
    };
    if let Some(spec) = &flags.storage {
        config.storage = parse_storage(spec)?;
    }
    if flags.s3_endpoint.is_some() || flags.s3_region.is_some() {
        let StorageConfig::S3(s3) = &mut config.storage else {
            bail!("--s3-endpoint and --s3-region need S3 storage (--storage s3://BUCKET)");
        };
        if let Some(e) = &flags.s3_endpoint {
            s3.endpoint = Some(e.clone());
        }
        if let Some(r) = &flags.s3_region {
            s3.region = Some(r.clone());
        }
    }
    Ok(config)
}

fn parse_addr(s: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(a) = s.parse() {
        return Ok(a);
    }
    // `:5000` listens on every interface, as Go servers spell it.
    if let Some(port) = s.strip_prefix(':')
        && let Ok(p) = port.parse::<u16>()
    {
        return Ok(SocketAddr::from(([0, 0, 0, 0], p)));
    }
    s.to_socket_addrs()
        .with_context(|| format!("invalid --addr {s:?}"))?
        .next()
        .with_context(|| format!("invalid --addr {s:?}: no address"))
}

/// The full server configuration: file, then flags.
fn server_config(ctx: &Ctx, flags: &ServerFlags) -> anyhow::Result<Config> {
    let mut config = base_config(ctx, &flags.storage)?;
    if let Some(a) = &flags.addr {
        config.addr = parse_addr(a)?;
    }
    if let Some(h) = &flags.htpasswd {
        config.auth.htpasswd = Some(h.clone());
    }
    if let Some(a) = &flags.acl {
        config.auth.acl = Some(a.clone());
    }
    if flags.token || flags.token_realm.is_some() || flags.token_secret_file.is_some() {
        let token = config.auth.token.get_or_insert_with(TokenConfig::default);
        if let Some(r) = &flags.token_realm {
            token.realm = Some(r.clone());
        }
        if let Some(f) = &flags.token_secret_file {
            token.secret_file = Some(f.clone());
        }
    }
    if let (Some(cert), Some(key)) = (&flags.tls_cert, &flags.tls_key) {
        config.tls = Some(TlsConfig {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    if flags.read_only {
        config.read_only = true;
    }
    Ok(config)
}

fn describe_storage(s: &StorageConfig) -> String {
    match s {
        StorageConfig::Fs { root } => format!("fs:{}", root.display()),
        StorageConfig::S3(s3) => match &s3.prefix {
            Some(p) => format!("s3://{}/{p}", s3.bucket),
            None => format!("s3://{}", s3.bucket),
        },
        StorageConfig::Memory => "memory".to_string(),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A future that resolves on the first SIGINT or SIGTERM. The handlers are installed
/// here, before the listening line is printed, so a supervisor that signals as soon as
/// it reads the line is never met by the default disposition.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

fn run_server(ctx: &Ctx, flags: ServerFlags) -> anyhow::Result<()> {
    let config = server_config(ctx, &flags)?;
    let tls = config.tls.is_some();
    let mut notes = vec![describe_storage(&config.storage)];
    if config.auth.token.is_some() {
        notes.push("token auth".into());
    } else if config.auth.htpasswd.is_some() {
        notes.push("basic auth".into());
    }
    if config.read_only {
        notes.push("read-only".into());
    }
    let rt = runtime()?;
    rt.block_on(async move {
        let shutdown = shutdown_signal()?;
        let server = strata_server::Server::bind(config)
            .await
            .context("cannot start the registry")?;
        let scheme = if tls { "https" } else { "http" };
        eprintln!(
            "strata serve: listening on {scheme}://{} ({})",
            server.local_addr(),
            notes.join(", ")
        );
        server
            .run(shutdown)
            .await
            .context("the registry stopped with an error")
    })?;
    // Let the next line of a supervising script's log say why the process ended.
    eprintln!("strata serve: stopped");
    Ok(())
}

fn run_gc(ctx: &Ctx, args: GcArgs) -> anyhow::Result<()> {
    let mut config = base_config(ctx, &args.storage)?;
    if let Some(g) = args.grace_period {
        config.gc.grace_period_secs = g;
    }
    let report = runtime()?
        .block_on(strata_server::gc(&config, args.dry_run))
        .with_context(|| {
            format!(
                "garbage collection of {} failed",
                describe_storage(&config.storage)
            )
        })?;
    // Data on stdout (the digests), the account on stderr.
    let mut out = String::new();
    for d in &report.blobs_deleted {
        out.push_str(d.as_str());
        out.push('\n');
    }
    print!("{out}");
    let verb = if report.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    eprintln!(
        "{} repositories, {} manifests, {} blobs in use; {verb} {} blobs ({}), {} links; kept {} unreferenced blobs younger than {}s{}",
        report.repositories,
        report.manifests,
        report.blobs_marked,
        report.blobs_deleted.len(),
        crate::units::human_size(report.bytes_freed),
        report.links_removed,
        report.blobs_kept_young,
        config.gc.grace_period_secs,
        if report.dry_run {
            String::new()
        } else {
            format!(
                "; {} expired upload sessions removed",
                report.uploads_expired
            )
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_specs() {
        assert!(matches!(
            parse_storage("fs:/srv/reg").unwrap(),
            StorageConfig::Fs { root } if root == std::path::Path::new("/srv/reg")
        ));
        let StorageConfig::S3(s3) = parse_storage("s3://bucket/team/reg/").unwrap() else {
            panic!("not s3");
        };
        assert_eq!(s3.bucket, "bucket");
        assert_eq!(s3.prefix.as_deref(), Some("team/reg"));
        let StorageConfig::S3(s3) = parse_storage("s3://bucket").unwrap() else {
            panic!("not s3");
        };
        assert_eq!(s3.prefix, None);
        assert!(matches!(
            parse_storage("memory").unwrap(),
            StorageConfig::Memory
        ));
        for bad in ["fs:", "s3://", "/srv/reg", "gs://b"] {
            assert!(parse_storage(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_and_addresses() {
        assert_eq!(parse_duration_secs("90").unwrap(), 90);
        assert_eq!(parse_duration_secs("90s").unwrap(), 90);
        assert_eq!(parse_duration_secs("30m").unwrap(), 1800);
        assert_eq!(parse_duration_secs("1h").unwrap(), 3600);
        assert_eq!(parse_duration_secs("2d").unwrap(), 172_800);
        assert!(parse_duration_secs("1w").is_err());
        assert!(parse_duration_secs("h").is_err());
        assert_eq!(parse_addr(":5000").unwrap().to_string(), "0.0.0.0:5000");
        assert_eq!(
            parse_addr("127.0.0.1:0").unwrap().to_string(),
            "127.0.0.1:0"
        );
        assert_eq!(parse_addr("localhost:5001").unwrap().port(), 5001);
        assert!(parse_addr("nonsense").is_err());
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("serve.toml");
        std::fs::write(
            &file,
            "addr = \"127.0.0.1:6000\"\n[storage]\ntype = \"s3\"\nbucket = \"b\"\n[limits]\nmax_page = 3\n",
        )
        .unwrap();
        let ctx = Ctx::new(Some(dir.path().join("root")), false);
        let flags = ServerFlags {
            addr: Some("127.0.0.1:0".into()),
            storage: StorageFlags {
                config: Some(file.clone()),
                s3_endpoint: Some("http://127.0.0.1:3900".into()),
                ..StorageFlags::default()
            },
            htpasswd: None,
            acl: None,
            token: false,
            token_realm: Some("https://reg.example/token".into()),
            token_secret_file: None,
            tls_cert: None,
            tls_key: None,
            read_only: true,
        };
        let c = server_config(&ctx, &flags).unwrap();
        assert_eq!(c.addr.port(), 0);
        assert!(c.read_only);
        assert_eq!(c.limits.max_page, 3);
        let StorageConfig::S3(s3) = &c.storage else {
            panic!("not s3")
        };
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(
            c.auth.token.as_ref().unwrap().realm.as_deref(),
            Some("https://reg.example/token")
        );

        // No file, no flag: the registry lives under the store root.
        let c = base_config(&ctx, &StorageFlags::default()).unwrap();
        assert!(
            matches!(c.storage, StorageConfig::Fs { ref root } if *root == dir.path().join("root/registry"))
        );
        // --s3-endpoint without S3 storage is a mistake worth naming.
        let err = base_config(
            &ctx,
            &StorageFlags {
                s3_endpoint: Some("http://x".into()),
                ..StorageFlags::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("--s3-endpoint"), "{err}");
    }
}
