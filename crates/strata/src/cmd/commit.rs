//! `strata commit` — Docker's `docker commit`: a container's copy-on-write layer becomes a
//! new image layer on top of its image's layers (whiteouts become OCI `.wh.` entries), with
//! the container's command and environment as the new image's config, a history entry
//! (`-m`, `-a`) and `-c` Dockerfile changes, optionally tagged. Prints the new image ID.

use anyhow::{Context as _, anyhow};
use clap::Args;
use strata_layer::{CompressOptions, Compression, CreateOptions, LayerWriter};
use strata_oci::config::{History, ImageConfig};
use strata_oci::{Descriptor, Manifest, Parsed, media_type};

use crate::Ctx;
use crate::cmd::container;
use crate::image;

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Pause container during commit (accepted; the layer is read as it is)
    #[arg(short = 'p', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pause: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

pub fn run(ctx: &Ctx, args: CommitArgs) -> anyhow::Result<()> {
    let target = args
        .reference
        .as_deref()
        .map(image::normalize_tag)
        .transpose()?;
    let cs = container::containers(ctx)?;
    let id = container::resolve(&cs, &args.container).map_err(container::daemon_err)?;
    let c = cs.load(&id)?;
    let store = ctx.store()?;
    let images = store.images()?;
    // The container's image: the stored image whose ID (config digest) it recorded, found
    // from the cached summaries; only its own manifest and config are read.
    let desc = images
        .digests()
        .into_iter()
        .find(|d| {
            image::image_id(&store, &images, d).is_ok_and(|i| i.to_string() == c.config.image_id)
        })
        .and_then(|d| images.by_digest(d).map(image::strip))
        .ok_or_else(|| {
            anyhow!(
                "image {} of container {id} is no longer in the store",
                c.config.image_id
            )
        })?;
    let (_, base_manifest) = image::load_manifest(&store, &desc)?;
    let config_digest = &base_manifest.config.digest;
    let bytes = store
        .read_blob(config_digest)
        .with_context(|| format!("reading image config {config_digest}"))?;
    let mut config = ImageConfig::parse_with_digest(&bytes, config_digest)?;

    // Mount-point stubs are not part of the change (only removable while stopped).
    let upper = c.upper();
    if !(c.state.running() && cs.monitor_alive(&id)) {
        strata_runtime::remove_mount_stubs(&upper, &|p: &str| {
            strata_build::fsutil::lookup(&c.config.lower, p).is_some()
        });
        let hn = upper.join("etc/hostname");
        if strata_build::fsutil::lookup(&c.config.lower, "/etc/hostname").is_none()
            && std::fs::metadata(&hn).is_ok_and(|m| m.len() == 0)
        {
            let _ = std::fs::remove_file(hn);
        }
    }

    let lease = store.lease()?;
    let mut blob = store.writer(&lease)?;
    let info = {
        let mut w =
            LayerWriter::new_digesting(&mut blob, &CompressOptions::new(Compression::Gzip))?;
        strata_layer::create(
            &upper,
            &mut w,
            &CreateOptions {
                clamp_mtime: None,
                overlay_upper: true,
            },
        )
        .with_context(|| format!("reading the container layer {}", upper.display()))?;
        w.finish_with(|b| b.digest())?.0
    };
    blob.commit(Some(&info.digest), Some(info.size))?;

    // The container's settings become the image's, as Docker's commit does.
    let mut cc = config.config_or_default();
    let runtime_only = |e: &String| {
        let k = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
        (k == "HOSTNAME")
            || (k == "HOME" && !cc.env.iter().flatten().any(|x| x.starts_with("HOME=")))
    };
    // Docker's Config.Env when kept (without TERM of `-t` either); for older containers,
    // the process environment without what the start added.
    let env: Vec<String> = c.config.config_env.clone().unwrap_or_else(|| {
        c.config
            .env
            .iter()
            .filter(|e| !runtime_only(e))
            .cloned()
            .collect()
    });
    cc.env = Some(env);
    cc.cmd = (!c.config.cmd.is_empty()).then(|| c.config.cmd.clone());
    cc.entrypoint = (!c.config.entrypoint.is_empty()).then(|| c.config.entrypoint.clone());
    for change in &args.changes {
        crate::cmd::import::apply_change(&mut cc, change)?;
    }
    let created = jiff::Timestamp::now().to_string();
    config.config = Some(cc);
    config.created = Some(created.clone());
    // As Docker's commit: the new image's author and comment are this commit's (empty
    // when not given), not the parent's.
    config.author = args.author.clone().unwrap_or_default();
    config.comment = args.message.clone().unwrap_or_default();
    config.rootfs.diff_ids.push(info.diff_id.clone());
    config.history.push(History {
        created: Some(created),
        author: args.author.clone().unwrap_or_default(),
        // Docker's daemon writes the container's command alone (not its entrypoint).
        created_by: c.config.cmd.join(" "),
        comment: args.message.clone().unwrap_or_default(),
        ..Default::default()
    });
    let config = Parsed::from_value(config, media_type::OCI_CONFIG);
    let config_desc = store.write_blob(&lease, &config.bytes, media_type::OCI_CONFIG)?;
    let mut layers: Vec<Descriptor> = base_manifest.layers.clone();
    layers.push(Descriptor::new(
        info.media_type,
        info.digest.clone(),
        info.size as i64,
    ));
    let manifest = Parsed::from_value(
        Manifest::new_oci(config_desc, layers),
        media_type::OCI_MANIFEST,
    );
    let manifest_desc = store.write_blob(&lease, &manifest.bytes, media_type::OCI_MANIFEST)?;
    // Unpacked layer sizes, as `images`/`history` show them: the base image's as it shows
    // them, then the new layer's own unpacked size (not its compressed blob size).
    let mut sizes = image::layer_sizes(images.meta(&desc.digest), &base_manifest);
    sizes.push(info.uncompressed_size);
    store.update(|txn| -> anyhow::Result<()> {
        match &target {
            Some(t) => {
                txn.tag(t, &manifest_desc)?;
            }
            None => {
                txn.add_dangling(&manifest_desc)?;
            }
        }
        txn.meta_mut(&manifest_desc.digest)
            .extra
            .insert(image::META_LAYER_SIZES.into(), serde_json::json!(sizes));
        Ok(())
    })?;
    drop(lease);
    println!("{}", config.digest);
    Ok(())
}
