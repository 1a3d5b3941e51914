//! `strata rmi` — Docker's `docker rmi`: removing a name untags it; an image whose last name
//! goes is deleted (its blobs are collected unless another image shares them). Removing by
//! ID deletes the image with all its names, which needs `-f` when it has several.

use anyhow::bail;
use strata_store::GcOptions;

use crate::Ctx;
use crate::cli::RmiArgs;
use crate::image::{self, NoSuchImage};

pub fn run(ctx: &Ctx, args: RmiArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let mut failed = false;
    let mut deleted_any = false;
    for input in &args.images {
        match remove_one(&store, input, args.force) {
            Ok((lines, deleted)) => {
                for l in lines {
                    println!("{l}");
                }
                deleted_any |= deleted;
            }
            Err(e) => {
                failed = true;
                if e.downcast_ref::<NoSuchImage>().is_some() {
                    eprintln!("Error response from daemon: {e}");
                } else {
                    eprintln!("Error response from daemon: {e:#}");
                }
            }
        }
    }
    if deleted_any {
        store.gc(&GcOptions { dry_run: false })?;
    }
    if failed {
        return Err(crate::Exit(1).into());
    }
    Ok(())
}

fn remove_one(
    store: &strata_store::Store,
    input: &str,
    force: bool,
) -> anyhow::Result<(Vec<String>, bool)> {
    let images = store.images()?;
    let desc = image::resolve(store, &images, input)?;
    let id = image::image_id(store, &images, &desc.digest)?;
    // Did the user name a tag of this image (then only that tag goes)?
    let tag = image::normalize_tag(input)
        .ok()
        .filter(|n| images.resolve(n).is_some_and(|d| d.digest == desc.digest));
    store.update(|txn| -> anyhow::Result<(Vec<String>, bool)> {
        let names: Vec<String> = txn
            .images()
            .names_of(&desc.digest)
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut lines = Vec::new();
        match &tag {
            Some(t) => {
                txn.untag(t);
                lines.push(format!("Untagged: {}", image::familiar(t)));
            }
            None => {
                if names.len() > 1 && !force {
                    bail!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        id.short()
                    );
                }
                for n in &names {
                    txn.untag(n);
                    lines.push(format!("Untagged: {}", image::familiar(n)));
                }
            }
        }
        let still_named = !txn.images().names_of(&desc.digest).is_empty();
        let mut deleted = false;
        if !still_named {
            txn.remove(&desc.digest);
            lines.push(format!("Deleted: {id}"));
            deleted = true;
        }
        Ok((lines, deleted))
    })
}
