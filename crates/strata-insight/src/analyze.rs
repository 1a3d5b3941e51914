//! Layer efficiency: how much of an image's bytes the final filesystem actually shows.
//!
//! - **Hidden bytes**: file versions that a later layer overwrote or deleted still ship in
//!   the lower layer's blob (layers are immutable), so every pull pays for them.
//! - **Cache bytes**: files the image shows but never needs at run time — package-manager
//!   caches (apt lists and archives, apk, pip, npm, yarn, cargo, Go build cache, dnf/yum)
//!   and temporary directories (`/tmp`, `/var/tmp`).
//! - **Wasted bytes** are both together. The **efficiency** score is
//!   `1 - wasted / total`, where `total` is the bytes of every file in every layer — in the
//!   spirit of dive's score (which counts duplicated and removed files), extended with the
//!   caches because they are the most common waste in practice.
//!
//! Suggestions tie each finding to the Dockerfile practice that avoids it: clean caches in
//! the RUN that fills them, delete temporary files in the RUN that creates them (or build
//! in another stage), combine consecutive RUNs, use a multi-stage build when compilers ship
//! in the final image, and a smaller base when the base layer dominates.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::image::Image;
use crate::layers::{Hidden, Inventory, Kind};

/// Largest number of wasted files listed individually.
const TOP_FILES: usize = 20;
/// A base layer above this size earns the smaller-base suggestion.
const LARGE_BASE: u64 = 100 << 20;

/// One layer's line in the report.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    pub index: usize,
    pub digest: String,
    pub created_by: String,
    /// Bytes of files the layer adds.
    pub size: u64,
    /// Bytes of the stored blob.
    pub compressed_size: u64,
    pub files: u64,
    /// Bytes of this layer hidden by later layers.
    pub hidden_bytes: u64,
    /// Bytes of caches and temporary files this layer leaves visible.
    pub cache_bytes: u64,
}

/// Caches of one kind left in one layer.
#[derive(Debug, Clone, Serialize)]
pub struct CacheReport {
    /// What it is (`apt package lists`).
    pub kind: &'static str,
    /// The directory it lives in.
    pub path: String,
    pub layer: usize,
    pub files: u64,
    pub bytes: u64,
    /// How to avoid it.
    pub fix: &'static str,
}

/// A concrete suggestion.
#[derive(Debug, Clone, Serialize)]
pub struct Suggestion {
    /// A stable identifier (`clean-caches`, `remove-in-same-layer`, `combine-runs`,
    /// `multi-stage`, `smaller-base`).
    pub rule: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<usize>,
    /// Bytes it would save (0 when not measurable).
    pub bytes: u64,
}

/// The analysis of one image.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub image: String,
    /// Bytes of all files in all layers.
    pub total_bytes: u64,
    /// Bytes of the files the final filesystem shows.
    pub visible_bytes: u64,
    pub hidden_bytes: u64,
    pub cache_bytes: u64,
    pub wasted_bytes: u64,
    /// `1 - wasted / total` (1.0 for an empty image).
    pub efficiency: f64,
    pub layers: Vec<LayerReport>,
    /// The largest hidden file versions.
    pub wasted_files: Vec<Hidden>,
    pub caches: Vec<CacheReport>,
    pub suggestions: Vec<Suggestion>,
}

/// Cache locations: (matcher, kind, fix).
type CacheRule = (fn(&str) -> Option<String>, &'static str, &'static str);

fn under(prefix: &'static str) -> impl Fn(&str) -> Option<String> {
    move |p: &str| {
        p.strip_prefix(prefix)
            .filter(|rest| !rest.is_empty())
            .map(|_| prefix.trim_end_matches('/').to_string())
    }
}

fn containing(p: &str, marker: &str) -> Option<String> {
    let i = if p.starts_with(&marker[1..]) {
        Some(0)
    } else {
        p.find(marker).map(|i| i + 1)
    }?;
    let dir_end = i + marker.len() - 1;
    (p.len() > dir_end).then(|| p[..dir_end].trim_end_matches('/').to_string())
}

const CACHE_RULES: &[CacheRule] = &[
    (
        |p| under("var/lib/apt/lists/")(p).filter(|_| !p.ends_with("/lock")),
        "apt package lists",
        "run `rm -rf /var/lib/apt/lists/*` in the same RUN as `apt-get update`",
    ),
    (
        |p| under("var/cache/apt/")(p),
        "apt package cache",
        "run `apt-get clean` in the same RUN as `apt-get install` (or use a cache mount)",
    ),
    (
        |p| under("var/cache/apk/")(p),
        "apk package cache",
        "use `apk add --no-cache`",
    ),
    (
        |p| under("var/cache/dnf/")(p).or_else(|| under("var/cache/yum/")(p)),
        "dnf/yum package cache",
        "run `dnf clean all` in the same RUN as the install",
    ),
    (
        |p| containing(p, "/.cache/pip/"),
        "pip cache",
        "use `pip install --no-cache-dir` (or `RUN --mount=type=cache,target=/root/.cache/pip`)",
    ),
    (
        |p| containing(p, "/.npm/_cacache/"),
        "npm cache",
        "run `npm cache clean --force` in the same RUN (or use a cache mount)",
    ),
    (
        |p| containing(p, "/.cache/yarn/"),
        "yarn cache",
        "run `yarn cache clean` in the same RUN (or use a cache mount)",
    ),
    (
        |p| containing(p, "/.cargo/registry/").or_else(|| containing(p, "/.cargo/git/")),
        "cargo registry cache",
        "build in a separate stage and copy only the binary",
    ),
    (
        |p| containing(p, "/.cache/go-build/").or_else(|| containing(p, "/go/pkg/mod/cache/")),
        "Go build and module cache",
        "build in a separate stage and copy only the binary",
    ),
    (
        |p| under("tmp/")(p).or_else(|| under("var/tmp/")(p)),
        "temporary files",
        "delete temporary files in the RUN that creates them",
    ),
];

/// Compilers and toolchains whose presence suggests a multi-stage build.
const BUILD_TOOLS: &[&str] = &[
    "usr/bin/gcc",
    "usr/bin/g++",
    "usr/bin/cc",
    "usr/bin/make",
    "usr/local/go/bin/go",
    "usr/local/cargo/bin/cargo",
    "root/.cargo/bin/cargo",
    "usr/bin/javac",
];

fn is_run(created_by: &str) -> bool {
    let c = created_by.trim();
    (c.starts_with("RUN ") || c.starts_with("/bin/sh -c ") || c.starts_with("|"))
        && !c.contains("#(nop)")
}

fn short(created_by: &str) -> String {
    let c = created_by
        .trim()
        .trim_start_matches("/bin/sh -c #(nop) ")
        .trim_end_matches(" # buildkit");
    let c: String = c.chars().take(60).collect();
    if c.is_empty() {
        "unknown instruction".into()
    } else {
        c
    }
}

/// Sizes for messages as Docker prints them (go-units `HumanSizeWithPrecision(n, 3)`:
/// decimal units, three significant digits): `10MB`, `1.54MB`, `999B`.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    let decimals = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let mut s = format!("{v:.decimals$}");
    if s.contains('.') {
        s = s.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    s + UNITS[u]
}

/// Analyse an image whose files were read (metadata is not needed).
pub fn analyze(image: &Image, inv: &Inventory) -> Analysis {
    let n = inv.layers.len();
    let total_bytes: u64 = inv.layers.iter().map(|l| l.bytes).sum();
    let visible_bytes: u64 = inv
        .tree
        .values()
        .filter(|n| n.kind == Kind::File)
        .map(|n| n.size)
        .sum();
    let mut hidden_per_layer = vec![0u64; n];
    for h in &inv.hidden {
        if let Some(slot) = hidden_per_layer.get_mut(h.added_in) {
            *slot += h.size;
        }
    }
    let hidden_bytes: u64 = hidden_per_layer.iter().sum();

    // Caches: (kind, path, layer) → (files, bytes).
    let mut caches: BTreeMap<(usize, String, usize), (u64, u64)> = BTreeMap::new();
    for (path, node) in &inv.tree {
        if node.kind != Kind::File {
            continue;
        }
        for (i, (matcher, _, _)) in CACHE_RULES.iter().enumerate() {
            if let Some(dir) = matcher(path) {
                let e = caches.entry((i, dir, node.layer)).or_default();
                e.0 += 1;
                e.1 += node.size;
                break;
            }
        }
    }
    let mut cache_per_layer = vec![0u64; n];
    let caches: Vec<CacheReport> = caches
        .into_iter()
        .filter(|(_, (_, bytes))| *bytes > 0)
        .map(|((rule, path, layer), (files, bytes))| {
            if let Some(slot) = cache_per_layer.get_mut(layer) {
                *slot += bytes;
            }
            CacheReport {
                kind: CACHE_RULES[rule].1,
                path: format!("/{path}"),
                layer,
                files,
                bytes,
                fix: CACHE_RULES[rule].2,
            }
        })
        .collect();
    let cache_bytes: u64 = cache_per_layer.iter().sum();
    let wasted_bytes = hidden_bytes + cache_bytes;
    let efficiency = if total_bytes == 0 {
        1.0
    } else {
        1.0 - wasted_bytes.min(total_bytes) as f64 / total_bytes as f64
    };

    let layers: Vec<LayerReport> = inv
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let meta = image.layers.get(i);
            LayerReport {
                index: i,
                digest: meta.map(|m| m.digest.to_string()).unwrap_or_default(),
                created_by: meta.map(|m| m.created_by.clone()).unwrap_or_default(),
                size: l.bytes,
                compressed_size: meta.map(|m| m.compressed_size).unwrap_or(0),
                files: l.files,
                hidden_bytes: hidden_per_layer[i],
                cache_bytes: cache_per_layer[i],
            }
        })
        .collect();

    let mut wasted_files = inv.hidden.clone();
    wasted_files.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.path.cmp(&b.path)));
    wasted_files.truncate(TOP_FILES);

    let suggestions = suggest(image, inv, &layers, &caches);
    Analysis {
        image: image.name.clone(),
        total_bytes,
        visible_bytes,
        hidden_bytes,
        cache_bytes,
        wasted_bytes,
        efficiency,
        layers,
        wasted_files,
        caches,
        suggestions,
    }
}

fn suggest(
    image: &Image,
    inv: &Inventory,
    layers: &[LayerReport],
    caches: &[CacheReport],
) -> Vec<Suggestion> {
    let created = |i: usize| {
        image
            .layers
            .get(i)
            .map(|l| short(&l.created_by))
            .unwrap_or_else(|| "unknown instruction".into())
    };
    let mut out = Vec::new();
    for c in caches {
        out.push(Suggestion {
            rule: "clean-caches",
            message: format!(
                "layer {} (`{}`) leaves {} of {} in {}: {}",
                c.layer,
                created(c.layer),
                human(c.bytes),
                c.kind,
                c.path,
                c.fix
            ),
            layer: Some(c.layer),
            bytes: c.bytes,
        });
    }
    let mut pairs: BTreeMap<(usize, usize, bool), (u64, u64)> = BTreeMap::new();
    for h in &inv.hidden {
        let e = pairs
            .entry((h.added_in, h.removed_in, h.deleted))
            .or_default();
        e.0 += 1;
        e.1 += h.size;
    }
    for ((added, removed, deleted), (files, bytes)) in pairs {
        out.push(Suggestion {
            rule: "remove-in-same-layer",
            message: format!(
                "{} in {} file(s) added by layer {} (`{}`) and {} by layer {} (`{}`) still ship in layer {}: {} in the same RUN that creates them, or produce them in a build stage and COPY only the result",
                human(bytes),
                files,
                added,
                created(added),
                if deleted { "deleted" } else { "overwritten" },
                removed,
                created(removed),
                added,
                if deleted { "delete them" } else { "write the final version" },
            ),
            layer: Some(added),
            bytes,
        });
    }
    // Runs of three or more consecutive RUN layers.
    let mut i = 0;
    while i < image.layers.len() {
        let mut j = i;
        while j < image.layers.len() && is_run(&image.layers[j].created_by) {
            j += 1;
        }
        if j - i >= 3 {
            out.push(Suggestion {
                rule: "combine-runs",
                message: format!(
                    "layers {}–{} are {} consecutive RUN instructions: combine them with `&&` (each RUN adds a layer, and files removed by a later RUN still ship in the earlier one)",
                    i,
                    j - 1,
                    j - i
                ),
                layer: Some(i),
                bytes: 0,
            });
        }
        i = j.max(i + 1);
    }
    let tools: Vec<&str> = BUILD_TOOLS
        .iter()
        .copied()
        .filter(|t| inv.tree.contains_key(*t))
        .collect();
    if !tools.is_empty() {
        out.push(Suggestion {
            rule: "multi-stage",
            message: format!(
                "build tools ship in the final image ({}): compile in a builder stage and COPY --from it only what runs",
                tools.iter().map(|t| format!("/{t}")).collect::<Vec<_>>().join(", ")
            ),
            layer: None,
            bytes: 0,
        });
    }
    if let Some(base) = layers.first()
        && base.size > LARGE_BASE
    {
        out.push(Suggestion {
            rule: "smaller-base",
            message: format!(
                "the base layer alone is {}: a smaller base (a -slim variant, Alpine, or distroless) shrinks every pull",
                human(base.size)
            ),
            layer: Some(0),
            bytes: 0,
        });
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.bytes));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Change, Entry, LayerContents};
    use strata_oci::Digest;

    fn file(path: &str, size: u64) -> Change {
        Change::Add(Entry {
            path: path.into(),
            kind: Kind::File,
            size,
        })
    }

    fn image(created_by: &[&str]) -> Image {
        Image {
            name: "test".into(),
            manifest_digest: Digest::sha256(b"m"),
            config_digest: Digest::sha256(b"c"),
            config: strata_oci::ImageConfig::new(&strata_oci::Platform::host()),
            layers: created_by
                .iter()
                .map(|c| crate::image::Layer {
                    digest: Digest::sha256(c.as_bytes()),
                    diff_id: None,
                    compressed_size: 1,
                    created_by: c.to_string(),
                    created: None,
                })
                .collect(),
        }
    }

    fn contents(changes: Vec<Change>) -> LayerContents {
        let (files, bytes) = changes.iter().fold((0, 0), |(f, b), c| match c {
            Change::Add(e) if e.kind == Kind::File => (f + 1, b + e.size),
            _ => (f, b),
        });
        LayerContents {
            changes,
            files,
            bytes,
        }
    }

    #[test]
    fn deleted_files_and_caches_are_wasted() {
        let inv = Inventory::from_layers(vec![
            contents(vec![file("big.bin", 10_000_000), file("bin/app", 1_000)]),
            contents(vec![Change::Whiteout("big.bin".into())]),
            contents(vec![
                file(
                    "var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease",
                    500,
                ),
                file("var/lib/apt/lists/lock", 0),
                file("tmp/build.log", 20),
            ]),
        ]);
        let a = analyze(
            &image(&["ADD rootfs", "RUN rm /big.bin", "RUN apt-get update"]),
            &inv,
        );
        assert_eq!(a.hidden_bytes, 10_000_000);
        assert_eq!(a.cache_bytes, 520);
        assert_eq!(a.wasted_bytes, 10_000_520);
        assert_eq!(a.total_bytes, 10_001_520);
        assert_eq!(a.visible_bytes, 1_520);
        assert!(a.efficiency < 0.01);
        assert_eq!(a.layers[0].hidden_bytes, 10_000_000);
        assert_eq!(a.layers[2].cache_bytes, 520);
        assert_eq!(a.wasted_files[0].path, "big.bin");
        assert_eq!(a.suggestions[0].rule, "remove-in-same-layer");
        assert!(
            a.suggestions[0].message.contains("10MB"),
            "{}",
            a.suggestions[0].message
        );
        let kinds: Vec<_> = a.caches.iter().map(|c| c.kind).collect();
        assert_eq!(kinds, vec!["apt package lists", "temporary files"]);
        assert_eq!(a.caches[0].path, "/var/lib/apt/lists");
    }

    #[test]
    fn consecutive_runs_and_build_tools() {
        let inv = Inventory::from_layers(vec![
            contents(vec![file("usr/bin/gcc", 10)]),
            contents(vec![file("a", 1)]),
            contents(vec![file("b", 1)]),
            contents(vec![file("c", 1)]),
        ]);
        let a = analyze(
            &image(&["ADD x", "RUN a # buildkit", "/bin/sh -c b", "RUN c"]),
            &inv,
        );
        let rules: Vec<_> = a.suggestions.iter().map(|s| s.rule).collect();
        assert!(rules.contains(&"combine-runs"), "{rules:?}");
        assert!(rules.contains(&"multi-stage"), "{rules:?}");
        assert_eq!(a.efficiency, 1.0);
    }

    #[test]
    fn cache_matchers() {
        assert_eq!(
            containing("root/.cache/pip/http/x", "/.cache/pip/"),
            Some("root/.cache/pip".into())
        );
        assert_eq!(
            containing(".cache/pip/x", "/.cache/pip/"),
            Some(".cache/pip".into())
        );
        assert_eq!(containing("root/.cache/pipx/x", "/.cache/pip/"), None);
        assert_eq!(human(10_000_000), "10MB");
        assert_eq!(human(1_536_000), "1.54MB");
        assert_eq!(human(50_362_000), "50.4MB");
        assert_eq!(human(198_892_000), "199MB");
        assert_eq!(human(999), "999B");
    }
}
