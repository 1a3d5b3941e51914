//! Memory stays flat when blobs are large: a 1 GiB blob streamed into `strata serve`
//! (from a generator, never held in memory here either) and back out keeps the server's
//! peak resident set under 100 MB. Bodies stream end to end, so the peak is the
//! runtime plus a few buffers whatever the blob size.
//!
//! The size comes from `STRATA_SERVE_BIG_BLOB_MIB` (default 1024); the benchmark script
//! runs it against a release build as well.

mod serve_common;

use std::io::Write;
use std::time::{Duration, Instant};

use serve_common::*;
use strata_oci::Algorithm;

const RSS_LIMIT: u64 = 100 * 1024 * 1024;

/// The blob: 1 MiB of noise repeated, each repetition stamped with its index so no two
/// MiB are alike.
struct Generator {
    block: Vec<u8>,
}

impl Generator {
    fn new() -> Generator {
        Generator {
            block: noise(1, 1 << 20),
        }
    }

    fn chunk(&mut self, i: u64) -> &[u8] {
        self.block[..8].copy_from_slice(&i.to_le_bytes());
        &self.block
    }
}

#[test]
fn a_large_blob_streams_through_with_bounded_memory() {
    let mib: u64 = std::env::var("STRATA_SERVE_BIG_BLOB_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dir = tempfile::tempdir().unwrap();
    let reg = dir.path().join("reg");
    let srv = Serve::start(dir.path(), &["--storage", &format!("fs:{}", reg.display())]);
    let len = mib << 20;
    let started = Instant::now();

    // Upload: POST a session, stream the body with one PATCH (hashing as it goes, since
    // the digest is only known at the end), close with PUT ?digest=.
    let r = srv.http("POST", "/v2/big/blob/blobs/uploads/", &[], b"");
    assert_eq!(r.status, 202, "{}", r.text());
    let location = r.header("location").unwrap().to_string();
    let mut gen_ = Generator::new();
    let mut hasher = Algorithm::Sha256.digester();
    let mut s = connect(srv.addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(600))).unwrap();
    write_head(
        &mut s,
        srv.addr,
        "PATCH",
        &location,
        &[("Content-Type", "application/octet-stream")],
        len,
    )
    .unwrap();
    let mut mid_upload_rss = 0;
    for i in 0..mib {
        let c = gen_.chunk(i);
        hasher.update(c);
        s.write_all(c).unwrap();
        if i == mib / 2 {
            mid_upload_rss = srv.peak_rss();
        }
    }
    let (status, headers) = read_response(&mut s, false, |_| {}).unwrap();
    assert_eq!(status, 202, "{headers:?}");
    let d = hasher.finish();
    let location = headers
        .iter()
        .find(|(k, _)| k == "location")
        .map(|(_, v)| v.clone())
        .unwrap_or(location);
    let sep = if location.contains('?') { '&' } else { '?' };
    let r = srv.http("PUT", &format!("{location}{sep}digest={d}"), &[], b"");
    assert_eq!(r.status, 201, "{}", r.text());
    let upload_secs = started.elapsed().as_secs_f64();

    // Download, hashing as it streams.
    let started = Instant::now();
    let mut s = connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    write_head(
        &mut s,
        srv.addr,
        "GET",
        &format!("/v2/big/blob/blobs/{d}"),
        &[],
        0,
    )
    .unwrap();
    let mut hasher = Algorithm::Sha256.digester();
    let mut got = 0u64;
    let (status, _) = read_response(&mut s, false, |b| {
        hasher.update(b);
        got += b.len() as u64;
    })
    .unwrap();
    assert_eq!(status, 200);
    assert_eq!(got, len);
    assert_eq!(hasher.finish(), d);
    let download_secs = started.elapsed().as_secs_f64();

    let peak = srv.peak_rss();
    eprintln!(
        "{mib} MiB: upload {upload_secs:.1}s ({:.0} MiB/s), download {download_secs:.1}s ({:.0} MiB/s), server peak RSS {:.1} MiB (mid-upload {:.1} MiB)",
        mib as f64 / upload_secs,
        mib as f64 / download_secs,
        peak as f64 / 1048576.0,
        mid_upload_rss as f64 / 1048576.0,
    );
    assert!(
        peak < RSS_LIMIT,
        "server peak RSS {peak} bytes exceeds {RSS_LIMIT}"
    );
    // The blob is whole on disk.
    let (_, path) = published_blobs(&reg)
        .into_iter()
        .find(|(b, _)| *b == d)
        .expect("published");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
}
