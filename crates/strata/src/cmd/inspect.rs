//! `strata inspect` — Docker's `docker inspect`: containers (see `cmd/container.rs`) and, as
//! `docker image inspect`, images: a JSON array of Docker's image
//! objects (`Id`, `RepoTags`, `RepoDigests`, `Created`, `Config`, `RootFS`, `Metadata`…),
//! or one `--format` rendering per image.

use std::io::Write;

use anyhow::bail;
use serde_json::{Value, json};

use crate::Ctx;
use crate::cli::InspectArgs;
use crate::image;

pub fn run(ctx: &Ctx, args: InspectArgs) -> anyhow::Result<()> {
    if let Some(kind) = &args.kind
        && kind != "image"
        && kind != "container"
    {
        bail!("unsupported --type {kind:?}: Strata's inspect knows images and containers");
    }
    let store = ctx.store()?;
    let images = store.images()?;
    // Only look at containers when there are any (inspect must not create the directory).
    let containers =
        if args.kind.as_deref() == Some("image") || !ctx.root()?.join("containers").is_dir() {
            None
        } else {
            Some(crate::cmd::container::containers(ctx)?)
        };
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for name in &args.names {
        // Containers first, as Docker's inspect looks them up.
        if let Some(cs) = &containers
            && let Ok(c) = cs.resolve(name).and_then(|id| cs.load(&id))
        {
            found.push(crate::cmd::container::inspect_value(&c));
            continue;
        }
        if args.kind.as_deref() == Some("container") {
            errors.push(anyhow::anyhow!("No such container: {name}"));
            continue;
        }
        match image::resolve(&store, &images, name) {
            Ok(desc) => found.push(inspect_value(&store, &images, &desc)?),
            Err(e) => errors.push(e),
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match &args.format {
        Some(f) => crate::format::write_template(&mut out, f, &found)?,
        None => writeln!(
            out,
            "{}",
            crate::format::go_json_indent(&Value::Array(found))
        )?,
    }
    out.flush()?;
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("Error: {e}");
        }
        return Err(crate::Exit(1).into());
    }
    Ok(())
}

/// Docker's `ImageInspect` object for one image.
pub fn inspect_value(
    store: &strata_store::Store,
    images: &strata_store::Images,
    desc: &strata_oci::Descriptor,
) -> anyhow::Result<Value> {
    let info = image::load_info(store, images, desc)?;
    let meta = images.meta(&desc.digest);
    let repo_tags: Vec<String> = images
        .names_of(&desc.digest)
        .into_iter()
        .map(image::familiar)
        .collect();
    let repo_digests: Vec<String> = meta
        .map(|m| {
            m.repo_digests
                .iter()
                .map(|d| match d.split_once('@') {
                    Some((n, dg)) => format!("{}@{dg}", image::familiar(n)),
                    None => d.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let c = &info.config;
    let mut v = serde_json::Map::new();
    v.insert("Id".into(), json!(info.config_digest.to_string()));
    v.insert("RepoTags".into(), json!(repo_tags));
    v.insert("RepoDigests".into(), json!(repo_digests));
    v.insert("Parent".into(), json!(c.parent));
    v.insert("Comment".into(), json!(c.comment));
    v.insert(
        "Created".into(),
        json!(c.created.clone().unwrap_or_default()),
    );
    v.insert("DockerVersion".into(), json!(c.docker_version));
    v.insert("Author".into(), json!(c.author));
    v.insert("Config".into(), c.config_or_default().to_docker_json());
    v.insert("Architecture".into(), json!(c.architecture));
    if !c.variant.is_empty() {
        v.insert("Variant".into(), json!(c.variant));
    }
    v.insert("Os".into(), json!(c.os));
    if !c.os_version.is_empty() {
        v.insert("OsVersion".into(), json!(c.os_version));
    }
    v.insert("Size".into(), json!(info.size));
    v.insert(
        "GraphDriver".into(),
        json!({"Data": null, "Name": "strata"}),
    );
    v.insert(
        "RootFS".into(),
        json!({"Type": "layers", "Layers": c.rootfs.diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>()}),
    );
    v.insert(
        "Metadata".into(),
        json!({"LastTagTime": meta.and_then(|m| m.last_tag_time.clone()).unwrap_or_else(|| "0001-01-01T00:00:00Z".into())}),
    );
    v.insert(
        "Descriptor".into(),
        json!({"mediaType": desc.media_type, "digest": desc.digest.to_string(), "size": desc.size}),
    );
    Ok(Value::Object(v))
}
