//! `strata system df|check|gc` — disk usage in Docker's shape, a full integrity check of
//! the store (every blob re-hashed, every reference followed), and garbage collection.

use serde_json::json;
use strata_store::GcOptions;

use crate::Ctx;
use crate::cli::{CheckArgs, DfArgs, GcArgs};
use crate::image;
use crate::units::{human_size, size_column};

const DF_DEFAULT: &str =
    "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";

pub fn df(ctx: &Ctx, args: DfArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let du = store.disk_usage()?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let pct = |part: u64, total: u64| (part * 100).checked_div(total).unwrap_or(0);
    let active = du.images.iter().filter(|i| !i.dangling).count();
    // Containers: their copy-on-write layers; a stopped one's is reclaimable (`rm`).
    // Volumes: reclaimable when no container mounts them.
    let cs = crate::cmd::container::containers(ctx)?;
    let containers: Vec<(strata_runtime::state::Container, bool, u64)> = cs
        .list()?
        .into_iter()
        .map(|c| {
            let running = c.state.running() && cs.monitor_alive(&c.config.id);
            let size = crate::cmd::container::tree_size(&c.upper());
            (c, running, size)
        })
        .collect();
    // Docker prints the percentage only when there is something at all.
    let reclaimable = |free: u64, total: u64| {
        if total > 0 {
            format!("{} ({}%)", human_size(free), pct(free, total))
        } else {
            human_size(free)
        }
    };
    let c_size: u64 = containers.iter().map(|(_, _, s)| s).sum();
    let c_free: u64 = containers
        .iter()
        .filter(|(_, running, _)| !running)
        .map(|(_, _, s)| s)
        .sum();
    let c_active = containers.iter().filter(|(_, running, _)| *running).count();
    let vols = crate::cmd::volume::Volumes::new(&ctx.root()?)?;
    let mounted: std::collections::HashSet<&str> = containers
        .iter()
        .flat_map(|(c, _, _)| &c.config.mounts)
        .filter(|m| m.kind == "volume")
        .map(|m| m.name.as_str())
        .collect();
    let (mut v_count, mut v_active, mut v_size, mut v_free) = (0, 0, 0u64, 0u64);
    for name in vols.names()? {
        let size = crate::cmd::container::tree_size(&vols.data_dir(&name));
        v_count += 1;
        v_size += size;
        if mounted.contains(name.as_str()) {
            v_active += 1;
        } else {
            v_free += size;
        }
    }
    let rows = vec![
        json!({
            "Type": "Images", "TotalCount": du.images.len().to_string(),
            "Active": active.to_string(), "Size": human_size(du.total_bytes),
            "Reclaimable": format!("{} ({}%)", human_size(du.reclaimable_bytes), pct(du.reclaimable_bytes, du.total_bytes)),
        }),
        json!({
            "Type": "Containers", "TotalCount": containers.len().to_string(),
            "Active": c_active.to_string(), "Size": human_size(c_size),
            "Reclaimable": reclaimable(c_free, c_size),
        }),
        json!({
            "Type": "Local Volumes", "TotalCount": v_count.to_string(),
            "Active": v_active.to_string(), "Size": human_size(v_size),
            "Reclaimable": reclaimable(v_free, v_size),
        }),
        json!({"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}),
    ];
    let headers = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
    if !args.verbose {
        return crate::format::write_rows(
            &mut out,
            args.format.as_deref(),
            DF_DEFAULT,
            &headers,
            &rows,
        );
    }
    use std::io::Write;
    writeln!(out, "Images space usage:\n")?;
    let images = store.images()?;
    let mut list = Vec::new();
    for u in &du.images {
        let id = image::image_id(&store, &images, &u.digest)?;
        let created = images
            .meta(&u.digest)
            .and_then(|m| m.summary.as_ref())
            .and_then(|s| image::parse_time(s.created.as_deref()));
        let (repo, tag) = match u.names.first() {
            Some(n) => image::repo_and_tag(n),
            None => ("<none>".into(), "<none>".into()),
        };
        list.push(json!({
            "Repository": repo, "Tag": tag, "ID": id.short(), "CreatedSince": image::since(created),
            "Size": size_column(u.size), "SharedSize": size_column(u.shared_size),
            "UniqueSize": size_column(u.unique_size),
            "Containers": containers.iter().filter(|(c, _, _)| c.config.image_id == id.to_string()).count().to_string(),
        }));
    }
    let headers = json!({"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
        "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"});
    crate::format::write_rows(
        &mut out,
        None,
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
        &headers,
        &list,
    )
}

pub fn check(ctx: &Ctx, args: CheckArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let report = store.check()?;
    if args.json {
        let problems: Vec<_> = report
            .problems
            .iter()
            .map(|p| {
                json!({
                    "kind": format!("{:?}", p.kind),
                    "digest": p.digest.as_ref().map(|d| d.to_string()),
                    "name": p.name,
                    "path": p.path.as_ref().map(|p| p.display().to_string()),
                    "message": p.message,
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "blobsChecked": report.blobs_checked,
                "bytesChecked": report.bytes_checked,
                "problems": problems,
            }))?
        );
    } else {
        for p in &report.problems {
            println!("{}", p.message);
        }
        eprintln!(
            "checked {} blobs ({}): {}",
            report.blobs_checked,
            human_size(report.bytes_checked),
            if report.is_clean() {
                "no problems".to_string()
            } else {
                format!("{} problem(s)", report.problems.len())
            }
        );
    }
    if !report.is_clean() {
        return Err(crate::Exit(1).into());
    }
    Ok(())
}

pub fn gc(ctx: &Ctx, args: GcArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let report = store.gc(&GcOptions {
        dry_run: args.dry_run,
    })?;
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    for b in &report.blobs {
        println!("{verb} {} ({})", b.digest, human_size(b.size));
    }
    eprintln!(
        "{verb} {} blobs and {} partial writes: {} reclaimed",
        report.blobs.len(),
        report.ingest_files.len(),
        human_size(report.bytes_reclaimed)
    );
    Ok(())
}
