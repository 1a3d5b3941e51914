//! Core store behaviour: ingest, tags, metadata, GC, check and disk usage.

mod common;

use std::io::Write;

use common::{Comp, simple};
use strata_oci::{Digest, media_type};
use strata_store::{Error, GcOptions, Ingested, ProblemKind, Store, VerifyError};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("root")).unwrap();
    (dir, store)
}

#[test]
fn open_creates_an_oci_layout() {
    let (_d, s) = store();
    let layout = std::fs::read_to_string(s.oci_dir().join("oci-layout")).unwrap();
    assert_eq!(layout, r#"{"imageLayoutVersion":"1.0.0"}"#);
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.oci_dir().join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    assert!(s.oci_dir().join("blobs/sha256").is_dir());
    assert!(s.root().join("lock").exists());
    // Opening again keeps what is there.
    let lease = s.lease().unwrap();
    let img = simple(&s, &lease, "a", Comp::Gzip);
    s.update(|t| {
        t.tag("docker.io/library/a:latest", &img.manifest)
            .map(|_| ())
    })
    .unwrap();
    let again = Store::open(s.root()).unwrap();
    assert!(
        again
            .resolve("docker.io/library/a:latest")
            .unwrap()
            .is_some()
    );
}

#[test]
fn commit_verifies_digest_and_size_and_nothing_partial_is_visible() {
    let (_d, s) = store();
    let lease = s.lease().unwrap();
    let good = Digest::sha256(b"hello");
    let wrong = Digest::sha256(b"other");

    let mut w = s.writer(&lease).unwrap();
    w.write_all(b"hello").unwrap();
    let ingest_path = w.path().to_path_buf();
    assert!(!s.has_blob(&good), "visible before commit");
    let err = w.commit(Some(&wrong), None).unwrap_err();
    assert!(matches!(err, Error::DigestMismatch { .. }), "{err}");
    assert!(err.to_string().contains(wrong.as_str()));
    assert!(!s.has_blob(&good) && !s.has_blob(&wrong));
    assert!(!ingest_path.exists(), "refused ingest file is removed");

    let mut w = s.writer(&lease).unwrap();
    w.write_all(b"hello").unwrap();
    let err = w.commit(Some(&good), Some(4)).unwrap_err();
    assert!(
        err.to_string()
            .contains("size mismatch (expected 4, got 5)"),
        "{err}"
    );
    assert!(!s.has_blob(&good));

    let mut w = s.writer(&lease).unwrap();
    w.write_all(b"hel").unwrap();
    w.write_all(b"lo").unwrap();
    assert_eq!(w.commit(Some(&good), Some(5)).unwrap(), good);
    assert_eq!(s.read_blob(&good).unwrap(), b"hello");
    assert_eq!(s.blob_size(&good).unwrap(), 5);
    assert!(lease.protects(&good));
    assert!(matches!(
        s.read_blob(&wrong),
        Err(Error::BlobNotFound { .. })
    ));
}

#[test]
fn dedup_and_verifier() {
    let (_d, s) = store();
    let lease = s.lease().unwrap();
    let a = s
        .write_blob(&lease, b"layer", media_type::OCI_LAYER_TAR)
        .unwrap();
    let mtime = std::fs::metadata(s.blob_path(&a.digest))
        .unwrap()
        .modified()
        .unwrap();
    // Committing the same content again is a no-op and leaves no ingest file behind.
    let mut w = s.writer(&lease).unwrap();
    w.write_all(b"layer").unwrap();
    w.commit(Some(&a.digest), None).unwrap();
    assert_eq!(
        std::fs::metadata(s.blob_path(&a.digest))
            .unwrap()
            .modified()
            .unwrap(),
        mtime
    );
    assert_eq!(
        std::fs::read_dir(s.root().join("ingest")).unwrap().count(),
        0
    );

    // A verifier sees the complete ingest file and can refuse it.
    let refuse = |b: &Ingested<'_>| -> Result<(), VerifyError> {
        let content = std::fs::read(b.path).unwrap();
        assert_eq!(b.size, content.len() as u64);
        assert_eq!(b.media_type, Some(media_type::OCI_LAYER_TAR));
        if content.starts_with(b"evil") {
            Err("layer contains ../escape".into())
        } else {
            Ok(())
        }
    };
    let mut w = s.writer(&lease).unwrap();
    w.write_all(b"evil content").unwrap();
    let err = w
        .commit_verified(None, None, Some(media_type::OCI_LAYER_TAR), &refuse)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("refused: layer contains ../escape"),
        "{err}"
    );
    assert!(!s.has_blob(&Digest::sha256(b"evil content")));
    let mut w = s.writer(&lease).unwrap();
    w.write_all(b"fine").unwrap();
    w.commit_verified(None, None, Some(media_type::OCI_LAYER_TAR), &refuse)
        .unwrap();
    assert!(s.has_blob(&Digest::sha256(b"fine")));
}

#[test]
fn shared_layers_are_stored_once() {
    let (_d, s) = store();
    let lease = s.lease().unwrap();
    let mut names = Vec::new();
    for i in 0..10 {
        let img = simple(&s, &lease, &format!("img{i}"), Comp::Gzip);
        let name = format!("docker.io/library/img{i}:latest");
        s.update(|t| t.tag(&name, &img.manifest).map(|_| ()))
            .unwrap();
        names.push(name);
    }
    // 10 × (manifest, config, own layer) + 1 shared layer.
    let blobs = std::fs::read_dir(s.oci_dir().join("blobs/sha256"))
        .unwrap()
        .count();
    assert_eq!(blobs, 31);
    let df = s.disk_usage().unwrap();
    assert_eq!(df.images.len(), 10);
    assert!(df.shared_bytes > 0);
    let shared = df.images[0].shared_size;
    assert!(
        df.images
            .iter()
            .all(|i| i.shared_size == shared && i.unique_size > 0)
    );
    assert_eq!(df.unreferenced_bytes, 0);
    assert_eq!(df.referenced_bytes, df.total_bytes);
}

#[test]
fn tags_move_untag_and_dangle() {
    let (_d, s) = store();
    let lease = s.lease().unwrap();
    let a = simple(&s, &lease, "a", Comp::Gzip);
    let b = simple(&s, &lease, "b", Comp::Gzip);
    let name = "127.0.0.1:5000/app:1.0";
    s.update(|t| {
        assert_eq!(t.tag(name, &a.manifest)?, None);
        t.tag("docker.io/library/other:latest", &a.manifest)?;
        Ok::<_, Error>(())
    })
    .unwrap();
    let images = s.images().unwrap();
    assert_eq!(images.entries().len(), 2);
    assert_eq!(
        images.names_of(&a.manifest.digest),
        vec![name, "docker.io/library/other:latest"]
    );
    let meta = images.meta(&a.manifest.digest).unwrap();
    assert!(meta.last_tag_time.is_some());
    let summary = meta.summary.as_ref().unwrap();
    assert_eq!(summary.config.digest, a.config);
    assert_eq!(summary.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    assert_eq!(summary.layers, 2);
    let raw = std::fs::read_to_string(s.oci_dir().join("index.json")).unwrap();
    assert!(raw.contains(r#""org.opencontainers.image.ref.name":"127.0.0.1:5000/app:1.0""#));
    assert!(raw.contains(r#""io.containerd.image.name":"127.0.0.1:5000/app:1.0""#));

    // Move the name to b: a keeps its other name, so it does not dangle.
    let prev = s.update(|t| t.tag(name, &b.manifest)).unwrap().unwrap();
    assert_eq!(prev.digest, a.manifest.digest);
    assert_eq!(s.resolve(name).unwrap().unwrap().digest, b.manifest.digest);
    assert_eq!(s.images().unwrap().entries().len(), 2);

    // Move the last name of a away: a becomes dangling, as in Docker.
    s.update(|t| {
        t.tag("docker.io/library/other:latest", &b.manifest)
            .map(|_| ())
    })
    .unwrap();
    let images = s.images().unwrap();
    assert_eq!(images.entries().len(), 3);
    let dangling: Vec<_> = images
        .entries()
        .iter()
        .filter(|e| strata_store::entry_name(e).is_none())
        .collect();
    assert_eq!(dangling.len(), 1);
    assert_eq!(dangling[0].digest, a.manifest.digest);

    // Tagging a dangling image replaces its dangling entry.
    s.update(|t| {
        t.tag("docker.io/library/back:latest", &a.manifest)
            .map(|_| ())
    })
    .unwrap();
    assert_eq!(s.images().unwrap().entries().len(), 3);

    // Untag and remove.
    s.update(|t| {
        assert!(t.untag("docker.io/library/back:latest").is_some());
        assert!(t.untag("docker.io/library/nope:latest").is_none());
        assert_eq!(t.remove(&b.manifest.digest).len(), 2);
        Ok::<_, Error>(())
    })
    .unwrap();
    let images = s.images().unwrap();
    assert!(images.entries().is_empty());
    assert!(images.meta(&a.manifest.digest).is_none(), "metadata pruned");

    // Failed transactions write nothing; bad names and missing blobs are refused.
    let before = std::fs::read(s.oci_dir().join("index.json")).unwrap();
    let r: Result<(), Error> = s.update(|t| {
        t.tag("docker.io/library/x:latest", &a.manifest)?;
        t.tag("bad name", &a.manifest)?;
        Ok(())
    });
    assert!(matches!(r, Err(Error::InvalidName { .. })));
    let mut missing = a.manifest.clone();
    missing.digest = Digest::sha256(b"missing");
    let r = s.update(|t| t.tag("docker.io/library/x:latest", &missing));
    assert!(matches!(r, Err(Error::BlobNotFound { .. })));
    assert_eq!(
        std::fs::read(s.oci_dir().join("index.json")).unwrap(),
        before
    );
}

#[test]
fn gc_keeps_tagged_leased_and_rooted_blobs() {
    let (_d, s) = store();
    let tagged;
    let rooted;
    let orphan;
    {
        let lease = s.lease().unwrap();
        tagged = simple(&s, &lease, "tagged", Comp::Gzip);
        rooted = simple(&s, &lease, "rooted", Comp::Zstd);
        orphan = simple(&s, &lease, "orphan", Comp::None);
        s.update(|t| {
            t.tag("docker.io/library/tagged:latest", &tagged.manifest)
                .map(|_| ())
        })
        .unwrap();
        s.set_root("build-cache", std::slice::from_ref(&rooted.manifest.digest))
            .unwrap();
        // While the lease lives, nothing is collected.
        let r = s.gc(&GcOptions::default()).unwrap();
        assert!(r.blobs.is_empty(), "{:?}", r.blobs);
    }
    let dry = s.gc(&GcOptions { dry_run: true }).unwrap();
    assert!(dry.dry_run);
    // orphan: manifest, config, own layer (uncompressed, so distinct from the others).
    assert_eq!(dry.blobs.len(), 4, "{:?}", dry.blobs);
    assert!(
        s.has_blob(&orphan.manifest.digest),
        "dry run removes nothing"
    );
    let r = s.gc(&GcOptions::default()).unwrap();
    assert_eq!(r.blobs, dry.blobs);
    assert!(r.bytes_reclaimed > 0);
    assert!(!s.has_blob(&orphan.manifest.digest));
    assert!(!s.has_blob(&orphan.config));
    for d in [
        &tagged.manifest.digest,
        &tagged.config,
        &rooted.manifest.digest,
        &rooted.config,
    ] {
        assert!(s.has_blob(d), "{d}");
    }
    for l in tagged.layers.iter().chain(&rooted.layers) {
        assert!(s.has_blob(&l.digest));
    }
    assert_eq!(s.roots().unwrap().len(), 1);
    s.remove_root("build-cache").unwrap();
    s.gc(&GcOptions::default()).unwrap();
    assert!(!s.has_blob(&rooted.config));
    assert!(s.check().unwrap().is_clean());
}

#[test]
fn leasing_an_existing_manifest_protects_its_children() {
    let (_d, s) = store();
    let img = {
        let lease = s.lease().unwrap();
        simple(&s, &lease, "x", Comp::Gzip)
    };
    let lease = s.lease().unwrap();
    assert!(s.lease_existing(&lease, &img.manifest.digest).unwrap());
    s.gc(&GcOptions::default()).unwrap();
    assert!(s.has_blob(&img.config));
    assert!(img.layers.iter().all(|l| s.has_blob(&l.digest)));
    drop(lease);
    s.gc(&GcOptions::default()).unwrap();
    assert!(!s.has_blob(&img.config));
}

#[test]
fn gc_removes_stale_leases_and_ingest_files() {
    let (_d, s) = store();
    // A lease and an ingest file nobody holds a lock on: their owner died.
    std::fs::write(
        s.root().join("meta/leases/dead"),
        format!("{}\n", Digest::sha256(b"x")),
    )
    .unwrap();
    std::fs::write(s.root().join("ingest/blob-dead"), b"partial").unwrap();
    let lease = s.lease().unwrap();
    let mut live = s.writer(&lease).unwrap();
    live.write_all(b"in progress").unwrap();
    live.flush().unwrap();
    let r = s.gc(&GcOptions::default()).unwrap();
    assert_eq!(r.stale_leases, vec!["dead".to_string()]);
    assert_eq!(r.ingest_files.len(), 1);
    assert!(!s.root().join("ingest/blob-dead").exists());
    assert!(live.path().exists(), "a live writer's file is kept");
    assert!(s.root().join("meta/leases").join(lease.id()).exists());
    let d = live.commit(None, None).unwrap();
    assert!(s.has_blob(&d));
}

#[test]
fn check_reports_problems() {
    let (_d, s) = store();
    let lease = s.lease().unwrap();
    let a = simple(&s, &lease, "a", Comp::Gzip);
    let b = simple(&s, &lease, "b", Comp::Gzip);
    s.update(|t| {
        t.tag("docker.io/library/a:latest", &a.manifest)?;
        t.tag("docker.io/library/b:latest", &b.manifest)?;
        Ok::<_, Error>(())
    })
    .unwrap();
    let ok = s.check().unwrap();
    assert!(ok.is_clean(), "{:?}", ok.problems);
    assert_eq!(ok.blobs_checked, 7);

    // Corrupt a's own layer, delete b's config, and leave a stray file.
    std::fs::write(s.blob_path(&a.layers[1].digest), b"garbage").unwrap();
    std::fs::remove_file(s.blob_path(&b.config)).unwrap();
    std::fs::write(s.oci_dir().join("blobs/sha256/not-a-digest"), b"").unwrap();
    let r = s.check().unwrap();
    let kinds: Vec<_> = r.problems.iter().map(|p| p.kind).collect();
    assert!(
        kinds.contains(&ProblemKind::CorruptBlob),
        "{:?}",
        r.problems
    );
    assert!(
        kinds.contains(&ProblemKind::SizeMismatch),
        "{:?}",
        r.problems
    );
    assert!(
        kinds.contains(&ProblemKind::MissingBlob),
        "{:?}",
        r.problems
    );
    assert!(kinds.contains(&ProblemKind::StrayFile), "{:?}", r.problems);
    let missing = r
        .problems
        .iter()
        .find(|p| p.kind == ProblemKind::MissingBlob)
        .unwrap();
    assert_eq!(missing.digest.as_ref(), Some(&b.config));
    assert!(
        missing.message.contains("image config"),
        "{}",
        missing.message
    );
}

#[test]
fn default_root_prefers_strata_root() {
    // Only the STRATA_ROOT branch is deterministic under test (we may run as root).
    // SAFETY-free: set_var is unsafe in edition 2024 only because of threads reading the
    // environment concurrently; this test touches a variable nothing else reads.
    unsafe { std::env::set_var("STRATA_ROOT", "/tmp/strata-root-test") };
    assert_eq!(
        Store::default_root().unwrap(),
        std::path::PathBuf::from("/tmp/strata-root-test")
    );
    unsafe { std::env::remove_var("STRATA_ROOT") };
}

#[test]
fn malformed_metadata_is_reported_and_healed() {
    let (_d, s) = store();
    let lease = s.lease().unwrap();
    let a = simple(&s, &lease, "a", Comp::Gzip);
    s.update(|t| t.tag("docker.io/library/a:latest", &a.manifest).map(|_| ()))
        .unwrap();
    std::fs::write(s.root().join("meta/images.json"), b"{not json").unwrap();
    // Listing still works (the metadata is a cache plus tag times) ...
    let images = s.images().unwrap();
    assert_eq!(images.entries().len(), 1);
    assert!(images.meta(&a.manifest.digest).is_none());
    // ... check reports it, and the next transaction rewrites it.
    let r = s.check().unwrap();
    assert_eq!(r.problems.len(), 1);
    assert_eq!(r.problems[0].kind, ProblemKind::InvalidMetadata);
    s.update(|t| t.tag("docker.io/library/b:latest", &a.manifest).map(|_| ()))
        .unwrap();
    assert!(s.check().unwrap().is_clean());
    assert!(
        s.images()
            .unwrap()
            .meta(&a.manifest.digest)
            .unwrap()
            .summary
            .is_some()
    );
}
