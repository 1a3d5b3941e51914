//! `strata history` — Docker's `docker history`: the config's history, newest first, each
//! step with the size of the layer it made (`0B` for steps that made none).

use std::io::Write;

use serde_json::{Value, json};
use strata_template::GoType;

use crate::Ctx;
use crate::cli::HistoryArgs;
use crate::image::{self, parse_time, since};
use crate::units::{ellipsis, size_column};

const DEFAULT: &str = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
/// Docker's default with `-H=false`: absolute dates, under a `CREATED AT` header.
const DEFAULT_NON_HUMAN: &str =
    "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

pub fn run(ctx: &Ctx, args: HistoryArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let images = store.images()?;
    let desc = image::resolve(&store, &images, &args.image).map_err(image::daemon_error)?;
    let info = image::load_info(&store, &images, &desc)?;
    let (layer_sizes, fresh) = image::docker_layer_sizes(&store, &images, &desc.digest)?;
    if fresh {
        image::remember_layer_sizes(&store, &[(desc.digest.clone(), layer_sizes.clone())]);
    }

    // Pair history entries with layers: entries without `empty_layer` consume one layer each.
    let mut layer = 0usize;
    let mut rows = Vec::new();
    let history = &info.config.history;
    for h in history {
        let size = if h.empty_layer {
            0
        } else {
            let s = layer_sizes.get(layer).copied().unwrap_or(0);
            layer += 1;
            s
        };
        rows.push((h, size));
    }
    rows.reverse();

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let id_of = |i: usize| {
        if i == 0 {
            if args.no_trunc {
                info.config_digest.to_string()
            } else {
                info.config_digest.short().to_string()
            }
        } else {
            "<missing>".to_string()
        }
    };
    if args.quiet {
        for i in 0..rows.len().max(1) {
            writeln!(out, "{}", id_of(i))?;
        }
        return Ok(());
    }
    let mut values: Vec<Value> = Vec::new();
    for (i, (h, size)) in rows.iter().enumerate() {
        let created = parse_time(h.created.as_deref());
        let created_at = rfc3339_local(created);
        let created_by = h.created_by.replace('\t', " ");
        let created_by = if args.no_trunc {
            created_by
        } else {
            ellipsis(&created_by, 45)
        };
        values.push(json!({
            "Comment": h.comment,
            "CreatedAt": created_at,
            "CreatedBy": created_by,
            "CreatedSince": if args.human { since(created) } else { created_at.clone() },
            "ID": id_of(i),
            "Size": if args.human { size_column(*size) } else { size.to_string() },
        }));
    }
    let headers = json!({
        "ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT",
        "CreatedBy": "CREATED BY", "Size": "SIZE", "Comment": "COMMENT",
    });
    let default = if args.human {
        DEFAULT
    } else {
        DEFAULT_NON_HUMAN
    };
    crate::format::write_rows_typed(
        &mut out,
        args.format.as_deref(),
        default,
        &headers,
        &values,
        &row_type(),
    )
}

/// Docker 20.10's row of `docker history` (`*image.historyContext`): string columns, `{{json
/// .}}` as a sorted, HTML-escaped map, any other name an error.
fn row_type() -> GoType {
    let columns = [
        "Comment",
        "CreatedAt",
        "CreatedBy",
        "CreatedSince",
        "ID",
        "Size",
    ];
    crate::format::string_row("image.historyContext", &columns)
}

/// Go's `time.Unix(t, 0).Format(time.RFC3339)`: seconds, in the local time zone, `Z` for
/// UTC, as `docker history` prints `CreatedAt`.
fn rfc3339_local(t: Option<jiff::Timestamp>) -> String {
    let Some(t) = t else {
        return "0001-01-01T00:00:00Z".into();
    };
    let zoned = t.to_zoned(jiff::tz::TimeZone::system());
    if zoned.offset().seconds() == 0 {
        zoned.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    } else {
        zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
    }
}
