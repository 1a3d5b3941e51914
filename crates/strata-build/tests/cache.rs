//! Cache hit and miss rules, persistence, pruning, reproducibility and concurrency.

mod common;
use common::*;

const DF: &str = "FROM busybox\nCOPY app/ /app/\nRUN cat /app/* > /all\nCOPY conf.txt /conf.txt\n";

fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("app/a", "a"),
        ("app/b", "b"),
        ("conf.txt", "c"),
        ("notes/readme", "not copied"),
    ]
}

#[test]
fn editing_a_file_no_copy_selects_rebuilds_nothing() {
    let Some(env) = env(&files()) else { return };
    env.build(DF);
    env.write(&[("notes/readme", "edited"), ("new-file", "new")]);
    let b = env.build(DF);
    assert_eq!(b.cached(), 3, "{}", b.log);
}

#[test]
fn editing_a_selected_file_rebuilds_from_that_copy() {
    let Some(env) = env(&files()) else { return };
    env.build(DF);
    env.write(&[("conf.txt", "changed")]);
    let b = env.build(DF);
    assert_eq!(b.cached(), 2, "{}", b.log);
    assert_eq!(env.read("test", "/conf.txt"), "changed");
    env.write(&[("app/a", "A2")]);
    let b = env.build(DF);
    assert_eq!(b.cached(), 0, "{}", b.log);
    assert_eq!(env.read("test", "/all"), "A2b");
}

#[test]
fn file_mode_change_invalidates_the_copy() {
    let Some(env) = env(&files()) else { return };
    env.build(DF);
    std::fs::set_permissions(
        env.ctx.join("conf.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    assert_eq!(env.build(DF).cached(), 2);
}

#[test]
fn comments_and_blank_lines_do_not_invalidate() {
    let Some(env) = env(&files()) else { return };
    env.build(DF);
    let edited = format!("# a comment\n\n{}", DF.replace("RUN", "\n# why\nRUN"));
    assert_eq!(env.build(&edited).cached(), 3);
}

#[test]
fn changed_run_invalidates_it_and_what_follows() {
    let Some(env) = env(&files()) else { return };
    env.build(DF);
    let b = env.build(&DF.replace("cat /app/*", "cat /app/a /app/b"));
    assert_eq!(b.cached(), 1, "{}", b.log);
}

#[test]
fn env_change_invalidates_following_run() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nENV A=1\nRUN echo $A > /a\n");
    let b = env.build("FROM busybox\nENV A=2\nRUN echo $A > /a\n");
    assert_eq!(b.cached(), 0);
    assert_eq!(env.read("test", "/a").trim(), "2");
}

#[test]
fn no_cache_rebuilds_everything() {
    let Some(env) = env(&files()) else { return };
    env.build(DF);
    let b = env.build_with(DF, |o| o.no_cache = true);
    assert_eq!(b.cached(), 0);
}

#[test]
fn no_cache_filter_rebuilds_only_that_stage() {
    let Some(env) = env(&[]) else { return };
    let df = "FROM busybox AS deps\nRUN cat /proc/sys/kernel/random/uuid > /stamp\nFROM busybox AS app\nRUN echo app > /app\nCOPY --from=deps /stamp /stamp\n";
    env.build(df);
    let before = env.read("test", "/stamp");
    let b = env.build_with(df, |o| o.no_cache_filter = vec!["deps".into()]);
    // deps' RUN reruns; app's RUN is cached; its COPY sees the new stamp.
    assert_eq!(b.cached(), 1, "{}", b.log);
    assert_ne!(env.read("test", "/stamp"), before);
}

#[test]
fn debug_cache_keys_shows_the_preimage() {
    let Some(env) = env(&files()) else { return };
    let b = env.build_with(DF, |o| o.debug_cache_keys = true);
    assert!(b.log.contains("strata.copy.v5\nparent="), "{}", b.log);
    assert!(b.log.contains("strata.exec.v1\nparent="), "{}", b.log);
    assert!(b.log.contains("/conf.txt f 644 "), "{}", b.log);
}

#[test]
fn builder_prune_forgets_the_cache_and_cache_mounts() {
    let Some(env) = env(&files()) else { return };
    env.build("FROM busybox\nCOPY conf.txt /c\nRUN --mount=type=cache,target=/m echo x > /m/f\n");
    let store = env.store();
    let r = strata_build::prune(&store).unwrap();
    assert_eq!(r.entries.len(), 2, "{r:?}");
    assert_eq!(r.cache_mounts.len(), 1, "{r:?}");
    assert!(
        !strata_build::mounts::cache_mount_dir(&env.root)
            .read_dir()
            .unwrap()
            .any(|e| e.unwrap().path().is_dir())
    );
    // The tagged image keeps its blobs; the next build misses the cache.
    assert!(store.check().unwrap().problems.is_empty());
    let b = env
        .build("FROM busybox\nCOPY conf.txt /c\nRUN --mount=type=cache,target=/m echo x > /m/f\n");
    assert_eq!(b.cached(), 0);
}

#[test]
fn builder_prune_keeps_a_cache_mount_a_build_holds() {
    let Some(env) = env(&files()) else { return };
    env.build("FROM busybox\nRUN --mount=type=cache,target=/m echo x > /m/f\n");
    let dir = strata_build::mounts::cache_mount_dir(&env.root);
    let mount = dir
        .read_dir()
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .expect("a cache mount directory");
    // A running build holds the mount's lock (shared, as `sharing=shared` does).
    let lock = std::fs::File::open(mount.with_extension("lock")).unwrap();
    lock.lock_shared().unwrap();
    let r = strata_build::prune(&env.store()).unwrap();
    assert!(r.cache_mounts.is_empty(), "{r:?}");
    assert!(mount.join("f").exists());
    drop(lock);
    let r = strata_build::prune(&env.store()).unwrap();
    assert_eq!(r.cache_mounts.len(), 1, "{r:?}");
    assert!(!mount.exists());
}

#[test]
fn source_date_epoch_gives_the_same_image_from_different_paths() {
    let df =
        "FROM busybox\nWORKDIR /w\nCOPY . /src/\nRUN echo built > /w/out && mkdir /w/d\nENV X=1\n";
    let mut ids = Vec::new();
    for _ in 0..2 {
        let Some(env) = env(&[("f", "content"), ("d/g", "g")]) else {
            return;
        };
        let b = env.build_with(df, |o| o.source_date_epoch = Some(1_700_000_000));
        ids.push((
            b.out.image_id.to_string(),
            b.out.manifest.digest.to_string(),
        ));
        assert_eq!(env.config("test")["created"], "2023-11-14T22:13:20Z");
    }
    assert_eq!(ids[0], ids[1]);
}

#[test]
fn concurrent_builds_share_base_layers() {
    let Some(env) = env(&[("a", "a")]) else {
        return;
    };
    let e = &env;
    std::thread::scope(|s| {
        let h1 = s.spawn(|| {
            e.try_build_with("FROM busybox\nRUN echo one > /one\n", |o| {
                o.tags = vec!["one".into()]
            })
        });
        let h2 = s.spawn(|| {
            e.try_build_with("FROM busybox\nCOPY a /a\nRUN echo two > /two\n", |o| {
                o.tags = vec!["two".into()]
            })
        });
        h1.join().unwrap().unwrap();
        h2.join().unwrap().unwrap();
    });
    assert_eq!(e.read("one", "/one").trim(), "one");
    assert_eq!(e.read("two", "/two").trim(), "two");
    let base_one = e.config("one")["rootfs"]["diff_ids"][0].clone();
    assert_eq!(base_one, e.config("two")["rootfs"]["diff_ids"][0]);
    assert!(e.store().check().unwrap().problems.is_empty());
}

#[test]
fn fully_cached_rebuild_gives_the_same_image() {
    let Some(env) = env(&files()) else { return };
    let a = env.build(DF);
    let b = env.build(DF);
    assert_eq!(a.out.image_id, b.out.image_id);
    let c = env.build(&format!("{DF}LABEL x=1\n"));
    assert_ne!(a.out.image_id, c.out.image_id);
    // Another tag on the same image.
    let d = env.build_with(DF, |o| o.tags = vec!["other".into()]);
    assert_eq!(a.out.image_id, d.out.image_id);
    assert!(env.cc("other")["Labels"].is_null());
}

#[test]
fn snapshot_prune_waits_for_no_one_and_keeps_what_images_use() {
    let Some(env) = env(&[("a", "a")]) else {
        return;
    };
    env.build("FROM busybox\nCOPY a /a\nRUN cat /a > /b\n");
    let store = env.store();
    let snaps = strata_build::snapshot::Snapshots::new(&store).unwrap();
    let orphan = store.root().join("snapshots").join("ab".repeat(32));
    std::fs::create_dir_all(orphan.join("etc")).unwrap();
    let in_use = std::collections::HashSet::new();
    // A build (or unpack) in progress: nothing is removed.
    let hold = snaps.hold().unwrap();
    let r = snaps.prune(&store, &in_use).unwrap();
    assert!(r.busy && r.removed.is_empty(), "{r:?}");
    assert!(orphan.exists());
    drop(hold);
    // Another test's build may fork (before its exec closes descriptors) while this one
    // holds the lock, keeping the lock alive a moment longer in the child: retry briefly.
    let mut r = snaps.prune(&store, &in_use).unwrap();
    for _ in 0..100 {
        if !r.busy {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        r = snaps.prune(&store, &in_use).unwrap();
    }
    assert_eq!(r.removed, vec!["ab".repeat(32)], "{r:?}");
    assert!(!orphan.exists());
    // The image's own stacks stay, so it still reads without unpacking anything.
    let kept = strata_build::snapshot::image_chains(&store).unwrap();
    assert!(kept.len() >= 3, "{kept:?}");
    for c in &kept {
        assert!(store.root().join("snapshots").join(c).is_dir(), "{c}");
    }
}

#[test]
fn hardlinking_context_files_rebuilds_the_copy() {
    use std::os::unix::fs::MetadataExt;
    let Some(env) = env(&[("a", "same"), ("b", "same")]) else {
        return;
    };
    let df = "FROM scratch\nCOPY . /d/\n";
    env.build(df);
    assert_eq!(
        std::fs::metadata(env.rootfs("test").join("d/b"))
            .unwrap()
            .nlink(),
        1
    );
    // Same names, same contents, same modes: only the link between them changes.
    std::fs::remove_file(env.ctx.join("b")).unwrap();
    std::fs::hard_link(env.ctx.join("a"), env.ctx.join("b")).unwrap();
    let b = env.build(df);
    assert_eq!(b.cached(), 0, "{}", b.log);
    let r = env.rootfs("test");
    let (a, b) = (
        std::fs::metadata(r.join("d/a")).unwrap(),
        std::fs::metadata(r.join("d/b")).unwrap(),
    );
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
}

#[test]
fn steps_before_a_failing_step_are_committed_and_cached() {
    // Layers are committed (blob made durable, cache entry written) off the steps' path;
    // a build that fails later still commits the steps that finished.
    let Some(env) = env(&files()) else { return };
    let failing = "FROM busybox\nCOPY app/ /app/\nRUN cat /app/* > /all\nRUN exit 3\n";
    let Err(err) = env.try_build(failing) else {
        panic!("RUN exit 3 succeeded")
    };
    assert!(err.contains("exit code: 3"), "{err}");
    let b = env.build(&failing.replace("RUN exit 3", "RUN true"));
    assert_eq!(b.cached(), 2, "{}", b.log);
    let report = env.store().check().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}
