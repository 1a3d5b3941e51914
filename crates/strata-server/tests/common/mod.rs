//! Shared helpers: in-process servers on 127.0.0.1, a moto S3 server, and small
//! builders for blobs and manifests.

#![allow(dead_code)]

use std::sync::Arc;

use strata_oci::Digest;
use strata_server::storage::Storage;
use strata_server::{Config, S3Config, Server, StorageConfig};
use tokio::sync::oneshot;

/// A running in-process registry, stopped on drop.
pub struct Running {
    pub base: String,
    pub addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<tokio::task::JoinHandle<Result<(), strata_server::ServerError>>>,
}

impl Running {
    pub async fn stop(mut self) -> Result<(), strata_server::ServerError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.take().unwrap().await.unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub async fn start(mut config: Config) -> Running {
    config.addr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind(config).await.unwrap();
    run(server)
}

pub async fn start_with(mut config: Config, storage: Arc<dyn Storage>) -> Running {
    config.addr = "127.0.0.1:0".parse().unwrap();
    let server = Server::bind_with_storage(config, storage).await.unwrap();
    run(server)
}

fn run(server: Server) -> Running {
    let addr = server.local_addr();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Running {
        base: format!("http://{addr}"),
        addr,
        stop: Some(tx),
        task: Some(task),
    }
}

pub fn fs_config(dir: &std::path::Path) -> Config {
    Config::new(StorageConfig::Fs {
        root: dir.to_path_buf(),
    })
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The S3-compatible server of the tests: an external one when `STRATA_TEST_S3_ENDPOINT` is
/// set (`scripts/test-garage.sh` runs Garage and sets it, with `STRATA_TEST_S3_REGION`,
/// `STRATA_TEST_S3_KEY_ID`, `STRATA_TEST_S3_SECRET`; its buckets are created by the script),
/// else a `moto_server` on a free loopback port, killed on drop.
pub struct Moto {
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
    pub async fn start() -> Result<Moto, String> {
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
        let m = Moto {
            child: Some(child),
            endpoint: format!("http://127.0.0.1:{port}"),
            external: None,
        };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(m);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err("moto_server did not start within 10s".into())
    }

    /// A bucket to test in: created on moto; on an external server the bucket exists and
    /// each call gets a fresh prefix in it (so every test starts from an empty registry).
    pub async fn bucket(&self, name: &str) -> S3Config {
        if let Some((region, key, secret)) = &self.external {
            return S3Config {
                bucket: name.into(),
                endpoint: Some(self.endpoint.clone()),
                region: Some(region.clone()),
                prefix: Some(format!("registry-{:016x}", rand::random::<u64>())),
                access_key_id: Some(key.clone()),
                secret_access_key: Some(secret.clone()),
                virtual_hosted_style: false,
            };
        }
        let r = reqwest::Client::new()
            .put(format!("{}/{name}", self.endpoint))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        S3Config {
            bucket: name.into(),
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            prefix: None,
            access_key_id: Some("test".into()),
            secret_access_key: Some("test".into()),
            virtual_hosted_style: false,
        }
    }
}

/// Push a blob with a monolithic POST.
pub async fn push_blob(c: &reqwest::Client, base: &str, repo: &str, data: &[u8]) -> Digest {
    let d = Digest::sha256(data);
    let r = c
        .post(format!("{base}/v2/{repo}/blobs/uploads/?digest={d}"))
        .header("Content-Type", "application/octet-stream")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "push blob");
    d
}

/// An OCI image manifest over the given config and layers.
pub fn manifest(config: &[u8], layers: &[&[u8]]) -> Vec<u8> {
    let desc = |mt: &str, b: &[u8]| serde_json::json!({"mediaType": mt, "digest": Digest::sha256(b).to_string(), "size": b.len()});
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", config),
        "layers": layers.iter().map(|l| desc("application/vnd.oci.image.layer.v1.tar", l)).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// Push config, layers and the manifest under `tag`; returns the manifest digest.
pub async fn push_image(
    c: &reqwest::Client,
    base: &str,
    repo: &str,
    tag: &str,
    layers: &[&[u8]],
) -> Digest {
    let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"n\":\"{tag}\"}}");
    push_blob(c, base, repo, config.as_bytes()).await;
    for l in layers {
        push_blob(c, base, repo, l).await;
    }
    let m = manifest(config.as_bytes(), layers);
    let r = c
        .put(format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    Digest::sha256(&m)
}
