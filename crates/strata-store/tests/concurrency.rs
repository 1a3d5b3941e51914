//! Many processes at once, and processes killed with SIGKILL at random points.
//!
//! Child processes are this test binary re-executed with `STRATA_STORE_WORKER` set: the
//! `worker` test then runs the requested operation instead of its in-process scenario.
//! (Re-executing ourselves avoids depending on an example binary being built.)

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Comp;
use rand::{Rng, RngCore, SeedableRng};
use strata_oci::media_type;
use strata_store::archive::{self, LoadOptions, SaveImage};
use strata_store::{AcceptAll, Error, GcOptions, Store, entry_name};

const WORKER_ENV: &str = "STRATA_STORE_WORKER";

fn spawn(args: &[&str]) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "worker", "--nocapture", "--test-threads=1"])
        .env(WORKER_ENV, args.join("\u{1f}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "worker failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The child side, or (run directly) a short in-process churn.
#[test]
fn worker() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        churn(&root.to_string_lossy(), 0, 4);
        let s = Store::open(&root).unwrap();
        assert_eq!(own_names(&s, 0), expected_names(0, 4));
        return;
    };
    let args: Vec<&str> = spec.split('\u{1f}').collect();
    match args.as_slice() {
        ["churn", root, id, n] => churn(root, id.parse().unwrap(), n.parse().unwrap()),
        ["import", root, seed, name, size] => {
            import_big(root, seed.parse().unwrap(), name, size.parse().unwrap())
        }
        ["load", root, archive] => {
            let s = Store::open(root).unwrap();
            let f = std::fs::File::open(archive).unwrap();
            let opts = LoadOptions {
                verifier: &AcceptAll,
                normalize: &common::normalize,
            };
            archive::load(&s, f, &opts).unwrap();
        }
        ["gc", root] => {
            Store::open(root)
                .unwrap()
                .gc(&GcOptions::default())
                .unwrap();
        }
        other => panic!("unknown worker command {other:?}"),
    }
}

/// Import `n` images, tag each with an own name and the shared name, remove every third
/// own tag again (and the image with it), and collect garbage now and then.
fn churn(root: &str, id: usize, n: usize) {
    let s = Store::open(root).unwrap();
    for j in 0..n {
        let lease = s.lease().unwrap();
        let img = common::simple(&s, &lease, &format!("{id}-{j}"), Comp::Gzip);
        s.update(|t| {
            t.tag(&format!("docker.io/test/p{id}:{j}"), &img.manifest)?;
            t.tag("docker.io/test/shared:latest", &img.manifest)?;
            Ok::<_, Error>(())
        })
        .unwrap();
        drop(lease);
        if j % 3 == 2 {
            s.update(|t| {
                if let Some(d) = t.untag(&format!("docker.io/test/p{id}:{}", j - 1))
                    && t.images().by_digest(&d.digest).is_none()
                {
                    t.remove(&d.digest);
                }
                Ok::<_, Error>(())
            })
            .unwrap();
        }
        if j % 4 == 3 {
            s.gc(&GcOptions::default()).unwrap();
        }
    }
}

fn expected_names(id: usize, n: usize) -> BTreeSet<String> {
    (0..n)
        .filter(|j| !(j % 3 == 1 && j + 1 < n))
        .map(|j| format!("docker.io/test/p{id}:{j}"))
        .collect()
}

fn own_names(s: &Store, id: usize) -> BTreeSet<String> {
    let prefix = format!("docker.io/test/p{id}:");
    s.images()
        .unwrap()
        .entries()
        .iter()
        .filter_map(entry_name)
        .filter(|n| n.starts_with(&prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn eight_processes_never_lose_a_tag() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    Store::open(&root).unwrap();
    let root_s = root.to_string_lossy().into_owned();
    let n = 12;
    let children: Vec<Child> = (0..8)
        .map(|i| spawn(&["churn", &root_s, &i.to_string(), &n.to_string()]))
        .collect();
    for c in children {
        finish(c);
    }
    let s = Store::open(&root).unwrap();
    for i in 0..8 {
        assert_eq!(own_names(&s, i), expected_names(i, n), "process {i}");
    }
    let images = s.images().unwrap();
    assert!(images.resolve("docker.io/test/shared:latest").is_some());
    let names: Vec<_> = images.entries().iter().filter_map(entry_name).collect();
    let unique: BTreeSet<_> = names.iter().collect();
    assert_eq!(names.len(), unique.len(), "no name appears twice");
    let report = s.check().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    s.gc(&GcOptions::default()).unwrap();
    let report = s.check().unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    for e in images.entries() {
        assert!(s.image_summary(e).unwrap().is_some());
    }
}

/// Import one image with a large random layer (deterministic per seed) and tag it.
fn import_big(root: &str, seed: u64, name: &str, size: usize) {
    let s = Store::open(root).unwrap();
    let lease = s.lease().unwrap();
    let mut data = vec![0u8; size];
    rand::rngs::StdRng::seed_from_u64(seed).fill_bytes(&mut data);
    let img = common::import(
        &s,
        &lease,
        &[
            vec![("big.bin", data)],
            vec![("small.txt", seed.to_string().into_bytes())],
        ],
        Comp::Gzip,
        &seed.to_string(),
    );
    s.update(|t| t.tag(name, &img.manifest).map(|_| ()))
        .unwrap();
}

#[test]
fn sigkill_at_random_points_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let root_s = root.to_string_lossy().into_owned();
    Store::open(&root).unwrap();

    // An archive for the load half of the runs.
    let src = Store::open(dir.path().join("src")).unwrap();
    let archive_path = dir.path().join("image.tar");
    {
        let src_root = src.root().to_string_lossy().into_owned();
        import_big(&src_root, 7, "docker.io/test/archived:1", 3 << 20);
        let desc = src.resolve("docker.io/test/archived:1").unwrap().unwrap();
        let mut out = std::fs::File::create(&archive_path).unwrap();
        archive::save_docker(
            &src,
            &[SaveImage {
                descriptor: desc,
                names: vec!["docker.io/test/loaded:1".into()],
            }],
            None,
            &mut out,
        )
        .unwrap();
    }
    let archive_s = archive_path.to_string_lossy().into_owned();

    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    let store = Store::open(&root).unwrap();
    let (mut killed, mut leftovers) = (0, 0);
    for i in 0..50u64 {
        let name = format!("docker.io/test/crash:{i}");
        let seed = (i % 5).to_string(); // repeats, so retries also hit the dedup path
        let args: Vec<String> = if i % 2 == 0 {
            ["import", &root_s, &seed, &name, &(2 << 20).to_string()]
                .map(str::to_string)
                .to_vec()
        } else {
            ["load", &root_s, &archive_s].map(str::to_string).to_vec()
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = spawn(&args);
        std::thread::sleep(Duration::from_millis(rng.random_range(0..80)));
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        if std::os::unix::process::ExitStatusExt::signal(&status) == Some(9) {
            killed += 1;
        }
        leftovers += std::fs::read_dir(root.join("ingest")).unwrap().count();

        let report = store.check().unwrap();
        assert!(report.is_clean(), "after kill {i}: {:?}", report.problems);
        if i % 10 == 9 {
            finish(spawn(&["gc", &root_s]));
            let report = store.check().unwrap();
            assert!(report.is_clean(), "after gc {i}: {:?}", report.problems);
        }
        // The retried command succeeds.
        finish(spawn(&args));
        let wanted = if i % 2 == 0 {
            name.as_str()
        } else {
            "docker.io/test/loaded:1"
        };
        let desc = store.resolve(wanted).unwrap().unwrap();
        assert_eq!(desc.media_type, media_type::OCI_MANIFEST);
    }
    eprintln!("{killed} of 50 runs killed mid-way; {leftovers} abandoned ingest files seen");
    assert!(
        killed >= 25,
        "only {killed} kills landed while the worker ran"
    );
    assert!(leftovers > 0, "no kill interrupted a write");
    let gc = store.gc(&GcOptions::default()).unwrap();
    assert!(store.check().unwrap().is_clean());
    assert_eq!(
        std::fs::read_dir(root.join("ingest")).unwrap().count(),
        0,
        "gc removed every abandoned ingest file ({} this time)",
        gc.ingest_files.len()
    );
    assert_eq!(
        std::fs::read_dir(root.join("meta/leases")).unwrap().count(),
        0
    );
}
