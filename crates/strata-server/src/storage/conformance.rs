//! The storage conformance suite: one set of checks every [`Storage`] backend must
//! pass, run against the filesystem, the in-memory object store and (when `moto_server`
//! is installed) a real S3 API on 127.0.0.1.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use strata_oci::{Algorithm, Digest};

use super::{ByteStream, Committed, Storage, StorageError};

fn stream_of(chunks: Vec<Vec<u8>>) -> ByteStream {
    futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c)))).boxed()
}

async fn read_all(s: &dyn Storage, d: &Digest, r: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let mut st = s.blob_read(d, r).await.unwrap();
    let mut out = Vec::new();
    while let Some(c) = st.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out
}

fn id(n: u8) -> String {
    format!(
        "{:032x}",
        u128::from(n) << 64 | rand::random::<u64>() as u128
    )
}

/// Run every check against `s`. Each check uses fresh keys and ids, so the suite can
/// share a bucket with other runs.
pub(crate) async fn run_all(s: Arc<dyn Storage>) {
    blobs(&*s).await;
    uploads(&*s).await;
    upload_digest_mismatch(&*s).await;
    partial_upload_invisible(&*s).await;
    known_digest_fast_path(&*s).await;
    sha512_uploads(&*s).await;
    large_multi_chunk(&*s).await;
    concurrent_same_blob(s.clone()).await;
    metadata(&*s).await;
    invalid_keys(&*s).await;
}

async fn blobs(s: &dyn Storage) {
    let data = format!("blob {}", rand::random::<u64>()).into_bytes();
    let d = Digest::sha256(&data);
    assert!(s.blob_stat(&d).await.unwrap().is_none());
    assert!(matches!(
        s.blob_read(&d, None).await,
        Err(StorageError::BlobNotFound { .. })
    ));
    s.blob_put(&d, Bytes::from(data.clone())).await.unwrap();
    // Idempotent.
    s.blob_put(&d, Bytes::from(data.clone())).await.unwrap();
    let info = s.blob_stat(&d).await.unwrap().unwrap();
    assert_eq!(info.size, data.len() as u64);
    assert_eq!(read_all(s, &d, None).await, data);
    assert_eq!(read_all(s, &d, Some(2..6)).await, data[2..6].to_vec());
    assert_eq!(read_all(s, &d, Some(3..3)).await, Vec::<u8>::new());
    assert!(matches!(
        s.blob_read(&d, Some(0..data.len() as u64 + 1)).await,
        Err(StorageError::RangeInvalid { .. })
    ));
    assert!(s.blob_list().await.unwrap().iter().any(|(x, _)| *x == d));
    assert!(s.blob_delete(&d).await.unwrap());
    assert!(!s.blob_delete(&d).await.unwrap());
    assert!(s.blob_stat(&d).await.unwrap().is_none());
}

async fn uploads(s: &dyn Storage) {
    let u = id(1);
    assert_eq!(s.upload_size(&u).await.unwrap(), None);
    s.upload_create(&u).await.unwrap();
    assert_eq!(s.upload_size(&u).await.unwrap(), Some(0));
    assert!(s.upload_list().await.unwrap().iter().any(|(x, _)| *x == u));
    let n = s
        .upload_append(&u, 0, stream_of(vec![b"hello ".to_vec(), b"wor".to_vec()]))
        .await
        .unwrap();
    assert_eq!(n, 9);
    // Out of order: refused, nothing appended.
    assert!(matches!(
        s.upload_append(&u, 3, stream_of(vec![b"x".to_vec()])).await,
        Err(StorageError::OffsetMismatch { size: 9, .. })
    ));
    // Empty chunk: nothing changes.
    assert_eq!(s.upload_append(&u, 9, stream_of(vec![])).await.unwrap(), 9);
    assert_eq!(
        s.upload_append(&u, 9, stream_of(vec![b"ld".to_vec()]))
            .await
            .unwrap(),
        11
    );
    assert_eq!(s.upload_size(&u).await.unwrap(), Some(11));
    let d = Digest::sha256(b"hello world");
    assert_eq!(s.upload_commit(&u, &d, None).await.unwrap(), 11);
    assert_eq!(read_all(s, &d, None).await, b"hello world".to_vec());
    assert_eq!(s.upload_size(&u).await.unwrap(), None);
    assert!(!s.upload_list().await.unwrap().iter().any(|(x, _)| *x == u));
    assert!(matches!(
        s.upload_commit(&u, &d, None).await,
        Err(StorageError::UploadNotFound { .. })
    ));
    // Delete.
    let u2 = id(2);
    s.upload_create(&u2).await.unwrap();
    s.upload_append(&u2, 0, stream_of(vec![b"abc".to_vec()]))
        .await
        .unwrap();
    assert!(s.upload_delete(&u2).await.unwrap());
    assert!(!s.upload_delete(&u2).await.unwrap());
    assert_eq!(s.upload_size(&u2).await.unwrap(), None);
    // Ids that are not ours are refused, never turned into paths.
    assert!(s.upload_size("../../etc").await.is_err());
    // An empty blob.
    let u3 = id(3);
    s.upload_create(&u3).await.unwrap();
    let empty = Digest::sha256(b"");
    assert_eq!(s.upload_commit(&u3, &empty, None).await.unwrap(), 0);
    assert_eq!(read_all(s, &empty, None).await, Vec::<u8>::new());
}

async fn upload_digest_mismatch(s: &dyn Storage) {
    let u = id(4);
    let data = format!("real {}", rand::random::<u64>()).into_bytes();
    let wrong = Digest::sha256(format!("claimed {}", rand::random::<u64>()).as_bytes());
    s.upload_create(&u).await.unwrap();
    s.upload_append(&u, 0, stream_of(vec![data])).await.unwrap();
    assert!(matches!(
        s.upload_commit(&u, &wrong, None).await,
        Err(StorageError::DigestMismatch { .. })
    ));
    assert!(s.blob_stat(&wrong).await.unwrap().is_none());
    assert_eq!(s.upload_size(&u).await.unwrap(), None);
}

async fn partial_upload_invisible(s: &dyn Storage) {
    let data = format!("partial {}", rand::random::<u64>()).into_bytes();
    let d = Digest::sha256(&data);
    let u = id(5);
    s.upload_create(&u).await.unwrap();
    // A body that fails halfway (client disconnect): an error, and no blob.
    let broken: ByteStream = futures::stream::iter(vec![
        Ok(Bytes::from(data[..4].to_vec())),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        )),
    ])
    .boxed();
    assert!(s.upload_append(&u, 0, broken).await.is_err());
    assert!(s.blob_stat(&d).await.unwrap().is_none());
    // Whatever was kept is a prefix the client can resume from.
    let kept = s.upload_size(&u).await.unwrap().unwrap();
    assert!(kept <= 4);
    s.upload_append(&u, kept, stream_of(vec![data[kept as usize..].to_vec()]))
        .await
        .unwrap();
    s.upload_commit(&u, &d, None).await.unwrap();
    assert_eq!(read_all(s, &d, None).await, data);
}

async fn known_digest_fast_path(s: &dyn Storage) {
    let data = format!("known {}", rand::random::<u64>()).into_bytes();
    let d = Digest::sha256(&data);
    let u = id(6);
    s.upload_create(&u).await.unwrap();
    s.upload_append(&u, 0, stream_of(vec![data.clone()]))
        .await
        .unwrap();
    let known = Committed {
        digest: d.clone(),
        size: data.len() as u64,
    };
    s.upload_commit(&u, &d, Some(known)).await.unwrap();
    assert_eq!(read_all(s, &d, None).await, data);
    // A known digest that disagrees with the expected one is a mismatch.
    let u = id(7);
    s.upload_create(&u).await.unwrap();
    s.upload_append(&u, 0, stream_of(vec![b"x".to_vec()]))
        .await
        .unwrap();
    let other = Digest::sha256(b"y");
    let known = Committed {
        digest: Digest::sha256(b"x"),
        size: 1,
    };
    assert!(matches!(
        s.upload_commit(&u, &other, Some(known)).await,
        Err(StorageError::DigestMismatch { .. })
    ));
    assert!(s.blob_stat(&other).await.unwrap().is_none());
}

async fn sha512_uploads(s: &dyn Storage) {
    let data = format!("sha512 {}", rand::random::<u64>()).into_bytes();
    let d = Digest::of(Algorithm::Sha512, &data);
    let u = id(8);
    s.upload_create(&u).await.unwrap();
    s.upload_append(&u, 0, stream_of(vec![data.clone()]))
        .await
        .unwrap();
    // A sha256 "known" digest must not be trusted for a sha512 commit.
    let known = Committed {
        digest: Digest::sha256(&data),
        size: data.len() as u64,
    };
    s.upload_commit(&u, &d, Some(known)).await.unwrap();
    assert_eq!(read_all(s, &d, None).await, data);
    assert!(s.blob_list().await.unwrap().iter().any(|(x, _)| *x == d));
}

async fn large_multi_chunk(s: &dyn Storage) {
    // Larger than one multipart piece, in uneven chunks, so the object store backend
    // exercises its multipart paths.
    let total = super::object::PART_SIZE + 1234;
    let data: Vec<u8> = (0..total).map(|i| (i * 7 % 251) as u8).collect();
    let d = Digest::sha256(&data);
    let u = id(9);
    s.upload_create(&u).await.unwrap();
    let mut off = 0u64;
    for piece in data.chunks(3 * 1024 * 1024 + 17) {
        let sub: Vec<Vec<u8>> = piece.chunks(65536).map(<[u8]>::to_vec).collect();
        off = s.upload_append(&u, off, stream_of(sub)).await.unwrap();
    }
    assert_eq!(off, total as u64);
    s.upload_commit(&u, &d, None).await.unwrap();
    let back = read_all(s, &d, None).await;
    assert_eq!(back.len(), total);
    assert!(back == data);
    assert_eq!(
        read_all(s, &d, Some(5_000_000..5_000_010)).await,
        data[5_000_000..5_000_010].to_vec()
    );
}

async fn concurrent_same_blob(s: Arc<dyn Storage>) {
    let data: Vec<u8> = format!("same {}", rand::random::<u64>())
        .into_bytes()
        .repeat(5000);
    let d = Digest::sha256(&data);
    let mut tasks = Vec::new();
    for i in 0..4u8 {
        let s = s.clone();
        let data = data.clone();
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let u = id(10 + i);
            s.upload_create(&u).await.unwrap();
            let chunks: Vec<Vec<u8>> = data.chunks(4096).map(<[u8]>::to_vec).collect();
            s.upload_append(&u, 0, stream_of(chunks)).await.unwrap();
            s.upload_commit(&u, &d, None).await.unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), data.len() as u64);
    }
    assert_eq!(read_all(&*s, &d, None).await, data);
}

async fn metadata(s: &dyn Storage) {
    let base = format!("t{}", rand::random::<u32>());
    assert_eq!(s.meta_get(&format!("{base}/a")).await.unwrap(), None);
    assert!(s.meta_list(&base).await.unwrap().is_empty());
    s.meta_put(&format!("{base}/b"), Bytes::from_static(b"2"))
        .await
        .unwrap();
    s.meta_put(&format!("{base}/a"), Bytes::from_static(b"1"))
        .await
        .unwrap();
    s.meta_put(&format!("{base}/d/x"), Bytes::new())
        .await
        .unwrap();
    s.meta_put(&format!("{base}/a"), Bytes::from_static(b"one"))
        .await
        .unwrap();
    assert_eq!(
        s.meta_get(&format!("{base}/a")).await.unwrap().unwrap(),
        Bytes::from_static(b"one")
    );
    assert_eq!(
        s.meta_get(&format!("{base}/d/x")).await.unwrap().unwrap(),
        Bytes::new()
    );
    assert_eq!(s.meta_list(&base).await.unwrap(), vec!["a", "b", "d"]);
    assert_eq!(
        s.meta_list(&format!("{base}/")).await.unwrap(),
        vec!["a", "b", "d"]
    );
    assert_eq!(s.meta_list(&format!("{base}/d")).await.unwrap(), vec!["x"]);
    assert!(s.meta_delete(&format!("{base}/d/x")).await.unwrap());
    assert!(!s.meta_delete(&format!("{base}/d/x")).await.unwrap());
    // The emptied prefix disappears from listings on every backend.
    assert_eq!(s.meta_list(&base).await.unwrap(), vec!["a", "b"]);
    // Keys below a document are simply absent.
    assert_eq!(s.meta_get(&format!("{base}/a/z")).await.unwrap(), None);
}

async fn invalid_keys(s: &dyn Storage) {
    for bad in ["", "a//b", "../x", "a/../b", "a/./b", "a b", "/abs"] {
        assert!(
            matches!(s.meta_get(bad).await, Err(StorageError::InvalidKey { .. })),
            "{bad:?}"
        );
        assert!(s.meta_put(bad, Bytes::new()).await.is_err(), "{bad:?}");
    }
}

/// The S3-compatible server of the tests: an external one when `STRATA_TEST_S3_ENDPOINT` is
/// set (`scripts/test-garage.sh` runs Garage and sets it, with `STRATA_TEST_S3_REGION`,
/// `STRATA_TEST_S3_KEY_ID`, `STRATA_TEST_S3_SECRET`; its buckets are created by the script),
/// else a `moto_server` on a free loopback port, killed on drop.
pub(crate) struct Moto {
    child: Option<std::process::Child>,
    pub endpoint: String,
    external: Option<(String, String, String)>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Moto {
    /// Start moto (or use the external server), or return the reason it cannot run here.
    pub(crate) async fn start() -> Result<Moto, String> {
        if let Ok(endpoint) = std::env::var("STRATA_TEST_S3_ENDPOINT") {
            let var = |k: &str| std::env::var(k).map_err(|_| format!("{k} is not set"));
            return Ok(Moto {
                child: None,
                endpoint,
                external: Some((
                    var("STRATA_TEST_S3_REGION")?,
                    var("STRATA_TEST_S3_KEY_ID")?,
                    var("STRATA_TEST_S3_SECRET")?,
                )),
            });
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let child = std::process::Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                format!("moto_server not available ({e}); install with pip install 'moto[server]'")
            })?;
        let moto = Moto {
            child: Some(child),
            endpoint: format!("http://127.0.0.1:{port}"),
            external: None,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(moto);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err("moto_server did not start listening within 10s".into())
    }

    /// A bucket to test in: created on moto (it accepts unsigned requests); on an external
    /// server the bucket exists and each run gets a fresh prefix in it.
    pub(crate) async fn bucket(&self, name: &str) -> crate::config::S3Config {
        if let Some((region, key, secret)) = &self.external {
            return crate::config::S3Config {
                bucket: name.to_string(),
                endpoint: Some(self.endpoint.clone()),
                region: Some(region.clone()),
                prefix: Some(format!("registry-{:016x}", rand::random::<u64>())),
                access_key_id: Some(key.clone()),
                secret_access_key: Some(secret.clone()),
                virtual_hosted_style: false,
            };
        }
        let resp = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
        crate::config::S3Config {
            bucket: name.to_string(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            prefix: Some("registry".into()),
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            virtual_hosted_style: false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filesystem_backend() {
    let dir = tempfile::tempdir().unwrap();
    run_all(Arc::new(super::FsStorage::open(dir.path()).unwrap())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_object_store_backend() {
    run_all(Arc::new(super::ObjectStorage::memory())).await;
}

#[cfg(feature = "aws")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_backend_on_moto() {
    let moto = match Moto::start().await {
        Ok(m) => m,
        Err(reason) => {
            eprintln!("skipping the S3 storage conformance run: {reason}");
            return;
        }
    };
    let cfg = moto.bucket("conformance").await;
    run_all(Arc::new(super::ObjectStorage::s3(&cfg).unwrap())).await;
}
