//! `strata import` — Docker's `docker import`: a root filesystem (a tarball — plain, gzip or
//! zstd — a directory, or `-` for stdin) becomes a one-layer image. Tarballs are validated
//! entry by entry while they stream into the store (no `..`, absolute names, escaping links,
//! or device nodes unless we are root), so a bad input leaves nothing behind. `--change`
//! applies Dockerfile instructions to the config as Docker does.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use anyhow::{Context as _, anyhow, bail};
use serde_json::json;
use strata_dockerfile::{CommandKind, EnvList, Lex};
use strata_layer::{
    CompressOptions, Compression, CreateOptions, LayerInfo, LayerWriter, ValidateOptions,
};
use strata_oci::config::{ContainerConfig, History, ImageConfig, KeySet};
use strata_oci::{Manifest, Parsed, Platform, media_type};

use crate::Ctx;
use crate::cli::ImportArgs;
use crate::image::{self, META_LAYER_SIZES};

pub fn run(ctx: &Ctx, args: ImportArgs) -> anyhow::Result<()> {
    let target = args
        .reference
        .as_deref()
        .map(image::normalize_tag)
        .transpose()?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p)
            .ok_or_else(|| anyhow!("invalid platform {p:?} (expected os[/arch[/variant]])"))?,
        None => Platform::host(),
    };
    let mut container = ContainerConfig::default();
    for change in &args.changes {
        apply_change(&mut container, change)?;
    }

    let store = ctx.store()?;
    let lease = store.lease()?;
    let mut blob = store.writer(&lease)?;
    let info = {
        let mut layer =
            LayerWriter::new_digesting(&mut blob, &CompressOptions::new(Compression::Gzip))?;
        let src = Path::new(&args.source);
        if args.source != "-" && src.is_dir() {
            strata_layer::create(src, &mut layer, &CreateOptions::default())
                .with_context(|| format!("reading {}", src.display()))?;
        } else {
            if args.source.contains("://") {
                bail!(
                    "importing from a URL is not supported: download it first, then import the file"
                );
            }
            let input: Box<dyn Read> = if args.source == "-" {
                Box::new(io::stdin().lock())
            } else {
                Box::new(File::open(src).with_context(|| format!("open {}", src.display()))?)
            };
            let (_, plain) = strata_layer::decompress(input)
                .with_context(|| format!("reading {}", args.source))?;
            let opts = ValidateOptions {
                allow_devices: is_root(),
            };
            strata_layer::validate(
                Tee {
                    inner: plain,
                    sink: &mut layer,
                },
                &opts,
            )
            .with_context(|| format!("invalid root filesystem archive {}", args.source))?;
        }
        let (info, _): (LayerInfo, _) = layer.finish_with(|b| b.digest())?;
        info
    };
    blob.commit(Some(&info.digest), Some(info.size))?;

    let src_name = if args.source == "-" || !Path::new(&args.source).is_dir() {
        "-".to_string()
    } else {
        args.source.clone()
    };
    let comment = args
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {src_name}"));
    let created = jiff::Timestamp::now().to_string();
    let mut config = ImageConfig::new(&platform);
    config.created = Some(created.clone());
    config.comment = comment.clone();
    config.config = Some(container);
    config.rootfs.diff_ids = vec![info.diff_id.clone()];
    config.history = vec![History {
        created: Some(created),
        comment,
        ..Default::default()
    }];
    let config = Parsed::from_value(config, media_type::OCI_CONFIG);
    let config_desc = store.write_blob(&lease, &config.bytes, media_type::OCI_CONFIG)?;
    let layer_desc =
        strata_oci::Descriptor::new(info.media_type, info.digest.clone(), info.size as i64);
    let manifest = Parsed::from_value(
        Manifest::new_oci(config_desc, vec![layer_desc]),
        media_type::OCI_MANIFEST,
    );
    let manifest_desc = store.write_blob(&lease, &manifest.bytes, media_type::OCI_MANIFEST)?;

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
            .insert(META_LAYER_SIZES.into(), json!([info.uncompressed_size]));
        Ok(())
    })?;
    drop(lease);
    println!("{}", config.digest);
    Ok(())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Copies everything read through it into `sink` (the layer writer), so validation and
/// storing share one pass over the input.
struct Tee<R, W> {
    inner: R,
    sink: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Apply one `--change` instruction, as `docker import`/`docker commit` do.
pub fn apply_change(c: &mut ContainerConfig, change: &str) -> anyhow::Result<()> {
    let df = strata_dockerfile::parse(change)
        .map_err(|e| anyhow!("invalid --change {change:?}: {e}"))?;
    let Some(node) = df.instructions.first() else {
        bail!("invalid --change {change:?}: no instruction");
    };
    let cmd = strata_dockerfile::parse_command(node)
        .map_err(|e| anyhow!("invalid --change {change:?}: {e}"))?;
    let env = EnvList::from_pairs(c.env.as_deref().unwrap_or_default());
    let lex = Lex::new(df.escape_token);
    let expand = |w: &str| -> anyhow::Result<String> {
        lex.process_word(w, &env)
            .map_err(|e| anyhow!("invalid --change {change:?}: {e}"))
    };
    let shell_form = |cmd_line: Vec<String>, prepend: bool| {
        if prepend {
            let mut v = vec!["/bin/sh".to_string(), "-c".to_string()];
            v.extend(cmd_line);
            v
        } else {
            cmd_line
        }
    };
    match cmd.kind {
        CommandKind::Cmd(s) => c.cmd = Some(shell_form(s.cmd_line, s.prepend_shell)),
        CommandKind::Entrypoint(s) => {
            c.entrypoint = Some(shell_form(s.cmd_line, s.prepend_shell));
        }
        CommandKind::Env(pairs) => {
            let mut list = c.env.take().unwrap_or_default();
            for p in pairs {
                let value = expand(&p.value)?;
                let key = expand(&p.key)?;
                list.retain(|e| e.split_once('=').map(|(k, _)| k) != Some(key.as_str()));
                list.push(format!("{key}={value}"));
            }
            c.env = Some(list);
        }
        CommandKind::Label(pairs) => {
            let labels = c.labels.get_or_insert_with(Default::default);
            for p in pairs {
                labels.insert(expand(&p.key)?, expand(&p.value)?);
            }
        }
        CommandKind::Expose(e) => {
            let ports = c.exposed_ports.get_or_insert_with(KeySet::default);
            for raw in e.ports {
                let spec = strata_dockerfile::instructions::PortSpec::parse(&expand(&raw)?)
                    .map_err(|e| anyhow!("invalid --change {change:?}: {e}"))?;
                for p in spec.start..=spec.end {
                    ports.insert(format!("{p}/{}", spec.proto), Default::default());
                }
            }
        }
        CommandKind::Onbuild(o) => c.on_build.get_or_insert_with(Vec::new).push(o.expression),
        CommandKind::StopSignal(s) => c.stop_signal = expand(&s)?,
        CommandKind::User(u) => c.user = expand(&u)?,
        CommandKind::Volume(v) => {
            let vols = c.volumes.get_or_insert_with(KeySet::default);
            for p in v {
                vols.insert(expand(&p)?, Default::default());
            }
        }
        CommandKind::Workdir(w) => {
            let w = expand(&w)?;
            c.working_dir = if w.starts_with('/') {
                w
            } else {
                let base = if c.working_dir.is_empty() {
                    "/"
                } else {
                    &c.working_dir
                };
                format!("{}/{}", base.trim_end_matches('/'), w)
            };
        }
        _ => bail!("{} is not a valid change command", node_keyword(change)),
    }
    Ok(())
}

fn node_keyword(change: &str) -> String {
    change
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}
