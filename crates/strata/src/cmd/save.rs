//! `strata save` — Docker's `docker save`: a docker-archive (`manifest.json`, `repositories`
//! and an OCI layout, layers uncompressed) that `docker load` and `skopeo docker-archive:`
//! read, or with `--format oci` an OCI image layout archive. Written to a temporary file
//! and renamed into place, so an interrupted save never leaves a truncated archive.

use std::io::{IsTerminal, Write};

use anyhow::{Context as _, bail};
use strata_store::archive::{SaveImage, save_docker, save_oci};

use crate::Ctx;
use crate::cli::SaveArgs;
use crate::image;

pub fn run(ctx: &Ctx, args: SaveArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let images = store.images()?;
    let mut list: Vec<SaveImage> = Vec::new();
    for input in &args.images {
        let desc = image::resolve(&store, &images, input)?;
        // A name saves that tag; an ID (or a digest) saves the image without names, as
        // `docker save` does: loading that archive gives an untagged image.
        let names: Vec<String> = image::normalize_tag(input)
            .ok()
            .filter(|n| images.resolve(n).is_some_and(|d| d.digest == desc.digest))
            .into_iter()
            .collect();
        match list.iter_mut().find(|s| s.descriptor.digest == desc.digest) {
            Some(existing) => {
                for n in names {
                    if !existing.names.contains(&n) {
                        existing.names.push(n);
                    }
                }
            }
            None => list.push(SaveImage {
                descriptor: desc,
                names,
            }),
        }
    }
    let oci = matches!(args.format.as_str(), "oci" | "oci-archive");
    let write = |out: &mut dyn Write| -> anyhow::Result<()> {
        if oci {
            save_oci(&store, &list, out)?;
        } else {
            save_docker(&store, &list, None, out)?;
        }
        Ok(())
    };
    match &args.output {
        Some(path) => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| {
                format!("failed to save image: create a file in {}", dir.display())
            })?;
            {
                let mut buf = std::io::BufWriter::new(tmp.as_file_mut());
                write(&mut buf)?;
                buf.flush()?;
            }
            tmp.as_file().sync_all()?;
            tmp.persist(path)
                .with_context(|| format!("failed to save image: write {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            let mut out = std::io::BufWriter::new(stdout.lock());
            write(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}
