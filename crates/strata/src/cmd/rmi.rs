//! `strata rmi` — Docker's `docker rmi`: removing a name untags it; an image whose last name
//! goes is deleted (its blobs are collected unless another image shares them). Removing by
//! ID deletes the image with all its names, which needs `-f` when it has several.
//!
//! Containers keep their image, as Docker's do: the last name of an image a container
//! (running or stopped) uses is refused without `-f` (`conflict: unable to remove
//! repository reference …`); with `-f` the name goes and the image stays, dangling, while
//! a container uses it. By ID: refused for a running container's image even with `-f`,
//! and for a stopped container's image without it; with `-f` its names go and the image
//! stays, dangling, until the last container using it is removed (Strata keeps the
//! content a container runs from rather than deleting it under the container).

use anyhow::bail;
use strata_runtime::state::Container;
use strata_store::GcOptions;

use crate::Ctx;
use crate::cli::RmiArgs;
use crate::cmd::container;
use crate::image::{self, NoSuchImage};

/// A container that uses an image: its ID and whether it runs.
struct User {
    id: String,
    running: bool,
}

/// Every container of the current root, with whether it runs.
pub fn image_users(ctx: &Ctx) -> anyhow::Result<Vec<(Container, bool)>> {
    let cs = container::containers(ctx)?;
    Ok(cs
        .list()?
        .into_iter()
        .map(|c| {
            let running = c.state.running() && cs.monitor_alive(&c.config.id);
            (c, running)
        })
        .collect())
}

pub fn run(ctx: &Ctx, args: RmiArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let containers = image_users(ctx)?;
    // Docker's CLI gathers the errors and prints them after the removals; a missing image
    // is worded by the CLI itself (`Error: No such image: x`, as typed) and, with -f, does
    // not fail the command. Other errors come from the daemon and always fail it.
    let mut errors = Vec::new();
    let mut fatal = false;
    let mut deleted_any = false;
    for input in &args.images {
        match remove_one(&store, input, args.force, &containers) {
            Ok((lines, deleted)) => {
                for l in lines {
                    println!("{l}");
                }
                deleted_any |= deleted;
            }
            Err(e) => match e.downcast_ref::<NoSuchImage>() {
                Some(missing) => errors.push(format!("Error: No such image: {}", missing.input)),
                None => {
                    fatal = true;
                    errors.push(format!("Error response from daemon: {e:#}"));
                }
            },
        }
    }
    if deleted_any {
        store.gc(&GcOptions { dry_run: false })?;
        crate::cmd::prune::prune_snapshots(ctx, &store)?;
    }
    for e in &errors {
        eprintln!("{e}");
    }
    if fatal || (!errors.is_empty() && !args.force) {
        return Err(crate::Exit(1).into());
    }
    Ok(())
}

fn remove_one(
    store: &strata_store::Store,
    input: &str,
    force: bool,
    containers: &[(Container, bool)],
) -> anyhow::Result<(Vec<String>, bool)> {
    let images = store.images()?;
    let desc = image::resolve(store, &images, input)?;
    let id = image::image_id(store, &images, &desc.digest)?;
    let config = image::load_info(store, &images, &desc)?.config;
    // Did the user name a tag of this image (then only that tag goes)?
    let tag = image::normalize_tag(input)
        .ok()
        .filter(|n| images.resolve(n).is_some_and(|d| d.digest == desc.digest));
    // Docker reports the newest container using the image; a running one first.
    let users: Vec<User> = containers
        .iter()
        .filter(|(c, _)| c.config.image_id == id.to_string())
        .map(|(c, running)| User {
            id: c.config.id.clone(),
            running: *running,
        })
        .collect();
    let running = users.iter().find(|u| u.running);
    let short = |cid: &str| cid.chars().take(12).collect::<String>();
    store.update(|txn| -> anyhow::Result<(Vec<String>, bool)> {
        let names = image::sorted_names(txn.images(), &desc.digest);
        let mut lines = Vec::new();
        match &tag {
            Some(t) => {
                if let Some(u) = users.first().filter(|_| !force && names.len() == 1) {
                    bail!(
                        "conflict: unable to remove repository reference \"{input}\" (must force) - container {} is using its referenced image {}",
                        short(&u.id),
                        id.short()
                    );
                }
                txn.untag(t);
                lines.push(format!("Untagged: {}", image::familiar(t)));
            }
            None => {
                if let Some(u) = running {
                    bail!(
                        "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                        id.short(),
                        short(&u.id)
                    );
                }
                if names.len() > 1 && !force {
                    bail!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                        id.short()
                    );
                }
                if let Some(u) = users.first().filter(|_| !force) {
                    bail!(
                        "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                        id.short(),
                        short(&u.id)
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
            if users.is_empty() {
                txn.remove(&desc.digest);
                lines.push(format!("Deleted: {id}"));
                for layer in image::released_layers(store, txn.images(), &config)? {
                    lines.push(format!("Deleted: {layer}"));
                }
                deleted = true;
            } else {
                // A container runs from it: it stays, dangling, with its content.
                txn.add_dangling(&image::strip(&desc))?;
            }
        }
        Ok((lines, deleted))
    })
}
