//! One module per command. Each exposes its clap `Args` and a `run(ctx, args)`.

pub mod analyze;
pub mod build;
pub mod history;
pub mod images;
pub mod import;
pub mod inspect;
pub mod lint;
pub mod load;
pub mod login;
pub mod logout;
pub mod prune;
pub mod pull;
pub mod push;
pub mod rmi;
pub mod save;
pub mod sbom;
pub mod scan;
pub mod search;
pub mod serve;
pub mod system;
pub mod tag;
