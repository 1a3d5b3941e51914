//! `strata scan` — known vulnerabilities of an image's packages, offline.
//!
//! - `strata scan db import FILE…` loads OSV archives as published (`Debian.zip`,
//!   `PyPI.zip`, `npm.zip`, `crates.io.zip`, `Go.zip`, …) into the index under
//!   `$STRATA_ROOT/meta/osv/`; `strata scan db status` lists what was imported and when.
//! - `strata scan IMAGE` builds the image's SBOM (see `strata sbom`) and matches it against
//!   that index with each ecosystem's version ordering. Flags follow Trivy's: `--severity`
//!   keeps the listed severities, `--ignore-unfixed` drops advisories without a fix,
//!   `--exit-code N` makes the command exit with N when anything is reported (for CI).
//!
//! [`scan_stored`] scans an image by manifest digest or image ID with the same flags, for
//! commands that produce images (`build --scan`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};
use strata_insight::osv::{self, Database, Source};
use strata_insight::scan::{self, Finding, ScanOptions, Severity};
use strata_store::Store;

use crate::units::human_duration;
use crate::{Ctx, Exit};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ScanArgs {
    #[command(subcommand)]
    pub command: Option<ScanCommand>,
    /// The image to scan
    #[arg(value_name = "IMAGE", required = true)]
    pub image: Option<String>,
    #[command(flatten)]
    pub flags: ScanFlags,
}

#[derive(Debug, clap::Subcommand)]
pub enum ScanCommand {
    /// Manage the local vulnerability database
    #[command(subcommand)]
    Db(DbCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Import OSV zip archives (as published per ecosystem, e.g. Debian.zip, PyPI.zip)
    Import {
        #[arg(value_name = "FILE", required = true)]
        files: Vec<PathBuf>,
    },
    /// Show the imported sources, their record counts and age
    Status {
        /// Output format: 'table' or 'json'
        #[arg(long, default_value = "table")]
        format: String,
    },
}

/// How to scan and what to report; shared with commands that scan what they produce.
#[derive(Debug, Clone, clap::Args)]
pub struct ScanFlags {
    /// Only report these severities (comma-separated: UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL)
    #[arg(long, value_delimiter = ',', value_name = "SEVERITY")]
    pub severity: Vec<String>,
    /// Exit with this status when vulnerabilities are reported
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub exit_code: u8,
    /// Leave out vulnerabilities that have no fixed version yet
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Output format: 'table', 'json' or 'sarif'
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Write the report to FILE instead of STDOUT
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl Default for ScanFlags {
    fn default() -> Self {
        ScanFlags {
            severity: Vec::new(),
            exit_code: 0,
            ignore_unfixed: false,
            format: "table".into(),
            output: None,
        }
    }
}

impl ScanFlags {
    /// Check the flags (severities, format) without scanning anything.
    pub fn check(&self) -> anyhow::Result<()> {
        self.options().map(|_| ())
    }

    fn options(&self) -> anyhow::Result<ScanOptions> {
        let severities = self
            .severity
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                Severity::parse(s).ok_or_else(|| {
                    anyhow!(
                        "invalid severity {s:?} (expected UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL)"
                    )
                })
            })
            .collect::<anyhow::Result<_>>()?;
        if !matches!(self.format.trim(), "table" | "json" | "sarif") {
            bail!(
                "unknown format {:?} (expected table, json or sarif)",
                self.format
            );
        }
        Ok(ScanOptions {
            severities,
            ignore_unfixed: self.ignore_unfixed,
        })
    }
}

pub fn run(ctx: &Ctx, args: ScanArgs) -> anyhow::Result<()> {
    match args.command {
        Some(ScanCommand::Db(DbCommand::Import { files })) => db_import(ctx, &files),
        Some(ScanCommand::Db(DbCommand::Status { format })) => db_status(ctx, &format),
        None => {
            let image = args
                .image
                .ok_or_else(|| anyhow!("'strata scan' requires an image"))?;
            // Bad flags are reported before anything is read.
            args.flags.options()?;
            // Resolve the name with Docker's rules and errors, then scan what it names.
            let store = ctx.store()?;
            let images = store.images()?;
            let desc = crate::image::resolve(&store, &images, &image)?;
            let img = super::sbom::load(&store, &image, &desc)?;
            scan_and_report(&store, img, &args.flags)
        }
    }
}

/// Scan a stored image given by manifest digest or image ID (config digest) — what a
/// command that just produced the image holds — and report it as `strata scan` does,
/// including `--exit-code` (returned as an [`Exit`] error). `name` is shown in the report.
pub fn scan_stored(
    ctx: &Ctx,
    name: &str,
    digest: &strata_oci::Digest,
    flags: &ScanFlags,
) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let images = store.images()?;
    let desc = crate::image::resolve(&store, &images, &digest.to_string())
        .with_context(|| format!("finding the image {digest} to scan"))?;
    let img = super::sbom::load(&store, name, &desc)?;
    scan_and_report(&store, img, flags)
}

fn scan_and_report(
    store: &Store,
    img: strata_insight::Image,
    flags: &ScanFlags,
) -> anyhow::Result<()> {
    let options = flags.options()?;
    let db = open_db(store)?;
    let bom = super::sbom::catalog(store, &img, true)?;
    let findings = scan::scan(&bom, &db, &options)?;
    warn_if_old(db.sources());

    let mut buf = Vec::new();
    match flags.format.trim() {
        "json" => {
            let doc = json!({
                "image": bom.image,
                "manifest_digest": bom.manifest_digest,
                "config_digest": bom.config_digest,
                "distro": bom.distro,
                "packages": bom.packages.len(),
                "sources": db.sources().iter().map(|s| json!({
                    "name": s.name, "records": s.records, "imported": s.imported,
                })).collect::<Vec<_>>(),
                "summary": summary_value(&findings),
                "vulnerabilities": findings,
            });
            serde_json::to_writer_pretty(&mut buf, &doc)?;
            buf.push(b'\n');
        }
        "sarif" => {
            let doc = scan::sarif(&bom.image, &findings, env!("CARGO_PKG_VERSION"));
            serde_json::to_writer_pretty(&mut buf, &doc)?;
            buf.push(b'\n');
        }
        _ => table(&mut buf, &bom.image, bom.packages.len(), &findings)?,
    }
    match &flags.output {
        Some(path) => {
            std::fs::write(path, &buf).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().lock().write_all(&buf)?,
    }
    if !findings.is_empty() && flags.exit_code != 0 {
        return Err(Exit(flags.exit_code).into());
    }
    Ok(())
}

fn open_db(store: &Store) -> anyhow::Result<Database> {
    let db = Database::open(store.root()).context("opening the vulnerability database")?;
    if db.is_empty() {
        bail!(
            "no vulnerability data in {}: import OSV archives first with 'strata scan db import FILE…' (e.g. Debian.zip, PyPI.zip from the OSV data dumps)",
            osv::db_dir(store.root()).display()
        );
    }
    Ok(db)
}

/// Offline data goes stale quietly: say so on stderr when the newest import is over a week old.
fn warn_if_old(sources: &[Source]) {
    let newest = sources
        .iter()
        .filter_map(|s| s.imported.parse::<jiff::Timestamp>().ok())
        .max();
    if let Some(t) = newest {
        let age = jiff::Timestamp::now().duration_since(t);
        if age.as_secs() > 7 * 24 * 3600 {
            eprintln!(
                "warning: the vulnerability data was imported {} ago; import fresh OSV archives with 'strata scan db import'",
                human_duration(std::time::Duration::from_secs(age.as_secs().max(0) as u64))
            );
        }
    }
}

fn counts(findings: &[Finding]) -> [(Severity, usize); 5] {
    let n = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    [
        Severity::Unknown,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .map(|s| (s, n(s)))
}

fn summary_value(findings: &[Finding]) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("total".into(), json!(findings.len()));
    for (s, n) in counts(findings) {
        m.insert(s.as_str().to_string(), json!(n));
    }
    Value::Object(m)
}

fn table(
    out: &mut Vec<u8>,
    image: &str,
    packages: usize,
    findings: &[Finding],
) -> anyhow::Result<()> {
    let parts: Vec<String> = counts(findings)
        .iter()
        .map(|(s, n)| format!("{}: {n}", s.as_str()))
        .collect();
    writeln!(
        out,
        "{image} ({packages} packages)\nTotal: {} ({})\n",
        findings.len(),
        parts.join(", ")
    )?;
    if findings.is_empty() {
        return Ok(());
    }
    let rows: Vec<Value> = findings
        .iter()
        .map(|f| {
            let cves = f.cves();
            json!({
                "Package": f.package,
                "ID": f.id,
                "CVE": if cves.is_empty() || cves == [f.id.as_str()] { "-".to_string() } else { cves.join(",") },
                "Severity": match f.score {
                    Some(s) => format!("{} ({s:.1})", f.severity.as_str()),
                    None => f.severity.as_str().to_string(),
                },
                "Installed": f.installed,
                "Fixed": f.fixed.as_deref().unwrap_or("-"),
                "Layer": f.layer,
            })
        })
        .collect();
    let headers = json!({
        "Package": "PACKAGE", "ID": "VULNERABILITY", "CVE": "CVE", "Severity": "SEVERITY",
        "Installed": "INSTALLED", "Fixed": "FIXED", "Layer": "LAYER",
    });
    crate::format::write_rows(
        out,
        None,
        "table {{.Package}}\t{{.ID}}\t{{.CVE}}\t{{.Severity}}\t{{.Installed}}\t{{.Fixed}}\t{{.Layer}}",
        &headers,
        &rows,
    )
}

fn db_import(ctx: &Ctx, files: &[PathBuf]) -> anyhow::Result<()> {
    let root = ctx.root()?;
    // Opening the store creates the layout on first use, so the index has a home.
    ctx.store()?;
    let started = std::time::Instant::now();
    let sources = osv::import(&root, files, jiff::Timestamp::now())?;
    for s in &sources {
        eprintln!(
            "imported {}: {} records, {} packages ({})",
            s.archive,
            s.records,
            s.packages,
            s.ecosystems.join(", ")
        );
    }
    eprintln!("done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn db_status(ctx: &Ctx, format: &str) -> anyhow::Result<()> {
    let root = ctx.root()?;
    // Only the source list: the indexes themselves can be hundreds of megabytes.
    let sources = osv::sources(&root).context("reading the vulnerability database")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format.trim() {
        "json" => {
            serde_json::to_writer_pretty(&mut out, &sources)?;
            out.write_all(b"\n")?;
        }
        "table" => {
            if sources.is_empty() {
                eprintln!("no vulnerability data imported yet: use 'strata scan db import FILE…'");
            }
            let now = jiff::Timestamp::now();
            let rows: Vec<Value> = sources
                .iter()
                .map(|s| {
                    let age = s
                        .imported
                        .parse::<jiff::Timestamp>()
                        .map(|t| {
                            let secs = now.duration_since(t).as_secs().max(0) as u64;
                            format!("{} ago", human_duration(std::time::Duration::from_secs(secs)))
                        })
                        .unwrap_or_else(|_| "unknown".into());
                    json!({
                        "Source": s.name,
                        "Ecosystems": s.ecosystems.join(","),
                        "Records": s.records,
                        "Packages": s.packages,
                        "Imported": age,
                        "Modified": if s.newest_modified.is_empty() { "-" } else { s.newest_modified.as_str() },
                    })
                })
                .collect();
            let headers = json!({
                "Source": "SOURCE", "Ecosystems": "ECOSYSTEMS", "Records": "RECORDS",
                "Packages": "PACKAGES", "Imported": "IMPORTED", "Modified": "NEWEST RECORD",
            });
            crate::format::write_rows(
                &mut out,
                None,
                "table {{.Source}}\t{{.Ecosystems}}\t{{.Records}}\t{{.Packages}}\t{{.Imported}}\t{{.Modified}}",
                &headers,
                &rows,
            )?;
        }
        other => bail!("unknown format {other:?} (expected table or json)"),
    }
    Ok(())
}
