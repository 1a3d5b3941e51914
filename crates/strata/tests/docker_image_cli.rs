//! Docker CLI parity of the image commands (`images`, `inspect`, `history`, `tag`, `rmi`,
//! `save`, `load`, `image prune`): the same images are put into a Strata store and a private
//! Docker 20.10 daemon (a `strata save` archive loaded by `docker load`, so the image IDs are
//! the same), then each case runs the same command line against both and compares exit
//! status, stdout and stderr.
//!
//! Outputs are normalised only where values legitimately differ:
//! * relative times (`3 seconds ago`) tick between the two runs, so they are masked and the
//!   columns around them compared as cells; alignment is pinned by the cases whose formats
//!   show no relative time;
//! * Docker lists the repositories of one image in Go map order (random), so rows are
//!   compared sorted within each run of rows of the same image;
//! * `inspect`: `Metadata.LastTagTime` (when each side tagged), `GraphDriver.Name` (`vfs`
//!   there, `strata` here) and the `Descriptor` Strata adds at the end (as newer Docker
//!   releases do; Strata's own tests read it);
//! * `Total reclaimed space` of `image prune`: Docker counts its unpacked layers, Strata the
//!   compressed blobs and unpacked layers it really frees.
//!
//! `--format` templates run on the Go types Docker's CLI uses (`types.ImageInspect` with the
//! raw-JSON fallback, the `images`/`history` row contexts), so the cases compare Go's printing
//! of structs, nil slices and maps, and its errors. Usage errors exit as Docker's CLI does.
//!
//! Strata has no daemon, but where Docker's CLI prints `Error response from daemon: …` Strata
//! prints the same line: scripts match these texts, and `rmi` and the container commands
//! already speak that way. Where Docker's CLI words an error itself (`Error: No such image:
//! x` of `rmi` and `inspect`, `Error parsing reference: …` of `tag`) the text is the CLI's.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{Dockerd, Env};

fn skip_reason() -> Option<String> {
    common::docker_skip_reason(&[], false)
}

/// What one command printed and how it ended.
#[derive(Debug, Clone, PartialEq)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(mut cmd: Command, stdin: Option<&Path>) -> Out {
    match stdin {
        Some(p) => cmd.stdin(std::fs::File::open(p).expect("stdin file")),
        None => cmd.stdin(Stdio::null()),
    };
    let out = cmd.output().expect("spawn");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// How a case's outputs are normalised before they are compared.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Norm {
    /// Mask relative times and compare table cells rather than padding.
    Since,
    /// Sort rows within each run of rows that show the same image ID.
    Rows,
    /// `inspect` JSON: LastTagTime, GraphDriver.Name, Strata's Descriptor.
    Inspect,
    /// Sort all stdout lines (Docker's order is a Go map's).
    Sorted,
    /// Mask the amount of `Total reclaimed space`.
    Reclaimed,
    /// Mask the relative time in `{{json .}}` rows (`"CreatedSince":"…"`).
    JsonSince,
    /// Compare the exit status only (Docker's usage texts name `docker` and its own help).
    Status,
}

/// `"CreatedSince":"3 seconds ago"` → `"CreatedSince":<since>`.
fn mask_json_since(s: &str) -> String {
    const KEY: &str = "\"CreatedSince\":\"";
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(KEY) {
        out.push_str(&rest[..i + KEY.len() - 1]);
        rest = &rest[i + KEY.len()..];
        let end = rest.find('"').map_or(rest.len(), |e| e + 1);
        out.push_str("<since>");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// `N seconds ago`, `About a minute ago`, `Less than a second ago` … → `<since>`.
fn mask_since(s: &str) -> String {
    const PHRASES: [&str; 3] = ["Less than a second", "About a minute", "About an hour"];
    const UNITS: [&str; 14] = [
        "second", "seconds", "minute", "minutes", "hour", "hours", "day", "days", "week", "weeks",
        "month", "months", "year", "years",
    ];
    s.lines()
        .map(|line| {
            let mut l = line.to_string();
            for p in PHRASES {
                l = l.replace(&format!("{p} ago"), "<since>");
            }
            let words: Vec<&str> = l.split(' ').collect();
            let mut out: Vec<String> = Vec::new();
            let mut i = 0;
            while i < words.len() {
                if i + 2 < words.len()
                    && !words[i].is_empty()
                    && words[i].bytes().all(|b| b.is_ascii_digit())
                    && UNITS.contains(&words[i + 1])
                    && words[i + 2] == "ago"
                {
                    out.push("<since>".into());
                    i += 3;
                } else {
                    out.push(words[i].to_string());
                    i += 1;
                }
            }
            // Cells, not padding: runs of two or more spaces separate columns.
            let joined = out.join(" ");
            let cells: Vec<&str> = joined
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            cells.join(" | ")
        })
        .map(|l| l + "\n")
        .collect()
}

/// The first image ID shown on a line (12 hex digits or `sha256:` and 64).
fn id_token(line: &str) -> Option<String> {
    line.split(|c: char| c.is_whitespace() || c == '"' || c == ',')
        .map(|w| w.strip_prefix("sha256:").unwrap_or(w))
        .find(|w| {
            (w.len() == 12 || w.len() == 64)
                && w.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .map(|w| w[..12].to_string())
}

fn sort_runs(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let key = id_token(lines[i]);
        let mut j = i + 1;
        while key.is_some() && j < lines.len() && id_token(lines[j]) == key {
            j += 1;
        }
        let mut run: Vec<&str> = lines[i..j].to_vec();
        run.sort_unstable();
        out.extend(run.iter().map(|l| format!("{l}\n")));
        i = j;
    }
    out.concat()
}

fn normalise_inspect(s: &str) -> String {
    let mut out = String::new();
    let mut skipping_descriptor = false;
    let lines: Vec<&str> = s.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if skipping_descriptor {
            if t.starts_with('}') {
                skipping_descriptor = false;
            }
            continue;
        }
        if t.starts_with("\"Descriptor\": {") {
            skipping_descriptor = true;
            // The line before lost its trailing comma's reason: drop it.
            if out.ends_with(",\n") {
                out.truncate(out.len() - 2);
                out.push('\n');
            }
            continue;
        }
        if t.starts_with("\"LastTagTime\":") {
            out.push_str("\"LastTagTime\": <time>\n");
            continue;
        }
        if t.starts_with("\"Name\":") && i > 0 && lines[i - 1].trim_start().starts_with("\"Data\":")
        {
            out.push_str("\"Name\": <driver>\n");
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    // A template's single-line `{{json .}}` form.
    if let Some(i) = out.find(",\"Descriptor\":{") {
        let end = out[i..].find('}').map(|e| i + e + 1).unwrap_or(out.len());
        out.replace_range(i..end, "");
    }
    out.replace("\"Name\":\"vfs\"", "\"Name\":<driver>")
        .replace("\"Name\":\"strata\"", "\"Name\":<driver>")
}

fn normalise(mut o: Out, norms: &[Norm]) -> Out {
    // Both tools point at their own help.
    o.stderr = o.stderr.replace("See 'docker ", "See 'strata ");
    for n in norms {
        match n {
            Norm::JsonSince => o.stdout = mask_json_since(&o.stdout),
            Norm::Status => {
                o.stdout.clear();
                o.stderr.clear();
            }
            Norm::Since => o.stdout = mask_since(&o.stdout),
            Norm::Rows => o.stdout = sort_runs(&o.stdout),
            Norm::Inspect => o.stdout = normalise_inspect(&o.stdout),
            Norm::Sorted => {
                let mut l: Vec<&str> = o.stdout.lines().collect();
                l.sort_unstable();
                o.stdout = l.iter().map(|l| format!("{l}\n")).collect();
            }
            Norm::Reclaimed => {
                o.stdout = o
                    .stdout
                    .lines()
                    .map(|l| {
                        if l.starts_with("Total reclaimed space: ") {
                            "Total reclaimed space: <size>\n".to_string()
                        } else {
                            format!("{l}\n")
                        }
                    })
                    .collect();
            }
        }
    }
    o
}

/// Both sides: a Strata store and a private dockerd with the same images.
struct Sides<'a> {
    env: &'a Env,
    docker: &'a Dockerd,
    failures: Vec<String>,
    cases: usize,
}

impl Sides<'_> {
    fn docker(&self, args: &[&str], stdin: Option<&Path>) -> Out {
        let mut c = self.docker.cmd();
        c.args(args);
        run(c, stdin)
    }

    fn strata(&self, args: &[&str], stdin: Option<&Path>) -> Out {
        let mut c = self.env.cmd();
        c.args(args);
        run(c, stdin)
    }

    /// Run `args` on both sides and compare.
    fn case(&mut self, args: &[&str], norms: &[Norm]) {
        self.case_with(args, args, None, None, norms);
    }

    /// Run `d_args` on Docker (stdin `d_in`) and `s_args` on Strata (stdin `s_in`).
    fn case_with(
        &mut self,
        d_args: &[&str],
        s_args: &[&str],
        d_in: Option<&Path>,
        s_in: Option<&Path>,
        norms: &[Norm],
    ) {
        self.cases += 1;
        let d = normalise(self.docker(d_args, d_in), norms);
        let s = normalise(self.strata(s_args, s_in), norms);
        if d != s {
            self.failures.push(format!(
                "=== {s_args:?}\n--- docker (exit {:?})\nstdout:\n{}stderr:\n{}--- strata (exit {:?})\nstdout:\n{}stderr:\n{}",
                d.code, d.stdout, d.stderr, s.code, s.stdout, s.stderr
            ));
        }
    }

    /// A step that must succeed on both sides (its output is not compared).
    fn both_ok(&self, args: &[&str]) {
        let d = self.docker(args, None);
        assert_eq!(d.code, Some(0), "docker {args:?}: {}", d.stderr);
        let s = self.strata(args, None);
        assert_eq!(s.code, Some(0), "strata {args:?}: {}", s.stderr);
    }
}

/// Wait until the clock has moved to the next second: Docker orders images by `Created`
/// in whole seconds.
fn next_second() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 50_000_000,
    ));
}

fn tiny_dir(env: &Env, name: &str, content: &str) -> PathBuf {
    let dir = env.path(name);
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    std::fs::write(dir.join("etc/content"), content).unwrap();
    dir
}

#[test]
fn image_commands_match_docker() {
    if let Some(reason) = skip_reason() {
        eprintln!("skipping: {reason}");
        return;
    }
    let env = Env::new();
    let docker = Dockerd::start().unwrap_or_else(|e| panic!("{e}"));

    // The images, made by Strata: a base, one with labels and env, one untagged, and one
    // built with several history steps (some without a layer) and a long CREATED BY.
    let rootfs = env.busybox_rootfs();
    let bb = env
        .ok(&[
            "import",
            "-c",
            "CMD [\"/bin/sh\"]",
            "-c",
            "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            rootfs.to_str().unwrap(),
            "busybox:latest",
        ])
        .trim()
        .to_string();
    next_second();
    let lab = env
        .ok(&[
            "import",
            "-c",
            "LABEL team=core",
            "-c",
            "LABEL tier=web",
            "-c",
            "ENV A=1 B=2",
            tiny_dir(&env, "lab", "hi\n").to_str().unwrap(),
            "lab:1",
        ])
        .trim()
        .to_string();
    next_second();
    let dangling = env
        .ok(&[
            "import",
            tiny_dir(&env, "dangling", "hello2\n").to_str().unwrap(),
        ])
        .trim()
        .to_string();
    next_second();
    let ctx = env.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f.txt"), "hello\n").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\n\
         LABEL org.example.version=\"1.0\" maintainer=\"a&b <x@y>\"\n\
         ENV GREETING=\"hello world\" EMPTY=\n\
         COPY f.txt /data/f.txt\n\
         LABEL org.example.description=\"a label long enough to be truncated in the history\"\n\
         EXPOSE 8080/tcp\n\
         VOLUME /data\n\
         WORKDIR /data\n\
         ENTRYPOINT [\"/bin/sh\", \"-c\"]\n\
         CMD [\"cat /data/f.txt\"]\n",
    )
    .unwrap();
    env.ok(&["build", "-t", "app:1", ctx.to_str().unwrap()]);
    let app = env
        .ok(&["inspect", "-f", "{{.Id}}", "app:1"])
        .trim()
        .to_string();
    for (src, dst) in [
        ("busybox", "myrepo:1"),
        ("busybox", "myrepo:2"),
        ("lab:1", "localhost:5000/x/y:v"),
    ] {
        env.ok(&["tag", src, dst]);
    }
    let all = env.path("all.tar");
    let all_s = all.to_str().unwrap().to_string();
    env.ok(&[
        "save",
        "-o",
        &all_s,
        "busybox:latest",
        "myrepo:1",
        "myrepo:2",
        "lab:1",
        "localhost:5000/x/y:v",
        "app:1",
        &dangling,
    ]);
    let short = |id: &str| id.trim_start_matches("sha256:")[..12].to_string();
    let (bb_s, lab_s, dangling_s, app_s) = (short(&bb), short(&lab), short(&dangling), short(&app));

    let mut t = Sides {
        env: &env,
        docker: &docker,
        failures: Vec::new(),
        cases: 0,
    };
    use Norm::*;

    // load: Docker loads Strata's archive; Strata loads its own images again, which must
    // neither duplicate them nor print other lines. The archive's last image has no tag, so
    // Docker 20.10 follows the tags with a `Loaded image ID:` line for every image.
    t.case(&["load", "-i", &all_s], &[]);

    // images
    t.case(&["images"], &[Since, Rows]);
    t.case(&["image", "ls"], &[Since, Rows]);
    t.case(&["images", "-a"], &[Since, Rows]);
    t.case(&["images", "--digests"], &[Since, Rows]);
    t.case(&["images", "--no-trunc"], &[Since, Rows]);
    t.case(&["images", "-q"], &[]);
    t.case(&["images", "-q", "--no-trunc"], &[]);
    t.case(
        &[
            "images",
            "--format",
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}",
        ],
        &[Rows],
    );
    t.case(
        &[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}",
        ],
        &[Rows],
    );
    t.case(
        &[
            "images",
            "--format",
            "{{.ID}} {{.Digest}} {{.CreatedAt}}",
            "lab",
        ],
        &[Rows],
    );
    t.case(
        &["images", "--format", "table {{.ID}}\t{{.CreatedSince}}"],
        &[Since],
    );
    t.case(&["images", "myrepo"], &[Since, Rows]);
    t.case(&["images", "myrepo:2"], &[Since]);
    t.case(&["images", "localhost:5000/x/y"], &[Since]);
    t.case(&["images", "nonexistent"], &[]);
    t.case(&["images", "-f", "dangling=true"], &[Since]);
    t.case(&["images", "-q", "-f", "dangling=false"], &[]);
    t.case(&["images", "-q", "-f", "label=team"], &[]);
    t.case(&["images", "-q", "-f", "label=team=core"], &[]);
    t.case(&["images", "-q", "-f", "label=team=other"], &[]);
    t.case(&["images", "-q", "-f", "before=lab:1"], &[]);
    t.case(&["images", "-q", "-f", &format!("since={bb_s}")], &[]);
    t.case(&["images", "-q", "-f", "reference=my*"], &[]);
    t.case(&["images", "-q", "-f", "reference=*:2"], &[]);
    t.case(
        &[
            "images",
            "-q",
            "-f",
            "reference=busybox",
            "-f",
            "reference=lab",
        ],
        &[],
    );
    t.case(&["images", "-q", "-f", "reference=localhost:5000/*/*"], &[]);
    t.case(&["images", "-f", "since=nonexistent"], &[]);
    t.case(&["images", "-f", "bogus=1"], &[]);
    t.case(&["images", "-f", "dangling=maybe"], &[]);
    t.case(&["images", "-f", "nokey"], &[]);
    // Rows are Docker's imageContext: `{{json .}}` sorted and HTML-escaped (`\u003cnone\u003e`),
    // VirtualSize with 4 digits, unknown names and bad templates refused with status 1.
    t.case(&["images", "--format", "{{json .}}", "lab"], &[JsonSince]);
    t.case(
        &["images", "--format", "{{.VirtualSize}} {{.Size}}"],
        &[Rows],
    );
    t.case(&["images", "--format", "{{.Nope}}"], &[]);
    t.case(&["images", "--format", "table {{.ID"], &[]);
    t.case(&["images", "--format", "{{index .ID 100}}"], &[]);

    // inspect
    t.case(&["image", "inspect", "lab:1"], &[Inspect]);
    t.case(&["inspect", "app:1"], &[Inspect]);
    t.case(&["inspect", "lab:1", "busybox"], &[Inspect]);
    t.case(&["inspect", &bb_s], &[Inspect]);
    t.case(&["inspect", "nonexistent"], &[]);
    t.case(&["image", "inspect", "nonexistent"], &[]);
    t.case(&["inspect", "--type", "image", "nonexistent"], &[]);
    t.case(&["inspect", "-f", "{{.Id}}", "lab:1", "nonexistent"], &[]);
    t.case(&["inspect", "--type", "bogus", "lab:1"], &[]);
    for f in [
        "{{.Id}}",
        "{{json .Config}}",
        "{{index .RepoTags 0}}",
        "{{json .RepoTags}}",
        "{{.RepoTags}}",
        "{{range .RootFS.Layers}}{{println .}}{{end}}",
        "{{.Config.Env}}",
        "{{.Size}}",
        "{{.VirtualSize}}",
        "{{len .RootFS.Layers}}",
        "{{.Os}}/{{.Architecture}}",
        "{{.Config.Labels}}",
        "{{index .Config.Labels \"maintainer\"}}",
        "{{.Config.Labels.nope}}",
        "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}",
        "{{json .Config.Entrypoint}} {{.Config.WorkingDir}}",
        "{{.Container}}|{{.Parent}}|{{.Comment}}",
    ] {
        t.case(&["inspect", "-f", f, "app:1"], &[]);
    }
    t.case(
        &["inspect", "--type", "image", "-f", "{{.Id}}", &lab_s],
        &[],
    );
    // Templates run on Docker's typed ImageInspect (structs in field order, nil slices `[]`,
    // nil maps `map[]`, `struct{}` as `{}`), falling back to the raw JSON with
    // missingkey=error when the type has no such field; failures are `template parsing
    // error: …`, exit 1, after the other images' output.
    for f in [
        "{{.Config.Cmd}}",
        "{{.Config.Entrypoint}}",
        "{{.Config}}",
        "{{.ContainerConfig}}",
        "{{.RootFS}}",
        "{{.GraphDriver.Data}}",
        "{{.Config.ExposedPorts}} {{.Config.Volumes}} {{.Config.Labels}}",
        "{{.Config.Healthcheck}}|{{.Config.StopTimeout}}|{{.Config.Shell}}|{{.Config.OnBuild}}",
        "{{.ID}}",
        "{{.Nope}}",
        "{{.Id}}{{.Config.Nope}}",
        "{{.Config.Cmd.Foo}}",
        "{{.Config.Labels.nope}}",
        "{{index .Config.Labels \"nope\"}}",
        "{{index .Config.Labels \"nope\"}}|{{index .Config.ExposedPorts \"8080/tcp\"}}",
        "{{range $k, $v := .Config.ExposedPorts}}{{$k}}={{$v}};{{end}}",
        "{{if .Config.Labels}}labels{{else}}none{{end}} {{len .Config.Env}}",
        "{{json .Config.ExposedPorts}} {{json .Config.Shell}}",
    ] {
        t.case(&["inspect", "-f", f, "app:1", "lab:1", &dangling_s], &[]);
    }
    t.case(
        &[
            "inspect",
            "-f",
            "{{.Nope}}",
            "app:1",
            "nonexistent",
            "lab:1",
        ],
        &[],
    );
    // A malformed template is refused before any lookup, with status 64.
    t.case(&["inspect", "-f", "{{.Id", "nonexistent"], &[]);
    t.case(&["image", "inspect", "-f", "{{nofunc .}}", "app:1"], &[]);

    // history
    t.case(&["history", "app:1"], &[Since]);
    t.case(&["image", "history", "busybox"], &[Since]);
    t.case(&["history", "--no-trunc", "app:1"], &[Since]);
    t.case(&["history", "-q", "app:1"], &[]);
    t.case(&["history", "-q", "--no-trunc", "app:1"], &[]);
    t.case(&["history", "-H=false", "app:1"], &[]);
    t.case(&["history", "-H=false", "lab:1"], &[]);
    t.case(
        &[
            "history",
            "--format",
            "{{.ID}}|{{.CreatedBy}}|{{.Size}}",
            "app:1",
        ],
        &[],
    );
    t.case(
        &[
            "history",
            "--format",
            "table {{.ID}}\t{{.Size}}\t{{.Comment}}",
            "app:1",
        ],
        &[],
    );
    t.case(
        &[
            "history",
            "-H=false",
            "--format",
            "{{.CreatedSince}} {{.Size}}",
            "app:1",
        ],
        &[],
    );
    t.case(&["history", "nonexistent"], &[]);
    t.case(
        &["history", "-H=false", "--format", "{{json .}}", "app:1"],
        &[],
    );
    t.case(&["history", "--format", "{{.Nope}}", "app:1"], &[]);
    t.case(&["history", "--format", "{{.ID", "app:1"], &[]);

    // Usage errors: an unknown flag is status 125 with Docker's text, a wrong number of
    // arguments status 1 (the texts differ: Docker's name `docker` and its usage).
    for args in [
        &["images", "--bogus"][..],
        &["images", "-x"],
        &["image", "ls", "--bogus"],
        &["image", "inspect", "--bogus"],
        &["tag", "--bogus"],
        &["rmi", "--bogus"],
        &["inspect", "--bogus"],
        &["history", "--bogus"],
        &["save", "--bogus"],
        &["load", "--bogus"],
        &["import", "--bogus"],
        &["pull", "--bogus"],
        &["push", "--bogus"],
        &["login", "--bogus"],
        &["logout", "--bogus"],
        &["search", "--bogus"],
        &["build", "--bogus"],
    ] {
        t.case(args, &[]);
    }
    for args in [
        &["images", "a", "b"][..],
        &["image", "ls", "a", "b"],
        &["image", "bogus"],
        &["tag", "a", "b", "c"],
        &["rmi"],
        &["inspect"],
        &["image", "inspect"],
        &["history"],
        &["history", "a", "b"],
        &["save"],
        &["load", "x"],
        &["import"],
        &["pull"],
        &["pull", "a", "b"],
        &["push"],
        &["login", "a", "b"],
        &["logout", "a", "b"],
        &["search"],
        &["build"],
        &["build", "a", "b"],
        &["image", "prune", "x"],
    ] {
        t.case(args, &[Status]);
    }

    // tag: references Docker's client refuses, and a missing source.
    let long_tag = format!("ok:{}", "a".repeat(129));
    let long_name = "a".repeat(256);
    for target in [
        "Upper:1",
        "ok:bad tag",
        long_tag.as_str(),
        long_name.as_str(),
        ":x",
        "a//b",
        "ok:-bad",
        "ok@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ] {
        t.case(&["tag", "busybox", target], &[]);
    }
    t.case(&["tag", "BAD", "ok:1"], &[]);
    t.case(&["tag", "nonexistent", "ok:1"], &[]);
    t.case(&["image", "tag", &lab_s, "tagged:by-id"], &[]);
    t.case(&["images", "-q", "tagged"], &[]);

    // save / load both ways.
    let dir = env.path("xfer");
    std::fs::create_dir_all(&dir).unwrap();
    let p = |n: &str| dir.join(n).to_str().unwrap().to_string();
    // A Strata archive of several images with several tags, loaded by both.
    env.ok(&["save", "-o", &p("s1.tar"), "lab:1", "busybox", "myrepo:1"]);
    t.case(&["load", "-i", &p("s1.tar")], &[]);
    // A Docker archive, with an untagged image by ID last, loaded by both.
    t.docker
        .run(&["save", "-o", &p("d1.tar"), "app:1", "myrepo:2", &dangling_s]);
    t.case(&["load", "-i", &p("d1.tar")], &[]);
    // Through stdout and stdin: each loads the other's archive.
    let d2 = std::fs::File::create(p("d2.tar")).unwrap();
    let st = docker
        .cmd()
        .args(["save", "lab:1"])
        .stdout(d2)
        .status()
        .unwrap();
    assert!(st.success());
    let s2 = std::fs::File::create(p("s2.tar")).unwrap();
    let st = env
        .cmd()
        .args(["save", "lab:1"])
        .stdout(s2)
        .status()
        .unwrap();
    assert!(st.success());
    t.case_with(
        &["load"],
        &["load"],
        Some(Path::new(&p("s2.tar"))),
        Some(Path::new(&p("d2.tar"))),
        &[],
    );
    // By ID: no tag in the archive.
    env.ok(&["save", "-o", &p("s3.tar"), &lab_s]);
    t.docker.run(&["save", "-o", &p("d3.tar"), &lab_s]);
    t.case_with(
        &["load", "-i", &p("s3.tar")],
        &["load", "-i", &p("d3.tar")],
        None,
        None,
        &[],
    );
    t.case(&["load", "-q", "-i", &p("s1.tar")], &[]);
    t.case(&["load", "-i", &p("nonexistent.tar")], &[]);
    // Loading changed nothing that `images` shows.
    t.case(&["images"], &[Since, Rows]);

    // An archive of app:1 by ID, for a dangling image once app:1 is gone.
    env.ok(&["save", "-o", &p("s4.tar"), &app_s]);

    // rmi
    t.both_ok(&["tag", "busybox", "rm1:a"]);
    t.both_ok(&["tag", "busybox", "rm1:b"]);
    t.case(&["rmi", "rm1:a", "nonexistent", "rm1:b"], &[]);
    t.case(&["rmi", "-f", "nonexistent"], &[]);
    t.case(&["rmi", &bb_s], &[]);
    t.case(&["rmi", "Bad:x"], &[]);
    t.case(&["image", "rm", "tagged:by-id"], &[]);
    t.case(&["rmi", "app:1"], &[]);
    t.case(&["rmi", &dangling], &[]);
    t.case(&["rmi", "-f", &lab_s], &[]);
    t.case(&["images"], &[Since, Rows]);

    // image prune: a dangling image (made on both sides by loading it by ID).
    t.both_ok(&["load", "-i", &p("s4.tar")]);
    t.case(&["image", "prune", "-f"], &[Reclaimed]);
    t.case(&["image", "prune", "-f"], &[]);
    t.case(&["image", "prune", "-f", "--filter", "bogus=1"], &[]);
    t.case(&["image", "prune", "-f", "--filter", "until=bad"], &[]);
    t.case(&["image", "prune", "-a", "-f"], &[Sorted, Reclaimed]);
    t.case(&["images"], &[]);

    assert!(
        t.failures.is_empty(),
        "{} of {} cases differ from Docker:\n{}",
        t.failures.len(),
        t.cases,
        t.failures.join("\n")
    );
}
