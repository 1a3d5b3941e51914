//! `strata image prune` — Docker's `docker image prune`: removes dangling images (with `-a`,
//! every image no container uses), then collects their blobs and the unpacked layers
//! (snapshots) no image or container needs any more. An image a container uses, running or
//! stopped, is never removed (it may be dangling after `rmi -f` of its tag).

use std::io::{BufRead, Write};

use strata_store::GcOptions;

use crate::Ctx;
use crate::cli::PruneArgs;
use crate::image;
use crate::units::human_size;

pub fn run(ctx: &Ctx, args: PruneArgs) -> anyhow::Result<()> {
    let until = parse_until(&args.filter).map_err(image::daemon_error)?;
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !confirm(&format!(
            "{warning}\nAre you sure you want to continue? [y/N] "
        ))? {
            return Ok(());
        }
    }
    let store = ctx.store()?;
    let lines = prune_images(ctx, &store, args.all, until)?;
    let report = store.gc(&GcOptions { dry_run: false })?;
    let snapshots = prune_snapshots(ctx, &store)?;
    if !lines.is_empty() {
        println!("Deleted Images:");
        for l in lines {
            println!("{l}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        human_size(report.bytes_reclaimed + snapshots.bytes)
    );
    Ok(())
}

/// Remove dangling images (`all`: every image) that no container uses and, with `until`,
/// that are older than that many seconds; returns Docker's `untagged:`/`deleted:` lines
/// (the image IDs, then the layers' chain IDs no image uses any more).
/// Their blobs stay until the caller collects garbage.
pub fn prune_images(
    ctx: &Ctx,
    store: &strata_store::Store,
    all: bool,
    until: Option<i64>,
) -> anyhow::Result<Vec<String>> {
    let images = store.images()?;
    let used: std::collections::HashSet<String> = crate::cmd::rmi::image_users(ctx)?
        .into_iter()
        .map(|(c, _)| c.config.image_id)
        .collect();
    let now = jiff::Timestamp::now();
    let mut victims = Vec::new();
    for digest in images.digests() {
        let names = images.names_of(digest);
        if !all && !names.is_empty() {
            continue;
        }
        if let Some(limit) = until {
            let created = images
                .meta(digest)
                .and_then(|m| m.summary.as_ref())
                .and_then(|s| image::parse_time(s.created.as_deref()));
            if created.is_some_and(|c| now.as_second() - c.as_second() < limit) {
                continue;
            }
        }
        let id = image::image_id(store, &images, digest)?;
        if used.contains(&id.to_string()) {
            continue;
        }
        let Some(desc) = images.by_digest(digest).map(image::strip) else {
            continue;
        };
        let config = image::load_info(store, &images, &desc)?.config;
        let mut names: Vec<String> = names.into_iter().map(str::to_string).collect();
        names.sort();
        victims.push((digest.clone(), id, names, config));
    }
    let mut lines = Vec::new();
    store.update(|txn| -> anyhow::Result<()> {
        // One image at a time, as Docker deletes them: a layer is reported (by its chain
        // ID) with the image that released it last.
        for (digest, id, names, config) in &victims {
            for n in names {
                txn.untag(n);
                lines.push(format!("untagged: {}", image::familiar(n)));
            }
            txn.remove(digest);
            lines.push(format!("deleted: {id}"));
            for layer in image::released_layers(store, txn.images(), config)? {
                lines.push(format!("deleted: {layer}"));
            }
        }
        Ok(())
    })?;
    Ok(lines)
}

/// Docker's confirmation before a prune: `prompt` on stderr, then true for `y` or `yes`.
pub fn confirm(prompt: &str) -> anyhow::Result<bool> {
    eprint!("{prompt}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Remove the unpacked layers (snapshots) that no image of the store and no container
/// needs. While a build or an unpack holds them nothing is removed, with a note on stderr.
pub fn prune_snapshots(
    ctx: &Ctx,
    store: &strata_store::Store,
) -> anyhow::Result<strata_build::snapshot::SnapshotPrune> {
    let in_use: std::collections::HashSet<String> = crate::cmd::rmi::image_users(ctx)?
        .into_iter()
        .flat_map(|(c, _)| c.config.lower)
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    let snapshots = strata_build::snapshot::Snapshots::new(store)?;
    let report = snapshots.prune(store, &in_use)?;
    if report.busy {
        eprintln!(
            "note: a build or an image unpack is running; unpacked layers were left for a later prune"
        );
    }
    Ok(report)
}

/// `until=<duration>` (Go durations like `24h`, `90m`) as seconds.
pub fn parse_until(filters: &[String]) -> anyhow::Result<Option<i64>> {
    let mut until = None;
    for f in filters {
        match f.split_once('=') {
            Some(("until", v)) => {
                let ns = strata_dockerfile::instructions::parse_go_duration(v).map_err(|_| {
                    anyhow::anyhow!("failed to parse value as time or duration: {v:?}")
                })?;
                until = Some((ns / 1_000_000_000) as i64);
            }
            Some(("label", _)) | Some(("label!", _)) => {
                anyhow::bail!("the label filter of image prune is not supported by Strata yet")
            }
            Some((k, _)) => anyhow::bail!("Invalid filter '{k}'"),
            None => anyhow::bail!("Invalid filter '{f}'"),
        }
    }
    Ok(until)
}
