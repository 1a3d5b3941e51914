//! `strata images` — Docker's `docker images`: one row per tag (dangling images as
//! `<none>`), newest first, with Docker's columns, filters and `--format`.

use std::io::Write;

use anyhow::anyhow;
use serde_json::{Value, json};
use strata_oci::Digest;
use strata_oci::reference::{AnyReference, familiar_match};
use strata_template::GoType;

use crate::Ctx;
use crate::cli::ImagesArgs;
use crate::image::{self, go_time_string, parse_time, since};
use crate::units::size_column;

const DEFAULT: &str = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
const DEFAULT_DIGESTS: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";

struct Row {
    digest: Digest,
    id: Digest,
    name: Option<String>,
    created: Option<jiff::Timestamp>,
    size: u64,
    repo_digests: Vec<String>,
}

enum Filter {
    Dangling(bool),
    Reference(String),
    Before(Option<jiff::Timestamp>),
    Since(Option<jiff::Timestamp>),
    Label(String, Option<String>),
}

pub fn run(ctx: &Ctx, args: ImagesArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let images = store.images()?;

    let mut filters = Vec::new();
    for f in &args.filter {
        // A value without `=` is refused by the CLI's flag parser (exit 125); the rest by
        // the daemon, with its wording.
        let Some((k, v)) = f.split_once('=') else {
            eprintln!(
                "invalid argument \"{f}\" for \"-f, --filter\" flag: bad format of filter (expected name=value)\nSee 'strata images --help'."
            );
            return Err(crate::Exit(125).into());
        };
        filters.push(match k {
            "dangling" => match v.to_ascii_lowercase().as_str() {
                "true" | "1" => Filter::Dangling(true),
                "false" | "0" => Filter::Dangling(false),
                _ => {
                    return Err(image::daemon_error(anyhow!(
                        "Invalid filter 'dangling=[{v}]'"
                    )));
                }
            },
            "reference" => Filter::Reference(v.to_string()),
            "before" | "since" => {
                let d = image::resolve(&store, &images, v).map_err(image::daemon_error)?;
                let t = image::load_info(&store, &images, &d)?
                    .config
                    .created
                    .clone();
                let t = parse_time(t.as_deref());
                if k == "before" {
                    Filter::Before(t)
                } else {
                    Filter::Since(t)
                }
            }
            "label" => match v.split_once('=') {
                Some((a, b)) => Filter::Label(a.to_string(), Some(b.to_string())),
                None => Filter::Label(v.to_string(), None),
            },
            _ => return Err(image::daemon_error(anyhow!("Invalid filter '{k}'"))),
        });
    }
    if let Some(r) = &args.reference {
        filters.push(Filter::Reference(r.clone()));
    }

    let mut rows = Vec::new();
    let mut computed = Vec::new();
    for digest in images.digests() {
        let names: Vec<String> = images
            .names_of(digest)
            .into_iter()
            .map(str::to_string)
            .collect();
        let meta = images.meta(digest);
        let summary = meta.and_then(|m| m.summary.as_ref());
        let (id, created) = match summary {
            Some(s) => (s.config.digest.clone(), s.created.clone()),
            None => {
                let d = images.by_digest(digest).map(image::strip);
                let Some(d) = d else { continue };
                let info = image::load_info(&store, &images, &d)?;
                (info.config_digest, info.config.created.clone())
            }
        };
        let (sizes, fresh) = image::docker_layer_sizes(&store, &images, digest)?;
        let size = sizes.iter().sum();
        if fresh {
            computed.push((digest.clone(), sizes));
        }
        let repo_digests = meta.map(|m| m.repo_digests.clone()).unwrap_or_default();
        let created = parse_time(created.as_deref());
        let base = Row {
            digest: digest.clone(),
            id,
            name: None,
            created,
            size,
            repo_digests,
        };
        if names.is_empty() {
            rows.push(base);
        } else {
            for n in names {
                rows.push(Row {
                    name: Some(n),
                    digest: base.digest.clone(),
                    id: base.id.clone(),
                    repo_digests: base.repo_digests.clone(),
                    ..base
                });
            }
        }
    }

    let mut kept = Vec::new();
    for row in rows {
        if keep(&store, &images, &row, &filters)? {
            kept.push(row);
        }
    }
    kept.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
    image::remember_layer_sizes(&store, &computed);

    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.tree {
        return layer_tree(&mut out, &store, &images, &kept, args.no_trunc);
    }
    if args.quiet {
        // One line per row, as Docker 20.10 prints: an image with several tags repeats.
        for r in &kept {
            writeln!(out, "{}", id_text(&r.id, args.no_trunc))?;
        }
        return Ok(());
    }
    let values: Vec<Value> = kept.iter().map(|r| row_value(r, args.no_trunc)).collect();
    let default = if args.digests {
        DEFAULT_DIGESTS
    } else {
        DEFAULT
    };
    let headers = json!({
        "ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
        "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE",
        "Containers": "CONTAINERS", "VirtualSize": "VIRTUAL SIZE",
        "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
    });
    crate::format::write_rows_typed(
        &mut out,
        args.format.as_deref(),
        default,
        &headers,
        &values,
        &row_type(),
    )
}

fn id_text(id: &Digest, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.short().to_string()
    }
}

fn row_value(r: &Row, no_trunc: bool) -> Value {
    let (repo, tag) = match &r.name {
        Some(n) => image::repo_and_tag(n),
        None => ("<none>".to_string(), "<none>".to_string()),
    };
    // DIGEST: the registry digest recorded for this repository, as Docker shows it.
    let digest = r
        .name
        .as_deref()
        .and_then(|n| strata_oci::reference::Reference::parse(n).ok())
        .and_then(|n| {
            let prefix = format!("{}@", n.name());
            r.repo_digests
                .iter()
                .find_map(|d| d.strip_prefix(&prefix).map(str::to_string))
        })
        .or_else(|| {
            r.repo_digests
                .first()
                .and_then(|d| d.split_once('@').map(|(_, d)| d.to_string()))
        })
        .unwrap_or_else(|| "<none>".into());
    json!({
        "Containers": "N/A",
        "CreatedAt": go_time_string(r.created),
        "CreatedSince": since(r.created),
        "Digest": digest,
        "ID": id_text(&r.id, no_trunc),
        "Repository": repo,
        "SharedSize": "N/A",
        "Size": size_column(r.size),
        "Tag": tag,
        "UniqueSize": "N/A",
        // Docker 20.10 prints VirtualSize with go-units' HumanSize (4 significant digits).
        "VirtualSize": crate::units::human_size(r.size),
    })
}

/// Docker 20.10's row of `docker images` (`*formatter.imageContext`): its columns are
/// methods returning strings, `{{json .}}` marshals them as a map (sorted, HTML-escaped), and
/// any other name is an error.
fn row_type() -> GoType {
    let columns = [
        "Containers",
        "CreatedAt",
        "CreatedSince",
        "Digest",
        "ID",
        "Repository",
        "SharedSize",
        "Size",
        "Tag",
        "UniqueSize",
        "VirtualSize",
    ];
    crate::format::string_row("formatter.imageContext", &columns)
}

fn keep(
    store: &strata_store::Store,
    images: &strata_store::Images,
    row: &Row,
    filters: &[Filter],
) -> anyhow::Result<bool> {
    // Docker ORs values of the same filter key and ANDs different keys; reference
    // filters are ORed among themselves.
    let refs: Vec<&String> = filters
        .iter()
        .filter_map(|f| match f {
            Filter::Reference(p) => Some(p),
            _ => None,
        })
        .collect();
    if !refs.is_empty() {
        let Some(name) = &row.name else {
            return Ok(false);
        };
        let any = AnyReference::parse(name).map_err(|e| anyhow!("{e}"))?;
        let mut hit = false;
        for p in &refs {
            // `busybox` as a positional argument means every tag of that repository.
            let repo_match = familiar_match(p, &any).unwrap_or(false)
                || image::repo_and_tag(name).0 == **p
                || strata_oci::reference::Reference::parse_normalized(p)
                    .ok()
                    .is_some_and(|r| {
                        r.tag().is_none() && r.digest_str().is_none() && {
                            strata_oci::reference::Reference::parse(name)
                                .is_ok_and(|n| n.name() == r.name())
                        }
                    })
                || strata_oci::reference::Reference::parse_normalized(p)
                    .ok()
                    .is_some_and(|r| r.to_string() == *name);
            if repo_match {
                hit = true;
                break;
            }
        }
        if !hit {
            return Ok(false);
        }
    }
    for f in filters {
        let ok = match f {
            Filter::Dangling(want) => row.name.is_none() == *want,
            Filter::Reference(_) => true,
            Filter::Before(t) => row.created < *t,
            Filter::Since(t) => row.created > *t,
            Filter::Label(k, v) => {
                let Some(d) = images.by_digest(&row.digest).map(image::strip) else {
                    return Ok(false);
                };
                let info = image::load_info(store, images, &d)?;
                let labels = info.config.config.and_then(|c| c.labels);
                match (labels.as_ref().and_then(|l| l.get(k)), v) {
                    (Some(_), None) => true,
                    (Some(have), Some(want)) => have == want,
                    (None, _) => false,
                }
            }
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

/// One layer in `images --tree`: reached from the bottom layer through the same parents.
struct TreeNode {
    digest: Digest,
    size: u64,
    /// Images whose layer stack includes this node.
    images: usize,
    children: Vec<usize>,
    /// Names of the images whose top layer this is.
    ends: Vec<String>,
}

/// `images --tree`: the images' layer stacks merged into a tree (a layer shared by several
/// images is one node), so one sees which bytes exist once on disk and which images build on
/// them. Sizes are unpacked layer sizes where known, else stored sizes, as in `images`.
fn layer_tree(
    out: &mut dyn Write,
    store: &strata_store::Store,
    images: &strata_store::Images,
    rows: &[Row],
    no_trunc: bool,
) -> anyhow::Result<()> {
    // Names per image, in listing order.
    let mut order: Vec<Digest> = Vec::new();
    let mut names: std::collections::HashMap<Digest, Vec<String>> = Default::default();
    for r in rows {
        if !names.contains_key(&r.digest) {
            order.push(r.digest.clone());
        }
        let label = match &r.name {
            Some(n) => image::familiar(n),
            None => format!("<none> ({})", id_text(&r.id, no_trunc)),
        };
        names.entry(r.digest.clone()).or_default().push(label);
    }
    let mut nodes: Vec<TreeNode> = Vec::new();
    let mut roots: Vec<usize> = Vec::new();
    let mut per_image_total = 0u64;
    for digest in &order {
        let Some(desc) = images.by_digest(digest).map(image::strip) else {
            continue;
        };
        let (_, manifest) = image::load_manifest(store, &desc)?;
        let sizes = image::layer_sizes(images.meta(digest), &manifest);
        let mut parent: Option<usize> = None;
        for (layer, size) in manifest.layers.iter().zip(sizes) {
            per_image_total += size;
            let siblings = match parent {
                Some(p) => &nodes[p].children,
                None => &roots,
            };
            let found = siblings
                .iter()
                .copied()
                .find(|&i| nodes[i].digest == layer.digest);
            let id = match found {
                Some(i) => i,
                None => {
                    nodes.push(TreeNode {
                        digest: layer.digest.clone(),
                        size,
                        images: 0,
                        children: Vec::new(),
                        ends: Vec::new(),
                    });
                    let i = nodes.len() - 1;
                    match parent {
                        Some(p) => nodes[p].children.push(i),
                        None => roots.push(i),
                    }
                    i
                }
            };
            nodes[id].images += 1;
            parent = Some(id);
        }
        let label = names.get(digest).map(|n| n.join(", ")).unwrap_or_default();
        match parent {
            Some(p) => nodes[p].ends.push(label),
            None => writeln!(out, "{label} (no layers)")?,
        }
    }
    fn walk(
        out: &mut dyn Write,
        nodes: &[TreeNode],
        i: usize,
        prefix: &str,
        last: bool,
        top: bool,
        no_trunc: bool,
    ) -> std::io::Result<()> {
        let n = &nodes[i];
        let (branch, next) = match (top, last) {
            (true, _) => ("", String::new()),
            (false, true) => ("└── ", format!("{prefix}    ")),
            (false, false) => ("├── ", format!("{prefix}│   ")),
        };
        let digest = if no_trunc {
            n.digest.to_string()
        } else {
            n.digest.hex()[..12].to_string()
        };
        let shared = if n.images > 1 {
            format!("  shared by {} images", n.images)
        } else {
            String::new()
        };
        writeln!(
            out,
            "{prefix}{branch}{digest}  {}{shared}",
            size_column(n.size)
        )?;
        let count = n.ends.len() + n.children.len();
        for (k, name) in n.ends.iter().enumerate() {
            let glyph = if k + 1 == count {
                "└── "
            } else {
                "├── "
            };
            writeln!(out, "{next}{glyph}{name}")?;
        }
        for (k, &c) in n.children.iter().enumerate() {
            let is_last = n.ends.len() + k + 1 == count;
            walk(out, nodes, c, &next, is_last, false, no_trunc)?;
        }
        Ok(())
    }
    for &r in &roots {
        walk(out, &nodes, r, "", true, true, no_trunc)?;
    }
    let unique: u64 = nodes.iter().map(|n| n.size).sum();
    writeln!(
        out,
        "\n{} image{}, {} layer{}: {} on disk ({} if no layer were shared)",
        order.len(),
        if order.len() == 1 { "" } else { "s" },
        nodes.len(),
        if nodes.len() == 1 { "" } else { "s" },
        size_column(unique),
        size_column(per_image_total)
    )?;
    Ok(())
}
