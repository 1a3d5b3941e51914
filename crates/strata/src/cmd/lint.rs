//! `strata lint` (and `strata build --check`): check a Dockerfile against Docker's build
//! checks and Strata's best-practice rules.
//!
//! The rules live in `strata_dockerfile::lint` and do no I/O; this file gathers what they
//! need — the Dockerfile (a file or standard input), the build arguments, the ignore file in
//! effect (`<Dockerfile>.dockerignore` beside the Dockerfile wins over `CONTEXT/.dockerignore`,
//! as in BuildKit), and a few facts about the context directory — and prints the report:
//! text (diagnostics with `file:line:col`, like `docker build --check`), JSON or SARIF on
//! stdout, errors on stderr. The exit status is 1 when the check failed (a parse error, or an
//! error-level finding from `# check=error=true`), or with `--strict` when anything was found.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use strata_dockerfile::lint::{self, ContextFacts, LargeFile, LintInput, Report};

use crate::{Ctx, Exit};

/// Files at least this large count as "large" for the MissingDockerignore rule.
const LARGE_FILE_BYTES: u64 = 50 * 1024 * 1024;

/// Stop looking for large files after this many directory entries (a huge context is itself
/// the problem the rule reports, and linting must stay quick).
const MAX_WALK_ENTRIES: usize = 100_000;

/// The output shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Diagnostics with the source line and a caret
    Text,
    /// {"warnings":[{"rule","description","detail","url","level","file","line","column"}]}
    Json,
    /// SARIF 2.1.0, for code-scanning tools
    Sarif,
}

impl OutputFormat {
    fn parse(s: &str) -> anyhow::Result<OutputFormat> {
        match s {
            "text" => Ok(OutputFormat::Text),
            "json" => Ok(OutputFormat::Json),
            "sarif" => Ok(OutputFormat::Sarif),
            other => bail!("invalid check format {other:?}: expected text, json or sarif"),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct LintArgs {
    /// Name of the Dockerfile (default: CONTEXT/Dockerfile; "-" reads standard input)
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Set a build-time variable (KEY=VALUE, or KEY to take the value from the environment)
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Exit with status 1 when anything is found, not only on errors
    #[arg(long)]
    pub strict: bool,
    /// The build context directory
    #[arg(value_name = "CONTEXT", default_value = ".")]
    pub context: PathBuf,
}

pub fn run(ctx: &Ctx, args: LintArgs) -> anyhow::Result<()> {
    check(
        ctx,
        args.file,
        args.context,
        &args.build_args,
        args.format,
        args.strict,
    )
}

/// `strata build --check`: lint without building. `format` is `text` (default), `json` or
/// `sarif`.
pub fn check_for_build(
    ctx: &Ctx,
    dockerfile: Option<PathBuf>,
    context: PathBuf,
    build_args: Vec<String>,
    format: Option<String>,
) -> anyhow::Result<()> {
    let format = match format.as_deref() {
        None => OutputFormat::Text,
        Some(f) => OutputFormat::parse(f)?,
    };
    check(ctx, dockerfile, context, &build_args, format, false)
}

fn check(
    _ctx: &Ctx,
    dockerfile: Option<PathBuf>,
    context: PathBuf,
    build_args: &[String],
    format: OutputFormat,
    strict: bool,
) -> anyhow::Result<()> {
    if !context.is_dir() {
        bail!(
            "unable to prepare context: path {:?} not found",
            context.display().to_string()
        );
    }
    let (source, name, ignore_beside) = read_dockerfile(dockerfile.as_deref(), &context)?;
    let mut input = LintInput::new(&source, name);
    input.build_args = parse_build_args(build_args);
    input.context = Some(context_facts(&context, ignore_beside.as_deref())?);
    let report = lint::lint(&input);
    print_report(&report, &source, format)?;
    if report.failed() || (strict && !report.findings.is_empty()) {
        return Err(Exit(1).into());
    }
    Ok(())
}

/// The Dockerfile text, the name to show, and where its own ignore file would be.
fn read_dockerfile(
    dockerfile: Option<&Path>,
    context: &Path,
) -> anyhow::Result<(String, String, Option<PathBuf>)> {
    if dockerfile == Some(Path::new("-")) {
        let mut source = String::new();
        std::io::stdin()
            .read_to_string(&mut source)
            .context("failed to read the Dockerfile from standard input")?;
        return Ok((source, "Dockerfile".to_string(), None));
    }
    let path = match dockerfile {
        Some(p) => p.to_path_buf(),
        None => context.join("Dockerfile"),
    };
    let bytes = std::fs::read(&path)
        .with_context(|| format!("failed to read dockerfile {}", path.display()))?;
    let source = String::from_utf8_lossy(&bytes).into_owned();
    let name = path
        .strip_prefix(".")
        .unwrap_or(&path)
        .display()
        .to_string();
    let mut beside = path.clone().into_os_string();
    beside.push(".dockerignore");
    Ok((source, name, Some(PathBuf::from(beside))))
}

/// `KEY=VALUE` pairs; a bare `KEY` takes its value from the environment, as in Docker, and is
/// dropped when the variable is unset.
fn parse_build_args(args: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for a in args {
        match a.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    out.insert(a.clone(), v);
                }
            }
        }
    }
    out
}

/// The ignore patterns in effect and what the context holds.
fn context_facts(context: &Path, ignore_beside: Option<&Path>) -> anyhow::Result<ContextFacts> {
    let candidates = ignore_beside
        .into_iter()
        .map(Path::to_path_buf)
        .chain(std::iter::once(context.join(".dockerignore")));
    let mut dockerignore = None;
    for path in candidates {
        match std::fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                dockerignore = Some(strata_patterns::parse_ignore_file(&text));
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("failed to read {}", path.display()));
            }
        }
    }
    let has_git = context.join(".git").exists();
    let has_node_modules = context.join("node_modules").is_dir();
    // Large files only matter when there is no ignore file: skip the walk otherwise.
    let large_files = if dockerignore.is_none() {
        find_large_files(context)
    } else {
        Vec::new()
    };
    Ok(ContextFacts {
        dockerignore,
        has_git,
        has_node_modules,
        large_files,
    })
}

/// Files of at least [`LARGE_FILE_BYTES`] below `root` (not following symlinks, skipping
/// `.git` and `node_modules`, which are reported on their own), largest first.
fn find_large_files(root: &Path) -> Vec<LargeFile> {
    let mut found = Vec::new();
    let mut stack = vec![PathBuf::new()];
    let mut seen = 0usize;
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > MAX_WALK_ENTRIES {
                break;
            }
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            let child = rel.join(entry.file_name());
            if meta.is_dir() {
                let name = entry.file_name();
                if name != ".git" && name != "node_modules" {
                    stack.push(child);
                }
            } else if meta.is_file() && meta.len() >= LARGE_FILE_BYTES {
                found.push(LargeFile {
                    path: child.to_string_lossy().replace('\\', "/"),
                    size: meta.len(),
                });
            }
        }
    }
    found.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    found
}

fn print_report(report: &Report, source: &str, format: OutputFormat) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match format {
        OutputFormat::Text => {
            // A check stopped by an error has nothing to summarise unless it found something.
            if report.error.is_none() || !report.findings.is_empty() {
                let styled = std::io::stdout().is_terminal();
                stdout.write_all(lint::render_text(report, source, styled).as_bytes())?;
            }
        }
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut stdout, &lint::to_json(report))?;
            stdout.write_all(b"\n")?;
        }
        OutputFormat::Sarif => {
            serde_json::to_writer_pretty(&mut stdout, &lint::to_sarif(report))?;
            stdout.write_all(b"\n")?;
        }
    }
    stdout.flush()?;
    if let Some(err) = &report.error {
        let d = err.diagnostic(&report.file);
        let text = if std::io::stderr().is_terminal() {
            d.render_styled(source)
        } else {
            d.render(source)
        };
        eprintln!("{text}");
    }
    Ok(())
}
