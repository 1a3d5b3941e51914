//! `strata inspect` — Docker's `docker inspect`: containers (see `cmd/container.rs`) and, as
//! `docker image inspect`, images: a JSON array of Docker 20.10's image objects, same keys in
//! the same order (`Id`, `RepoTags`, `RepoDigests`, `Parent`, `Comment`, `Created`,
//! `Container`, `ContainerConfig`, …, `Size`, `VirtualSize`, `GraphDriver`, `RootFS`,
//! `Metadata`), plus the `Descriptor` newer Docker releases add, or one `--format` rendering
//! per image.

use std::io::Write;

use serde_json::{Value, json};

use crate::Ctx;
use crate::cli::InspectArgs;
use crate::image;

pub fn run(ctx: &Ctx, args: InspectArgs) -> anyhow::Result<()> {
    if let Some(kind) = &args.kind
        && kind != "image"
        && kind != "container"
    {
        // Docker's CLI words this one itself, without an `Error:` prefix.
        eprintln!("{kind:?} is not a valid value for --type");
        return Err(crate::Exit(1).into());
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
            // Docker's CLI names the object as typed: "No such image: x" with `--type image`
            // (and `image inspect`), "No such object: x" when any kind would have done.
            Err(e) => match e.downcast_ref::<image::NoSuchImage>() {
                Some(missing) if args.kind.is_none() => {
                    errors.push(anyhow::anyhow!("No such object: {}", missing.input))
                }
                Some(missing) => errors.push(anyhow::anyhow!("No such image: {}", missing.input)),
                None => errors.push(e),
            },
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match &args.format {
        Some(f) => crate::format::write_template(&mut out, f, &found)?,
        None => writeln!(
            out,
            "{}",
            crate::format::daemon_json_indent(&Value::Array(found))
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
    let (sizes, fresh) = image::docker_layer_sizes(store, images, &desc.digest)?;
    if fresh {
        image::remember_layer_sizes(store, &[(desc.digest.clone(), sizes.clone())]);
    }
    let size: u64 = sizes.iter().sum();
    let meta = images.meta(&desc.digest);
    let repo_tags: Vec<String> = image::sorted_names(images, &desc.digest)
        .iter()
        .map(|n| image::familiar(n))
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
    v.insert("Container".into(), json!(c.container));
    // Docker 20.10 shows an empty container config when the image has none.
    v.insert(
        "ContainerConfig".into(),
        c.container_config
            .clone()
            .unwrap_or_default()
            .to_docker_json(),
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
    v.insert("Size".into(), json!(size));
    v.insert("VirtualSize".into(), json!(size));
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
