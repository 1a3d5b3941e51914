//! `strata analyze` — how efficiently an image uses its bytes: per layer the size and the
//! instruction that created it, the bytes later layers hide (overwritten or deleted files
//! still ship in the lower layer), package caches and temporary files left behind, an
//! efficiency score in the spirit of dive's, and suggestions tied to Dockerfile practice.
//! `--format json` prints the whole analysis for tools.

use std::io::Write;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use strata_insight::analyze::{self, Analysis};
use strata_insight::{Inventory, ReadOptions};

use crate::Ctx;
use crate::units::{ellipsis, size_column};

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Output format: 'table' or 'json'
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Don't truncate the CREATED BY column
    #[arg(long)]
    pub no_trunc: bool,
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

pub fn run(ctx: &Ctx, args: AnalyzeArgs) -> anyhow::Result<()> {
    if !matches!(args.format.trim(), "table" | "json") {
        bail!("unknown format {:?} (expected table or json)", args.format);
    }
    let store = ctx.store()?;
    let img = super::sbom::load_image(&store, &args.image)?;
    let inv = Inventory::read(&store, &img, ReadOptions::files_only())
        .with_context(|| format!("reading the layers of {}", img.name))?;
    let analysis = analyze::analyze(&img, &inv);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format.trim() == "json" {
        serde_json::to_writer_pretty(&mut out, &analysis)?;
        out.write_all(b"\n")?;
        return Ok(());
    }
    report(&mut out, &analysis, args.no_trunc)
}

fn report(out: &mut dyn Write, a: &Analysis, no_trunc: bool) -> anyhow::Result<()> {
    writeln!(out, "Image: {}", a.image)?;
    writeln!(
        out,
        "Efficiency: {:.1} %   Total: {}   Visible: {}   Wasted: {} (hidden by later layers: {}, caches and temporary files: {})",
        a.efficiency * 100.0,
        size_column(a.total_bytes),
        size_column(a.visible_bytes),
        size_column(a.wasted_bytes),
        size_column(a.hidden_bytes),
        size_column(a.cache_bytes),
    )?;
    writeln!(out)?;
    let rows: Vec<Value> = a
        .layers
        .iter()
        .map(|l| {
            let created = l.created_by.replace(['\t', '\n'], " ");
            json!({
                "Layer": l.index,
                "Digest": l.digest.split_once(':').map(|(_, h)| &h[..h.len().min(12)]).unwrap_or(&l.digest),
                "Size": size_column(l.size),
                "Files": l.files,
                "Wasted": size_column(l.hidden_bytes + l.cache_bytes),
                "CreatedBy": if no_trunc { created } else { ellipsis(&created, 60) },
            })
        })
        .collect();
    let headers = json!({
        "Layer": "LAYER", "Digest": "DIGEST", "Size": "SIZE", "Files": "FILES",
        "Wasted": "WASTED", "CreatedBy": "CREATED BY",
    });
    crate::format::write_rows(
        out,
        None,
        "table {{.Layer}}\t{{.Digest}}\t{{.Size}}\t{{.Files}}\t{{.Wasted}}\t{{.CreatedBy}}",
        &headers,
        &rows,
    )?;
    if !a.wasted_files.is_empty() {
        writeln!(out, "\nLargest files hidden by later layers:")?;
        for h in &a.wasted_files {
            writeln!(
                out,
                "  {:>9}  /{}  (layer {}, {} by layer {})",
                size_column(h.size),
                h.path,
                h.added_in,
                if h.deleted { "deleted" } else { "overwritten" },
                h.removed_in
            )?;
        }
    }
    if !a.caches.is_empty() {
        writeln!(out, "\nCaches and temporary files left in the image:")?;
        for c in &a.caches {
            writeln!(
                out,
                "  {:>9}  {}  ({}, {} files, layer {})",
                size_column(c.bytes),
                c.path,
                c.kind,
                c.files,
                c.layer
            )?;
        }
    }
    if !a.suggestions.is_empty() {
        writeln!(out, "\nSuggestions:")?;
        for s in &a.suggestions {
            writeln!(out, "  - {}", s.message)?;
        }
    }
    Ok(())
}
