//! `strata login` / `logout` and Docker's credential files, against `strata serve` with
//! htpasswd Basic auth on 127.0.0.1: credentials written by `strata login` are used by
//! `skopeo --authfile`, credentials written by `skopeo login` are used by `strata`, and a
//! `docker-credential-*` helper named by `credsStore` (a test script implementing the helper
//! protocol) stores, serves and erases them — the secret never lands in `config.json`.

mod common;
mod serve_common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::Env;
use serve_common::{HTPASSWD, Serve, skopeo};

/// `strata` with `$DOCKER_CONFIG` set, the password on stdin when given.
fn strata(env: &Env, docker_config: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    strata_with_path(env, docker_config, None, args, stdin)
}

/// [`strata`] with `$PATH` replaced (to find a credential helper).
fn strata_with_path(
    env: &Env,
    docker_config: &Path,
    path: Option<&str>,
    args: &[&str],
    stdin: Option<&str>,
) -> Output {
    let mut c = env.cmd();
    if let Some(p) = path {
        c.env("PATH", p);
    }
    c.env("DOCKER_CONFIG", docker_config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("run strata");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn start_registry(dir: &Path) -> Serve {
    let htpasswd = dir.join("htpasswd");
    std::fs::write(&htpasswd, HTPASSWD).unwrap();
    Serve::start(
        dir,
        &[
            "--storage",
            "memory",
            "--htpasswd",
            htpasswd.to_str().unwrap(),
        ],
    )
}

#[test]
fn login_writes_what_skopeo_reads_and_reads_what_skopeo_writes() {
    let Some(skopeo) = skopeo() else {
        eprintln!("skipping: skopeo is not installed (scripts/deps.sh test installs it)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let srv = start_registry(dir.path());
    let reg = srv.addr.to_string();
    let env = Env::new();
    env.tiny("app:1", "hello");
    let cfg = dir.path().join("docker");

    // A wrong password is refused and nothing is saved.
    let out = strata(
        &env,
        &cfg,
        &["login", "-u", "ci", "--password-stdin", &reg],
        Some("wrong\n"),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("wrong"), "the secret never appears: {err}");
    assert!(
        !cfg.join("config.json").exists()
            || !std::fs::read_to_string(cfg.join("config.json"))
                .unwrap()
                .contains(&reg)
    );

    let out = strata(
        &env,
        &cfg,
        &["login", "-u", "ci", "--password-stdin", &reg],
        Some("secret\n"),
    );
    let said = ok(out, "strata login");
    assert!(said.contains("Login Succeeded"), "{said}");
    let remote = format!("{reg}/team/app:1");
    ok(
        strata(&env, &cfg, &["push", "app:1", &remote], None),
        "strata push",
    );

    // skopeo uses the file strata wrote.
    let out = Command::new(skopeo)
        .args(["inspect", "--tls-verify=false", "--authfile"])
        .arg(cfg.join("config.json"))
        .arg(format!("docker://{remote}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "skopeo with strata's credentials: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // strata uses a file skopeo wrote.
    let cfg2 = dir.path().join("docker2");
    std::fs::create_dir_all(&cfg2).unwrap();
    let out = Command::new(skopeo)
        .args([
            "login",
            "--tls-verify=false",
            "-u",
            "ci",
            "-p",
            "secret",
            "--authfile",
        ])
        .arg(cfg2.join("config.json"))
        .arg(&reg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let other = Env::new();
    ok(
        strata(&other, &cfg2, &["pull", &remote], None),
        "strata pull with skopeo's credentials",
    );

    // Without credentials the pull is refused with the registry's word for it.
    let cfg3 = dir.path().join("docker3");
    let out = strata(&Env::new(), &cfg3, &["pull", &remote], None);
    assert!(!out.status.success());

    // logout removes the entry.
    ok(strata(&env, &cfg, &["logout", &reg], None), "strata logout");
    let text = std::fs::read_to_string(cfg.join("config.json")).unwrap();
    assert!(!text.contains(&reg), "{text}");
}

/// A `docker-credential-teststore` helper: get/store/erase on a JSON file beside it.
const HELPER: &str = r#"#!/usr/bin/env python3
import json, os, sys
db = os.path.join(os.path.dirname(os.path.abspath(__file__)), "store.json")
data = json.load(open(db)) if os.path.exists(db) else {}
op = sys.argv[1]
inp = sys.stdin.read()
if op == "store":
    c = json.loads(inp)
    data[c["ServerURL"]] = {"Username": c["Username"], "Secret": c["Secret"]}
elif op == "get":
    server = inp.strip()
    if server not in data:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps({"ServerURL": server, **data[server]}))
elif op == "erase":
    data.pop(inp.strip(), None)
elif op == "list":
    print(json.dumps({k: v["Username"] for k, v in data.items()}))
json.dump(data, open(db, "w"))
"#;

#[test]
fn a_credential_helper_stores_serves_and_erases() {
    let dir = tempfile::tempdir().unwrap();
    let srv = start_registry(dir.path());
    let reg = srv.addr.to_string();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-teststore");
    std::fs::write(&helper, HELPER).unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = dir.path().join("docker");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(cfg.join("config.json"), r#"{"credsStore":"teststore"}"#).unwrap();

    let env = Env::new();
    env.tiny("app:1", "helper");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |env: &Env, args: &[&str], stdin: Option<&str>| {
        strata_with_path(env, &cfg, Some(&path), args, stdin)
    };

    ok(
        run(
            &env,
            &["login", "-u", "ci", "--password-stdin", &reg],
            Some("secret\n"),
        ),
        "strata login through the helper",
    );
    let stored = std::fs::read_to_string(bin.join("store.json")).unwrap();
    assert!(
        stored.contains("secret"),
        "the helper holds the secret: {stored}"
    );
    let config = std::fs::read_to_string(cfg.join("config.json")).unwrap();
    assert!(
        !config.contains("secret"),
        "config.json holds no secret: {config}"
    );

    let remote = format!("{reg}/team/app:1");
    ok(
        run(&env, &["push", "app:1", &remote], None),
        "push with the helper's credentials",
    );
    ok(
        run(&Env::new(), &["pull", &remote], None),
        "pull with the helper's credentials",
    );

    ok(
        run(&env, &["logout", &reg], None),
        "strata logout through the helper",
    );
    let stored = std::fs::read_to_string(bin.join("store.json")).unwrap();
    assert!(!stored.contains(&reg), "erased from the helper: {stored}");
    let out = run(&Env::new(), &["pull", &remote], None);
    assert!(!out.status.success(), "no credentials after logout");
}
