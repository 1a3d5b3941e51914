//! `strata load` — Docker's `docker load`: docker-archives (old and new layouts) and OCI
//! archives, plain or compressed. Every layer is validated before it is committed, and the
//! images are tagged in one index transaction: a bad archive leaves the store unchanged.
//!
//! An image is its config (Docker's image ID): loading one the store already holds under
//! another manifest (a `docker save` of an image Strata imported, layers uncompressed) does
//! not leave the old manifest behind as a second, dangling copy of the same image.

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
        Some(p) => match File::open(p) {
            Ok(f) => Box::new(std::io::BufReader::new(f)),
            Err(e) => {
                // Docker's CLI prints Go's error as is: `open x.tar: no such file or directory`.
                eprintln!("open {}: {}", p.display(), go_os_error(&e));
                return Err(crate::Exit(1).into());
            }
        },
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
    drop_same_image_copies(&store, &report.images)?;
    // `-q` only silences progress, which Strata does not print: Docker 20.10 prints these
    // lines with `-q` too.
    {
        // Docker 20.10 prints `Loaded image: NAME` for each tag as it goes and gathers a
        // `Loaded image ID: ID` line per image, which it prints only when the archive's
        // last image has no tag — then for every image of the archive. Scripts parse these
        // lines, so they come exactly as Docker's.
        let mut ids = String::new();
        let mut last_tags = 0;
        for img in &report.images {
            if let Some(id) = &img.image_id {
                ids.push_str(&format!("Loaded image ID: {id}\n"));
            }
            last_tags = img.names.len();
            for n in &img.names {
                println!("Loaded image: {}", image::familiar(n));
            }
        }
        if last_tags == 0 {
            print!("{ids}");
        }
    }
    Ok(())
}

/// Remove the dangling entries that hold an image just loaded under another manifest
/// digest: the same config is the same image, which Docker lists once.
fn drop_same_image_copies(
    store: &strata_store::Store,
    loaded: &[strata_store::archive::LoadedImage],
) -> anyhow::Result<()> {
    let ids: Vec<(&strata_oci::Digest, &strata_oci::Digest)> = loaded
        .iter()
        .filter_map(|l| l.image_id.as_ref().map(|id| (id, &l.descriptor.digest)))
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let removed = store.update(|txn| -> anyhow::Result<bool> {
        let mut copies = Vec::new();
        for digest in txn.images().digests() {
            if !txn.images().names_of(digest).is_empty() {
                continue;
            }
            let id = image::image_id(store, txn.images(), digest)?;
            if ids.iter().any(|(i, d)| **i == id && *d != digest) {
                copies.push(digest.clone());
            }
        }
        for d in &copies {
            txn.remove(d);
        }
        Ok(!copies.is_empty())
    })?;
    if removed {
        store.gc(&strata_store::GcOptions { dry_run: false })?;
    }
    Ok(())
}

/// Go's text for an OS error (`no such file or directory`), which Docker prints.
fn go_os_error(e: &std::io::Error) -> String {
    let s = match e.raw_os_error() {
        Some(n) => std::io::Error::from_raw_os_error(n)
            .to_string()
            .split(" (os error")
            .next()
            .unwrap_or_default()
            .to_string(),
        None => e.to_string(),
    };
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_lowercase().chain(c).collect(),
        None => s,
    }
}
