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
    let rows = vec![
        json!({
            "Type": "Images", "TotalCount": du.images.len().to_string(),
            "Active": active.to_string(), "Size": human_size(du.total_bytes),
            "Reclaimable": format!("{} ({}%)", human_size(du.reclaimable_bytes), pct(du.reclaimable_bytes, du.total_bytes)),
        }),
        json!({"Type": "Containers", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}),
        json!({"Type": "Local Volumes", "TotalCount": "0", "Active": "0", "Size": "0B", "Reclaimable": "0B"}),
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
            "UniqueSize": size_column(u.unique_size), "Containers": "0",
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
