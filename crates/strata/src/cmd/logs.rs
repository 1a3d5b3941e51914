//! `strata logs` — Docker's `docker logs`: the container's output from its json-file log,
//! stdout records to stdout and stderr records to stderr; `--tail N`, `-t/--timestamps`,
//! `-f/--follow` (until the container stops).

use std::io::{BufRead, BufReader, Seek, Write};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use strata_runtime::state::LogRecord;

use crate::Ctx;
use crate::cmd::container;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for every line)
    #[arg(short = 'n', long, default_value = "all", allow_hyphen_values = true)]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

fn emit(rec: &LogRecord, timestamps: bool) {
    let text = if timestamps {
        format!("{} {}", rec.time, rec.log)
    } else {
        rec.log.clone()
    };
    if rec.stream == "stderr" {
        let _ = std::io::stderr().write_all(text.as_bytes());
    } else {
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        let _ = o.flush();
    }
}

pub fn run(ctx: &Ctx, args: LogsArgs) -> anyhow::Result<()> {
    let cs = container::containers(ctx)?;
    let id = container::resolve(&cs, &args.container)?;
    let c = cs.load(&id)?;
    let path = c.log_path();
    // As Docker 20.10's daemon: a negative or unreadable count means every line.
    let tail: Option<usize> = args
        .tail
        .parse::<i64>()
        .ok()
        .and_then(|n| usize::try_from(n).ok());
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(_) if !args.follow => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    let mut reader = BufReader::new(file);
    let mut records: Vec<LogRecord> = Vec::new();
    let mut line = String::new();
    while reader.read_line(&mut line)? > 0 {
        if line.ends_with('\n') {
            if let Ok(r) = serde_json::from_str(&line) {
                records.push(r);
            }
            line.clear();
        } else {
            break;
        }
    }
    let skip = tail.map_or(0, |t| records.len().saturating_sub(t));
    for r in &records[skip..] {
        emit(r, args.timestamps);
    }
    if !args.follow {
        return Ok(());
    }
    let mut pos = reader.stream_position()? - line.len() as u64;
    let mut partial = String::new();
    loop {
        let alive = cs.monitor_alive(&id);
        let mut f = std::fs::File::open(&path)?;
        f.seek(std::io::SeekFrom::Start(pos))?;
        let mut r = BufReader::new(f);
        loop {
            let n = r.read_line(&mut partial)?;
            if n == 0 || !partial.ends_with('\n') {
                break;
            }
            pos += partial.len() as u64;
            if let Ok(rec) = serde_json::from_str::<LogRecord>(&partial) {
                emit(&rec, args.timestamps);
            }
            partial.clear();
        }
        partial.clear();
        if !alive {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
