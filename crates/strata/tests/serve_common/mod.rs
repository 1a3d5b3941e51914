//! Helpers for the `strata serve` tests: the binary as a child process on a free
//! loopback port, a small blocking HTTP/1.1 client (the tests need to stop in the middle
//! of a request body, which a full client hides), skopeo, and OCI layouts on disk.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_oci::{Algorithm, Digest};

/// `user:secret`, hashed with bcrypt (cost 4).
pub const HTPASSWD: &str = "ci:$2b$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW\n";

/// A `strata serve` child process, killed on drop.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything the server wrote on stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl Serve {
    /// Start `strata serve ARGS --addr 127.0.0.1:0` with `root` as the store root and
    /// wait for the line that names the bound address.
    pub fn start(root: &Path, args: &[&str]) -> Serve {
        Serve::try_start(root, args).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn try_start(root: &Path, args: &[&str]) -> Result<Serve, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_strata"))
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0"])
            .env("STRATA_ROOT", root)
            .env_remove("STRATA_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run strata: {e}"))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().ok_or("no stderr")?;
        let sink = stderr.clone();
        // Drain stderr for the whole life of the process so it never blocks on a full
        // pipe; hand the listening line to the starter.
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                {
                    let mut s = sink.lock().unwrap();
                    s.push_str(&line);
                    s.push('\n');
                }
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(rest) => {
                let url = rest.split_whitespace().next().unwrap_or_default();
                let hostport = url.split("://").nth(1).unwrap_or(url);
                let addr = hostport
                    .parse()
                    .map_err(|e| format!("bad address in {rest:?}: {e}"))?;
                Ok(Serve {
                    child,
                    addr,
                    stderr,
                })
            }
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(100));
                Err(format!(
                    "strata serve did not start ({status:?}): {}",
                    stderr.lock().unwrap()
                ))
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// Wait for the process to end, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Peak resident set size of the server so far, bytes (`VmHWM`).
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kb * 1024
    }

    pub fn http(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        http(self.addr, method, path, headers, body)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP response, body read in full.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn error_code(&self) -> String {
        self.json()["errors"][0]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Connect with a deadline on every read and write.
pub fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.set_write_timeout(Some(Duration::from_secs(60)))?;
    Ok(s)
}

/// Write a request head (with `Connection: close` and a `Content-Length`).
pub fn write_head(
    s: &mut TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    content_length: u64,
) -> std::io::Result<()> {
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if content_length > 0 || !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {content_length}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes())
}

/// Read a response, feeding the body to `sink` as it arrives.
pub fn read_response(
    s: &mut TcpStream,
    head_only: bool,
    mut sink: impl FnMut(&[u8]),
) -> std::io::Result<(u16, Vec<(String, String)>)> {
    let mut r = BufReader::with_capacity(256 * 1024, s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line)?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    if head_only || status == 204 || status == 304 {
        return Ok((status, headers));
    }
    let mut buf = vec![0u8; 256 * 1024];
    if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            line.clear();
            r.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {line:?}")))?;
            if size == 0 {
                break;
            }
            let mut left = size;
            while left > 0 {
                let want = left.min(buf.len());
                let n = r.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                sink(&buf[..n]);
                left -= n;
            }
            line.clear();
            r.read_line(&mut line)?;
        }
    } else if let Some(len) = get("content-length").and_then(|v| v.parse::<u64>().ok()) {
        let mut left = len;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let n = r.read(&mut buf[..want])?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            sink(&buf[..n]);
            left -= n as u64;
        }
    } else {
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            sink(&buf[..n]);
        }
    }
    Ok((status, headers))
}

pub fn try_http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<Resp> {
    let mut s = connect(addr)?;
    write_head(&mut s, addr, method, path, headers, body.len() as u64)?;
    s.write_all(body)?;
    let mut out = Vec::new();
    let (status, headers) = read_response(&mut s, method == "HEAD", |b| out.extend_from_slice(b))?;
    Ok(Resp {
        status,
        headers,
        body: out,
    })
}

pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Resp {
    try_http(addr, method, path, headers, body)
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

/// Push a blob with one monolithic POST; returns its digest.
pub fn push_blob(addr: SocketAddr, repo: &str, data: &[u8], auth: &[(&str, &str)]) -> Digest {
    let d = Digest::sha256(data);
    let mut h = vec![("Content-Type", "application/octet-stream")];
    h.extend_from_slice(auth);
    let r = http(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
        &h,
        data,
    );
    assert_eq!(r.status, 201, "push blob: {}", r.text());
    d
}

/// Push an OCI image (config, layers, manifest under `tag`); returns the manifest digest.
pub fn push_image(addr: SocketAddr, repo: &str, tag: &str, layers: &[&[u8]]) -> Digest {
    let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"tag\":\"{tag}\"}}");
    let cd = push_blob(addr, repo, config.as_bytes(), &[]);
    let mut descs = Vec::new();
    for l in layers {
        let d = push_blob(addr, repo, l, &[]);
        descs.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d.to_string(), "size": l.len()}));
    }
    let m = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": config.len()},
        "layers": descs,
    }))
    .unwrap();
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", "application/vnd.oci.image.manifest.v1+json")],
        &m,
    );
    assert_eq!(r.status, 201, "push manifest: {}", r.text());
    Digest::sha256(&m)
}

/// Deterministic pseudo-random bytes (xorshift), so tests need no RNG crate.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    fill_noise(
        &mut XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1),
        &mut out,
    );
    out
}

pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

pub fn fill_noise(rng: &mut XorShift, buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let v = rng.next().to_le_bytes();
        chunk.copy_from_slice(&v[..chunk.len()]);
    }
}

/// Every published blob of a filesystem registry (`ROOT/blobs/<alg>/<xx>/<hex>`),
/// with its path.
pub fn published_blobs(root: &Path) -> Vec<(Digest, PathBuf)> {
    let mut out = Vec::new();
    let Ok(algs) = std::fs::read_dir(root.join("blobs")) else {
        return out;
    };
    for alg in algs {
        let alg = alg.unwrap();
        let alg_name = alg.file_name().to_string_lossy().into_owned();
        for shard in std::fs::read_dir(alg.path()).unwrap() {
            for blob in std::fs::read_dir(shard.unwrap().path()).unwrap() {
                let blob = blob.unwrap();
                let name = blob.file_name().to_string_lossy().into_owned();
                let d = Digest::parse(&format!("{alg_name}:{name}"))
                    .unwrap_or_else(|e| panic!("stray file {}: {e}", blob.path().display()));
                out.push((d, blob.path()));
            }
        }
    }
    out
}

/// Hash a file with the digest's algorithm.
pub fn hash_file(path: &Path, alg: Algorithm) -> Digest {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = alg.digester();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finish()
}

/// skopeo, when installed.
pub fn skopeo() -> Option<&'static str> {
    Command::new("skopeo")
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "skopeo")
}

pub fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn write_blob(layout: &Path, data: &[u8]) -> Digest {
    let d = Digest::sha256(data);
    let p = layout.join("blobs/sha256").join(d.hex());
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
    d
}

/// A one-file POSIX tar archive (ustar), enough to be a real layer.
fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", content.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

/// `gzip -n` of `data` (the system's gzip: the binary carries no compressor of its own
/// to test with).
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .args(["-n", "-c", "-1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// An OCI layout with one image tagged `v1` (a gzip layer holding `size` bytes of
/// noise, a config, a manifest); returns the manifest digest. The layer is compressed
/// so that registry clients push it as is (skopeo compresses uncompressed layers on the
/// way to a registry, which would change the digests).
pub fn make_layout(layout: &Path, size: usize) -> Digest {
    let tar = tar_of("noise.bin", &noise(size as u64, size));
    let layer = gzip(&tar);
    let ld = write_blob(layout, &layer);
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/true"]},
        "rootfs": {"type": "layers", "diff_ids": [Digest::sha256(&tar).to_string()]},
    }))
    .unwrap();
    let cd = write_blob(layout, &config);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld.to_string(), "size": layer.len()}],
    }))
    .unwrap();
    let md = write_blob(layout, &manifest);
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": manifest.len(),
                           "annotations": {"org.opencontainers.image.ref.name": "v1"}}],
        }))
        .unwrap(),
    )
    .unwrap();
    md
}

/// The digest of the first manifest an OCI layout's index names.
pub fn layout_digest(layout: &Path) -> String {
    let idx: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    idx["manifests"][0]["digest"].as_str().unwrap().to_string()
}
