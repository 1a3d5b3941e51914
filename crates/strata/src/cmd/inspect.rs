//! `strata inspect` — Docker's `docker inspect`: containers (see `cmd/container.rs`) and, as
//! `docker image inspect`, images: a JSON array of Docker 20.10's image objects, same keys in
//! the same order (`Id`, `RepoTags`, `RepoDigests`, `Parent`, `Comment`, `Created`,
//! `Container`, `ContainerConfig`, …, `Size`, `VirtualSize`, `GraphDriver`, `RootFS`,
//! `Metadata`), plus the `Descriptor` newer Docker releases add, or one `--format` rendering
//! per image. Templates run on the image as Docker's CLI types it ([`image_inspect_type`]:
//! `types.ImageInspect`), falling back to the raw JSON for what the type lacks.

use std::io::Write;

use serde_json::{Value, json};
use strata_template::GoType;

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
    let template = args
        .format
        .as_deref()
        .map(crate::format::inspect_template)
        .transpose()?;
    let store = ctx.store()?;
    let images = store.images()?;
    // Only look at containers when there are any (inspect must not create the directory).
    let containers =
        if args.kind.as_deref() == Some("image") || !ctx.root()?.join("containers").is_dir() {
            None
        } else {
            Some(crate::cmd::container::containers(ctx)?)
        };
    let image_type = image_inspect_type();
    // What each name gave, in order: a document and its Go type, or an error line. Docker
    // prints the documents and then every error, in the order of the names.
    let mut found: Vec<(Value, &GoType)> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut rendered = String::new();
    let mut add = |value: Value, ty: &GoType, errors: &mut Vec<String>| match &template {
        Some(t) => match crate::format::render_inspect(t, &value, ty) {
            Ok(s) => {
                rendered.push_str(&s);
                rendered.push('\n');
            }
            Err(e) => errors.push(e),
        },
        None => found.push((value, &GoType::Any)),
    };
    for name in &args.names {
        // Containers first, as Docker's inspect looks them up.
        if let Some(cs) = &containers
            && let Ok(c) = cs.resolve(name).and_then(|id| cs.load(&id))
        {
            add(
                crate::cmd::container::inspect_value(&c),
                &GoType::Any,
                &mut errors,
            );
            continue;
        }
        if args.kind.as_deref() == Some("container") {
            errors.push(format!("Error: No such container: {name}"));
            continue;
        }
        match image::resolve(&store, &images, name) {
            Ok(desc) => add(
                inspect_value(&store, &images, &desc)?,
                &image_type,
                &mut errors,
            ),
            // Docker's CLI names the object as typed: "No such image: x" with `--type image`
            // (and `image inspect`), "No such object: x" when any kind would have done.
            Err(e) => match e.downcast_ref::<image::NoSuchImage>() {
                Some(missing) if args.kind.is_none() => {
                    errors.push(format!("Error: No such object: {}", missing.input))
                }
                Some(missing) => errors.push(format!("Error: No such image: {}", missing.input)),
                None => errors.push(format!("Error: {e}")),
            },
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if template.is_some() {
        // Docker's template inspector writes an empty line when nothing rendered.
        if rendered.is_empty() {
            rendered.push('\n');
        }
        out.write_all(rendered.as_bytes())?;
    } else {
        let docs = found.into_iter().map(|(v, _)| v).collect();
        writeln!(
            out,
            "{}",
            crate::format::daemon_json_indent(&Value::Array(docs))
        )?;
    }
    out.flush()?;
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("{e}");
        }
        return Err(crate::Exit(1).into());
    }
    Ok(())
}

/// Docker 20.10's `container.Config` (`ContainerConfig` and `Config` of an image).
fn container_config_type() -> GoType {
    let strings = || GoType::slice(GoType::String);
    let health = GoType::structure(
        "container.HealthConfig",
        [
            ("Test", strings()),
            ("Interval", GoType::Duration),
            ("Timeout", GoType::Duration),
            ("StartPeriod", GoType::Duration),
            ("Retries", GoType::Int),
        ],
    );
    GoType::structure(
        "container.Config",
        [
            ("Hostname", GoType::String),
            ("Domainname", GoType::String),
            ("User", GoType::String),
            ("AttachStdin", GoType::Bool),
            ("AttachStdout", GoType::Bool),
            ("AttachStderr", GoType::Bool),
            (
                "ExposedPorts",
                GoType::named_map("nat.PortSet", "nat.Port", GoType::empty_struct()),
            ),
            ("Tty", GoType::Bool),
            ("OpenStdin", GoType::Bool),
            ("StdinOnce", GoType::Bool),
            ("Env", strings()),
            ("Cmd", strings()),
            ("Healthcheck", GoType::ptr(health)),
            ("ArgsEscaped", GoType::Bool),
            ("Image", GoType::String),
            ("Volumes", GoType::map(GoType::empty_struct())),
            ("WorkingDir", GoType::String),
            ("Entrypoint", strings()),
            ("NetworkDisabled", GoType::Bool),
            ("MacAddress", GoType::String),
            ("OnBuild", strings()),
            ("Labels", GoType::map(GoType::String)),
            ("StopSignal", GoType::String),
            ("StopTimeout", GoType::ptr(GoType::Int)),
            ("Shell", strings()),
        ],
    )
}

/// Docker 20.10's `types.ImageInspect`, the value `docker image inspect --format` templates
/// run on. Strata's `Descriptor` is not part of it (templates reach it through the raw-JSON
/// fallback, as they would with Docker).
pub fn image_inspect_type() -> GoType {
    GoType::structure(
        "types.ImageInspect",
        [
            ("ID", GoType::String),
            ("RepoTags", GoType::slice(GoType::String)),
            ("RepoDigests", GoType::slice(GoType::String)),
            ("Parent", GoType::String),
            ("Comment", GoType::String),
            ("Created", GoType::String),
            ("Container", GoType::String),
            ("ContainerConfig", GoType::ptr(container_config_type())),
            ("DockerVersion", GoType::String),
            ("Author", GoType::String),
            ("Config", GoType::ptr(container_config_type())),
            ("Architecture", GoType::String),
            ("Variant", GoType::String),
            ("Os", GoType::String),
            ("OsVersion", GoType::String),
            ("Size", GoType::Int),
            ("VirtualSize", GoType::Int),
            (
                "GraphDriver",
                GoType::structure(
                    "types.GraphDriverData",
                    [
                        ("Data", GoType::map(GoType::String)),
                        ("Name", GoType::String),
                    ],
                ),
            ),
            (
                "RootFS",
                GoType::structure(
                    "types.RootFS",
                    [
                        ("Type", GoType::String),
                        ("Layers", GoType::slice(GoType::String)),
                        ("BaseLayer", GoType::String),
                    ],
                ),
            ),
            (
                "Metadata",
                GoType::structure("types.ImageMetadata", [("LastTagTime", GoType::Time)]),
            ),
        ],
    )
    .json_key("ID", "Id")
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
