//! The local vulnerability database: OSV data imported from the per-ecosystem zip archives
//! OSV publishes (`Debian.zip`, `PyPI.zip`, `npm.zip`, `crates.io.zip`, `Go.zip`, `all.zip`…)
//! into an index under `$STRATA_ROOT/meta/osv/`, so scanning needs no network.
//!
//! ```text
//! meta/osv/sources.json      one entry per imported archive: name, counts, import time
//! meta/osv/<name>.idx        the index of that archive (see below)
//! meta/osv/lock              held exclusively while importing
//! ```
//!
//! An `.idx` file is `STRATA-OSV\x01\n`, a little-endian `u64` length of the key table, the
//! key table (`u32` key length, key, `u64` offset, `u32` length per key, keys sorted), then
//! the data: per key a JSON array of [`Advisory`]s. A key is `ECOSYSTEM\0NAME` with PyPI
//! names normalised (PEP 503). A scan reads each file once and parses only the arrays of
//! the packages the image has, so it costs the same whether the database holds a thousand
//! records or a million. Files are written whole to a temporary name and renamed, so a
//! reader never sees half an index; importing an archive of the same name replaces it.

pub mod record;

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use record::{Advisory, Event, Range, RangeKind};

use crate::error::{InsightError, Result};
use crate::sbom::normalize_python_name;

const MAGIC: &[u8] = b"STRATA-OSV\x01\n";
/// Records parsed per parallel batch while importing (bounds memory).
const BATCH: usize = 4096;

/// One imported archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The archive's file stem (`Debian` for `Debian.zip`).
    pub name: String,
    /// The index file, relative to `meta/osv/`.
    pub file: String,
    /// Where it was imported from.
    pub archive: String,
    /// RFC 3339 time of the import.
    pub imported: String,
    /// OSV records read (withdrawn ones included).
    pub records: u64,
    /// Distinct (ecosystem, package) keys.
    pub packages: u64,
    /// Ecosystems seen, sorted.
    pub ecosystems: Vec<String>,
    /// Newest `modified` time among the records.
    pub newest_modified: String,
}

/// The directory of the database under a store root.
pub fn db_dir(root: &Path) -> PathBuf {
    root.join("meta").join("osv")
}

/// The index key of a package.
pub fn key(ecosystem: &str, name: &str) -> String {
    if ecosystem == "PyPI" {
        format!("{ecosystem}\0{}", normalize_python_name(name))
    } else {
        format!("{ecosystem}\0{name}")
    }
}

/// The sources imported under `root` (a store root), without reading their indexes (which
/// [`Database::open`] loads whole). An absent database has none.
pub fn sources(root: &Path) -> Result<Vec<Source>> {
    read_sources(&db_dir(root))
}

fn read_sources(dir: &Path) -> Result<Vec<Source>> {
    let path = dir.join("sources.json");
    match fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|source| InsightError::SourcesCorrupt { path, source }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(InsightError::io("read", path)(e)),
    }
}

fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let dst = dir.join(name);
    let mut f = File::create(&tmp).map_err(InsightError::io("create", &tmp))?;
    f.write_all(bytes)
        .map_err(InsightError::io("write", &tmp))?;
    f.sync_all().map_err(InsightError::io("sync", &tmp))?;
    fs::rename(&tmp, &dst).map_err(InsightError::io("rename", &dst))
}

/// A source name safe as a file name.
fn file_stem(path: &Path) -> String {
    let stem = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = stem.strip_suffix(".zip").unwrap_or(&stem).to_string();
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.starts_with('.') {
        format!("osv{clean}")
    } else {
        clean
    }
}

/// Everything one archive contributes.
struct Imported {
    records: u64,
    by_key: BTreeMap<String, Vec<Advisory>>,
    ecosystems: Vec<String>,
    newest: String,
}

fn parse_batch(path: &Path, batch: &[(String, Vec<u8>)], out: &mut Imported) -> Result<()> {
    let parsed: Vec<record::OsvRecord> = batch
        .par_iter()
        .map(|(entry, bytes)| {
            serde_json::from_slice(bytes).map_err(|source| InsightError::OsvRecord {
                path: path.to_path_buf(),
                entry: entry.clone(),
                source,
            })
        })
        .collect::<Result<_>>()?;
    for rec in &parsed {
        out.records += 1;
        if rec.modified > out.newest {
            out.newest.clone_from(&rec.modified);
        }
        for (eco, name, adv) in record::advisories(rec) {
            if !out.ecosystems.contains(&eco) {
                out.ecosystems.push(eco.clone());
            }
            let list = out.by_key.entry(key(&eco, &name)).or_default();
            // A record may list one package in several `affected` entries: one advisory.
            match list.iter_mut().find(|a| a.id == adv.id) {
                Some(a) => {
                    a.ranges.extend(adv.ranges);
                    a.versions.extend(adv.versions);
                }
                None => list.push(adv),
            }
        }
    }
    Ok(())
}

fn read_archive(path: &Path) -> Result<Imported> {
    let zip_err = |source| InsightError::Zip {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(InsightError::io("open", path))?;
    let mut archive = zip::ZipArchive::new(BufReader::new(file)).map_err(zip_err)?;
    let mut out = Imported {
        records: 0,
        by_key: BTreeMap::new(),
        ecosystems: Vec::new(),
        newest: String::new(),
    };
    let mut batch: Vec<(String, Vec<u8>)> = Vec::with_capacity(BATCH);
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(zip_err)?;
        let name = entry.name().map_err(zip_err)?.into_owned();
        if !entry.is_file() || !name.ends_with(".json") {
            continue;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(1 << 24));
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| InsightError::Io {
                op: "read",
                path: path.join(&name),
                source: e,
            })?;
        batch.push((name, bytes));
        if batch.len() == BATCH {
            parse_batch(path, &batch, &mut out)?;
            batch.clear();
        }
    }
    parse_batch(path, &batch, &mut out)?;
    if out.records == 0 {
        return Err(InsightError::EmptyArchive {
            path: path.to_path_buf(),
        });
    }
    out.ecosystems.sort();
    Ok(out)
}

fn encode_index(by_key: &BTreeMap<String, Vec<Advisory>>) -> Result<Vec<u8>> {
    let mut table = Vec::new();
    let mut data = Vec::new();
    for (k, advs) in by_key {
        let offset = data.len() as u64;
        serde_json::to_writer(&mut data, advs).map_err(|source| InsightError::OsvRecord {
            path: PathBuf::from("index"),
            entry: k.replace('\0', "/"),
            source,
        })?;
        let len = (data.len() as u64 - offset) as u32;
        table.extend_from_slice(&(k.len() as u32).to_le_bytes());
        table.extend_from_slice(k.as_bytes());
        table.extend_from_slice(&offset.to_le_bytes());
        table.extend_from_slice(&len.to_le_bytes());
    }
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + table.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(table.len() as u64).to_le_bytes());
    out.extend_from_slice(&table);
    out.extend_from_slice(&data);
    Ok(out)
}

/// Import OSV zip archives into the database under `root` (a store root). Each archive
/// becomes (or replaces) the source named after its file stem. `now` is recorded as the
/// import time.
pub fn import(root: &Path, archives: &[PathBuf], now: jiff::Timestamp) -> Result<Vec<Source>> {
    let dir = db_dir(root);
    fs::create_dir_all(&dir).map_err(InsightError::io("create", &dir))?;
    let lock_path = dir.join("lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(InsightError::io("open", &lock_path))?;
    lock.lock().map_err(InsightError::io("lock", &lock_path))?;
    let mut sources = read_sources(&dir)?;
    let mut done = Vec::new();
    for path in archives {
        let imported = read_archive(path)?;
        let name = file_stem(path);
        let file = format!("{name}.idx");
        write_atomic(&dir, &file, &encode_index(&imported.by_key)?)?;
        let source = Source {
            name: name.clone(),
            file,
            archive: path.display().to_string(),
            imported: now.to_string(),
            records: imported.records,
            packages: imported.by_key.len() as u64,
            ecosystems: imported.ecosystems,
            newest_modified: imported.newest,
        };
        sources.retain(|s| s.name != name);
        sources.push(source.clone());
        sources.sort_by(|a, b| a.name.cmp(&b.name));
        let json =
            serde_json::to_vec_pretty(&sources).map_err(|source| InsightError::SourcesCorrupt {
                path: dir.join("sources.json"),
                source,
            })?;
        write_atomic(&dir, "sources.json", &json)?;
        done.push(source);
    }
    Ok(done)
}

/// One opened index file.
struct Index {
    path: PathBuf,
    data: Vec<u8>,
    /// Start of the data section.
    base: usize,
    keys: HashMap<String, (usize, usize)>,
}

impl Index {
    fn open(path: PathBuf) -> Result<Index> {
        let data = fs::read(&path).map_err(InsightError::io("read", &path))?;
        let corrupt = |reason: &str| InsightError::IndexCorrupt {
            path: path.clone(),
            reason: reason.to_string(),
        };
        if !data.starts_with(MAGIC) || data.len() < MAGIC.len() + 8 {
            return Err(corrupt("not a Strata OSV index"));
        }
        let mut pos = MAGIC.len();
        let take = |pos: &mut usize, n: usize| -> Option<&[u8]> {
            let s = data.get(*pos..*pos + n)?;
            *pos += n;
            Some(s)
        };
        let table_len = take(&mut pos, 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| corrupt("truncated header"))?;
        let base = usize::try_from(table_len)
            .ok()
            .and_then(|t| pos.checked_add(t))
            .filter(|b| *b <= data.len())
            .ok_or_else(|| corrupt("key table runs past the end"))?;
        let mut keys = HashMap::new();
        while pos < base {
            let klen = take(&mut pos, 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| corrupt("truncated key table"))?;
            let k = take(&mut pos, klen as usize)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .ok_or_else(|| corrupt("truncated key"))?;
            let off = take(&mut pos, 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
                .ok_or_else(|| corrupt("truncated key table"))?;
            let len = take(&mut pos, 4)
                .and_then(|b| b.try_into().ok())
                .map(u32::from_le_bytes)
                .ok_or_else(|| corrupt("truncated key table"))?;
            let off = usize::try_from(off).map_err(|_| corrupt("offset out of range"))?;
            if base
                .checked_add(off)
                .and_then(|s| s.checked_add(len as usize))
                .is_none_or(|end| end > data.len())
            {
                return Err(corrupt("record runs past the end"));
            }
            keys.insert(k, (off, len as usize));
        }
        Ok(Index {
            path,
            data,
            base,
            keys,
        })
    }

    fn get(&self, key: &str) -> Result<Vec<Advisory>> {
        let Some(&(off, len)) = self.keys.get(key) else {
            return Ok(Vec::new());
        };
        let start = self.base + off;
        serde_json::from_slice(&self.data[start..start + len]).map_err(|_| {
            InsightError::IndexCorrupt {
                path: self.path.clone(),
                reason: format!("invalid entry for {}", key.replace('\0', "/")),
            }
        })
    }
}

/// The opened database.
pub struct Database {
    sources: Vec<Source>,
    indexes: Vec<Index>,
}

impl Database {
    /// Open the database under `root` (a store root). An absent database is empty.
    pub fn open(root: &Path) -> Result<Database> {
        let dir = db_dir(root);
        let sources = read_sources(&dir)?;
        let indexes = sources
            .par_iter()
            .map(|s| Index::open(dir.join(&s.file)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Database { sources, indexes })
    }

    /// The imported sources.
    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// Whether nothing was imported.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// Advisories for `name` in `ecosystem`, from every source (duplicates by ID removed).
    pub fn advisories(&self, ecosystem: &str, name: &str) -> Result<Vec<Advisory>> {
        let k = key(ecosystem, name);
        let mut out: Vec<Advisory> = Vec::new();
        for ix in &self.indexes {
            for a in ix.get(&k)? {
                if !out.iter().any(|o| o.id == a.id) {
                    out.push(a);
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    /// Write `records` as `ID.json` entries of a zip, like OSV's per-ecosystem archives.
    fn archive(path: &Path, records: &[serde_json::Value]) {
        let mut z = zip::ZipWriter::new(File::create(path).unwrap());
        for r in records {
            let name = format!("{}.json", r["id"].as_str().unwrap());
            z.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            z.write_all(&serde_json::to_vec(r).unwrap()).unwrap();
        }
        z.finish().unwrap();
    }

    fn now() -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_700_000_000).unwrap()
    }

    #[test]
    fn import_then_look_up_by_normalised_name() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("PyPI.zip");
        archive(
            &zip,
            &[
                serde_json::json!({
                    "id": "PYSEC-1", "modified": "2024-02-01T00:00:00Z", "aliases": ["CVE-1"],
                    "affected": [
                        {"package": {"ecosystem": "PyPI", "name": "Zope.Interface"},
                         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "5.0"}]}]},
                        {"package": {"ecosystem": "PyPI", "name": "zope-interface"},
                         "ranges": [{"type": "GIT", "repo": "https://x", "events": [{"introduced": "abc"}]}],
                         "versions": ["4.0"]}
                    ]
                }),
                serde_json::json!({
                    "id": "PYSEC-2", "modified": "2024-03-01T00:00:00Z", "withdrawn": "2024-03-02T00:00:00Z",
                    "affected": [{"package": {"ecosystem": "PyPI", "name": "zope.interface"}, "versions": ["1.0"]}]
                }),
            ],
        );
        let root = dir.path().join("root");
        let sources = import(&root, std::slice::from_ref(&zip), now()).unwrap();
        assert_eq!(sources[0].name, "PyPI");
        assert_eq!(
            sources[0].records, 2,
            "withdrawn records are counted as read"
        );
        assert_eq!(sources[0].packages, 1);
        assert_eq!(sources[0].newest_modified, "2024-03-01T00:00:00Z");

        let db = Database::open(&root).unwrap();
        let advs = db.advisories("PyPI", "ZOPE_interface").unwrap();
        assert_eq!(advs.len(), 1, "{advs:?}");
        // Both `affected` entries of the record folded into one advisory; GIT dropped.
        assert_eq!(advs[0].ranges.len(), 1);
        assert_eq!(advs[0].versions, vec!["4.0".to_string()]);
        assert!(db.advisories("npm", "zope-interface").unwrap().is_empty());

        // Importing the same archive name again replaces the source.
        import(&root, &[zip], now()).unwrap();
        assert_eq!(Database::open(&root).unwrap().sources().len(), 1);
    }

    #[test]
    fn a_damaged_index_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("npm.zip");
        archive(
            &zip,
            &[serde_json::json!({"id": "GHSA-1", "affected": [
                {"package": {"ecosystem": "npm", "name": "a"}, "versions": ["1.0.0"]}]})],
        );
        let root = dir.path().join("root");
        import(&root, &[zip], now()).unwrap();
        let idx = db_dir(&root).join("npm.idx");
        let bytes = fs::read(&idx).unwrap();
        fs::write(&idx, &bytes[..bytes.len() - 3]).unwrap();
        match Database::open(&root) {
            Err(InsightError::IndexCorrupt { path, .. }) => assert_eq!(path, idx),
            other => panic!("expected a damaged index error, got {:?}", other.err()),
        }
        fs::write(&idx, b"something else").unwrap();
        let err = Database::open(&root).err().unwrap().to_string();
        assert!(
            err.contains("npm.idx") && err.contains("not a Strata OSV index"),
            "{err}"
        );
    }

    #[test]
    fn records_that_are_not_osv_name_the_entry() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("Go.zip");
        archive(
            &zip,
            &[serde_json::json!({"id": "GO-1", "affected": "nope"})],
        );
        let err = import(&dir.path().join("root"), &[zip], now()).unwrap_err();
        assert!(matches!(&err, InsightError::OsvRecord { entry, .. } if entry == "GO-1.json"));
    }
}
