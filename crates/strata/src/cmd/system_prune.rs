//! `strata system prune` — Docker's `docker system prune`: every stopped container, then
//! dangling images (with `-a`, every image no remaining container uses), then the build
//! cache, and finally the blobs and unpacked layers nothing needs any more. Containers go
//! first, so with `-a` the images only they used go too, as with Docker; an image a running
//! container uses is never removed. Strata has no networks to prune (its bridge is shared
//! and holds no per-container state once a container stops).

use std::io::Write;

use crate::cli::PruneArgs;
use strata_store::GcOptions;

use crate::Ctx;
use crate::cmd::{container, prune};
use crate::units::human_size;

/// The flags are `image prune`'s (`-a`, `-f`, `--filter until=`), as in Docker.
pub fn run(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<()> {
    let until = prune::parse_until(&args.filter)?;
    if !args.force {
        let images = if args.all {
            "all images without at least one container associated to them"
        } else {
            "all dangling images"
        };
        let cache = if args.all {
            "all build cache"
        } else {
            "unused build cache"
        };
        if !prune::confirm(&format!(
            "WARNING! This will remove:\n  - all stopped containers\n  - {images}\n  - {cache}\n\nAre you sure you want to continue? [y/N] "
        ))? {
            return Ok(());
        }
    }
    let store = ctx.store()?;
    let cs = container::containers(ctx)?;
    let mut removed = Vec::new();
    let mut bytes = 0u64;
    for c in cs.list()? {
        if c.state.running() && cs.monitor_alive(&c.config.id) {
            continue;
        }
        let size = container::tree_size(&c.dir);
        container::remove_stopped(&cs, Some(&store), &c, false)?;
        bytes += size;
        removed.push(c.config.id.clone());
    }
    let images = prune::prune_images(ctx, &store, args.all, until)?;
    let cache = strata_build::prune(&store)?;
    bytes += cache.bytes_reclaimed;
    bytes += store.gc(&GcOptions { dry_run: false })?.bytes_reclaimed;
    bytes += prune::prune_snapshots(ctx, &store)?.bytes;

    let mut out = std::io::stdout().lock();
    if !removed.is_empty() {
        writeln!(out, "Deleted Containers:")?;
        for id in &removed {
            writeln!(out, "{id}")?;
        }
        writeln!(out)?;
    }
    if !images.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for l in &images {
            writeln!(out, "{l}")?;
        }
        writeln!(out)?;
    }
    let objects: Vec<&String> = cache.entries.iter().chain(&cache.cache_mounts).collect();
    if !objects.is_empty() {
        writeln!(out, "Deleted build cache objects:")?;
        for e in objects {
            let id = e.trim_start_matches("sha256:");
            writeln!(out, "{}", &id[..id.len().min(25)])?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Total reclaimed space: {}", human_size(bytes))?;
    Ok(())
}
