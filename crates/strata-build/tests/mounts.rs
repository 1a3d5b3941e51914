//! `RUN --mount` of every type: what the command sees, what reaches the layer and the key.

mod common;
use common::*;

#[test]
fn cache_mount_persists_across_builds_and_stays_out_of_layers() {
    let Some(env) = env(&[]) else { return };
    let df = "FROM busybox\nRUN --mount=type=cache,target=/var/cache/app,id=c1 echo run >> /var/cache/app/log && cat /var/cache/app/log | wc -l > /count\n";
    env.build(df);
    assert_eq!(env.read("test", "/count").trim(), "1");
    let top = env.layer("test", -1);
    assert!(top.iter().all(|n| !n.starts_with("var")), "{top:?}");
    // Same RUN with a different command text: the cache directory is still there.
    env.build(&df.replace("wc -l", "wc -l "));
    assert_eq!(env.read("test", "/count").trim(), "2");
}

#[test]
fn cache_mount_uid_gid_mode_apply_on_creation() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN --mount=type=cache,target=/c,uid=1000,gid=1001,mode=0710 stat -c '%u %g %a' /c > /st\n");
    assert_eq!(env.read("test", "/st").trim(), "1000 1001 710");
}

#[test]
fn locked_cache_mount_is_shared_by_id_between_targets() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN --mount=type=cache,id=shared,target=/a,sharing=locked echo x > /a/f\nRUN --mount=type=cache,id=shared,target=/b,sharing=private cat /b/f > /seen\n");
    assert_eq!(env.read("test", "/seen").trim(), "x");
}

#[test]
fn bind_mount_of_the_context_is_read_only_and_keyed_by_content() {
    let Some(env) = env(&[("src/a.txt", "A"), ("other", "o")]) else {
        return;
    };
    let df = "FROM busybox\nRUN --mount=type=bind,source=src,target=/src cat /src/a.txt > /out && ! touch /src/new 2>/dev/null\n";
    env.build(df);
    assert_eq!(env.read("test", "/out"), "A");
    let root = env.rootfs("test");
    assert!(!root.join("src").exists(), "the mount point must not stay");
    // A file outside the bound directory does not invalidate the RUN.
    env.write(&[("other", "changed")]);
    assert_eq!(env.build(df).cached(), 1);
    env.write(&[("src/a.txt", "B")]);
    assert_eq!(env.build(df).cached(), 0);
    assert_eq!(env.read("test", "/out"), "B");
}

#[test]
fn bind_mount_rw_writes_are_discarded() {
    let Some(env) = env(&[("d/f", "1")]) else {
        return;
    };
    env.build("FROM busybox\nRUN --mount=type=bind,source=d,target=/d,rw echo 2 > /d/f && cat /d/f > /out\n");
    assert_eq!(env.read("test", "/out").trim(), "2");
    assert_eq!(std::fs::read_to_string(env.ctx.join("d/f")).unwrap(), "1");
}

#[test]
fn bind_mount_from_a_stage() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox AS tools\nRUN mkdir -p /opt/t && echo tool > /opt/t/x\nFROM busybox\nRUN --mount=type=bind,from=tools,source=/opt/t,target=/t cat /t/x > /out\n");
    assert_eq!(env.read("test", "/out").trim(), "tool");
    assert!(!env.rootfs("test").join("t").exists());
}

#[test]
fn bind_mount_respects_dockerignore() {
    let Some(env) = env(&[
        ("d/keep", "k"),
        ("d/secret.key", "s"),
        (".dockerignore", "**/*.key\n"),
    ]) else {
        return;
    };
    env.build("FROM busybox\nRUN --mount=type=bind,source=d,target=/d ls /d > /out\n");
    assert_eq!(env.read("test", "/out").trim(), "keep");
}

#[test]
fn tmpfs_mount_is_empty_and_gone_afterwards() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN --mount=type=tmpfs,target=/scratch echo hi > /scratch/x && grep -q tmpfs /proc/mounts && ls /scratch > /out\n");
    assert_eq!(env.read("test", "/out").trim(), "x");
    assert!(!env.rootfs("test").join("scratch").exists());
}

#[test]
fn secret_mount_never_reaches_layer_key_or_history() {
    let Some(env) = env(&[]) else { return };
    let secret_file = env.tmp.path().join("token");
    std::fs::write(&secret_file, "s3cr3t-value").unwrap();
    let df = "FROM busybox\nRUN --mount=type=secret,id=token cat /run/secrets/token | wc -c > /len && stat -c %a /run/secrets/token > /mode\n";
    let b = env.build_with(df, |o| {
        o.debug_cache_keys = true;
        o.secrets.insert(
            "token".into(),
            strata_build::SecretSource::File(secret_file.clone()),
        );
    });
    assert_eq!(env.read("test", "/len").trim(), "12");
    assert_eq!(env.read("test", "/mode").trim(), "400");
    assert!(!b.log.contains("s3cr3t"), "{}", b.log);
    let cfg = env.config("test").to_string();
    assert!(!cfg.contains("s3cr3t"));
    let root = env.rootfs("test");
    assert!(!root.join("run").exists(), "no /run left behind");
    // Changing the secret's value does not change the key.
    std::fs::write(&secret_file, "other-value!").unwrap();
    let b = env.build_with(df, |o| {
        o.secrets.insert(
            "token".into(),
            strata_build::SecretSource::File(secret_file.clone()),
        );
    });
    assert_eq!(b.cached(), 1);
}

#[test]
fn secret_as_environment_variable() {
    let Some(env) = env(&[]) else { return };
    // SAFETY: set before any build thread of this test reads it; the name is unique.
    unsafe { std::env::set_var("STRATA_TEST_SECRET_ENV", "envsecret") };
    env.build_with(
        "FROM busybox\nRUN --mount=type=secret,id=api,env=API_KEY echo -n \"$API_KEY\" | md5sum > /ok\n",
        |o| {
            o.secrets.insert(
                "api".into(),
                strata_build::SecretSource::Env("STRATA_TEST_SECRET_ENV".into()),
            );
        },
    );
    // md5 of "envsecret".
    assert!(
        env.read("test", "/ok")
            .starts_with("5305468dd8b3b509215fb07d311245a1")
    );
    assert!(!env.config("test").to_string().contains("envsecret"));
}

#[test]
fn required_secret_missing_fails() {
    let Some(env) = env(&[]) else { return };
    let e = env
        .try_build("FROM busybox\nRUN --mount=type=secret,id=nope,required true\n")
        .err()
        .unwrap();
    assert!(e.contains("secret nope"), "{e}");
}

#[test]
fn ssh_mount_forwards_the_agent_socket() {
    let Some(env) = env(&[]) else { return };
    let sock = env.tmp.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    env.build_with(
        "FROM busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo $SSH_AUTH_SOCK > /sock\n",
        |o| {
            o.ssh.insert("default".into(), Some(sock.clone()));
        },
    );
    assert_eq!(
        env.read("test", "/sock").trim(),
        "/run/buildkit/ssh_agent.0"
    );
    assert!(!env.rootfs("test").join("run").exists());
}
