//! `strata sbom`, `strata scan` and `strata analyze` on images made here:
//!
//! - a busybox image (Debian's busybox-static) with hand-made package metadata in later
//!   layers: a dpkg entry, Python `dist-info`, npm `package.json`s (one upgraded by a later
//!   layer), a `Cargo.lock` and an executable with Go build information;
//! - OSV records written here in OSV's JSON schema and zipped like the per-ecosystem
//!   archives OSV publishes, each one either hitting an installed version or missing a
//!   fixed one (or another ecosystem, or a version below `introduced`);
//! - a `debootstrap --variant=minbase bookworm` root filesystem, cached between runs under
//!   `~/.cache/strata-test/` (or `$STRATA_TEST_CACHE`), whose SBOM must list exactly what
//!   `dpkg-query -W` lists;
//! - an image whose second layer deletes a 10 MB file of the first, for `analyze`.
//!
//! SPDX output is checked by the SPDX project's own validator (`pyspdxtools` from
//! `spdx-tools`) and by the SPDX 2.3 required fields; CycloneDX output against the official
//! CycloneDX 1.5 JSON schema as shipped in `cyclonedx-python-lib`. `scripts/deps.sh test`
//! installs both into the test virtualenv.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Env;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

// ---------------------------------------------------------------------------------------
// Making images: layers as tar streams, loaded as a docker-archive.

enum Entry<'a> {
    File(&'a str, Vec<u8>, u32),
    Dir(&'a str),
    /// Delete this path of lower layers (an OCI `.wh.` entry).
    Whiteout(&'a str),
    /// Everything under a host directory (symlinks kept as symlinks).
    Tree(&'a Path),
}

fn layer(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.follow_symlinks(false);
    let header = |kind: tar::EntryType, size: u64, mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        h
    };
    for e in entries {
        match e {
            Entry::File(path, data, mode) => {
                let mut h = header(tar::EntryType::Regular, data.len() as u64, *mode);
                b.append_data(&mut h, path, data.as_slice()).unwrap();
            }
            Entry::Dir(path) => {
                let mut h = header(tar::EntryType::Directory, 0, 0o755);
                b.append_data(&mut h, path, std::io::empty()).unwrap();
            }
            Entry::Whiteout(path) => {
                let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
                let name = if dir.is_empty() {
                    format!(".wh.{base}")
                } else {
                    format!("{dir}/.wh.{base}")
                };
                let mut h = header(tar::EntryType::Regular, 0, 0o644);
                b.append_data(&mut h, name, std::io::empty()).unwrap();
            }
            Entry::Tree(dir) => b.append_dir_all(".", dir).unwrap(),
        }
    }
    b.into_inner().unwrap()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Load an image of `layers` (each with the instruction that made it) as `name`.
fn load_image(env: &Env, name: &str, layers: &[(&str, Vec<u8>)]) {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|(_, t)| format!("sha256:{}", sha256_hex(t)))
        .collect();
    let history: Vec<Value> = layers
        .iter()
        .map(|(c, _)| json!({"created": "2024-01-01T00:00:00Z", "created_by": c}))
        .collect();
    let config = serde_json::to_vec(&json!({
        "architecture": host_arch(),
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }))
    .unwrap();
    let config_name = format!("{}.json", sha256_hex(&config));
    let mut ar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        ar.append_data(&mut h, path, data).unwrap();
    };
    let mut layer_names = Vec::new();
    for (_, t) in layers {
        let n = format!("{}/layer.tar", sha256_hex(t));
        add(&n, t);
        layer_names.push(n);
    }
    add(&config_name, &config);
    let manifest = json!([{"Config": config_name, "RepoTags": [name], "Layers": layer_names}]);
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    let archive = ar.into_inner().unwrap();
    let path = env.path(&format!("{}.tar", name.replace(['/', ':'], "_")));
    std::fs::write(&path, archive).unwrap();
    env.ok(&["load", "-i", path.to_str().unwrap()]);
}

fn uvarint(mut n: usize, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// An ELF executable carrying Go 1.18+ build information (`\xff Go buildinf:` at a
/// 16-aligned offset, flag 2 = inline strings, then the version and the module info wrapped
/// in 16-byte sentinels) — what `go version -m` reads.
fn go_binary(go_version: &str, modinfo: &str) -> Vec<u8> {
    let mut data = b"\x7fELF\x02\x01\x01".to_vec();
    data.resize(8192, 0);
    data.extend_from_slice(b"\xff Go buildinf:");
    data.push(8);
    data.push(2);
    data.resize(8192 + 32, 0);
    uvarint(go_version.len(), &mut data);
    data.extend_from_slice(go_version.as_bytes());
    let mut m = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6".to_vec();
    m.extend_from_slice(modinfo.as_bytes());
    m.extend_from_slice(b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2");
    let n = m.len();
    // The reader recognises the sentinels by the '\n' that ends the module info.
    assert_eq!(m[n - 17], b'\n');
    uvarint(m.len(), &mut data);
    data.extend_from_slice(&m);
    data.resize(data.len() + 512, 0);
    data
}

const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// Debian's busybox-static as dpkg records it (a binNMU: the source version has no `+b3`).
const DPKG_STATUS: &str = "Package: busybox-static\nStatus: install ok installed\nPriority: optional\nSection: shells\nInstalled-Size: 2088\nMaintainer: Debian Install System Team <debian-boot@lists.debian.org>\nArchitecture: amd64\nSource: busybox (1:1.35.0-4)\nVersion: 1:1.35.0-4+b3\nDescription: Standalone rescue shell with tons of builtin utilities\n BusyBox combines tiny versions of many common UNIX utilities.\n\n";

fn dist_info(name: &str, version: &str, license: &str) -> Vec<u8> {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: test fixture\nLicense: {license}\n\nLong description.\nName: not-a-header\n").into_bytes()
}

fn package_json(name: &str, version: &str) -> Vec<u8> {
    serde_json::to_vec_pretty(
        &json!({"name": name, "version": version, "license": "MIT", "main": "index.js"}),
    )
    .unwrap()
}

const CARGO_LOCK: &str = r#"# This file is automatically @generated by Cargo.
version = 3

[[package]]
name = "server"
version = "0.1.0"
dependencies = ["serde", "smallvec", "time"]

[[package]]
name = "serde"
version = "1.0.200"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "ddc6f9cc94d67c0e21aaf7eda3a010fd3af78ebf6e096aa6e2e13c79749cce4f"

[[package]]
name = "smallvec"
version = "1.6.0"
source = "registry+https://github.com/rust-lang/crates.io-index"

[[package]]
name = "time"
version = "0.1.45"
source = "registry+https://github.com/rust-lang/crates.io-index"
"#;

const GO_MODINFO: &str = "path\texample.com/server\nmod\texample.com/server\t(devel)\t\ndep\tgolang.org/x/net\tv0.17.0\th1:pVaXccu2ozPjCF6WiW3V2YEqXhFkSNOxHrR3f3AmtJM=\ndep\tgolang.org/x/text\tv0.3.5\th1:i6eZZ+zk0SOf0xgBpEpPD18qWcJda6q1sxt3S0kzyUQ=\nbuild\t-compiler=gc\nbuild\tGOOS=linux\n";

/// What `cargo auditable` embeds for a binary crate `worker` using two registry crates.
const AUDIT_JSON: &str = r#"{"packages":[{"name":"worker","version":"0.1.0","source":"local","kind":"runtime","dependencies":[1,2],"root":true},{"name":"hashbrown","version":"0.14.0","source":"crates.io"},{"name":"smallvec","version":"1.6.0","source":"crates.io"}]}"#;

/// A real executable, compiled here with rustc, carrying `cargo auditable` data: the
/// zlib-compressed dependency list in a `.dep-v0` ELF section, as `cargo auditable build`
/// leaves it.
fn auditable_binary(env: &Env, json: &str) -> Vec<u8> {
    let dir = env.path("auditable");
    std::fs::create_dir_all(&dir).unwrap();
    let mut py = Command::new("python3")
        .args([
            "-c",
            "import sys,zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read()))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    use std::io::Write as _;
    py.stdin.take().unwrap().write_all(json.as_bytes()).unwrap();
    let z = py.wait_with_output().unwrap();
    assert!(z.status.success());
    std::fs::write(dir.join("audit.z"), &z.stdout).unwrap();
    let src = format!(
        "#[used]\n#[link_section = \".dep-v0\"]\nstatic AUDIT: [u8; {}] = *include_bytes!(\"audit.z\");\nfn main() {{}}\n",
        z.stdout.len()
    );
    std::fs::write(dir.join("main.rs"), src).unwrap();
    let bin = dir.join("worker");
    common::run_tool(
        Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .current_dir(&dir)
            .args(["--edition", "2021", "-C", "strip=debuginfo", "-o"])
            .arg(&bin)
            .arg("main.rs"),
    );
    std::fs::read(bin).unwrap()
}

const SITE: &str = "usr/local/lib/python3.11/site-packages";

/// The fixture image `insight/app:1`: busybox + dpkg entry, Python packages, a Node app
/// with a Cargo.lock and a Go binary, then an npm upgrade.
fn app_image(env: &Env) {
    let rootfs = env.busybox_rootfs();
    let base = layer(&[
        Entry::Tree(&rootfs),
        Entry::File("etc/os-release", OS_RELEASE.into(), 0o644),
        Entry::Dir("var/lib"),
        Entry::Dir("var/lib/dpkg"),
        Entry::File("var/lib/dpkg/status", DPKG_STATUS.into(), 0o644),
    ]);
    let py = |d: &str| format!("{SITE}/{d}/METADATA");
    let python = layer(&[
        Entry::File(
            &py("requests-2.25.0.dist-info"),
            dist_info("requests", "2.25.0", "Apache 2.0"),
            0o644,
        ),
        Entry::File(
            &py("Django-3.2.dist-info"),
            dist_info("Django", "3.2", "BSD-3-Clause"),
            0o644,
        ),
        Entry::File(
            &py("PyYAML-5.3.1.dist-info"),
            dist_info("PyYAML", "5.3.1", "MIT"),
            0o644,
        ),
        Entry::File(
            &py("Jinja2-3.1.4.dist-info"),
            dist_info("Jinja2", "3.1.4", "BSD"),
            0o644,
        ),
        Entry::File(
            &py("urllib3-2.0.0.dev1.dist-info"),
            dist_info("urllib3", "2.0.0.dev1", "MIT"),
            0o644,
        ),
        Entry::File(
            &py("certifi-2023.7.22.post1.dist-info"),
            dist_info("certifi", "2023.7.22.post1", "MPL-2.0"),
            0o644,
        ),
    ]);
    let app = layer(&[
        Entry::File(
            "app/package.json",
            package_json("server-app", "1.0.0"),
            0o644,
        ),
        Entry::File(
            "app/node_modules/lodash/package.json",
            package_json("lodash", "4.17.20"),
            0o644,
        ),
        Entry::File(
            "app/node_modules/@babel/traverse/package.json",
            package_json("@babel/traverse", "7.23.0"),
            0o644,
        ),
        Entry::File(
            "app/node_modules/minimist/package.json",
            package_json("minimist", "1.2.8"),
            0o644,
        ),
        Entry::File(
            "app/node_modules/tricky/package.json",
            package_json("tricky", "2.0.0-alpha"),
            0o644,
        ),
        Entry::File("app/Cargo.lock", CARGO_LOCK.into(), 0o644),
        Entry::File("app/bin/server", go_binary("go1.21.3", GO_MODINFO), 0o755),
        Entry::File("app/bin/worker", auditable_binary(env, AUDIT_JSON), 0o755),
    ]);
    let upgrade = layer(&[Entry::File(
        "app/node_modules/lodash/package.json",
        package_json("lodash", "4.17.21"),
        0o644,
    )]);
    load_image(
        env,
        "insight/app:1",
        &[
            ("ADD busybox-rootfs / # buildkit", base),
            (
                "RUN /bin/sh -c pip install -r requirements.txt # buildkit",
                python,
            ),
            ("COPY app /app # buildkit", app),
            (
                "RUN /bin/sh -c cd /app && npm install lodash@4.17.21 # buildkit",
                upgrade,
            ),
        ],
    );
}

// ---------------------------------------------------------------------------------------
// OSV records, zipped like OSV's per-ecosystem archives (one `ID.json` per record).

fn zip_records(path: &Path, records: &[Value]) {
    let dir = path.with_extension("d");
    std::fs::create_dir_all(&dir).unwrap();
    for r in records {
        let id = r["id"].as_str().unwrap();
        std::fs::write(
            dir.join(format!("{id}.json")),
            serde_json::to_vec_pretty(r).unwrap(),
        )
        .unwrap();
    }
    zip_dir(&dir, path);
}

/// Zip the files of `dir` (flat, deflated) with Python's zipfile module.
fn zip_dir(dir: &Path, path: &Path) {
    let script = "import os,sys,zipfile\nd,out=sys.argv[1],sys.argv[2]\nwith zipfile.ZipFile(out,'w',zipfile.ZIP_DEFLATED) as z:\n  for n in sorted(os.listdir(d)): z.write(os.path.join(d,n),n)\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(dir)
        .arg(path)
        .output()
        .expect("python3 (installed with the system; scripts/deps.sh test)");
    assert!(
        out.status.success(),
        "zip: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const CVSS_CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";

fn osv(id: &str, aliases: &[&str], affected: Vec<Value>) -> Value {
    json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": "2024-03-01T12:00:00Z",
        "published": "2024-01-15T00:00:00Z",
        "aliases": aliases,
        "summary": format!("test advisory {id}"),
        "details": "Written for Strata's tests.",
        "affected": affected,
        "references": [{"type": "ADVISORY", "url": format!("https://osv.dev/vulnerability/{id}")}],
    })
}

fn affected(ecosystem: &str, name: &str, range_type: &str, events: Value) -> Value {
    json!({
        "package": {"ecosystem": ecosystem, "name": name},
        "ranges": [{"type": range_type, "events": events}],
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v.as_object_mut().unwrap().insert(key.into(), value);
    v
}

/// Writes Debian.zip, PyPI.zip, npm.zip, crates.io.zip and Go.zip; returns their paths.
fn osv_archives(env: &Env) -> Vec<PathBuf> {
    let sev = |s: &str| json!([{"type": "CVSS_V3", "score": s}]);
    let label = |s: &str| json!({"severity": s});
    let debian = vec![
        with(
            osv(
                "DSA-9001-1",
                &["CVE-2022-48174"],
                vec![affected(
                    "Debian:12",
                    "busybox",
                    "ECOSYSTEM",
                    json!([{"introduced": "0"}, {"fixed": "1:1.35.0-4+deb12u1"}]),
                )],
            ),
            "severity",
            sev(CVSS_CRITICAL),
        ),
        // Fixed long before the installed version.
        osv(
            "DSA-9002-1",
            &["CVE-2011-5325"],
            vec![affected(
                "Debian:12",
                "busybox",
                "ECOSYSTEM",
                json!([{"introduced": "0"}, {"fixed": "1:1.30.1-1"}]),
            )],
        ),
        // Another release of Debian.
        osv(
            "DSA-9003-1",
            &["CVE-2099-0001"],
            vec![affected(
                "Debian:11",
                "busybox",
                "ECOSYSTEM",
                json!([{"introduced": "0"}]),
            )],
        ),
    ];
    let pypi = vec![
        with(
            osv(
                "GHSA-j8r2-6x86-q33q",
                &["CVE-2023-32681"],
                vec![affected(
                    "PyPI",
                    "requests",
                    "ECOSYSTEM",
                    json!([{"introduced": "0"}, {"fixed": "2.31.0"}]),
                )],
            ),
            "database_specific",
            label("MODERATE"),
        ),
        with(
            osv(
                "PYSEC-2021-98",
                &["CVE-2021-31542"],
                vec![affected(
                    "PyPI",
                    "django",
                    "ECOSYSTEM",
                    json!([{"introduced": "3.2"}, {"fixed": "3.2.1"}]),
                )],
            ),
            "database_specific",
            label("HIGH"),
        ),
        osv(
            "PYSEC-2021-142",
            &["CVE-2020-14343"],
            vec![affected(
                "PyPI",
                "pyyaml",
                "ECOSYSTEM",
                json!([{"introduced": "0"}, {"last_affected": "5.3.1"}]),
            )],
        ),
        osv(
            "GHSA-h75v-3vvj-5mfj",
            &["CVE-2024-34064"],
            vec![affected(
                "PyPI",
                "jinja2",
                "ECOSYSTEM",
                json!([{"introduced": "0"}, {"fixed": "3.1.4"}]),
            )],
        ),
        with(
            osv(
                "GHSA-v845-jxx5-vc9f",
                &["CVE-2023-43804"],
                vec![affected(
                    "PyPI",
                    "urllib3",
                    "ECOSYSTEM",
                    json!([{"introduced": "0"}, {"fixed": "2.0.0"}]),
                )],
            ),
            "database_specific",
            label("LOW"),
        ),
        osv(
            "GHSA-xqr8-7jwr-rhp7",
            &["CVE-2023-37920"],
            vec![affected(
                "PyPI",
                "certifi",
                "ECOSYSTEM",
                json!([{"introduced": "0"}, {"fixed": "2023.7.22"}]),
            )],
        ),
        // Withdrawn records are ignored.
        with(
            osv(
                "GHSA-wwww-wwww-wwww",
                &[],
                vec![affected(
                    "PyPI",
                    "requests",
                    "ECOSYSTEM",
                    json!([{"introduced": "0"}]),
                )],
            ),
            "withdrawn",
            json!("2024-02-01T00:00:00Z"),
        ),
    ];
    let npm = vec![
        with(
            osv(
                "GHSA-35jh-r3h4-6jhm",
                &["CVE-2021-23337"],
                vec![with(
                    affected(
                        "npm",
                        "lodash",
                        "SEMVER",
                        json!([{"introduced": "0"}, {"fixed": "4.17.21"}]),
                    ),
                    "versions",
                    json!(["4.17.20"]),
                )],
            ),
            "database_specific",
            label("HIGH"),
        ),
        with(
            osv(
                "GHSA-67hx-6x53-jw92",
                &["CVE-2023-45133"],
                vec![affected(
                    "npm",
                    "@babel/traverse",
                    "SEMVER",
                    json!([{"introduced": "0"}, {"fixed": "7.23.2"}]),
                )],
            ),
            "severity",
            sev(CVSS_CRITICAL),
        ),
        osv(
            "GHSA-xvch-5gv4-984h",
            &["CVE-2021-44906"],
            vec![affected(
                "npm",
                "minimist",
                "SEMVER",
                json!([{"introduced": "0"}, {"fixed": "1.2.6"}]),
            )],
        ),
        with(
            osv(
                "GHSA-tttt-tttt-tttt",
                &[],
                vec![affected(
                    "npm",
                    "tricky",
                    "SEMVER",
                    json!([{"introduced": "0"}, {"fixed": "2.0.0"}]),
                )],
            ),
            "database_specific",
            label("MODERATE"),
        ),
    ];
    let crates = vec![
        with(
            osv(
                "RUSTSEC-2021-0003",
                &["CVE-2021-25900"],
                vec![affected(
                    "crates.io",
                    "smallvec",
                    "SEMVER",
                    json!([{"introduced": "0.6.3"}, {"fixed": "0.6.14"}, {"introduced": "1.0.0"}, {"fixed": "1.6.1"}]),
                )],
            ),
            "severity",
            sev(CVSS_CRITICAL),
        ),
        osv(
            "RUSTSEC-2020-0071",
            &["CVE-2020-26235"],
            vec![affected(
                "crates.io",
                "time",
                "SEMVER",
                json!([{"introduced": "0.2.7"}, {"fixed": "0.2.23"}]),
            )],
        ),
        // Found only through the `cargo auditable` data of app/bin/worker.
        osv(
            "RUSTSEC-2099-0001",
            &[],
            vec![affected(
                "crates.io",
                "hashbrown",
                "SEMVER",
                json!([{"introduced": "0.14.0"}, {"fixed": "0.14.1"}]),
            )],
        ),
    ];
    let go = vec![
        osv(
            "GO-2021-0113",
            &["CVE-2020-28851"],
            vec![affected(
                "Go",
                "golang.org/x/text",
                "SEMVER",
                json!([{"introduced": "0"}, {"fixed": "0.3.7"}]),
            )],
        ),
        osv(
            "GO-2023-2153",
            &["CVE-2023-44487"],
            vec![affected(
                "Go",
                "golang.org/x/net",
                "SEMVER",
                json!([{"introduced": "0"}, {"fixed": "0.17.0"}]),
            )],
        ),
        osv(
            "GO-2023-2185",
            &["CVE-2023-45283"],
            vec![affected(
                "Go",
                "stdlib",
                "SEMVER",
                json!([{"introduced": "0"}, {"fixed": "1.20.11"}, {"introduced": "1.21.0-0"}, {"fixed": "1.21.4"}]),
            )],
        ),
        osv(
            "GO-2022-0969",
            &["CVE-2022-27664"],
            vec![affected(
                "Go",
                "stdlib",
                "SEMVER",
                json!([{"introduced": "0"}, {"fixed": "1.18.6"}, {"introduced": "1.19.0-0"}, {"fixed": "1.19.1"}]),
            )],
        ),
    ];
    let mut paths = Vec::new();
    for (name, records) in [
        ("Debian", debian),
        ("PyPI", pypi),
        ("npm", npm),
        ("crates.io", crates),
        ("Go", go),
    ] {
        let p = env.path(&format!("{name}.zip"));
        zip_records(&p, &records);
        paths.push(p);
    }
    paths
}

fn import_db(env: &Env) {
    let archives = osv_archives(env);
    let mut args = vec!["scan", "db", "import"];
    args.extend(archives.iter().map(|p| p.to_str().unwrap()));
    env.ok(&args);
}

fn json_out(env: &Env, args: &[&str]) -> Value {
    let out = env.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}\n{out}"))
}

// ---------------------------------------------------------------------------------------
// Validators.

fn test_venv() -> PathBuf {
    std::env::var_os("STRATA_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/strata-test-venv")
        })
}

/// CycloneDX's official JSON schemas, from the `cyclonedx-python-lib` package in the test
/// virtualenv.
fn cyclonedx_schema_dir() -> PathBuf {
    let lib = test_venv().join("lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|rd| {
        rd.flatten()
            .map(|e| e.path().join("site-packages/cyclonedx/schema/_res"))
            .find(|p| p.join("bom-1.5.SNAPSHOT.schema.json").exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "the CycloneDX 1.5 schema is missing: run scripts/deps.sh test (it installs cyclonedx-python-lib into {})",
            test_venv().display()
        )
    })
}

fn validate_cyclonedx(doc: &Value) {
    let dir = cyclonedx_schema_dir();
    let load = |f: &str| -> Value {
        serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
    };
    let base = "http://cyclonedx.org/schema";
    let registry = jsonschema::Registry::new()
        .extend([
            (
                format!("{base}/spdx.SNAPSHOT.schema.json"),
                load("spdx.SNAPSHOT.schema.json"),
            ),
            (
                format!("{base}/jsf-0.82.SNAPSHOT.schema.json"),
                load("jsf-0.82.SNAPSHOT.schema.json"),
            ),
        ])
        .unwrap()
        .prepare()
        .unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .with_registry(&registry)
        .should_validate_formats(true)
        .offline()
        .build(&load("bom-1.5.SNAPSHOT.schema.json"))
        .expect("CycloneDX 1.5 schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "CycloneDX 1.5 schema violations:\n{}",
        errors.join("\n")
    );
}

/// The SPDX project's validator, then the fields SPDX 2.3 requires (clauses 6 and 7).
fn validate_spdx(env: &Env, doc: &Value) {
    let tool = test_venv().join("bin/pyspdxtools");
    assert!(
        tool.exists(),
        "{} is missing: run scripts/deps.sh test (it installs spdx-tools)",
        tool.display()
    );
    let file = env.path("sbom.spdx.json");
    std::fs::write(&file, serde_json::to_vec(doc).unwrap()).unwrap();
    let out = Command::new(&tool).arg("-i").arg(&file).output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "pyspdxtools rejects the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["dataLicense"], "CC0-1.0");
    assert_eq!(doc["SPDXID"], "SPDXRef-DOCUMENT");
    assert!(doc["name"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(
        doc["documentNamespace"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let created = doc["creationInfo"]["created"].as_str().unwrap();
    assert!(
        created.parse::<jiff::Timestamp>().is_ok() && created.ends_with('Z'),
        "{created}"
    );
    assert!(
        !doc["creationInfo"]["creators"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let id_ok = |s: &str| {
        s.strip_prefix("SPDXRef-").is_some_and(|r| {
            !r.is_empty()
                && r.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        })
    };
    let mut ids = BTreeSet::new();
    for p in doc["packages"].as_array().unwrap() {
        let id = p["SPDXID"].as_str().unwrap();
        assert!(id_ok(id), "{id}");
        assert!(ids.insert(id.to_string()), "duplicate {id}");
        for f in ["name", "downloadLocation"] {
            assert!(p[f].is_string(), "package {id} lacks {f}");
        }
    }
    for r in doc["relationships"].as_array().unwrap() {
        for f in ["spdxElementId", "relatedSpdxElement"] {
            let target = r[f].as_str().unwrap();
            assert!(
                target == "SPDXRef-DOCUMENT" || ids.contains(target),
                "dangling {target}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tests.

/// (type, name, version, layer) of every package in a `sbom --format json` document.
fn packages(bom: &Value) -> Vec<(String, String, String, u64)> {
    bom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["type"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
                p["layer"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn sbom_lists_every_ecosystem_with_the_layer_that_added_it() {
    let env = Env::new();
    app_image(&env);
    let bom = json_out(&env, &["sbom", "--format", "json", "insight/app:1"]);
    let want: Vec<(&str, &str, &str, u64)> = vec![
        ("deb", "busybox-static", "1:1.35.0-4+b3", 0),
        ("python", "Django", "3.2", 1),
        ("python", "Jinja2", "3.1.4", 1),
        ("python", "PyYAML", "5.3.1", 1),
        ("python", "certifi", "2023.7.22.post1", 1),
        ("python", "requests", "2.25.0", 1),
        ("python", "urllib3", "2.0.0.dev1", 1),
        ("npm", "@babel/traverse", "7.23.0", 2),
        ("npm", "lodash", "4.17.21", 3),
        ("npm", "minimist", "1.2.8", 2),
        ("npm", "tricky", "2.0.0-alpha", 2),
        ("cargo", "hashbrown", "0.14.0", 2),
        ("cargo", "serde", "1.0.200", 2),
        ("cargo", "smallvec", "1.6.0", 2),
        ("cargo", "time", "0.1.45", 2),
        ("go", "golang.org/x/net", "v0.17.0", 2),
        ("go", "golang.org/x/text", "v0.3.5", 2),
        ("go", "stdlib", "1.21.3", 2),
    ];
    let want: Vec<(String, String, String, u64)> = want
        .into_iter()
        .map(|(a, b, c, d)| (a.into(), b.into(), c.into(), d))
        .collect();
    assert_eq!(packages(&bom), want);
    assert_eq!(bom["distro"]["id"], "debian");
    assert_eq!(bom["layers"].as_array().unwrap().len(), 4);
    let purl = |name: &str| {
        bom["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["purl"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        purl("busybox-static"),
        "pkg:deb/debian/busybox-static@1:1.35.0-4%2Bb3?arch=amd64&distro=debian-12&upstream=busybox"
    );
    assert_eq!(purl("Django"), "pkg:pypi/django@3.2");
    assert_eq!(purl("@babel/traverse"), "pkg:npm/%40babel/traverse@7.23.0");
    assert_eq!(purl("smallvec"), "pkg:cargo/smallvec@1.6.0");
    assert_eq!(
        purl("golang.org/x/text"),
        "pkg:golang/golang.org/x/text@v0.3.5"
    );
    let busybox = &bom["packages"][0];
    assert_eq!(busybox["source_name"], "busybox");
    assert_eq!(busybox["source_version"], "1:1.35.0-4");

    // The table: one row per package, the layer index last.
    let table = env.ok(&["sbom", "insight/app:1"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 19, "{table}");
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("VERSION") && lines[0].ends_with("LAYER"),
        "{table}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["lodash", "4.17.21", "npm", "3"]),
        "{table}"
    );
    // A Go template per package, as Docker's --format.
    let names = env.ok(&[
        "sbom",
        "--format",
        "{{.Name}}@{{.Version}} {{.Purl}}",
        "insight/app:1",
    ]);
    assert!(
        names.contains("smallvec@1.6.0 pkg:cargo/smallvec@1.6.0\n"),
        "{names}"
    );

    // A second run reads the cached catalog and says the same.
    let again = json_out(&env, &["sbom", "--format", "json", "insight/app:1"]);
    assert_eq!(again, bom);
    let hex = bom["manifest_digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    let cached = env.root().join(format!("meta/insight/sbom-v1-{hex}.json"));
    assert!(cached.exists());

    // A doctored cache shows that the cache is what is read, and that --no-cache reads
    // the layers again (and puts the true catalog back).
    let mut doctored = bom.clone();
    doctored["packages"] = json!([]);
    std::fs::write(&cached, serde_json::to_vec(&doctored).unwrap()).unwrap();
    let from_cache = json_out(&env, &["sbom", "--format", "json", "insight/app:1"]);
    assert_eq!(from_cache["packages"], json!([]));
    let fresh = json_out(
        &env,
        &["sbom", "--no-cache", "--format", "json", "insight/app:1"],
    );
    assert_eq!(fresh, bom);
    let again = json_out(&env, &["sbom", "--format", "json", "insight/app:1"]);
    assert_eq!(again, bom);

    // The cached catalog goes once its image has left the store.
    env.tiny("insight/tiny:1", "x");
    env.ok(&["rmi", "insight/app:1"]);
    env.ok(&["system", "gc"]);
    env.ok(&["sbom", "insight/tiny:1"]);
    assert!(!cached.exists(), "stale catalog kept");
}

#[test]
fn sbom_documents_validate_against_spdx_and_cyclonedx() {
    let env = Env::new();
    app_image(&env);
    let run = |format: &str| -> Value {
        let out = env
            .cmd()
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["sbom", "--format", format, "insight/app:1"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let spdx = run("spdx-json");
    validate_spdx(&env, &spdx);
    assert_eq!(spdx["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    // The image plus 18 packages, each contained by the image.
    assert_eq!(spdx["packages"].as_array().unwrap().len(), 19);
    let contains = spdx["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS" && r["spdxElementId"] == "SPDXRef-Image")
        .count();
    assert_eq!(contains, 18);
    let lodash = spdx["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "lodash")
        .unwrap();
    assert_eq!(
        lodash["externalRefs"][0]["referenceLocator"],
        "pkg:npm/lodash@4.17.21"
    );
    assert!(
        lodash["sourceInfo"].as_str().unwrap().contains("layer 3"),
        "{lodash}"
    );

    let cdx = run("cyclonedx-json");
    validate_cyclonedx(&cdx);
    assert_eq!(cdx["specVersion"], "1.5");
    assert_eq!(cdx["metadata"]["component"]["type"], "container");
    let comps = cdx["components"].as_array().unwrap();
    assert_eq!(comps.len(), 18);
    let smallvec = comps.iter().find(|c| c["name"] == "smallvec").unwrap();
    let props = smallvec["properties"].as_array().unwrap();
    assert!(
        props.contains(&json!({"name": "strata:layer:index", "value": "2"})),
        "{smallvec}"
    );
    assert!(
        props.contains(&json!({"name": "strata:location", "value": "/app/Cargo.lock"})),
        "{smallvec}"
    );
    // Reproducible with SOURCE_DATE_EPOCH.
    assert_eq!(run("cyclonedx-json"), cdx);

    // Output to a file.
    let file = env.path("out.cdx.json");
    env.ok(&[
        "sbom",
        "--format",
        "cyclonedx-json",
        "-o",
        file.to_str().unwrap(),
        "insight/app:1",
    ]);
    let from_file: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(from_file["components"].as_array().unwrap().len(), 18);
}

/// (id, package, installed, fixed) of a `scan --format json` report.
fn findings(report: &Value) -> Vec<(String, String, String, Option<String>)> {
    let mut v: Vec<_> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["package"].as_str().unwrap().to_string(),
                f["installed"].as_str().unwrap().to_string(),
                f["fixed"].as_str().map(str::to_string),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn scan_hits_installed_versions_and_misses_fixed_ones() {
    let env = Env::new();
    app_image(&env);

    // Without data, a scan refuses rather than reporting a clean image.
    let err = env.fails(&["scan", "insight/app:1"]);
    assert!(err.contains("strata scan db import"), "{err}");

    import_db(&env);
    let status = json_out(&env, &["scan", "db", "status", "--format", "json"]);
    let counts: Vec<(String, u64)> = status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["records"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![
            ("Debian".to_string(), 3),
            ("Go".into(), 4),
            ("PyPI".into(), 7),
            ("crates.io".into(), 3),
            ("npm".into(), 4)
        ]
    );
    let table = env.ok(&["scan", "db", "status"]);
    assert!(table.starts_with("SOURCE"), "{table}");
    assert!(table.contains("Debian:11,Debian:12"), "{table}");

    let report = json_out(&env, &["scan", "--format", "json", "insight/app:1"]);
    let s = |x: &str| x.to_string();
    let want = vec![
        (
            s("DSA-9001-1"),
            s("busybox-static"),
            s("1:1.35.0-4+b3"),
            Some(s("1:1.35.0-4+deb12u1")),
        ),
        (
            s("GHSA-67hx-6x53-jw92"),
            s("@babel/traverse"),
            s("7.23.0"),
            Some(s("7.23.2")),
        ),
        (
            s("GHSA-j8r2-6x86-q33q"),
            s("requests"),
            s("2.25.0"),
            Some(s("2.31.0")),
        ),
        (
            s("GHSA-tttt-tttt-tttt"),
            s("tricky"),
            s("2.0.0-alpha"),
            Some(s("2.0.0")),
        ),
        (
            s("GHSA-v845-jxx5-vc9f"),
            s("urllib3"),
            s("2.0.0.dev1"),
            Some(s("2.0.0")),
        ),
        (
            s("GO-2021-0113"),
            s("golang.org/x/text"),
            s("v0.3.5"),
            Some(s("0.3.7")),
        ),
        (
            s("GO-2023-2185"),
            s("stdlib"),
            s("1.21.3"),
            Some(s("1.21.4")),
        ),
        (s("PYSEC-2021-142"), s("PyYAML"), s("5.3.1"), None),
        (s("PYSEC-2021-98"), s("Django"), s("3.2"), Some(s("3.2.1"))),
        (
            s("RUSTSEC-2021-0003"),
            s("smallvec"),
            s("1.6.0"),
            Some(s("1.6.1")),
        ),
        (
            s("RUSTSEC-2099-0001"),
            s("hashbrown"),
            s("0.14.0"),
            Some(s("0.14.1")),
        ),
    ];
    assert_eq!(findings(&report), want);
    assert_eq!(report["summary"]["total"], 11);
    assert_eq!(report["summary"]["CRITICAL"], 3);
    let dsa = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "DSA-9001-1")
        .unwrap();
    assert_eq!(dsa["severity"], "CRITICAL");
    assert_eq!(dsa["score"], 9.8);
    assert_eq!(dsa["aliases"], json!(["CVE-2022-48174"]));
    assert_eq!(
        dsa["matched_name"], "busybox",
        "matched through the source package"
    );
    assert_eq!(dsa["ecosystem"], "Debian:12");
    assert_eq!(dsa["layer"], 0);

    // The table: a summary line, then one row per finding, most severe first.
    let table = env.ok(&["scan", "insight/app:1"]);
    assert!(
        table.contains("Total: 11 (UNKNOWN: 4, LOW: 1, MEDIUM: 2, HIGH: 1, CRITICAL: 3)"),
        "{table}"
    );
    let rows: Vec<&str> = table
        .lines()
        .skip_while(|l| !l.starts_with("PACKAGE"))
        .collect();
    assert_eq!(rows.len(), 12, "{table}");
    assert!(rows[1].contains("CRITICAL"), "{table}");
    assert!(
        rows.iter().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == [
                "busybox-static",
                "DSA-9001-1",
                "CVE-2022-48174",
                "CRITICAL",
                "(9.8)",
                "1:1.35.0-4+b3",
                "1:1.35.0-4+deb12u1",
                "0"
            ]),
        "{table}"
    );

    // Filters.
    let critical = json_out(
        &env,
        &[
            "scan",
            "--format",
            "json",
            "--severity",
            "CRITICAL",
            "insight/app:1",
        ],
    );
    let ids: Vec<String> = findings(&critical).into_iter().map(|f| f.0).collect();
    assert_eq!(
        ids,
        ["DSA-9001-1", "GHSA-67hx-6x53-jw92", "RUSTSEC-2021-0003"]
    );
    let low_med = json_out(
        &env,
        &[
            "scan",
            "--format",
            "json",
            "--severity",
            "low,MEDIUM",
            "insight/app:1",
        ],
    );
    assert_eq!(low_med["summary"]["total"], 3);
    let fixed_only = json_out(
        &env,
        &[
            "scan",
            "--format",
            "json",
            "--ignore-unfixed",
            "insight/app:1",
        ],
    );
    assert_eq!(fixed_only["summary"]["total"], 10);
    assert!(findings(&fixed_only).iter().all(|f| f.3.is_some()));

    // --exit-code: N when something is reported (the report still printed), 0 otherwise.
    let out = env.run(&[
        "scan",
        "--exit-code",
        "3",
        "--severity",
        "HIGH",
        "insight/app:1",
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PYSEC-2021-98"));
    let fixture_busybox = env.busybox("plain/busybox:1");
    assert!(fixture_busybox.starts_with("sha256:"));
    let out = env.run(&["scan", "--exit-code", "3", "plain/busybox:1"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Total: 0"));

    // SARIF 2.1.0: one rule per advisory, one result per finding.
    let sarif = json_out(&env, &["scan", "--format", "sarif", "insight/app:1"]);
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "strata");
    assert_eq!(run["results"].as_array().unwrap().len(), 11);
    assert_eq!(run["tool"]["driver"]["rules"].as_array().unwrap().len(), 11);
    for r in run["results"].as_array().unwrap() {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][idx]["id"], r["ruleId"]);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
    }

    // Re-importing an archive replaces its source instead of adding a second copy.
    let debian = env.path("Debian.zip");
    env.ok(&["scan", "db", "import", debian.to_str().unwrap()]);
    let status = json_out(&env, &["scan", "db", "status", "--format", "json"]);
    assert_eq!(status.as_array().unwrap().len(), 5);
    let again = json_out(&env, &["scan", "--format", "json", "insight/app:1"]);
    assert_eq!(findings(&again), want);
}

#[test]
fn bad_vulnerability_data_is_refused_with_the_file_named() {
    let env = Env::new();
    let not_zip = env.path("Debian.zip");
    std::fs::write(&not_zip, b"not a zip file").unwrap();
    let err = env.fails(&["scan", "db", "import", not_zip.to_str().unwrap()]);
    assert!(err.contains(not_zip.to_str().unwrap()), "{err}");

    let dir = env.path("bad.d");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("GHSA-good.json"),
        serde_json::to_vec(&osv("GHSA-good", &[], vec![])).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("GHSA-bad.json"),
        b"{\"id\": \"GHSA-bad\", \"affected\": 7}",
    )
    .unwrap();
    let bad = env.path("bad.zip");
    zip_dir(&dir, &bad);
    let err = env.fails(&["scan", "db", "import", bad.to_str().unwrap()]);
    assert!(
        err.contains("GHSA-bad.json") && err.contains("bad.zip"),
        "{err}"
    );

    let empty_dir = env.path("empty.d");
    std::fs::create_dir_all(&empty_dir).unwrap();
    std::fs::write(empty_dir.join("README.txt"), b"no records").unwrap();
    let empty = env.path("empty.zip");
    zip_dir(&empty_dir, &empty);
    let err = env.fails(&["scan", "db", "import", empty.to_str().unwrap()]);
    assert!(err.contains("holds no OSV records"), "{err}");

    // Nothing half-imported: the database is still empty.
    let status = json_out(&env, &["scan", "db", "status", "--format", "json"]);
    assert_eq!(status, json!([]));

    let err = env.fails(&["scan", "--severity", "SEVERE", "nothing"]);
    assert!(err.contains("SEVERE"), "{err}");
    let err = env.fails(&["sbom", "no/such:image"]);
    assert!(err.contains("No such image: no/such:image"), "{err}");
    let err = env.fails(&["analyze", "no/such:image"]);
    assert!(err.contains("No such image"), "{err}");
}

#[test]
fn analyze_reports_a_file_deleted_by_a_later_layer_as_wasted() {
    let env = Env::new();
    let rootfs = env.busybox_rootfs();
    let big = vec![0x5a_u8; 10_000_000];
    let base = layer(&[
        Entry::Tree(&rootfs),
        Entry::Dir("data"),
        Entry::File("data/big.bin", big, 0o644),
        Entry::File("data/keep.txt", b"kept".to_vec(), 0o644),
    ]);
    let cleanup = layer(&[Entry::Whiteout("data/big.bin")]);
    load_image(
        &env,
        "insight/wasteful:1",
        &[
            ("ADD rootfs.tar / # buildkit", base),
            ("RUN /bin/sh -c rm /data/big.bin # buildkit", cleanup),
        ],
    );
    let a = json_out(&env, &["analyze", "--format", "json", "insight/wasteful:1"]);
    assert_eq!(a["hidden_bytes"], 10_000_000);
    assert_eq!(a["cache_bytes"], 0);
    assert_eq!(a["wasted_bytes"], 10_000_000);
    let total = a["total_bytes"].as_u64().unwrap();
    assert_eq!(a["visible_bytes"].as_u64().unwrap(), total - 10_000_000);
    let eff = a["efficiency"].as_f64().unwrap();
    assert!(
        (eff - (1.0 - 10_000_000.0 / total as f64)).abs() < 1e-9,
        "{eff}"
    );
    assert_eq!(a["layers"][0]["hidden_bytes"], 10_000_000);
    assert_eq!(a["layers"][1]["hidden_bytes"], 0);
    assert_eq!(
        a["layers"][1]["created_by"],
        "RUN /bin/sh -c rm /data/big.bin # buildkit"
    );
    assert_eq!(
        a["wasted_files"],
        json!([{"path": "data/big.bin", "size": 10_000_000, "added_in": 0, "removed_in": 1, "deleted": true}])
    );
    assert_eq!(a["suggestions"][0]["rule"], "remove-in-same-layer");
    assert_eq!(a["suggestions"][0]["bytes"], 10_000_000);

    let table = env.ok(&["analyze", "insight/wasteful:1"]);
    assert!(
        table.contains("Wasted: 10MB (hidden by later layers: 10MB"),
        "{table}"
    );
    assert!(
        table.contains("/data/big.bin  (layer 0, deleted by layer 1)"),
        "{table}"
    );
    let layer0 = table.lines().find(|l| l.starts_with("0 ")).unwrap();
    assert!(layer0.contains("10MB"), "{table}");
    assert!(table.contains("in the same RUN"), "{table}");
}

#[test]
fn analyze_finds_caches_and_images_tree_shows_shared_layers() {
    let env = Env::new();
    let rootfs = env.busybox_rootfs();
    let base = layer(&[Entry::Tree(&rootfs)]);
    let apt = layer(&[
        Entry::Dir("var/lib/apt"),
        Entry::Dir("var/lib/apt/lists"),
        Entry::File(
            "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4",
            vec![1; 300_000],
            0o644,
        ),
        Entry::File("var/lib/apt/lists/lock", Vec::new(), 0o640),
        Entry::File("usr/bin/gcc", vec![0x7f; 5_000], 0o755),
    ]);
    let app = layer(&[Entry::File("srv/app.txt", b"app".to_vec(), 0o644)]);
    let other = layer(&[Entry::File("srv/other.txt", b"other".to_vec(), 0o644)]);
    load_image(
        &env,
        "tree/app:1",
        &[
            ("ADD base", base.clone()),
            ("RUN apt-get update && apt-get install -y gcc", apt),
            ("COPY app /srv", app),
        ],
    );
    load_image(
        &env,
        "tree/other:1",
        &[("ADD base", base), ("COPY other /srv", other)],
    );
    env.ok(&["tag", "tree/other:1", "tree/other:latest"]);

    let a = json_out(&env, &["analyze", "--format", "json", "tree/app:1"]);
    assert_eq!(a["cache_bytes"], 300_000);
    assert_eq!(a["caches"][0]["kind"], "apt package lists");
    assert_eq!(a["caches"][0]["path"], "/var/lib/apt/lists");
    assert_eq!(a["caches"][0]["layer"], 1);
    let rules: Vec<&str> = a["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"clean-caches") && rules.contains(&"multi-stage"),
        "{rules:?}"
    );

    let tree = env.ok(&["images", "--tree"]);
    let lines: Vec<&str> = tree.lines().collect();
    // One root (the shared busybox layer), two branches off it.
    assert!(lines[0].contains("shared by 2 images"), "{tree}");
    assert!(!lines[0].starts_with(['├', '└', ' ']), "{tree}");
    assert!(
        tree.contains("tree/other:1, tree/other:latest")
            || tree.contains("tree/other:latest, tree/other:1"),
        "{tree}"
    );
    assert!(
        tree.lines().any(|l| l
            .trim_start_matches(['│', ' ', '├', '└', '─'])
            .starts_with("tree/app:1")),
        "{tree}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.contains("shared by")).count(),
        1,
        "{tree}"
    );
    assert!(
        tree.trim_end().ends_with("if no layer were shared)"),
        "{tree}"
    );
    assert!(tree.contains("2 images, 4 layers"), "{tree}");
}

const APK_INSTALLED: &str = "C:Q1x9Qm7LQ1gkFRnY8o5uB4p2VHm0A=\nP:musl\nV:1.2.4_git20230717-r4\nA:x86_64\nS:407447\nI:622592\nT:the musl c library (libc) implementation\nU:https://musl.libc.org/\nL:MIT\no:musl\nm:Natanael Copa <ncopa@alpinelinux.org>\nt:1711364938\nc:8f39d46d9f6ac7c4d3a9c7c5c7fd0b28c0f93a33\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\n\nC:Q1b2Ns4HhZ2OqZbh2a0XyK7kQh+5w=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nT:Size optimized toolbox of many common UNIX utilities\nL:GPL-2.0-only\no:busybox\nF:bin\nR:busybox\n\nC:Q1AmB4Hr4lRgVBz6f3mKbIu2pxyBE=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\nT:Crypto library from openssl\nL:Apache-2.0\no:openssl\np:so:libcrypto.so.3=3\nF:lib\nR:libcrypto.so.3\n\n";

const DISTROLESS_BASE_FILES: &str = "Package: base-files\nStatus: install ok installed\nPriority: required\nSection: admin\nArchitecture: amd64\nVersion: 12.4+deb12u5\nDescription: Debian base system miscellaneous files\n";
const DISTROLESS_LIBSSL: &str = "Package: libssl3\nStatus: install ok installed\nPriority: optional\nSection: libs\nArchitecture: amd64\nMulti-Arch: same\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: Secure Sockets Layer toolkit - shared libraries\n";

/// Alpine's apk database and a distroless-style `status.d/` image: the OS package
/// databases other than dpkg's `status`, with apk's and dpkg's tricky orderings
/// (`-r15` above `-r7`, `_git` after the release, `~deb12u2` before `-1`).
#[test]
fn alpine_and_distroless_packages_scan_with_their_own_ordering() {
    let env = Env::new();
    load_image(
        &env,
        "insight/alpine:3.19",
        &[(
            "ADD alpine-minirootfs-3.19.1-x86_64.tar.gz / # buildkit",
            layer(&[
                Entry::File("etc/os-release", b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.19.1\nPRETTY_NAME=\"Alpine Linux v3.19\"\n".to_vec(), 0o644),
                Entry::File("etc/alpine-release", b"3.19.1\n".to_vec(), 0o644),
                Entry::File("lib/apk/db/installed", APK_INSTALLED.into(), 0o644),
            ]),
        )],
    );
    load_image(
        &env,
        "insight/distroless:12",
        &[(
            "COPY / / # buildkit",
            layer(&[
                Entry::File("etc/os-release", OS_RELEASE.into(), 0o644),
                Entry::File(
                    "var/lib/dpkg/status.d/base-files",
                    DISTROLESS_BASE_FILES.into(),
                    0o644,
                ),
                Entry::File(
                    "var/lib/dpkg/status.d/base-files.md5sums",
                    b"d41d8cd98f00b204e9800998ecf8427e  etc/issue\n".to_vec(),
                    0o644,
                ),
                Entry::File(
                    "var/lib/dpkg/status.d/libssl3",
                    DISTROLESS_LIBSSL.into(),
                    0o644,
                ),
            ]),
        )],
    );
    let alpine = json_out(&env, &["sbom", "--format", "json", "insight/alpine:3.19"]);
    let s = |x: &str| x.to_string();
    assert_eq!(
        packages(&alpine),
        vec![
            (s("apk"), s("busybox"), s("1.36.1-r15"), 0),
            (s("apk"), s("libcrypto3"), s("3.1.4-r5"), 0),
            (s("apk"), s("musl"), s("1.2.4_git20230717-r4"), 0),
        ]
    );
    assert_eq!(
        alpine["packages"][1]["purl"],
        "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19&upstream=openssl"
    );
    assert_eq!(alpine["packages"][1]["license"], "Apache-2.0");
    let distroless = json_out(&env, &["sbom", "--format", "json", "insight/distroless:12"]);
    assert_eq!(
        packages(&distroless),
        vec![
            (s("deb"), s("base-files"), s("12.4+deb12u5"), 0),
            (s("deb"), s("libssl3"), s("3.0.11-1~deb12u2"), 0),
        ]
    );
    assert_eq!(
        distroless["packages"][1]["locations"],
        json!(["var/lib/dpkg/status.d/libssl3"])
    );

    let eco = |e: &str, name: &str, fixed: &str| {
        affected(
            e,
            name,
            "ECOSYSTEM",
            json!([{"introduced": "0"}, {"fixed": fixed}]),
        )
    };
    let alpine_zip = env.path("Alpine.zip");
    zip_records(
        &alpine_zip,
        &[
            osv(
                "ALPINE-CVE-2024-0727",
                &["CVE-2024-0727"],
                vec![eco("Alpine:v3.19", "openssl", "3.1.4-r6")],
            ),
            // Numeric revisions: r15 is above r7 (a string comparison would say otherwise).
            osv(
                "ALPINE-CVE-2023-42363",
                &["CVE-2023-42363"],
                vec![eco("Alpine:v3.19", "busybox", "1.36.1-r7")],
            ),
            // A `_git` snapshot sorts after its release.
            osv(
                "ALPINE-CVE-2025-26519",
                &["CVE-2025-26519"],
                vec![eco("Alpine:v3.19", "musl", "1.2.4-r3")],
            ),
            // Another Alpine release.
            osv(
                "ALPINE-CVE-2099-0002",
                &["CVE-2099-0002"],
                vec![eco("Alpine:v3.18", "openssl", "9.9.9-r0")],
            ),
        ],
    );
    let debian_zip = env.path("Debian.zip");
    zip_records(
        &debian_zip,
        &[
            osv(
                "DSA-9201-1",
                &["CVE-2024-0727"],
                vec![eco("Debian:12", "openssl", "3.0.13-1~deb12u1")],
            ),
            osv(
                "DSA-9202-1",
                &["CVE-2023-5678"],
                vec![eco("Debian:12", "openssl", "3.0.11-1~deb12u1")],
            ),
            // `~` sorts before everything: 3.0.11-1~deb12u2 is below 3.0.11-1.
            osv(
                "DSA-9203-1",
                &["CVE-2023-4807"],
                vec![eco("Debian:12", "openssl", "3.0.11-1")],
            ),
        ],
    );
    env.ok(&[
        "scan",
        "db",
        "import",
        alpine_zip.to_str().unwrap(),
        debian_zip.to_str().unwrap(),
    ]);
    let report = json_out(&env, &["scan", "--format", "json", "insight/alpine:3.19"]);
    assert_eq!(
        findings(&report),
        vec![(
            s("ALPINE-CVE-2024-0727"),
            s("libcrypto3"),
            s("3.1.4-r5"),
            Some(s("3.1.4-r6"))
        )]
    );
    assert_eq!(report["vulnerabilities"][0]["ecosystem"], "Alpine:v3.19");
    assert_eq!(report["vulnerabilities"][0]["matched_name"], "openssl");
    let report = json_out(&env, &["scan", "--format", "json", "insight/distroless:12"]);
    assert_eq!(
        findings(&report),
        vec![
            (
                s("DSA-9201-1"),
                s("libssl3"),
                s("3.0.11-1~deb12u2"),
                Some(s("3.0.13-1~deb12u1"))
            ),
            (
                s("DSA-9203-1"),
                s("libssl3"),
                s("3.0.11-1~deb12u2"),
                Some(s("3.0.11-1"))
            ),
        ]
    );
}

/// Lockfiles (package-lock.json v3, classic yarn.lock), egg-info files and directories, an
/// installed package that a lockfile also lists (one entry, two locations), and a package
/// that a later layer uninstalls (gone from the SBOM).
#[test]
fn lockfiles_egg_info_and_uninstalled_packages() {
    let env = Env::new();
    let lock = json!({
        "name": "srv", "version": "1.0.0", "lockfileVersion": 3, "requires": true,
        "packages": {
            "": {"name": "srv", "version": "1.0.0", "dependencies": {"express": "^4.17.1"}},
            "node_modules/express": {"version": "4.17.1", "resolved": "https://registry.npmjs.org/express/-/express-4.17.1.tgz", "license": "MIT"},
            "node_modules/@types/node": {"version": "20.1.0", "dev": true},
            "node_modules/express/node_modules/debug": {"version": "2.6.9"}
        }
    });
    let yarn = "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\nlodash@^4.17.15:\n  version \"4.17.15\"\n  resolved \"https://registry.yarnpkg.com/lodash/-/lodash-4.17.15.tgz\"\n  integrity sha512-x\n";
    let pkg_info = |name: &str, version: &str| {
        format!(
            "Metadata-Version: 1.2\nName: {name}\nVersion: {version}\nSummary: x\nLicense: MIT\n"
        )
        .into_bytes()
    };
    let dist = "usr/lib/python3/dist-packages";
    let six = format!("{dist}/six-1.16.0.egg-info");
    let chardet_dir = format!("{dist}/chardet-5.1.0.egg-info");
    let chardet = format!("{chardet_dir}/PKG-INFO");
    let base = layer(&[
        Entry::File(
            "srv/package-lock.json",
            serde_json::to_vec(&lock).unwrap(),
            0o644,
        ),
        Entry::File(
            "srv/node_modules/express/package.json",
            package_json("express", "4.17.1"),
            0o644,
        ),
        Entry::File("web/yarn.lock", yarn.into(), 0o644),
        Entry::File(&six, pkg_info("six", "1.16.0"), 0o644),
        Entry::Dir(&chardet_dir),
        Entry::File(&chardet, pkg_info("chardet", "5.1.0"), 0o644),
    ]);
    let uninstall = layer(&[Entry::Whiteout(&chardet_dir)]);
    load_image(
        &env,
        "insight/locks:1",
        &[
            ("COPY . / # buildkit", base),
            (
                "RUN /bin/sh -c pip uninstall -y chardet # buildkit",
                uninstall,
            ),
        ],
    );
    let bom = json_out(&env, &["sbom", "--format", "json", "insight/locks:1"]);
    let s = |x: &str| x.to_string();
    assert_eq!(
        packages(&bom),
        vec![
            (s("python"), s("six"), s("1.16.0"), 0),
            (s("npm"), s("@types/node"), s("20.1.0"), 0),
            (s("npm"), s("debug"), s("2.6.9"), 0),
            (s("npm"), s("express"), s("4.17.1"), 0),
            (s("npm"), s("lodash"), s("4.17.15"), 0),
        ]
    );
    let express = bom["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "express")
        .unwrap();
    let mut locations: Vec<&str> = express["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    locations.sort();
    assert_eq!(
        locations,
        [
            "srv/node_modules/express/package.json",
            "srv/package-lock.json"
        ]
    );
}

/// Damaged or foreign metadata never fails the SBOM: each broken file is skipped (as dpkg,
/// pip and npm skip what they cannot read) and the valid ones are still listed.
#[test]
fn malformed_metadata_is_skipped() {
    let env = Env::new();
    let mut garbage = vec![0xff_u8, 0xfe, 0x00, 0x80];
    garbage.extend(std::iter::repeat_n(b'x', 5000));
    load_image(
        &env,
        "insight/broken:1",
        &[(
            "COPY . / # buildkit",
            layer(&[
                Entry::File("var/lib/dpkg/status", [b"Package: ok\nStatus: install ok installed\nVersion: 1.0-1\n\nno colon here\n\nPackage: noversion\n\n".as_slice(), &garbage].concat(), 0o644),
                Entry::File("app/node_modules/bad/package.json", b"{not json".to_vec(), 0o644),
                Entry::File("app/node_modules/nover/package.json", br#"{"name": "nover"}"#.to_vec(), 0o644),
                Entry::File("app/node_modules/good/package.json", package_json("good", "1.0.0"), 0o644),
                Entry::File("app/Cargo.lock", b"[[package]\nname = ".to_vec(), 0o644),
                Entry::File("app/package-lock.json", garbage.clone(), 0o644),
                Entry::File("app/yarn.lock", garbage.clone(), 0o644),
                Entry::File("site/x-1.dist-info/METADATA", b"Name: x\n".to_vec(), 0o644),
                Entry::File("site/y-1.dist-info/METADATA", garbage.clone(), 0o644),
                Entry::File("etc/os-release", garbage.clone(), 0o644),
                Entry::File("bin/fake-elf", [b"\x7fELF".as_slice(), b"\xff Go buildinf:", &garbage].concat(), 0o755),
            ]),
        )],
    );
    let bom = json_out(&env, &["sbom", "--format", "json", "insight/broken:1"]);
    let s = |x: &str| x.to_string();
    assert_eq!(
        packages(&bom),
        vec![
            (s("deb"), s("ok"), s("1.0-1"), 0),
            (s("npm"), s("good"), s("1.0.0"), 0)
        ]
    );
    assert!(bom.get("distro").is_none(), "{bom}");
    let cdx = json_out(
        &env,
        &["sbom", "--format", "cyclonedx-json", "insight/broken:1"],
    );
    validate_cyclonedx(&cdx);
}

// ---------------------------------------------------------------------------------------
// The Debian image: a real `debootstrap --variant=minbase` root filesystem.

/// The Debian mirror apt uses on this machine (deb822 `URIs:` or a one-line `deb` entry).
fn debian_mirror() -> String {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for stanza in text.split("\n\n") {
            let bookworm = stanza
                .lines()
                .any(|l| l.starts_with("Suites:") && l.split_whitespace().any(|s| s == "bookworm"));
            if bookworm
                && let Some(uri) = stanza.lines().find_map(|l| l.strip_prefix("URIs:"))
                && let Some(u) = uri.split_whitespace().next()
            {
                return u.to_string();
            }
            for line in stanza.lines() {
                let parts: Vec<&str> = line.split_whitespace().collect();
                if parts.first() == Some(&"deb")
                    && parts.contains(&"bookworm")
                    && let Some(u) = parts.iter().find(|p| p.starts_with("http"))
                {
                    return u.to_string();
                }
            }
        }
    }
    "http://deb.debian.org/debian".to_string()
}

/// The cached minbase root filesystem, made with debootstrap on first use.
fn debian_minbase() -> PathBuf {
    let cache = std::env::var_os("STRATA_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/strata-test")
        });
    std::fs::create_dir_all(&cache).unwrap();
    let rootfs = cache.join("debian-minbase");
    let done = cache.join("debian-minbase.ok");
    // One maker at a time (the benchmark uses the same cache).
    let lock = std::fs::File::create(cache.join("debian-minbase.lock")).unwrap();
    lock.lock().unwrap();
    if done.exists() && rootfs.join("var/lib/dpkg/status").exists() {
        return rootfs;
    }
    assert!(
        common::have("debootstrap"),
        "debootstrap is not installed: scripts/deps.sh test installs it"
    );
    assert!(unsafe { libc::geteuid() } == 0, "debootstrap needs root");
    let tmp = cache.join("debian-minbase.tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_dir_all(&rootfs);
    let mirror = debian_mirror();
    eprintln!(
        "making the Debian minbase rootfs with debootstrap from {mirror} (cached in {})",
        cache.display()
    );
    let out = Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&tmp)
        .arg(&mirror)
        .output()
        .expect("run debootstrap");
    assert!(
        out.status.success(),
        "debootstrap --variant=minbase bookworm {} {mirror} failed ({}):\n{}\n{}",
        tmp.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(&tmp, &rootfs).unwrap();
    std::fs::write(&done, mirror).unwrap();
    rootfs
}

#[test]
fn debian_minbase_sbom_lists_exactly_what_dpkg_query_lists() {
    let rootfs = debian_minbase();
    let env = Env::new();
    env.ok(&["import", rootfs.to_str().unwrap(), "debian:minbase"]);
    let admindir = rootfs.join("var/lib/dpkg");
    let q = common::run_tool(
        Command::new("dpkg-query")
            .arg(format!("--admindir={}", admindir.display()))
            .args([
                "-W",
                "-f",
                "${Package}\\t${Version}\\t${source:Package}\\t${source:Version}\\n",
            ]),
    );
    let listed: Vec<Vec<String>> = String::from_utf8(q.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect();
    assert!(
        listed.len() > 50,
        "dpkg-query listed only {} packages",
        listed.len()
    );
    let mut want: Vec<(String, String)> = listed
        .iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    want.sort();

    let bom = json_out(&env, &["sbom", "--format", "json", "debian:minbase"]);
    let mut got: Vec<(String, String)> = packages(&bom)
        .into_iter()
        .map(|(kind, name, version, layer)| {
            assert_eq!((kind.as_str(), layer), ("deb", 0), "{name}");
            (name, version)
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
    assert_eq!(bom["distro"]["version_id"], "12");
    let cdx = json_out(
        &env,
        &["sbom", "--format", "cyclonedx-json", "debian:minbase"],
    );
    validate_cyclonedx(&cdx);
    assert_eq!(cdx["components"].as_array().unwrap().len(), want.len());

    // Scan against records for two of its real source packages: one fixed just above the
    // installed source version (hit), one fixed exactly at it (miss).
    let pick = |name: &str| listed.iter().find(|r| r[0] == name).unwrap().clone();
    let libc = pick("libc6");
    let zlib = pick("zlib1g");
    assert_eq!(libc[2], "glibc");
    let records = vec![
        osv(
            "DSA-9101-1",
            &["CVE-2099-1001"],
            vec![affected(
                "Debian:12",
                &libc[2],
                "ECOSYSTEM",
                json!([{"introduced": "0"}, {"fixed": format!("{}+1", libc[3])}]),
            )],
        ),
        osv(
            "DSA-9102-1",
            &["CVE-2099-1002"],
            vec![affected(
                "Debian:12",
                &zlib[2],
                "ECOSYSTEM",
                json!([{"introduced": "0"}, {"fixed": zlib[3].clone()}]),
            )],
        ),
    ];
    let zip = env.path("Debian.zip");
    zip_records(&zip, &records);
    env.ok(&["scan", "db", "import", zip.to_str().unwrap()]);
    let report = json_out(&env, &["scan", "--format", "json", "debian:minbase"]);
    let hit: BTreeSet<String> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap(),
                f["package"].as_str().unwrap()
            )
        })
        .collect();
    // Every binary package built from glibc is affected; nothing from zlib.
    let from_glibc: BTreeSet<String> = listed
        .iter()
        .filter(|r| r[2] == "glibc")
        .map(|r| format!("DSA-9101-1 {}", r[0]))
        .collect();
    assert!(from_glibc.contains("DSA-9101-1 libc6"));
    assert_eq!(hit, from_glibc);
}

#[test]
fn build_scan_reports_the_built_image_and_sets_the_exit_status() {
    let env = Env::new();
    env.busybox("base:1");
    let archive = env.path("PyPI.zip");
    zip_records(
        &archive,
        &[osv(
            "PYSEC-2099-1",
            &["CVE-2099-0001"],
            vec![affected(
                "PyPI",
                "requests",
                "ECOSYSTEM",
                json!([{"introduced": "0"}, {"fixed": "2.20.0"}]),
            )],
        )],
    );
    env.ok(&["scan", "db", "import", archive.to_str().unwrap()]);
    let ctx = env.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM base:1\nRUN d=/usr/lib/python3/site-packages/requests-2.19.0.dist-info && mkdir -p $d \\\n && printf 'Metadata-Version: 2.1\\nName: requests\\nVersion: 2.19.0\\n' > $d/METADATA\n",
    )
    .unwrap();

    // A finding with --scan-exit-code: the image is built and tagged, the report names the
    // advisory, and the command exits with the given status.
    let out = env.run(&[
        "build",
        "-t",
        "app:1",
        "--scan",
        "--scan-exit-code",
        "3",
        ctx.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("PYSEC-2099-1") || stdout.contains("CVE-2099-0001"),
        "{stdout}"
    );
    assert!(stdout.contains("2.20.0"), "the fixed version: {stdout}");
    env.ok(&["inspect", "app:1"]);

    // -q keeps stdout for the image ID; the JSON report goes to stderr.
    let out = env.run(&[
        "build",
        "-q",
        "--scan",
        "--scan-format",
        "json",
        ctx.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("PYSEC-2099-1"));

    // Bad scan flags are refused before anything is built.
    let err = env.fails(&[
        "build",
        "--scan",
        "--scan-severity",
        "SEVERE",
        ctx.to_str().unwrap(),
    ]);
    assert!(err.contains("SEVERE"), "{err}");
}
