//! What every command needs: where the store is, and how verbose to be.

use std::path::PathBuf;

use anyhow::Context as _;
use strata_store::Store;

pub struct Ctx {
    root: Option<PathBuf>,
    pub debug: bool,
}

impl Ctx {
    pub fn new(root: Option<PathBuf>, debug: bool) -> Ctx {
        Ctx { root, debug }
    }

    /// The store root: `--root`, else `$STRATA_ROOT`, else the default.
    pub fn root(&self) -> anyhow::Result<PathBuf> {
        if let Some(r) = &self.root {
            return Ok(r.clone());
        }
        Store::default_root().context("cannot choose a store root (set STRATA_ROOT or --root)")
    }

    /// Open (creating on first use) the local store.
    pub fn store(&self) -> anyhow::Result<Store> {
        let root = self.root()?;
        Store::open(&root).with_context(|| format!("cannot open the store at {}", root.display()))
    }
}
