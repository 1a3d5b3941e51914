//! `strata load` — Docker's `docker load`: docker-archives (old and new layouts) and OCI
//! archives, plain or compressed. Every layer is validated before it is committed, and the
//! images are tagged in one index transaction: a bad archive leaves the store unchanged.

use std::fs::File;
use std::io::{IsTerminal, Read};

use anyhow::{Context as _, bail};
use strata_oci::media_type;
use strata_store::archive::{LoadOptions, load};
use strata_store::{Ingested, VerifyError};

use crate::Ctx;
use crate::cli::LoadArgs;
use crate::image;

pub fn run(ctx: &Ctx, args: LoadArgs) -> anyhow::Result<()> {
    let input: Box<dyn Read> = match &args.input {
        Some(p) => Box::new(std::io::BufReader::new(
            File::open(p).with_context(|| format!("open {}", p.display()))?,
        )),
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                bail!("requested load from stdin, but stdin is empty");
            }
            Box::new(std::io::BufReader::new(stdin.lock()))
        }
    };
    let store = ctx.store()?;
    let allow_devices = unsafe { libc::geteuid() } == 0;
    let verifier = move |blob: &Ingested<'_>| -> Result<(), VerifyError> {
        if blob.media_type.is_some_and(media_type::is_layer) {
            let f = File::open(blob.path)?;
            strata_layer::validate(
                std::io::BufReader::new(f),
                &strata_layer::ValidateOptions { allow_devices },
            )
            .map_err(|e| Box::new(e) as VerifyError)?;
        }
        Ok(())
    };
    let normalize = |name: &str| -> Result<String, String> {
        image::normalize_tag(name).map_err(|e| e.to_string())
    };
    let report = load(
        &store,
        input,
        &LoadOptions {
            verifier: &verifier,
            normalize: &normalize,
        },
    )
    .context("failed to load the archive")?;
    if !args.quiet {
        for img in &report.images {
            if img.names.is_empty() {
                if let Some(id) = &img.image_id {
                    println!("Loaded image ID: {id}");
                }
            } else {
                for n in &img.names {
                    println!("Loaded image: {}", image::familiar(n));
                }
            }
        }
    }
    Ok(())
}
