//! A load generator for OCI registries: N concurrent clients over HTTP/1.1 on loopback, each
//! repeating one operation for a fixed time, then the throughput and latency percentiles.
//!
//! ```text
//! cargo run --release -p strata-server --example load -- \
//!     --base http://127.0.0.1:5000 --scenario blob-get --clients 64 --seconds 10
//! ```
//!
//! Scenarios: `blob-get` (1 MiB blob GETs), `manifest-get` (manifest GETs by tag, OCI Accept
//! header) and `blob-push` (16 MiB blob uploads: POST to open a session, PUT with the digest
//! and the whole body — the two-step upload every registry supports). The setup phase pushes
//! what the GET scenarios read; push bodies are generated and digested before the clock
//! starts, so the client's hashing is not measured. The result is one JSON line on stdout
//! (`ops`, `ops_per_s`, `mib_per_s`, `p50_ms`, `p90_ms`, `p99_ms`, `max_ms`, `errors`) and a
//! readable line on stderr. Used by `bench/serve/load.sh` to compare registries in one run.

use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: usize = 1 << 20;

struct Args {
    base: String,
    scenario: String,
    clients: usize,
    seconds: u64,
    repo: String,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        base: String::new(),
        scenario: String::new(),
        clients: 64,
        seconds: 10,
        repo: "bench/load".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => a.base = value()?.trim_end_matches('/').to_string(),
            "--scenario" => a.scenario = value()?,
            "--clients" => a.clients = value()?.parse().map_err(|e| format!("--clients: {e}"))?,
            "--seconds" => a.seconds = value()?.parse().map_err(|e| format!("--seconds: {e}"))?,
            "--repo" => a.repo = value()?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if a.base.is_empty() {
        return Err("--base is required".into());
    }
    if !["blob-get", "manifest-get", "blob-push"].contains(&a.scenario.as_str()) {
        return Err("--scenario must be blob-get, manifest-get or blob-push".into());
    }
    if a.clients == 0 || a.seconds == 0 {
        return Err("--clients and --seconds must be positive".into());
    }
    Ok(a)
}

fn digest(data: &[u8]) -> String {
    strata_oci::Digest::sha256(data).to_string()
}

/// Deterministic incompressible bytes (xorshift), different for each seed.
fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Two-step upload: POST opens a session, PUT closes it with the digest and the body.
async fn push_blob(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    data: Vec<u8>,
    dg: &str,
) -> Result<(), String> {
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/"))
        .send()
        .await
        .map_err(|e| format!("POST upload: {e}"))?;
    if r.status().as_u16() != 202 {
        return Err(format!("POST upload: status {}", r.status()));
    }
    let loc = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or("POST upload: no Location")?
        .to_string();
    let url = if loc.starts_with("http") {
        loc
    } else {
        format!("{base}{loc}")
    };
    let sep = if url.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{url}{sep}digest={dg}"))
        .header("content-type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .map_err(|e| format!("PUT upload: {e}"))?;
    if r.status().as_u16() != 201 {
        return Err(format!("PUT upload: status {}", r.status()));
    }
    Ok(())
}

async fn setup(c: &reqwest::Client, a: &Args) -> Result<String, String> {
    let layer = bytes(MIB, 1);
    let layer_d = digest(&layer);
    push_blob(c, &a.base, &a.repo, layer, &layer_d).await?;
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_d = digest(config);
    push_blob(c, &a.base, &a.repo, config.to_vec(), &config_d).await?;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_d}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_d}","size":{MIB}}}]}}"#,
        config.len()
    );
    let r = c
        .put(format!("{}/v2/{}/manifests/load", a.base, a.repo))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .map_err(|e| format!("PUT manifest: {e}"))?;
    if r.status().as_u16() != 201 {
        return Err(format!("PUT manifest: status {}", r.status()));
    }
    Ok(layer_d)
}

/// Send a GET and read the whole body; the number of bytes read.
async fn get(req: reqwest::RequestBuilder) -> Result<u64, String> {
    let r = req.send().await.map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("status {}", r.status()));
    }
    Ok(r.bytes().await.map_err(|e| e.to_string())?.len() as u64)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(2);
        }
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(a.clients)
        .build()
        .expect("an HTTP client");
    let layer_d = match setup(&client, &a).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("load: setup against {} failed: {e}", a.base);
            std::process::exit(1);
        }
    };
    // Push bodies, one per client, digested before the clock starts.
    let bodies: Vec<Arc<(Vec<u8>, String)>> = if a.scenario == "blob-push" {
        (0..a.clients)
            .map(|i| {
                let b = bytes(16 * MIB, 1000 + i as u64);
                let d = digest(&b);
                Arc::new((b, d))
            })
            .collect()
    } else {
        Vec::new()
    };
    let a = Arc::new(a);
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..a.clients {
        let c = client.clone();
        let a = a.clone();
        let layer_d = layer_d.clone();
        let body = bodies.get(i).cloned();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0u64;
            let mut bytes_moved = 0u64;
            while Instant::now() < deadline {
                let t = Instant::now();
                let res: Result<u64, String> = match a.scenario.as_str() {
                    "blob-get" => {
                        let url = format!("{}/v2/{}/blobs/{layer_d}", a.base, a.repo);
                        get(c.get(url)).await
                    }
                    "manifest-get" => {
                        let url = format!("{}/v2/{}/manifests/load", a.base, a.repo);
                        get(c
                            .get(url)
                            .header("accept", "application/vnd.oci.image.manifest.v1+json"))
                        .await
                    }
                    _ => {
                        let body = body.as_ref().expect("a body per client");
                        let repo = format!("{}-push{}", a.repo, i % 8);
                        push_blob(&c, &a.base, &repo, body.0.clone(), &body.1)
                            .await
                            .map(|()| body.0.len() as u64)
                    }
                };
                match res {
                    Ok(n) => {
                        lat.push(t.elapsed());
                        bytes_moved += n;
                    }
                    Err(_) => errors += 1,
                }
            }
            (lat, errors, bytes_moved)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    let mut moved = 0;
    for t in tasks {
        let (l, e, b) = t.await.expect("a client task");
        lat.extend(l);
        errors += e;
        moved += b;
    }
    let wall = start.elapsed().as_secs_f64();
    lat.sort();
    let ops = lat.len();
    let line = serde_json::json!({
        "scenario": a.scenario,
        "clients": a.clients,
        "seconds": wall,
        "ops": ops,
        "errors": errors,
        "ops_per_s": ops as f64 / wall,
        "mib_per_s": moved as f64 / MIB as f64 / wall,
        "p50_ms": percentile(&lat, 0.50),
        "p90_ms": percentile(&lat, 0.90),
        "p99_ms": percentile(&lat, 0.99),
        "max_ms": percentile(&lat, 1.0),
    });
    eprintln!(
        "{}: {} ops in {:.1} s ({:.0}/s, {:.1} MiB/s), p50 {:.1} ms, p99 {:.1} ms, {} errors",
        a.scenario,
        ops,
        wall,
        ops as f64 / wall,
        moved as f64 / MIB as f64 / wall,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        errors
    );
    println!("{line}");
}
