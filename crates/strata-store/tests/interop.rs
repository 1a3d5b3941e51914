//! Interoperability: skopeo and umoci read the store as an OCI layout; archives written by
//! `save` are read by skopeo; archives written by skopeo (and hand-built old-layout
//! docker-archives) load with the same image ID; bad archives are refused with nothing
//! written. Tests needing skopeo or umoci print a skip reason when the tool is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Comp, simple};
use strata_oci::{Descriptor, Digest, media_type};
use strata_store::archive::{self, ArchiveError, LoadOptions, SaveImage};
use strata_store::{AcceptAll, Ingested, Store, VerifyError};

fn store(dir: &Path, name: &str) -> Store {
    Store::open(dir.join(name)).unwrap()
}

fn tool(name: &str) -> Option<PathBuf> {
    let p = PathBuf::from("/usr/bin").join(name);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {name} is not installed (apt-get install {name})");
        None
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn opts() -> LoadOptions<'static> {
    LoadOptions {
        verifier: &AcceptAll,
        normalize: &common::normalize,
    }
}

const BUSYBOX: &str = "docker.io/library/busybox:latest";
const PORTED: &str = "127.0.0.1:5000/app:1.0";

/// A store with one gzip image tagged with both name forms.
fn tagged_store(dir: &Path) -> (Store, common::Imported) {
    let s = store(dir, "root");
    let lease = s.lease().unwrap();
    let img = simple(&s, &lease, "interop", Comp::Gzip);
    s.update(|t| {
        t.tag(BUSYBOX, &img.manifest)?;
        t.tag(PORTED, &img.manifest)?;
        Ok::<_, strata_store::Error>(())
    })
    .unwrap();
    (s, img)
}

#[test]
fn skopeo_reads_the_store_with_full_names() {
    let Some(skopeo) = tool("skopeo") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (s, img) = tagged_store(dir.path());
    for name in [BUSYBOX, PORTED] {
        let r = s.layout_ref(name);
        assert_eq!(r, format!("{}/oci:{name}", s.root().display()));
        let out = run(Command::new(&skopeo).args(["inspect", &format!("oci:{r}")]));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Digest"], img.manifest.digest.as_str(), "{name}");
        assert_eq!(v["Labels"]["seed"], "interop");
        let copy = dir.path().join("copy");
        run(Command::new(&skopeo).args([
            "copy",
            &format!("oci:{r}"),
            &format!("oci:{}:copied", copy.display()),
        ]));
        let raw = run(Command::new(&skopeo).args([
            "inspect",
            "--raw",
            &format!("oci:{}:copied", copy.display()),
        ]));
        assert_eq!(Digest::sha256(raw.as_bytes()), img.manifest.digest);
    }
}

#[test]
fn umoci_unpacks_from_the_store() {
    let Some(umoci) = tool("umoci") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (s, _) = tagged_store(dir.path());
    for (i, name) in [BUSYBOX, PORTED].into_iter().enumerate() {
        let bundle = dir.path().join(format!("bundle{i}"));
        let mut cmd = Command::new(&umoci);
        cmd.arg("unpack");
        if !rustix::process::geteuid().is_root() {
            cmd.arg("--rootless");
        }
        run(cmd.args(["--image", &s.layout_ref(name)]).arg(&bundle));
        let hello = std::fs::read_to_string(bundle.join("rootfs/hello.txt")).unwrap();
        assert_eq!(hello, "hello interop\n");
        assert!(bundle.join("rootfs/shared.txt").exists());
    }
}

/// Members of a tar stream: path → content.
fn members(tar_bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut ar = tar::Archive::new(tar_bytes);
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut buf).unwrap();
        out.push((p, buf));
    }
    out
}

fn member<'a>(m: &'a [(String, Vec<u8>)], path: &str) -> &'a [u8] {
    &m.iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no {path}"))
        .1
}

#[test]
fn docker_archive_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (s, img) = tagged_store(dir.path());
    let mut out = Vec::new();
    archive::save_docker(
        &s,
        &[SaveImage {
            descriptor: img.manifest.clone(),
            names: vec![BUSYBOX.into(), PORTED.into()],
        }],
        None,
        &mut out,
    )
    .unwrap();
    let m = members(&out);
    let mj: serde_json::Value = serde_json::from_slice(member(&m, "manifest.json")).unwrap();
    assert_eq!(
        mj[0]["Config"],
        format!("blobs/sha256/{}", img.config.hex())
    );
    assert_eq!(mj[0]["RepoTags"], serde_json::json!([BUSYBOX, PORTED]));
    // Layers are written uncompressed and named by their diffID.
    for l in mj[0]["Layers"].as_array().unwrap() {
        let path = l.as_str().unwrap();
        let data = member(&m, path);
        assert!(!data.starts_with(&[0x1f, 0x8b]));
        assert_eq!(format!("blobs/sha256/{}", Digest::sha256(data).hex()), path);
    }
    let index: serde_json::Value = serde_json::from_slice(member(&m, "index.json")).unwrap();
    let entry = &index["manifests"][0];
    assert_eq!(entry["annotations"]["io.containerd.image.name"], BUSYBOX);
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    let generated = member(
        &m,
        &format!(
            "blobs/sha256/{}",
            entry["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        ),
    );
    assert_eq!(Digest::sha256(generated).as_str(), entry["digest"]);
    let repos: serde_json::Value = serde_json::from_slice(member(&m, "repositories")).unwrap();
    assert!(repos["docker.io/library/busybox"]["latest"].is_string());
    member(&m, "oci-layout");

    // Load into a fresh store: same image ID, names, and loading twice dedups.
    let s2 = store(dir.path(), "second");
    let r = archive::load(&s2, &out[..], &opts()).unwrap();
    assert_eq!(r.images.len(), 1);
    assert_eq!(r.images[0].image_id.as_ref(), Some(&img.config));
    assert_eq!(
        r.images[0].names,
        vec![BUSYBOX.to_string(), PORTED.to_string()]
    );
    let again = archive::load(&s2, &out[..], &opts()).unwrap();
    assert_eq!(again.images[0].descriptor, r.images[0].descriptor);
    assert_eq!(s2.images().unwrap().entries().len(), 2);
    assert_eq!(
        s2.read_blob(&img.config).unwrap(),
        s.read_blob(&img.config).unwrap()
    );
    assert!(s2.check().unwrap().is_clean());

    if let Some(skopeo) = tool("skopeo") {
        let path = dir.path().join("saved.tar");
        std::fs::write(&path, &out).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&run(Command::new(&skopeo)
                .args(["inspect", &format!("docker-archive:{}", path.display())])))
            .unwrap();
        assert_eq!(v["Labels"]["seed"], "interop");
        // `dir:` keeps the manifest type, so the config is copied byte for byte (an `oci:`
        // destination would make skopeo convert and re-serialise the Docker config).
        let copy = dir.path().join("from-archive");
        run(Command::new(&skopeo).args([
            "copy",
            &format!("docker-archive:{}", path.display()),
            &format!("dir:{}", copy.display()),
        ]));
        let copied = std::fs::read(copy.join(img.config.hex())).unwrap();
        assert_eq!(copied, s.read_blob(&img.config).unwrap());
    }
}

#[test]
fn oci_archive_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (s, img) = tagged_store(dir.path());
    let mut out = Vec::new();
    archive::save_oci(
        &s,
        &[SaveImage {
            descriptor: img.manifest.clone(),
            names: vec![PORTED.into()],
        }],
        &mut out,
    )
    .unwrap();
    let m = members(&out);
    // Blobs as stored: the gzip layers are kept compressed.
    for l in &img.layers {
        let data = member(&m, &format!("blobs/sha256/{}", l.digest.hex()));
        assert!(data.starts_with(&[0x1f, 0x8b]));
    }
    let s2 = store(dir.path(), "second");
    let r = archive::load(&s2, &out[..], &opts()).unwrap();
    assert_eq!(r.images[0].descriptor.digest, img.manifest.digest);
    assert_eq!(r.images[0].image_id.as_ref(), Some(&img.config));
    assert_eq!(r.images[0].names, vec![PORTED.to_string()]);
    assert!(s2.check().unwrap().is_clean());

    if let Some(skopeo) = tool("skopeo") {
        let path = dir.path().join("saved-oci.tar");
        std::fs::write(&path, &out).unwrap();
        let raw = run(Command::new(&skopeo).args([
            "inspect",
            "--raw",
            &format!("oci-archive:{}:{PORTED}", path.display()),
        ]));
        assert_eq!(Digest::sha256(raw.as_bytes()), img.manifest.digest);
    }
}

#[test]
fn loads_archives_written_by_skopeo() {
    let Some(skopeo) = tool("skopeo") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (s, img) = tagged_store(dir.path());
    let src = format!("oci:{}", s.layout_ref(BUSYBOX));

    let docker = dir.path().join("skopeo-docker.tar");
    run(Command::new(&skopeo).args([
        "copy",
        &src,
        &format!("docker-archive:{}:example/app:2.0", docker.display()),
    ]));
    let s2 = store(dir.path(), "docker");
    let r = archive::load(&s2, std::fs::File::open(&docker).unwrap(), &opts()).unwrap();
    assert_eq!(r.images[0].image_id.as_ref(), Some(&img.config));
    assert_eq!(
        r.images[0].names,
        vec!["docker.io/example/app:2.0".to_string()]
    );
    assert!(s2.check().unwrap().is_clean());

    let oci = dir.path().join("skopeo-oci.tar");
    run(Command::new(&skopeo).args([
        "copy",
        &src,
        &format!("oci-archive:{}:example/app:3.0", oci.display()),
    ]));
    let s3 = store(dir.path(), "oci");
    let r = archive::load(&s3, std::fs::File::open(&oci).unwrap(), &opts()).unwrap();
    assert_eq!(r.images[0].image_id.as_ref(), Some(&img.config));
    assert_eq!(
        r.images[0].names,
        vec!["docker.io/example/app:3.0".to_string()]
    );
    assert!(s3.check().unwrap().is_clean());
}

enum Ent<'a> {
    File(&'a [u8]),
    Symlink(&'a str),
}

fn tar_of(entries: &[(&str, Ent<'_>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, e) in entries {
        let mut h = tar::Header::new_gnu();
        match e {
            Ent::File(data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, path, *data).unwrap();
            }
            Ent::Symlink(target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                h.set_mode(0o777);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// An old-layout (`docker save` before 25) archive: two layers where the second is a
/// symlink to the first's tar, members in an unusual order, gzip-compressed as a whole.
#[test]
fn loads_old_docker_layout_gzipped() {
    let layer = common::layer_tar(&[("etc/motd", b"old layout\n")]);
    let diff = Digest::sha256(&layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [diff.as_str(), diff.as_str()]},
    }))
    .unwrap();
    let id = Digest::sha256(&config);
    let (l1, l2) = ("a".repeat(64), "b".repeat(64));
    let manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": format!("{}.json", id.hex()),
        "RepoTags": ["old:v1"],
        "Layers": [format!("{l1}/layer.tar"), format!("{l2}/layer.tar")],
    }]))
    .unwrap();
    let cfg_name = format!("{}.json", id.hex());
    let tar = tar_of(&[
        ("manifest.json", Ent::File(&manifest)),
        (
            &format!("{l2}/layer.tar"),
            Ent::Symlink(&format!("../{l1}/layer.tar")),
        ),
        (&format!("{l1}/VERSION"), Ent::File(b"1.0")),
        (&format!("{l1}/layer.tar"), Ent::File(&layer)),
        (&cfg_name, Ent::File(&config)),
        ("repositories", Ent::File(br#"{"old":{"v1":"x"}}"#)),
    ]);
    let gz = common::gzip(&tar);
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), "root");
    let r = archive::load(&s, &gz[..], &opts()).unwrap();
    assert_eq!(r.images[0].image_id.as_ref(), Some(&id));
    assert_eq!(
        r.images[0].names,
        vec!["docker.io/library/old:v1".to_string()]
    );
    assert_eq!(s.read_blob(&id).unwrap(), config);
    let summary = s
        .images()
        .unwrap()
        .meta(&r.images[0].descriptor.digest)
        .unwrap()
        .summary
        .clone()
        .unwrap();
    assert_eq!(summary.layers, 2);
    assert!(s.check().unwrap().is_clean());
}

/// Load must refuse `bytes` with an error whose message contains `needle`, leaving the
/// index untouched and the store consistent.
fn refused(s: &Store, bytes: &[u8], opts: &LoadOptions<'_>, needle: &str) -> ArchiveError {
    let before = std::fs::read(s.oci_dir().join("index.json")).unwrap();
    let err = archive::load(s, bytes, opts).unwrap_err();
    eprintln!("refused as expected: {err}");
    assert!(
        err.to_string().contains(needle),
        "{err} (wanted {needle:?})"
    );
    assert_eq!(
        std::fs::read(s.oci_dir().join("index.json")).unwrap(),
        before
    );
    assert!(s.check().unwrap().is_clean());
    assert_eq!(
        std::fs::read_dir(s.root().join("ingest")).unwrap().count(),
        0,
        "spooled members are cleaned up"
    );
    err
}

#[test]
fn bad_archives_are_refused_with_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let (src, img) = tagged_store(dir.path());
    let mut docker = Vec::new();
    archive::save_docker(
        &src,
        &[SaveImage {
            descriptor: img.manifest.clone(),
            names: vec![BUSYBOX.into()],
        }],
        None,
        &mut docker,
    )
    .unwrap();
    let mut oci = Vec::new();
    archive::save_oci(
        &src,
        &[SaveImage {
            descriptor: img.manifest.clone(),
            names: vec![BUSYBOX.into()],
        }],
        &mut oci,
    )
    .unwrap();
    let s = store(dir.path(), "target");

    // Truncated in the middle of a member, and in the middle of a header.
    let cut = docker.len() / 2;
    let e = refused(&s, &docker[..cut], &opts(), "");
    assert!(
        matches!(
            e,
            ArchiveError::Truncated { .. }
                | ArchiveError::Corrupt { .. }
                | ArchiveError::MissingMember { .. }
        ),
        "{e}"
    );
    refused(&s, &docker[..1024 + 100], &opts(), "");
    refused(
        &s,
        b"definitely not a tar archive, just some bytes that go on",
        &opts(),
        "",
    );
    let gz = common::gzip(&docker);
    refused(&s, &gz[..gz.len() / 2], &opts(), "corrupt archive");

    // A layer whose content was altered: its name no longer matches its digest.
    let m = members(&docker);
    let layer_path = m
        .iter()
        .find(|(p, d)| p.starts_with("blobs/") && d.len() > 1024)
        .unwrap()
        .0
        .clone();
    let rebuilt: Vec<(String, Vec<u8>)> = m
        .iter()
        .map(|(p, d)| {
            let mut d = d.clone();
            if *p == layer_path {
                d[600] ^= 0xff;
            }
            (p.clone(), d)
        })
        .collect();
    let entries: Vec<(&str, Ent<'_>)> = rebuilt
        .iter()
        .map(|(p, d)| (p.as_str(), Ent::File(d)))
        .collect();
    refused(&s, &tar_of(&entries), &opts(), &layer_path);

    // A missing member.
    let entries: Vec<(&str, Ent<'_>)> = m
        .iter()
        .filter(|(p, _)| *p != layer_path)
        .map(|(p, d)| (p.as_str(), Ent::File(d)))
        .collect();
    let e = refused(&s, &tar_of(&entries), &opts(), "archive is missing");
    assert!(e.to_string().contains(&layer_path));

    // OCI archive: wrong size in index.json, unknown media type, manifest digest mismatch.
    let om = members(&oci);
    let with_index = |index: &[u8]| {
        let entries: Vec<(&str, Ent<'_>)> = om
            .iter()
            .map(|(p, d)| {
                (
                    p.as_str(),
                    Ent::File(if p == "index.json" { index } else { d }),
                )
            })
            .collect();
        tar_of(&entries)
    };
    let index: serde_json::Value = serde_json::from_slice(member(&om, "index.json")).unwrap();
    let mut bad = index.clone();
    bad["manifests"][0]["size"] = serde_json::json!(img.manifest.size + 1);
    let e = refused(
        &s,
        &with_index(&serde_json::to_vec(&bad).unwrap()),
        &opts(),
        "has size",
    );
    assert!(matches!(e, ArchiveError::SizeMismatch { .. }));
    let mut bad = index.clone();
    bad["manifests"][0]["mediaType"] = serde_json::json!("application/x-unknown");
    let e = refused(
        &s,
        &with_index(&serde_json::to_vec(&bad).unwrap()),
        &opts(),
        "unknown media type",
    );
    assert!(e.to_string().contains("application/x-unknown"));
    let mut bad = index.clone();
    bad["manifests"][0]["digest"] = serde_json::json!(img.config.as_str());
    bad["manifests"][0]["size"] = serde_json::json!(src.blob_size(&img.config).unwrap());
    refused(
        &s,
        &with_index(&serde_json::to_vec(&bad).unwrap()),
        &opts(),
        "malformed",
    );

    // A member path escaping the archive.
    let evil = tar_of(&[("abcd", Ent::File(b"x"))]);
    let mut evil = evil;
    evil[..3].copy_from_slice(b"../");
    // Fix the header checksum after editing the name.
    let mut h = tar::Header::new_old();
    h.as_mut_bytes().copy_from_slice(&evil[..512]);
    h.set_cksum();
    evil[..512].copy_from_slice(h.as_bytes());
    refused(&s, &evil, &opts(), "unsafe path");

    // The caller's verifier refuses a layer: nothing is tagged.
    let picky = |b: &Ingested<'_>| -> Result<(), VerifyError> {
        if b.media_type.is_some_and(media_type::is_layer) {
            Err("device node dev/sda in an unprivileged context".into())
        } else {
            Ok(())
        }
    };
    let strict = LoadOptions {
        verifier: &picky,
        normalize: &common::normalize,
    };
    let e = refused(&s, &docker, &strict, "device node dev/sda");
    assert!(matches!(e, ArchiveError::LayerRefused { .. }));
    refused(&s, &oci, &strict, "is refused");

    // And the good archives load.
    archive::load(&s, &docker[..], &opts()).unwrap();
    archive::load(&s, &oci[..], &opts()).unwrap();
    assert!(s.check().unwrap().is_clean());
    let _: Option<Descriptor> = s.resolve(BUSYBOX).unwrap();
}

/// Hands out one byte per `read`, like a slow pipe.
struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0.is_empty() || buf.is_empty() {
            return Ok(0);
        }
        buf[0] = self.0[0];
        self.0 = &self.0[1..];
        Ok(1)
    }
}

#[test]
fn compressed_archive_from_a_slow_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let (src, img) = tagged_store(dir.path());
    let mut out = Vec::new();
    archive::save_oci(
        &src,
        &[SaveImage {
            descriptor: img.manifest.clone(),
            names: vec![BUSYBOX.into()],
        }],
        &mut out,
    )
    .unwrap();
    for (i, compressed) in [common::gzip(&out), common::zstd(&out)]
        .into_iter()
        .enumerate()
    {
        let s = store(dir.path(), &format!("t{i}"));
        let r = archive::load(&s, Trickle(&compressed), &opts()).unwrap();
        assert_eq!(r.images[0].descriptor.digest, img.manifest.digest);
    }
}

/// An OCI archive holding a multi-platform index where one platform's manifest is absent
/// (as after a single-platform pull) and an attestation manifest with in-toto layers.
#[test]
fn loads_partial_index_with_attestation() {
    let dir = tempfile::tempdir().unwrap();
    let (src, img) = tagged_store(dir.path());
    let blob = |d: &Digest| {
        (
            format!("blobs/sha256/{}", d.hex()),
            src.read_blob(d).unwrap(),
        )
    };
    let statement = br#"{"_type":"https://in-toto.io/Statement/v0.1"}"#.to_vec();
    let statement_d = Digest::sha256(&statement);
    let att_config =
        br#"{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}"#
            .to_vec();
    let att_config_d = Digest::sha256(&att_config);
    let att = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_MANIFEST,
        "config": {"mediaType": media_type::OCI_CONFIG, "digest": att_config_d, "size": att_config.len()},
        "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": statement_d, "size": statement.len()}],
    }))
    .unwrap();
    let att_d = Digest::sha256(&att);
    let host = strata_oci::Platform::host();
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [
            {"mediaType": media_type::OCI_MANIFEST, "digest": img.manifest.digest, "size": img.manifest.size,
             "platform": {"architecture": host.architecture, "os": "linux"}},
            {"mediaType": media_type::OCI_MANIFEST, "digest": Digest::sha256(b"absent"), "size": 10,
             "platform": {"architecture": "s390x", "os": "linux"}},
            {"mediaType": media_type::OCI_MANIFEST, "digest": att_d, "size": att.len(),
             "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                             "vnd.docker.reference.digest": img.manifest.digest},
             "platform": {"architecture": "unknown", "os": "unknown"}},
        ],
    }))
    .unwrap();
    let index_d = Digest::sha256(&index);
    let top = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": media_type::OCI_INDEX, "digest": index_d, "size": index.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "multi:1"}}],
    }))
    .unwrap();
    let mut files = vec![
        (
            "oci-layout".to_string(),
            br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec(),
        ),
        ("index.json".to_string(), top),
        (format!("blobs/sha256/{}", index_d.hex()), index),
        (format!("blobs/sha256/{}", att_d.hex()), att),
        (format!("blobs/sha256/{}", att_config_d.hex()), att_config),
        (format!("blobs/sha256/{}", statement_d.hex()), statement),
        blob(&img.manifest.digest),
        blob(&img.config),
    ];
    files.extend(img.layers.iter().map(|l| blob(&l.digest)));
    let entries: Vec<(&str, Ent<'_>)> = files
        .iter()
        .map(|(p, d)| (p.as_str(), Ent::File(d)))
        .collect();
    let s = store(dir.path(), "multi");
    let r = archive::load(&s, &tar_of(&entries)[..], &opts()).unwrap();
    assert_eq!(r.images[0].descriptor.digest, index_d);
    assert_eq!(
        r.images[0].names,
        vec!["docker.io/library/multi:1".to_string()]
    );
    // The image ID is the host platform's config.
    assert_eq!(r.images[0].image_id.as_ref(), Some(&img.config));
    assert!(s.has_blob(&att_d) && s.has_blob(&statement_d));
    let report = s.check().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    // Saving it as a docker-archive picks the host platform.
    let mut out = Vec::new();
    archive::save_docker(
        &s,
        &[SaveImage {
            descriptor: r.images[0].descriptor.clone(),
            names: r.images[0].names.clone(),
        }],
        None,
        &mut out,
    )
    .unwrap();
    let m = members(&out);
    let mj: serde_json::Value = serde_json::from_slice(member(&m, "manifest.json")).unwrap();
    assert_eq!(
        mj[0]["Config"],
        format!("blobs/sha256/{}", img.config.hex())
    );
    // An OCI archive of the partial index leaves the absent platform out and reloads.
    let mut oci = Vec::new();
    archive::save_oci(
        &s,
        &[SaveImage {
            descriptor: r.images[0].descriptor.clone(),
            names: r.images[0].names.clone(),
        }],
        &mut oci,
    )
    .unwrap();
    let again = store(dir.path(), "multi-again");
    let r2 = archive::load(&again, &oci[..], &opts()).unwrap();
    assert_eq!(r2.images[0].descriptor.digest, index_d);
    assert!(again.check().unwrap().is_clean());
}
