//! # strata — the binary
//!
//! One file per command under `cmd/`; this file parses the command line, sets up logging and
//! renders errors. Libraries never print: everything a user sees is written here or in `cmd/`
//! — data (IDs, `--format` output, JSON) on stdout, status and errors on stderr.

mod cli;
mod cmd;
mod ctx;
mod format;
mod image;
mod units;

use std::process::ExitCode;

use crate::cli::{Command, ImageCommand, SystemCommand};
pub use crate::ctx::Ctx;

/// An error that carries its own exit status (Docker uses 1 for most failures, 125 for
/// errors of the tool itself in `run`).
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}
impl std::error::Error for Exit {}

fn main() -> ExitCode {
    // Docker's container verbs answer usage errors with Docker's exit statuses.
    let cli = cmd::container::parse_cli();
    let filter = if cli.debug { "debug" } else { "warn" };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)),
        )
        .with_writer(std::io::stderr)
        .try_init();
    let ctx = Ctx::new(cli.root.clone(), cli.debug);
    match dispatch(&ctx, cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            if let Some(exit) = err.downcast_ref::<Exit>() {
                return ExitCode::from(exit.0);
            }
            eprintln!("Error: {}", render_error(&err));
            ExitCode::from(1)
        }
    }
}

/// `outer: inner: innermost`, as Go's wrapped errors read.
fn render_error(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        // Skip a cause whose text the previous message already ends with.
        if parts.last().is_some_and(|p| p.ends_with(&s)) {
            continue;
        }
        parts.push(s);
    }
    parts.join(": ")
}

fn dispatch(ctx: &Ctx, command: Command) -> anyhow::Result<()> {
    use cmd::*;
    match command {
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::run(ctx, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => tag::run(ctx, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::run(ctx, a),
        Command::Inspect(a) => inspect::run(ctx, a),
        // `image inspect` only looks at images.
        Command::Image(ImageCommand::Inspect(mut a)) => {
            a.kind.get_or_insert_with(|| "image".into());
            inspect::run(ctx, a)
        }
        Command::History(a) | Command::Image(ImageCommand::History(a)) => history::run(ctx, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => save::run(ctx, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load::run(ctx, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => import::run(ctx, a),
        Command::Image(ImageCommand::Prune(a)) => prune::run(ctx, a),
        Command::System(SystemCommand::Df(a)) => system::df(ctx, a),
        Command::System(SystemCommand::Check(a)) => system::check(ctx, a),
        Command::System(SystemCommand::Gc(a)) => system::gc(ctx, a),
        Command::System(SystemCommand::Prune(a)) => crate::cmd::system_prune::run(ctx, a),
        Command::Build(a) => build::run(ctx, *a),
        Command::Builder(cli::BuilderCommand::Prune(a)) => build::prune(ctx, a.force),
        Command::Lint(a) => lint::run(ctx, a),
        Command::Pull(a) => pull::run(ctx, a),
        Command::Push(a) => push::run(ctx, a),
        Command::Login(a) => login::run(ctx, a),
        Command::Logout(a) => logout::run(ctx, a),
        Command::Search(a) => search::run(ctx, a),
        Command::Serve(a) => serve::run(ctx, a),
        Command::Sbom(a) => sbom::run(ctx, a),
        Command::Scan(a) => scan::run(ctx, a),
        Command::Analyze(a) => analyze::run(ctx, a),
        Command::Run(a) => run::run(ctx, a),
        Command::Create(a) => run::create_cmd(ctx, a),
        Command::Ps(a) => ps::run(ctx, a),
        Command::Stop(a) => stop::stop(ctx, a),
        Command::Kill(a) => stop::kill(ctx, a),
        Command::Restart(a) => stop::restart(ctx, a),
        Command::Start(a) => start::run(ctx, a),
        Command::Rm(a) => rm::run(ctx, a),
        Command::Logs(a) => logs::run(ctx, a),
        Command::Wait(a) => wait::run(ctx, a),
        Command::Exec(a) => exec::run(ctx, a),
        Command::Volume(c) => volume::run(ctx, c),
        Command::ContainerMonitor(a) => container::monitor(ctx, a),
        Command::Diff(a) => diff::run(ctx, a),
        Command::Commit(a) => commit::run(ctx, a),
        Command::Cp(a) => cp::run(ctx, a),
    }
}
