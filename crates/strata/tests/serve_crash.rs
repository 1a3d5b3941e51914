//! Crash safety of `strata serve` on the filesystem backend: the server is SIGKILLed 20
//! times while four clients upload blobs concurrently (monolithic, POST then PUT, and
//! chunked PATCHes). After every restart the registry must be consistent: every blob
//! file on disk hashes to its name, every blob the API shows has the content of its
//! digest, and every upload the server acknowledged (201) is there.

mod serve_common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serve_common::*;
use strata_oci::Digest;

const ROUNDS: u64 = 20;
const CLIENTS: u64 = 4;

/// What the clients tried: digest → (style, length), which uploads the server
/// acknowledged, which were tried since the last check, and the published files
/// already verified (path → modification time).
#[derive(Default)]
struct Ledger {
    attempted: HashMap<Digest, (u64, usize)>,
    acknowledged: HashSet<Digest>,
    fresh: Vec<Digest>,
    verified: HashMap<std::path::PathBuf, std::time::SystemTime>,
}

fn io_err(msg: String) -> std::io::Error {
    std::io::Error::other(msg)
}

/// One upload in the given style; `Ok(true)` when the server answered 201.
fn upload(addr: SocketAddr, data: &[u8], d: &Digest, style: u64) -> std::io::Result<bool> {
    let repo = format!("crash/style{style}");
    let octet = [("Content-Type", "application/octet-stream")];
    if style == 0 {
        let r = try_http(
            addr,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            &octet,
            data,
        )?;
        return Ok(r.status == 201);
    }
    let r = try_http(
        addr,
        "POST",
        &format!("/v2/{repo}/blobs/uploads/"),
        &[],
        b"",
    )?;
    if r.status != 202 {
        return Err(io_err(format!("POST: {} {}", r.status, r.text())));
    }
    let location = r
        .header("location")
        .ok_or_else(|| io_err("no Location".into()))?
        .to_string();
    let location = if style == 2 {
        // Chunked: PATCHes of 256 KiB with Content-Range, then an empty PUT.
        let mut location = location;
        let mut offset = 0usize;
        for chunk in data.chunks(256 << 10) {
            let range = format!("{}-{}", offset, offset + chunk.len() - 1);
            let r = try_http(
                addr,
                "PATCH",
                &location,
                &[
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Range", &range),
                ],
                chunk,
            )?;
            if r.status != 202 {
                return Err(io_err(format!("PATCH: {} {}", r.status, r.text())));
            }
            offset += chunk.len();
            if let Some(l) = r.header("location") {
                location = l.to_string();
            }
        }
        let sep = if location.contains('?') { '&' } else { '?' };
        let r = try_http(addr, "PUT", &format!("{location}{sep}digest={d}"), &[], b"")?;
        return Ok(r.status == 201);
    } else {
        location
    };
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = try_http(
        addr,
        "PUT",
        &format!("{location}{sep}digest={d}"),
        &octet,
        data,
    )?;
    Ok(r.status == 201)
}

/// Upload until told to stop or until the server is gone.
fn client(
    addr: SocketAddr,
    round: u64,
    id: u64,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    let mut rng = XorShift((round << 32 | id << 16) | 1);
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let seed = round * 1_000_000 + id * 10_000 + i;
        let len = (16 << 10) + (rng.next() % (1 << 20)) as usize;
        let data = noise(seed, len);
        let d = Digest::sha256(&data);
        let style = i % 3;
        {
            let mut l = ledger.lock().unwrap();
            l.attempted.insert(d.clone(), (style, len));
            l.fresh.push(d.clone());
        }
        match upload(addr, &data, &d, style) {
            Ok(true) => {
                ledger.lock().unwrap().acknowledged.insert(d);
            }
            Ok(false) => panic!("upload refused while the server was up"),
            // The server was killed under us.
            Err(_) => return,
        }
    }
}

/// Check the registry; with `all`, every blob ever attempted through the API, else
/// those attempted since the last check. Returns how many of the checked are visible.
fn check(reg: &Path, srv: &Serve, ledger: &mut Ledger, all: bool) -> usize {
    // On disk: every published file is whole (files already verified and unchanged
    // since are skipped: published blobs are only ever replaced by a rename).
    for (d, path) in published_blobs(reg) {
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        if ledger.verified.get(&path) == Some(&mtime) {
            continue;
        }
        assert_eq!(
            hash_file(&path, d.algorithm()),
            d,
            "{} does not hash to its name",
            path.display()
        );
        ledger.verified.insert(path, mtime);
    }
    // Through the API: what is visible has the right bytes, what was acknowledged is
    // visible.
    let digests: Vec<Digest> = if all {
        ledger.attempted.keys().cloned().collect()
    } else {
        std::mem::take(&mut ledger.fresh)
    };
    let mut visible = 0;
    for d in digests {
        let (style, len) = ledger.attempted[&d];
        let r = srv.http(
            "GET",
            &format!("/v2/crash/style{style}/blobs/{d}"),
            &[],
            b"",
        );
        if r.status == 200 {
            assert_eq!(r.body.len(), len, "{d}: wrong length");
            assert_eq!(Digest::sha256(&r.body), d, "{d}: wrong content");
            visible += 1;
        } else {
            assert_eq!(r.status, 404, "{d}");
            assert!(
                !ledger.acknowledged.contains(&d),
                "{d} (style {style}) was acknowledged but is gone after the crash (on disk: {}; all={all}): {}",
                published_blobs(reg).iter().any(|(b, _)| *b == d),
                r.text()
            );
        }
    }
    visible
}

#[test]
fn sigkill_during_concurrent_uploads_leaves_a_consistent_registry() {
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let storage = format!("fs:{}", reg.display());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut delays = XorShift(0x5eed);
    for round in 0..ROUNDS {
        let mut srv = Serve::start(dir.path(), &["--storage", &storage]);
        check(&reg, &srv, &mut ledger.lock().unwrap(), false);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|id| {
                let (ledger, stop, addr) = (ledger.clone(), stop.clone(), srv.addr);
                std::thread::spawn(move || client(addr, round, id, ledger, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100 + delays.next() % 400));
        srv.signal(libc::SIGKILL);
        srv.wait_exit(Duration::from_secs(10)).expect("killed");
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
    }
    let srv = Serve::start(dir.path(), &["--storage", &storage]);
    let mut ledger = ledger.lock().unwrap();
    let visible = check(&reg, &srv, &mut ledger, true);
    // The test means something only if the kills hit uploads in flight and uploads
    // also completed between them.
    assert!(
        ledger.acknowledged.len() >= ROUNDS as usize,
        "too few uploads completed: {}",
        ledger.acknowledged.len()
    );
    assert!(
        ledger.attempted.len() > ledger.acknowledged.len(),
        "no upload was interrupted"
    );
    eprintln!(
        "{} uploads attempted, {} acknowledged, {} visible after {ROUNDS} SIGKILLs",
        ledger.attempted.len(),
        ledger.acknowledged.len(),
        visible
    );
    drop(srv);

    // Interrupted uploads leave their sessions behind, never a published blob; expiry
    // removes the sessions (here through `serve gc` with an expiry of zero).
    let sessions = |p: &Path| std::fs::read_dir(p.join("uploads")).map_or(0, |d| d.count());
    assert!(sessions(&reg) > 0, "the kills interrupted uploads");
    let cfg = dir.path().join("gc.toml");
    std::fs::write(&cfg, "[limits]\nupload_expiry_secs = 0\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_strata"))
        .args([
            "serve",
            "gc",
            "--config",
            cfg.to_str().unwrap(),
            "--storage",
            &storage,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        sessions(&reg),
        0,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing was referenced by a manifest, but everything is younger than the grace
    // period: still all there and whole.
    let srv = Serve::start(dir.path(), &["--storage", &storage]);
    ledger.verified.clear();
    assert_eq!(check(&reg, &srv, &mut ledger, true), visible);
}
