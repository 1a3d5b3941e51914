//! Command-line definitions. Verbs and flags follow the Docker CLI wherever Docker has the same
//! command, so scripts and habits carry over; where Strata goes further it adds flags and never
//! changes a meaning.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "A fast, daemonless, Docker-compatible container image toolkit",
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Root of the local store [env: STRATA_ROOT] (default /var/lib/strata as root, else
    /// $XDG_DATA_HOME/strata)
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Log more about what happens (to stderr)
    #[arg(short = 'D', long, global = true)]
    pub debug: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List images
    #[command(alias = "ls")]
    Images(ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Return low-level information on images
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball or directory to create a filesystem image
    Import(ImportArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Build an image from a Dockerfile
    Build(Box<crate::cmd::build::BuildArgs>),
    /// Manage builds
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Check a Dockerfile for errors and best-practice problems
    Lint(crate::cmd::lint::LintArgs),
    /// Download an image from a registry
    Pull(crate::cmd::pull::PullArgs),
    /// Upload an image to a registry
    Push(crate::cmd::push::PushArgs),
    /// Log in to a registry
    Login(crate::cmd::login::LoginArgs),
    /// Log out from a registry
    Logout(crate::cmd::logout::LogoutArgs),
    /// Search a registry for images
    Search(crate::cmd::search::SearchArgs),
    /// Serve an OCI registry
    Serve(crate::cmd::serve::ServeArgs),
    /// List the packages in an image (SBOM)
    Sbom(crate::cmd::sbom::SbomArgs),
    /// Scan an image for known vulnerabilities, offline
    Scan(crate::cmd::scan::ScanArgs),
    /// Analyse an image's layers for wasted space
    Analyze(crate::cmd::analyze::AnalyzeArgs),
    /// Manage Strata's store
    #[command(subcommand)]
    System(SystemCommand),
    /// Create and run a new container from an image
    Run(crate::cmd::run::RunArgs),
    /// Create a new container
    Create(crate::cmd::run::RunArgs),
    /// List containers
    Ps(crate::cmd::ps::PsArgs),
    /// Stop one or more running containers
    Stop(crate::cmd::stop::StopArgs),
    /// Kill one or more running containers
    Kill(crate::cmd::stop::KillArgs),
    /// Restart one or more containers
    Restart(crate::cmd::stop::StopArgs),
    /// Start one or more stopped containers
    Start(crate::cmd::start::StartArgs),
    /// Remove one or more containers
    Rm(crate::cmd::rm::RmArgs),
    /// Fetch the logs of a container
    Logs(crate::cmd::logs::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(crate::cmd::wait::WaitArgs),
    /// Execute a command in a running container
    Exec(crate::cmd::exec::ExecArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(crate::cmd::volume::VolumeCommand),
    /// The per-container monitor (started by run and start)
    #[command(name = "container-monitor", hide = true)]
    ContainerMonitor(crate::cmd::container::MonitorArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(crate::cmd::diff::DiffArgs),
    /// Create a new image from a container's changes
    Commit(crate::cmd::commit::CommitArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(crate::cmd::cp::CpArgs),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmiArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Save one or more images to a tar archive
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Import the contents from a tarball or directory to create a filesystem image
    Import(ImportArgs),
    /// Remove unused images
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Remove build cache
    Prune(BuilderPruneArgs),
}

#[derive(Debug, Args)]
pub struct BuilderPruneArgs {
    /// Remove all build cache (every entry is unused: there is no daemon holding any)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show disk usage
    Df(DfArgs),
    /// Verify every blob digest and every reference in the store and report problems
    Check(CheckArgs),
    /// Remove unreferenced blobs and stale partial writes (mark and sweep)
    Gc(GcArgs),
    /// Remove stopped containers, dangling images and the build cache
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=true|false, reference=PATTERN,
    /// before=IMAGE, since=IMAGE, label=KEY[=VALUE])
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format output using a custom template: 'table', 'table TEMPLATE', 'json', or a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show how images share layers: a tree of layers, each with its size and the images on it
    #[arg(long, conflicts_with_all = ["quiet", "format", "digests"])]
    pub tree: bool,
    /// Only list images matching REPOSITORY[:TAG]
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image to tag
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// The new name; with --bump, a repository whose highest semantic-version tag is bumped
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: Option<String>,
    /// Tag with the next semantic version after the highest one in the target repository
    /// (or the source's repository when no target is given)
    #[arg(long, value_name = "major|minor|patch")]
    pub bump: Option<String>,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image (all its tags)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    pub no_prune: bool,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template ('json' or a Go template)
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    /// Only inspect objects of the given type (image)
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    #[arg(value_name = "NAME|ID", required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub human: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Archive format: docker (docker-archive, as `docker save`) or oci (an OCI image layout)
    #[arg(long, default_value = "docker", value_parser = ["docker", "docker-archive", "oci", "oci-archive"])]
    pub format: String,
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
    /// ONBUILD, USER, VOLUME, WORKDIR, STOPSIGNAL)
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set platform (os/arch[/variant]) of the image (default: this machine's)
    #[arg(long)]
    pub platform: Option<String>,
    /// A rootfs tarball (plain, gzip or zstd), a directory, or - for STDIN
    #[arg(value_name = "file|dir|-")]
    pub source: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. until=24h, label=KEY)
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Print the problems as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only report what would be removed
    #[arg(long)]
    pub dry_run: bool,
}
