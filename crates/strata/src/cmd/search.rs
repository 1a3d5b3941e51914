//! `strata search` — Docker's `docker search TERM`: Docker Hub's search API, or for
//! `HOST/TERM` that registry's `/v1/search`, falling back to its `_catalog` filtered by the
//! term (OCI registries have no search API). `--limit`, `--filter`, `--no-trunc`, and
//! `--format` with Docker's fields (`.Name .Description .StarCount .IsOfficial .IsAutomated`).

use anyhow::{anyhow, bail};
use serde_json::{Value, json};
use strata_registry::{Client, SearchResult, split_search_term};

use crate::Ctx;
use crate::cmd::pull::{client_options, runtime};

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    /// Filter output based on conditions provided (stars=N, is-official=BOOL, is-automated=BOOL)
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Pretty-print search using a Go template
    #[arg(long)]
    pub format: Option<String>,
    /// Max number of search results
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Allow plain HTTP and unverified TLS for this registry
    #[arg(long)]
    pub insecure: bool,
    #[arg(value_name = "TERM")]
    pub term: String,
}

const DEFAULT_TABLE: &str = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}";

struct Filters {
    stars: u64,
    official: Option<bool>,
    automated: Option<bool>,
}

fn parse_filters(raw: &[String]) -> anyhow::Result<Filters> {
    let mut f = Filters {
        stars: 0,
        official: None,
        automated: None,
    };
    for item in raw {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| anyhow!("bad format of filter (expected name=value)"))?;
        let bool_of = |v: &str| match v.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err(anyhow!("invalid filter '{k}={v}'")),
        };
        match k.to_ascii_lowercase().as_str() {
            "stars" => {
                f.stars = v
                    .parse()
                    .map_err(|_| anyhow!("invalid filter 'stars={v}'"))?
            }
            "is-official" => f.official = Some(bool_of(v)?),
            "is-automated" => f.automated = Some(bool_of(v)?),
            _ => bail!("invalid filter '{k}'"),
        }
    }
    Ok(f)
}

fn row(r: &SearchResult, no_trunc: bool) -> Value {
    let ok = |b: bool| if b { "[OK]" } else { "" };
    let desc = r.description.replace('\n', " ");
    let desc = if no_trunc {
        desc
    } else {
        crate::units::ellipsis(&desc, 45)
    };
    json!({
        "Name": r.name,
        "Description": desc,
        "StarCount": r.star_count.to_string(),
        "IsOfficial": ok(r.is_official),
        "IsAutomated": ok(r.is_automated),
    })
}

pub fn run(_ctx: &Ctx, args: SearchArgs) -> anyhow::Result<()> {
    if !(1..=100).contains(&args.limit) {
        bail!("limit {} is outside the range of [1, 100]", args.limit);
    }
    let filters = parse_filters(&args.filter)?;
    let (domain, term) = split_search_term(&args.term);
    let client = Client::new(client_options(args.insecure)?)?;
    let rt = runtime()?;
    let results = rt.block_on(client.search(&domain, &term, args.limit))?;
    let rows: Vec<Value> = results
        .iter()
        .filter(|r| r.star_count >= filters.stars)
        .filter(|r| filters.official.is_none_or(|o| o == r.is_official))
        .filter(|r| filters.automated.is_none_or(|a| a == r.is_automated))
        .map(|r| row(r, args.no_trunc))
        .collect();
    let headers = json!({
        "Name": "NAME",
        "Description": "DESCRIPTION",
        "StarCount": "STARS",
        "IsOfficial": "OFFICIAL",
        "IsAutomated": "AUTOMATED",
    });
    crate::format::write_rows(
        &mut std::io::stdout().lock(),
        args.format.as_deref(),
        DEFAULT_TABLE,
        &headers,
        &rows,
    )
}
