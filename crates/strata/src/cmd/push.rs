//! `strata push` — Docker's `docker push NAME[:TAG]`, plus Strata's `push SRC DST`, which
//! pushes the local image SRC (a name or an image ID) to DST without tagging it locally.
//! `--all-tags` pushes every local tag of the repository. Per-layer status goes to stderr;
//! Docker's closing `TAG: digest: sha256:… size: N` line goes to stdout.

use std::io::Write;

use anyhow::{anyhow, bail};
use strata_oci::reference::Reference;
use strata_registry::Client;

use crate::Ctx;
use crate::cmd::pull::{LayerPrinter, client_options, runtime};

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Skip image signing (accepted for compatibility)
    #[arg(long, hide = true)]
    pub disable_content_trust: bool,
    /// Allow plain HTTP and unverified TLS for this registry
    #[arg(long)]
    pub insecure: bool,
    /// The image to push (with DST: the local image to push there)
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
    /// Where to push NAME (Strata extension; default NAME itself)
    #[arg(value_name = "DST[:TAG]")]
    pub dest: Option<String>,
}

pub fn run(ctx: &Ctx, args: PushArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let client = Client::new(client_options(args.insecure)?)?;
    let rt = runtime()?;
    let mut out = std::io::stdout();

    // (local image, destination) pairs.
    let mut jobs = Vec::new();
    let src = Reference::parse_normalized(&args.name).map_err(|e| anyhow!("{e}"))?;
    if args.all_tags {
        if args.dest.is_some() {
            bail!("--all-tags cannot be used with a destination");
        }
        if !src.is_name_only() {
            bail!("tag can't be used with --all-tags/-a");
        }
        let images = store.images()?;
        let prefix = format!("{}:", src.name());
        for entry in images.entries() {
            let Some(name) = strata_store::entry_name(entry) else {
                continue;
            };
            if let Some(tag) = name.strip_prefix(&prefix)
                && !tag.contains('/')
            {
                let r = Reference::parse(name).map_err(|e| anyhow!("{e}"))?;
                jobs.push((crate::image::strip(entry), r));
            }
        }
        if jobs.is_empty() {
            bail!(
                "An image does not exist locally with the tag: {}",
                src.familiar_name()
            );
        }
    } else {
        let src = src.tag_name_only();
        match &args.dest {
            None => {
                let image = strata_registry::resolve_local(&store, &src)?;
                jobs.push((crate::image::strip(&image), src));
            }
            Some(dest) => {
                let images = store.images()?;
                let image = crate::image::resolve(&store, &images, &args.name)?;
                let dest = Reference::parse_normalized(dest)
                    .map_err(|e| anyhow!("{e}"))?
                    .tag_name_only();
                jobs.push((image, dest));
            }
        }
    }
    for (image, dest) in jobs {
        let printer = LayerPrinter::new(args.quiet, true);
        let pushed = rt.block_on(client.push(&store, &image, &dest, &printer));
        printer.finish();
        let pushed = pushed?;
        writeln!(out, "{}", pushed.docker_line())?;
    }
    Ok(())
}
