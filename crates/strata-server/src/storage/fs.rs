//! The local filesystem backend.
//!
//! ```text
//! ROOT/blobs/<alg>/<hex[0..2]>/<hex>   published blobs (read-only once renamed in)
//! ROOT/uploads/<id>/data               the stage of an upload, appended to in place
//! ROOT/uploads/<id>/created            creation time (seconds), for expiry
//! ROOT/meta/<key>                      metadata documents
//! ROOT/tmp/                            temporary files, same filesystem as the rest
//! ```
//!
//! Crash safety comes from ordering: a blob's bytes are fsynced before the rename that
//! publishes it, and the directory is fsynced after, so after a crash a blob is either
//! absent or complete and verified. Metadata documents are written to `tmp/`, fsynced and
//! renamed over their target, so readers see the old or the new document, never a torn
//! one. Concurrent uploads of the same blob each stage privately and publish identical
//! bytes with an atomic rename; the last rename wins and nothing is ever half-written.

use std::io::{self, Read, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use strata_oci::{Algorithm, Digest};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::{
    ByteStream, Committed, ObjectInfo, Storage, StorageError, check_key, check_upload_id, now_secs,
};

/// Read buffer for streaming blobs out (large enough to keep syscalls cheap, small
/// enough to keep memory flat under many concurrent downloads).
const READ_CHUNK: usize = 256 * 1024;

/// Filesystem storage rooted at a directory.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
}

impl FsStorage {
    /// Open (creating if needed) a storage root.
    pub fn open(root: impl Into<PathBuf>) -> Result<FsStorage, StorageError> {
        let root = root.into();
        for sub in ["blobs", "uploads", "meta", "tmp"] {
            let p = root.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| StorageError::io(p.display(), e))?;
        }
        Ok(FsStorage { root })
    }

    /// The storage root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn blob_path(&self, d: &Digest) -> PathBuf {
        let hex = d.hex();
        self.root
            .join("blobs")
            .join(d.algorithm().as_str())
            .join(&hex[..2])
            .join(hex)
    }

    fn upload_dir(&self, id: &str) -> Result<PathBuf, StorageError> {
        check_upload_id(id)?;
        Ok(self.root.join("uploads").join(id))
    }

    fn meta_path(&self, key: &str) -> Result<PathBuf, StorageError> {
        check_key(key)?;
        Ok(self.root.join("meta").join(key))
    }

    fn tmp_path(&self) -> PathBuf {
        self.root
            .join("tmp")
            .join(format!("{:032x}", rand::random::<u128>()))
    }

    /// Write `data` to a fresh temporary file, fsync it, and rename it to `target`.
    async fn write_atomic(&self, target: &Path, data: &[u8]) -> Result<(), StorageError> {
        let tmp = self.tmp_path();
        let io_tmp = |e| StorageError::io(tmp.display(), e);
        let mut f = tokio::fs::File::create(&tmp).await.map_err(io_tmp)?;
        f.write_all(data).await.map_err(io_tmp)?;
        f.sync_all().await.map_err(io_tmp)?;
        drop(f);
        let res = rename_into(&tmp, target).await;
        if res.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        res
    }
}

/// Rename `from` to `to`, creating `to`'s directory. A concurrent delete may prune the
/// freshly created (still empty) directory between the two steps, so retry a few times.
async fn rename_into(from: &Path, to: &Path) -> Result<(), StorageError> {
    let parent = to.parent().unwrap_or(Path::new("/"));
    let mut last = None;
    for _ in 0..5 {
        if let Err(e) = tokio::fs::create_dir_all(parent).await {
            last = Some(e);
            continue;
        }
        match tokio::fs::rename(from, to).await {
            Ok(()) => {
                sync_dir(parent).await;
                return Ok(());
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
            Err(e) => return Err(StorageError::io(to.display(), e)),
        }
    }
    Err(StorageError::io(
        to.display(),
        last.unwrap_or_else(|| io::Error::other("rename failed")),
    ))
}

/// Persist a directory entry change. Best effort: some filesystems refuse to fsync
/// directories, and the data itself is already durable.
async fn sync_dir(dir: &Path) {
    if let Ok(f) = tokio::fs::File::open(dir).await {
        let _ = f.sync_all().await;
    }
}

fn mtime_secs(md: &std::fs::Metadata) -> i64 {
    md.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Hash a file with `algorithm` on the blocking pool.
async fn hash_file(path: PathBuf, algorithm: Algorithm) -> Result<(Digest, u64), StorageError> {
    let p = path.clone();
    tokio::task::spawn_blocking(move || -> io::Result<(Digest, u64)> {
        let mut f = std::fs::File::open(&p)?;
        let mut d = algorithm.digester();
        let mut buf = vec![0u8; 1 << 20];
        let mut n = 0u64;
        loop {
            let r = f.read(&mut buf)?;
            if r == 0 {
                break;
            }
            d.update(&buf[..r]);
            n += r as u64;
        }
        Ok((d.finish(), n))
    })
    .await
    .map_err(|e| StorageError::io(path.display(), io::Error::other(e)))?
    .map_err(|e| StorageError::io(path.display(), e))
}

#[async_trait]
impl Storage for FsStorage {
    fn kind(&self) -> &'static str {
        "fs"
    }

    async fn blob_stat(&self, digest: &Digest) -> Result<Option<ObjectInfo>, StorageError> {
        let p = self.blob_path(digest);
        match tokio::fs::metadata(&p).await {
            Ok(md) => Ok(Some(ObjectInfo {
                size: md.len(),
                modified: mtime_secs(&md),
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(p.display(), e)),
        }
    }

    async fn blob_read(
        &self,
        digest: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        let p = self.blob_path(digest);
        let mut f = match tokio::fs::File::open(&p).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::BlobNotFound {
                    digest: digest.clone(),
                });
            }
            Err(e) => return Err(StorageError::io(p.display(), e)),
        };
        let size = f
            .metadata()
            .await
            .map_err(|e| StorageError::io(p.display(), e))?
            .len();
        let range = range.unwrap_or(0..size);
        if range.start > range.end || range.end > size {
            return Err(StorageError::RangeInvalid {
                digest: digest.clone(),
                start: range.start,
                end: range.end,
                size,
            });
        }
        f.seek(SeekFrom::Start(range.start))
            .await
            .map_err(|e| StorageError::io(p.display(), e))?;
        let reader = tokio::io::AsyncReadExt::take(f, range.end - range.start);
        Ok(tokio_util::io::ReaderStream::with_capacity(reader, READ_CHUNK).boxed())
    }

    async fn blob_put(&self, digest: &Digest, data: Bytes) -> Result<(), StorageError> {
        let p = self.blob_path(digest);
        if tokio::fs::metadata(&p).await.is_ok() {
            return Ok(());
        }
        self.write_atomic(&p, &data).await
    }

    async fn blob_delete(&self, digest: &Digest) -> Result<bool, StorageError> {
        let p = self.blob_path(digest);
        match tokio::fs::remove_file(&p).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StorageError::io(p.display(), e)),
        }
    }

    async fn blob_list(&self) -> Result<Vec<(Digest, ObjectInfo)>, StorageError> {
        let root = self.root.join("blobs");
        tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            for alg in [Algorithm::Sha256, Algorithm::Sha512] {
                let dir = root.join(alg.as_str());
                let Ok(shards) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for shard in shards.flatten() {
                    let Ok(entries) = std::fs::read_dir(shard.path()) else {
                        continue;
                    };
                    for e in entries.flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let Ok(d) = Digest::parse(&format!("{}:{name}", alg.as_str())) else {
                            continue;
                        };
                        let md = e
                            .metadata()
                            .map_err(|err| StorageError::io(e.path().display(), err))?;
                        out.push((
                            d,
                            ObjectInfo {
                                size: md.len(),
                                modified: mtime_secs(&md),
                            },
                        ));
                    }
                }
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(out)
        })
        .await
        .map_err(|e| StorageError::io("blobs", io::Error::other(e)))?
    }

    async fn upload_create(&self, id: &str) -> Result<(), StorageError> {
        let dir = self.upload_dir(id)?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| StorageError::io(dir.display(), e))?;
        let data = dir.join("data");
        tokio::fs::File::create(&data)
            .await
            .map_err(|e| StorageError::io(data.display(), e))?;
        let created = dir.join("created");
        tokio::fs::write(&created, now_secs().to_string())
            .await
            .map_err(|e| StorageError::io(created.display(), e))
    }

    async fn upload_size(&self, id: &str) -> Result<Option<u64>, StorageError> {
        let data = self.upload_dir(id)?.join("data");
        match tokio::fs::metadata(&data).await {
            Ok(md) => Ok(Some(md.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io(data.display(), e)),
        }
    }

    async fn upload_append(
        &self,
        id: &str,
        offset: u64,
        mut body: ByteStream,
    ) -> Result<u64, StorageError> {
        let data = self.upload_dir(id)?.join("data");
        let io_err = |e| StorageError::io(data.display(), e);
        let f = match tokio::fs::OpenOptions::new().append(true).open(&data).await {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::UploadNotFound { id: id.to_string() });
            }
            Err(e) => return Err(io_err(e)),
        };
        let size = f.metadata().await.map_err(io_err)?.len();
        if size != offset {
            return Err(StorageError::OffsetMismatch {
                id: id.to_string(),
                offset,
                size,
            });
        }
        // Request bodies arrive in chunks of a few KiB; each write of a tokio file is a trip
        // to the blocking pool, so gather them into 1 MiB writes (with 64 concurrent pushes
        // the trips, not the disk, were the limit).
        let mut f = tokio::io::BufWriter::with_capacity(1 << 20, f);
        let mut written = size;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(io_err)?;
            f.write_all(&chunk).await.map_err(io_err)?;
            written += chunk.len() as u64;
        }
        f.flush().await.map_err(io_err)?;
        Ok(written)
    }

    async fn upload_commit(
        &self,
        id: &str,
        expected: &Digest,
        known: Option<Committed>,
    ) -> Result<u64, StorageError> {
        let dir = self.upload_dir(id)?;
        let data = dir.join("data");
        let size = match tokio::fs::metadata(&data).await {
            Ok(md) => md.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::UploadNotFound { id: id.to_string() });
            }
            Err(e) => return Err(StorageError::io(data.display(), e)),
        };
        let actual = match known {
            Some(k) if k.size == size && k.digest.algorithm() == expected.algorithm() => k.digest,
            _ => hash_file(data.clone(), expected.algorithm()).await?.0,
        };
        if &actual != expected {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(StorageError::DigestMismatch {
                id: id.to_string(),
                expected: expected.clone(),
                actual,
            });
        }
        let target = self.blob_path(expected);
        if tokio::fs::metadata(&target).await.is_err() {
            let f = tokio::fs::File::open(&data)
                .await
                .map_err(|e| StorageError::io(data.display(), e))?;
            f.sync_all()
                .await
                .map_err(|e| StorageError::io(data.display(), e))?;
            drop(f);
            rename_into(&data, &target).await?;
        }
        let _ = tokio::fs::remove_dir_all(&dir).await;
        Ok(size)
    }

    async fn upload_delete(&self, id: &str) -> Result<bool, StorageError> {
        let dir = self.upload_dir(id)?;
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StorageError::io(dir.display(), e)),
        }
    }

    async fn upload_list(&self) -> Result<Vec<(String, i64)>, StorageError> {
        let dir = self.root.join("uploads");
        let mut rd = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| StorageError::io(dir.display(), e))?;
        let mut out = Vec::new();
        while let Some(e) = rd
            .next_entry()
            .await
            .map_err(|e| StorageError::io(dir.display(), e))?
        {
            let id = e.file_name().to_string_lossy().into_owned();
            let created = match tokio::fs::read_to_string(e.path().join("created")).await {
                Ok(s) => s.trim().parse().unwrap_or(0),
                // A stage without its timestamp (crash between the two writes) is old
                // enough to expire: use the directory's own mtime.
                Err(_) => e.metadata().await.map(|m| mtime_secs(&m)).unwrap_or(0),
            };
            out.push((id, created));
        }
        out.sort();
        Ok(out)
    }

    async fn meta_get(&self, key: &str) -> Result<Option<Bytes>, StorageError> {
        let p = self.meta_path(key)?;
        match tokio::fs::read(&p).await {
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            // A key whose path crosses a document (or is a directory) is simply absent.
            Err(e)
                if e.kind() == io::ErrorKind::NotADirectory
                    || e.kind() == io::ErrorKind::IsADirectory =>
            {
                Ok(None)
            }
            Err(e) => Err(StorageError::io(p.display(), e)),
        }
    }

    async fn meta_put(&self, key: &str, value: Bytes) -> Result<(), StorageError> {
        let p = self.meta_path(key)?;
        self.write_atomic(&p, &value).await
    }

    async fn meta_delete(&self, key: &str) -> Result<bool, StorageError> {
        let p = self.meta_path(key)?;
        match tokio::fs::remove_file(&p).await {
            Ok(()) => {
                // Prune directories left empty, so listings match the object-store
                // backend (where prefixes vanish with their last object).
                let stop = self.root.join("meta");
                let mut dir = p.parent().map(Path::to_path_buf);
                while let Some(d) = dir {
                    if d == stop || tokio::fs::remove_dir(&d).await.is_err() {
                        break;
                    }
                    dir = d.parent().map(Path::to_path_buf);
                }
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(false),
            Err(e) => Err(StorageError::io(p.display(), e)),
        }
    }

    async fn meta_list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let p = self.meta_path(prefix.trim_end_matches('/'))?;
        let mut rd = match tokio::fs::read_dir(&p).await {
            Ok(rd) => rd,
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.kind() == io::ErrorKind::NotADirectory =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(StorageError::io(p.display(), e)),
        };
        let mut out = Vec::new();
        while let Some(e) = rd
            .next_entry()
            .await
            .map_err(|e| StorageError::io(p.display(), e))?
        {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
        out.sort();
        Ok(out)
    }
}
