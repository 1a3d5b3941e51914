//! `strata ps` — Docker's `docker ps`: running containers (`-a` all), Docker's columns
//! (CONTAINER ID, IMAGE, COMMAND, CREATED, STATUS, PORTS, NAMES), `-q`, `--format`,
//! `--no-trunc`, `-l`/`-n`, `--filter` (`status`, `name`, `id`, `exited`, `label`: values of
//! one key are alternatives, keys must all match; a status filter lists stopped containers
//! without `-a`, as Docker's daemon does). Statuses are read through the monitor locks, so a container
//! whose monitor was killed shows as exited, never as running.

use clap::Args;
use serde_json::json;

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', or a Go template)
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last", default_value_t = -1)]
    pub last: i64,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Filter output based on conditions provided (status=, name=, id=, exited=, label=)
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
}

/// `--filter` conditions by key.
type Filters = std::collections::BTreeMap<String, Vec<String>>;

fn parse_filters(raw: &[String]) -> anyhow::Result<Filters> {
    let mut f = Filters::new();
    for r in raw {
        let Some((k, v)) = r.split_once('=') else {
            anyhow::bail!("bad format of filter (expected name=value)");
        };
        let k = k.trim().to_ascii_lowercase();
        match k.as_str() {
            "status" => {
                const STATES: [&str; 7] = [
                    "created",
                    "running",
                    "paused",
                    "restarting",
                    "removing",
                    "exited",
                    "dead",
                ];
                if !STATES.contains(&v) {
                    anyhow::bail!("Invalid filter 'status={v}'");
                }
            }
            "exited" => {
                v.parse::<i64>()
                    .map_err(|_| anyhow::anyhow!("Invalid filter 'exited={v}'"))?;
            }
            "name" | "id" | "label" => {}
            other => anyhow::bail!("Invalid filter '{other}'"),
        }
        f.entry(k).or_default().push(v.to_string());
    }
    Ok(f)
}

/// Whether container `c` passes every filter key.
fn matches(c: &strata_runtime::state::Container, f: &Filters) -> bool {
    for (k, values) in f {
        let any = match k.as_str() {
            "status" => values.iter().any(|v| v == c.state.status.as_str()),
            // A regular expression matched anywhere in the name, with or without
            // Docker's leading slash.
            "name" => {
                let slashed = format!("/{}", c.config.name);
                values
                    .iter()
                    .any(|v| regex_match(v, &slashed) || regex_match(v, &c.config.name))
            }
            "id" => values.iter().any(|v| c.config.id.starts_with(v.as_str())),
            // Only containers that ran and stopped have an exit code to match.
            "exited" => {
                c.state.status == strata_runtime::state::Status::Exited
                    && values
                        .iter()
                        .any(|v| v.parse::<i64>().ok() == Some(i64::from(c.state.exit_code)))
            }
            "label" => values.iter().any(|v| match v.split_once('=') {
                Some((lk, lv)) => c.config.labels.get(lk).is_some_and(|x| x == lv),
                None => c.config.labels.contains_key(v.as_str()),
            }),
            _ => true,
        };
        if !any {
            return false;
        }
    }
    true
}

/// Whether regular expression `re` matches somewhere in `text`, for the forms name
/// filters use: literal characters, `.`, `*` after a character or `.`, `^` and `$`
/// anchors, `\\` escapes (the matcher of Kernighan and Pike).
fn regex_match(re: &str, text: &str) -> bool {
    let re: Vec<char> = re.chars().collect();
    let text: Vec<char> = text.chars().collect();
    if let Some(rest) = re.strip_prefix(&['^']) {
        return match_here(rest, &text);
    }
    (0..=text.len()).any(|i| match_here(&re, &text[i..]))
}

fn match_here(re: &[char], text: &[char]) -> bool {
    // One pattern atom: an escaped character, `.`, or a literal.
    let (atom, len) = match re {
        [] => return true,
        ['$'] => return text.is_empty(),
        ['\\', c, ..] => (Some(*c), 2),
        ['.', ..] => (None, 1),
        [c, ..] => (Some(*c), 1),
    };
    let fits = |t: &char| atom.is_none_or(|a| a == *t);
    if re.get(len) == Some(&'*') {
        let rest = &re[len + 1..];
        let mut i = 0;
        loop {
            if match_here(rest, &text[i..]) {
                return true;
            }
            if i < text.len() && fits(&text[i]) {
                i += 1;
            } else {
                return false;
            }
        }
    }
    match text.first() {
        Some(t) if fits(t) => match_here(&re[len..], &text[1..]),
        _ => false,
    }
}

/// Docker's `.CreatedAt`: Go's `time.Time.String()` in local time, to the second
/// (`2024-05-01 10:00:00 +0000 UTC`).
fn created_at(rfc3339: &str) -> String {
    let Ok(t) = rfc3339.parse::<jiff::Timestamp>() else {
        return rfc3339.to_string();
    };
    let z = t.to_zoned(jiff::tz::TimeZone::system());
    z.strftime("%Y-%m-%d %H:%M:%S %z %Z").to_string()
}

pub fn run(ctx: &Ctx, args: PsArgs) -> anyhow::Result<()> {
    let filters = parse_filters(&args.filter).map_err(container::daemon_err)?;
    let cs = container::containers(ctx)?;
    let mut list = cs.list()?;
    let last = if args.latest { 1 } else { args.last };
    let all = args.all || filters.contains_key("status");
    if last >= 0 {
        list.truncate(last as usize);
    } else if !all {
        list.retain(|c| c.state.running());
    }
    let mut kept = Vec::with_capacity(list.len());
    for c in list {
        if matches(&c, &filters) {
            kept.push(c);
        }
    }
    let list = kept;
    if args.quiet {
        for c in &list {
            let id = &c.config.id;
            println!("{}", if args.no_trunc { id } else { &id[..12] });
        }
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|c| {
            let id = if args.no_trunc {
                c.config.id.clone()
            } else {
                c.config.id[..12].to_string()
            };
            json!({
                "ID": id,
                "Image": c.config.image,
                "Command": container::command_text(c, !args.no_trunc),
                "CreatedAt": created_at(&c.config.created),
                "RunningFor": crate::image::since(c.config.created.parse().ok()),
                "Status": container::status_text(c),
                "State": c.state.status.as_str(),
                "Ports": container::ports_text(c),
                "Names": c.config.name,
                "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "Mounts": c.config.mounts.iter().map(|m| if m.kind == "volume" { m.name.clone() } else { m.source.display().to_string() }).collect::<Vec<_>>().join(","),
                "Networks": c.config.network,
            })
        })
        .collect();
    let headers = json!({
        "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
        "RunningFor": "CREATED", "Status": "STATUS", "State": "STATE", "Ports": "PORTS",
        "Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS",
    });
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    crate::format::write_rows(
        &mut out,
        args.format.as_deref(),
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
        &headers,
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::regex_match;

    #[test]
    fn name_patterns() {
        assert!(regex_match("web", "/my-web-1"));
        assert!(regex_match("^/web$", "/web"));
        assert!(!regex_match("^/web$", "/web2"));
        assert!(regex_match("^/w.b", "/wob"));
        assert!(regex_match("^/a.*z$", "/abcz"));
        assert!(!regex_match("^/a\\.b", "/axb"));
        assert!(regex_match("^/a\\.b", "/a.b"));
    }
}
