//! `strata login` — Docker's `docker login [-u USER] [-p PASS | --password-stdin] [SERVER]`.
//! The credentials are verified against the registry first (Basic: `GET /v2/`; token auth: a
//! token request, keeping the refresh token a token server may issue), then stored in
//! `~/.docker/config.json` — in the configured credential helper when there is one — exactly
//! as `docker login` stores them, so Docker and skopeo read them too.

use std::io::{IsTerminal, Read, Write};

use anyhow::{Context as _, bail};
use strata_registry::credentials::{DOCKER_HUB_SERVER, normalize_server};
use strata_registry::{AuthEntry, Client, DockerConfig};

use crate::Ctx;
use crate::cmd::pull::{client_options, runtime};

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long)]
    pub username: Option<String>,
    /// Password
    #[arg(short = 'p', long)]
    pub password: Option<String>,
    /// Take the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
    /// Allow plain HTTP and unverified TLS for this registry
    #[arg(long)]
    pub insecure: bool,
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// The registry domain a credentials key belongs to.
pub(crate) fn domain_of(server: &str) -> &str {
    if server == DOCKER_HUB_SERVER {
        "docker.io"
    } else {
        server
    }
}

pub fn run(_ctx: &Ctx, args: LoginArgs) -> anyhow::Result<()> {
    if args.password.is_some() && args.password_stdin {
        bail!("--password and --password-stdin are mutually exclusive");
    }
    if args.password_stdin && args.username.is_none() {
        bail!("Must provide --username with --password-stdin");
    }
    let mut err = std::io::stderr();
    if args.password.is_some() {
        writeln!(
            err,
            "WARNING! Using --password via the CLI is insecure. Use --password-stdin."
        )?;
    }
    let server = normalize_server(args.server.as_deref());
    let opts = client_options(args.insecure)?;
    let path = opts
        .docker_config
        .clone()
        .context("cannot find the Docker config file (set DOCKER_CONFIG or HOME)")?;
    let mut config = DockerConfig::load(&path)?;
    let client = Client::new(opts)?;
    let rt = runtime()?;
    let domain = domain_of(&server);

    let mut password = args.password.clone();
    if args.password_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("cannot read the password from stdin")?;
        password = Some(s.trim_end_matches(['\n', '\r']).to_string());
    }
    let stored = config.get(&server)?;
    // No flags: try what is stored first, as Docker does.
    if args.username.is_none()
        && password.is_none()
        && let Some(existing) = &stored
    {
        let reg = client.registry_with(domain, Some(existing.clone()))?;
        if rt.block_on(reg.verify_login()).is_ok() {
            writeln!(err, "Authenticating with existing credentials...")?;
            writeln!(std::io::stdout(), "Login Succeeded")?;
            return Ok(());
        }
    }
    let username = match args.username.clone() {
        Some(u) => u,
        None => {
            let default = stored
                .as_ref()
                .map(|s| s.username.clone())
                .unwrap_or_default();
            prompt_line(&default)?
        }
    };
    if username.trim().is_empty() {
        bail!("Username cannot be empty");
    }
    let password = match password {
        Some(p) => p,
        None => prompt_password()?,
    };
    if password.is_empty() {
        bail!("Password Required");
    }
    let entry = AuthEntry::basic(username.trim(), password);
    let reg = client.registry_with(domain, Some(entry.clone()))?;
    let identity = rt.block_on(reg.verify_login())?;
    let entry = match identity {
        Some(token) => AuthEntry {
            password: String::new(),
            identity_token: Some(token),
            ..entry
        },
        None => entry,
    };
    if config.helper_for(&server).is_none() {
        writeln!(
            err,
            "WARNING! Your password will be stored unencrypted in {}.",
            config.path().display()
        )?;
    }
    config.store(&server, &entry)?;
    writeln!(std::io::stdout(), "Login Succeeded")?;
    Ok(())
}

fn require_tty() -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("Cannot perform an interactive login from a non TTY device");
    }
    Ok(())
}

fn prompt_line(default: &str) -> anyhow::Result<String> {
    require_tty()?;
    let mut err = std::io::stderr();
    if default.is_empty() {
        write!(err, "Username: ")?;
    } else {
        write!(err, "Username ({default}): ")?;
    }
    err.flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let line = line.trim().to_string();
    Ok(if line.is_empty() {
        default.to_string()
    } else {
        line
    })
}

/// Read a password from the terminal with echo off (restored afterwards, also on error).
fn prompt_password() -> anyhow::Result<String> {
    require_tty()?;
    let mut err = std::io::stderr();
    write!(err, "Password: ")?;
    err.flush()?;
    // SAFETY: tcgetattr/tcsetattr on fd 0 with a zeroed termios the call fills in.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    let have = unsafe { libc::tcgetattr(0, &mut term) } == 0;
    if have {
        let mut quiet = term;
        quiet.c_lflag &= !libc::ECHO;
        quiet.c_lflag |= libc::ECHONL;
        // SAFETY: as above, with a termios derived from the current one.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &quiet) };
    }
    let mut line = String::new();
    let res = std::io::stdin().read_line(&mut line);
    if have {
        // SAFETY: restoring the settings read above.
        unsafe { libc::tcsetattr(0, libc::TCSANOW, &term) };
    }
    res?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
