//! Strata's own best-practice rules (see the table in the [module docs](super)).
//!
//! They read the typed instructions and, for RUN, the command line split into simple commands
//! by [`simple_commands`] — a deliberately small shell reader that knows quotes, escapes,
//! comments and the separators `;`, `&&`, `||`, `|`, `&`, parentheses and newlines, which is
//! all it takes to find `apt-get install` or `npm ci` in a RUN. It does not expand anything.

use strata_oci::Reference;
use strata_patterns::clean_path;

use super::buildkit::{BaseKind, Checked, is_remote_source};
use super::rules::*;
use super::{LintInput, Sink};
use crate::ast::Dockerfile;
use crate::instructions::{Command, CommandKind, MountType, RunCommand, Stage};
use crate::quote::go_quote;
use crate::span::{LineIndex, Span};

/// Run Strata's rules.
pub(crate) fn check(input: &LintInput<'_>, df: &Dockerfile, checked: &Checked, sink: &mut Sink) {
    let stages = &checked.instructions.stages;
    let pip_no_cache_env = stages
        .iter()
        .flat_map(|s| &s.commands)
        .any(|c| match &c.kind {
            CommandKind::Env(pairs) => pairs.iter().any(|p| p.key == "PIP_NO_CACHE_DIR"),
            _ => false,
        });
    for (stage, info) in stages.iter().zip(&checked.stages) {
        if let BaseKind::Image(r) = &info.base {
            base_image_pinned(r, stage.from.base_span, sink);
        }
        consecutive_runs(stage, sink);
        copy_all_before_install(stage, sink);
        for cmd in &stage.commands {
            match &cmd.kind {
                CommandKind::Run(run) => {
                    let commands = run_commands(run);
                    apt_get_update_alone(&commands, cmd.meta.span, sink);
                    package_cache_left(&commands, run, pip_no_cache_env, cmd.meta.span, sink);
                }
                CommandKind::Add(add) if add.unpack != Some(true) => add_for_local_file(cmd, sink),
                _ => {}
            }
        }
    }
    if let (Some(stage), Some(info)) = (stages.last(), checked.stages.last()) {
        root_user(stage, info, sink);
    }
    if stages.len() == 1
        && let (Some(stage), Some(info)) = (stages.first(), checked.stages.first())
    {
        compiler_in_single_stage(stage, &info.base, sink);
    }
    missing_dockerignore(input, df, sink);
}

/// Split shell text into simple commands, each a list of words with quotes removed.
pub(crate) fn simple_commands(script: &str) -> Vec<Vec<String>> {
    let mut commands: Vec<Vec<String>> = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = script.chars().peekable();
    let end_word = |word: &mut String, in_word: &mut bool, words: &mut Vec<String>| {
        if *in_word {
            words.push(std::mem::take(word));
            *in_word = false;
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') | None => {}
                Some(n) => {
                    word.push(n);
                    in_word = true;
                }
            },
            '\'' => {
                in_word = true;
                for n in chars.by_ref() {
                    if n == '\'' {
                        break;
                    }
                    word.push(n);
                }
            }
            '"' => {
                in_word = true;
                while let Some(n) = chars.next() {
                    match n {
                        '"' => break,
                        '\\' => {
                            if let Some(e) = chars.next() {
                                word.push(e);
                            }
                        }
                        _ => word.push(n),
                    }
                }
            }
            '#' if !in_word => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        break;
                    }
                }
                end_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            ';' | '&' | '|' | '\n' | '(' | ')' | '{' | '}' => {
                end_word(&mut word, &mut in_word, &mut words);
                if !words.is_empty() {
                    commands.push(std::mem::take(&mut words));
                }
            }
            c if c.is_whitespace() => end_word(&mut word, &mut in_word, &mut words),
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    end_word(&mut word, &mut in_word, &mut words);
    if !words.is_empty() {
        commands.push(words);
    }
    commands
}

/// A simple command with its program name normalised: leading `VAR=x` assignments, `sudo`,
/// `env`, and a directory prefix are dropped, and `python -m pip` becomes `pip`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimpleCommand {
    pub program: String,
    pub args: Vec<String>,
}

impl SimpleCommand {
    fn from_words(words: &[String]) -> Option<SimpleCommand> {
        let mut rest = words;
        loop {
            let first = rest.first()?;
            let is_assignment = first
                .split_once('=')
                .is_some_and(|(k, _)| !k.is_empty() && !k.starts_with('-'));
            if is_assignment || first == "sudo" || first == "env" || first == "exec" {
                rest = &rest[1..];
            } else {
                break;
            }
        }
        let program = rest.first()?.rsplit('/').next().unwrap_or("").to_string();
        let args: Vec<String> = rest[1..].to_vec();
        if program.starts_with("python") && args.first().is_some_and(|a| a == "-m") {
            let module = args.get(1)?.clone();
            return Some(SimpleCommand {
                program: module,
                args: args[2..].to_vec(),
            });
        }
        Some(SimpleCommand { program, args })
    }

    /// The first argument that is not an option.
    fn subcommand(&self) -> Option<&str> {
        self.args
            .iter()
            .map(String::as_str)
            .find(|a| !a.starts_with('-'))
    }

    fn has_arg(&self, arg: &str) -> bool {
        self.args.iter().any(|a| a == arg)
    }

    fn is(&self, names: &[&str]) -> bool {
        names.contains(&self.program.as_str())
    }
}

/// The simple commands a RUN executes (its command line and its heredoc scripts).
fn run_commands(run: &RunCommand) -> Vec<SimpleCommand> {
    let mut script = if run.cmd.prepend_shell {
        run.cmd.cmd_line.join(" ")
    } else {
        String::new()
    };
    for f in &run.cmd.files {
        script.push('\n');
        script.push_str(&f.data);
    }
    let mut out: Vec<SimpleCommand> = simple_commands(&script)
        .iter()
        .filter_map(|w| SimpleCommand::from_words(w))
        .collect();
    if !run.cmd.prepend_shell {
        // Exec form: the array is one command, unless it runs a shell with `-c`.
        let argv = &run.cmd.cmd_line;
        match argv.iter().position(|a| a == "-c") {
            Some(i) if i + 1 < argv.len() => {
                out.extend(
                    simple_commands(&argv[i + 1])
                        .iter()
                        .filter_map(|w| SimpleCommand::from_words(w)),
                );
            }
            _ => out.extend(SimpleCommand::from_words(argv)),
        }
    }
    out
}

const APT: [&str; 2] = ["apt-get", "apt"];
const RPM: [&str; 3] = ["yum", "dnf", "microdnf"];

fn is_install(c: &SimpleCommand) -> bool {
    (c.is(&APT) || c.is(&RPM)) && c.subcommand() == Some("install")
        || c.is(&["apk"]) && c.subcommand() == Some("add")
}

fn apt_get_update_alone(commands: &[SimpleCommand], span: Span, sink: &mut Sink) {
    let Some(update) = commands
        .iter()
        .find(|c| c.is(&APT) && c.subcommand() == Some("update"))
    else {
        return;
    };
    let installs = commands.iter().any(|c| {
        c.is(&APT)
            && matches!(
                c.subcommand(),
                Some("install" | "upgrade" | "dist-upgrade" | "full-upgrade")
            )
    });
    if !installs {
        sink.report(
            &APT_GET_UPDATE_ALONE,
            span,
            format!(
                "'{} update' runs without an install in the same RUN; its package index is cached in a layer of its own and goes stale",
                update.program
            ),
        );
    }
}

/// Cache mount targets of a RUN.
fn cache_mount_targets(run: &RunCommand) -> Vec<String> {
    run.mounts
        .iter()
        .filter_map(|m| m.parse_literal().ok())
        .filter(|m| m.kind == MountType::Cache)
        .filter_map(|m| m.target)
        .collect()
}

/// Whether a RUN removes `path` (an `rm` whose argument starts with it).
fn removes(commands: &[SimpleCommand], path: &str) -> bool {
    commands
        .iter()
        .any(|c| c.is(&["rm"]) && c.args.iter().any(|a| a.starts_with(path)))
}

fn package_cache_left(
    commands: &[SimpleCommand],
    run: &RunCommand,
    pip_no_cache_env: bool,
    span: Span,
    sink: &mut Sink,
) {
    let mounts = cache_mount_targets(run);
    let mounted = |prefixes: &[&str]| {
        mounts
            .iter()
            .any(|t| prefixes.iter().any(|p| t.starts_with(p)))
    };
    if let Some(apt) = commands
        .iter()
        .find(|c| c.is(&APT) && c.subcommand() == Some("install"))
        && !removes(commands, "/var/lib/apt/lists")
        && !mounted(&["/var/lib/apt", "/var/cache/apt"])
    {
        sink.report(
                &PACKAGE_CACHE_LEFT,
                span,
                format!(
                    "'{} install' leaves the package lists in the layer; remove /var/lib/apt/lists/* in the same RUN",
                    apt.program
                ),
            );
    }
    let apk_add = commands
        .iter()
        .any(|c| c.is(&["apk"]) && c.subcommand() == Some("add") && !c.has_arg("--no-cache"));
    if apk_add
        && !removes(commands, "/var/cache/apk")
        && !mounted(&["/var/cache/apk", "/etc/apk/cache"])
    {
        sink.report(
            &PACKAGE_CACHE_LEFT,
            span,
            "'apk add' without --no-cache leaves the package index in the layer",
        );
    }
    let pip = commands.iter().find(|c| {
        c.is(&["pip", "pip3"]) && c.subcommand() == Some("install") && !c.has_arg("--no-cache-dir")
    });
    if let Some(pip) = pip
        && !pip_no_cache_env
        && !mounted(&["/root/.cache", "/root/.cache/pip"])
    {
        sink.report(
            &PACKAGE_CACHE_LEFT,
            span,
            format!(
                "'{} install' without --no-cache-dir leaves its download cache in the layer",
                pip.program
            ),
        );
    }
    if let Some(rpm) = commands
        .iter()
        .find(|c| c.is(&RPM) && c.subcommand() == Some("install"))
    {
        let cleaned = commands
            .iter()
            .any(|c| c.is(&RPM) && c.subcommand() == Some("clean"))
            || removes(commands, "/var/cache/yum")
            || removes(commands, "/var/cache/dnf");
        if !cleaned && !mounted(&["/var/cache/yum", "/var/cache/dnf"]) {
            sink.report(
                &PACKAGE_CACHE_LEFT,
                span,
                format!(
                    "'{0} install' leaves the package cache in the layer; run '{0} clean all' in the same RUN",
                    rpm.program
                ),
            );
        }
    }
}

fn base_image_pinned(reference: &str, span: Span, sink: &mut Sink) {
    let Ok(r) = Reference::parse_normalized(reference) else {
        return;
    };
    if r.digest_str().is_some() {
        return;
    }
    let detail = match r.tag() {
        None => format!(
            "Base image '{reference}' has no tag, so it means 'latest'; pin a version (and a digest) for reproducible builds"
        ),
        Some("latest") => format!(
            "Base image '{reference}' uses the 'latest' tag; pin a version (and a digest) for reproducible builds"
        ),
        Some(_) => return,
    };
    sink.report(&BASE_IMAGE_NOT_PINNED, span, detail);
}

fn is_root(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or("");
    name.is_empty() || name == "root" || name == "0"
}

fn root_user(stage: &Stage, info: &super::buildkit::StageInfo, sink: &mut Sink) {
    if !info.user_known {
        // An undescribed base image may set a user; trust names that say so.
        if let BaseKind::Image(r) = &info.base
            && (r.contains("nonroot") || r.contains("rootless"))
        {
            return;
        }
    }
    if !is_root(&info.user) {
        return;
    }
    let last_user = stage
        .commands
        .iter()
        .rev()
        .find(|c| matches!(c.kind, CommandKind::User(_)));
    match last_user {
        Some(cmd) => sink.report(
            &ROOT_USER,
            cmd.meta.span,
            format!(
                "The final stage runs as {}; switch to a non-root user",
                go_quote(&info.user)
            ),
        ),
        None => sink.report(
            &ROOT_USER,
            stage.from_meta.span,
            "The final stage runs as root; add a USER instruction with a non-root user",
        ),
    }
}

/// File names ADD unpacks (tar archives, possibly compressed).
const ARCHIVE_SUFFIXES: [&str; 13] = [
    ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tbz", ".tar.xz", ".txz", ".tar.zst", ".tzst",
    ".gz", ".bz2", ".xz",
];

fn add_for_local_file(cmd: &Command, sink: &mut Sink) {
    let CommandKind::Add(add) = &cmd.kind else {
        return;
    };
    let local: Vec<&String> = add
        .sources
        .source_paths
        .iter()
        .filter(|s| !is_remote_source(s))
        .collect();
    let plain: Vec<String> = local
        .iter()
        .filter(|s| !s.contains('$'))
        .filter(|s| {
            let lower = s.to_lowercase();
            !ARCHIVE_SUFFIXES.iter().any(|x| lower.ends_with(x))
        })
        .map(|s| format!("'{s}'"))
        .collect();
    if plain.is_empty() || plain.len() != local.len() {
        // Only when every source is a plain local file: an archive next to it needs ADD.
        return;
    }
    sink.report(
        &ADD_FOR_LOCAL_FILE,
        cmd.meta.span,
        format!(
            "ADD of local {} does nothing COPY would not do; use COPY",
            plain.join(", ")
        ),
    );
}

fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if bytes >= 1024 * 1024 * 1024 {
        format!("{:.1} GiB", bytes as f64 / (MIB * 1024.0))
    } else {
        format!("{:.1} MiB", bytes as f64 / MIB)
    }
}

fn missing_dockerignore(input: &LintInput<'_>, df: &Dockerfile, sink: &mut Sink) {
    let Some(facts) = &input.context else {
        return;
    };
    if facts.dockerignore.is_some() {
        return;
    }
    let mut items: Vec<String> = Vec::new();
    if facts.has_git {
        items.push(".git".to_string());
    }
    if facts.has_node_modules {
        items.push("node_modules".to_string());
    }
    let mut large: Vec<String> = facts
        .large_files
        .iter()
        .take(3)
        .map(|f| format!("{} ({})", f.path, human_size(f.size)))
        .collect();
    if facts.large_files.len() > 3 {
        large.push("…".to_string());
    }
    match facts.large_files.len() {
        0 => {}
        1 => items.push(format!("the large file {}", large.join(", "))),
        n => items.push(format!("{n} large files: {}", large.join(", "))),
    }
    if items.is_empty() {
        return;
    }
    let list = match items.len() {
        1 => items.remove(0),
        _ => {
            let last = items.pop().unwrap_or_default();
            format!("{} and {last}", items.join(", "))
        }
    };
    let line = df.instructions.first().map_or(1, |i| i.start_line());
    let span = LineIndex::new(input.source).lines_span(line, line);
    sink.report(
        &MISSING_DOCKERIGNORE,
        span,
        format!(
            "The build context has no .dockerignore but contains {list}; a .dockerignore keeps such content out of every build"
        ),
    );
}

fn run_signature(run: &RunCommand) -> (Vec<String>, Vec<String>, String, String) {
    let mut flags = run.flags_used.clone();
    flags.sort();
    (
        flags,
        run.mounts.iter().map(|m| m.raw.clone()).collect(),
        format!("{:?}", run.network),
        format!("{:?}", run.security),
    )
}

fn consecutive_runs(stage: &Stage, sink: &mut Sink) {
    fn joinable(c: &Command) -> Option<&RunCommand> {
        match &c.kind {
            CommandKind::Run(r) if r.cmd.prepend_shell && r.cmd.files.is_empty() => Some(r),
            _ => None,
        }
    }
    let mut i = 0;
    let cmds = &stage.commands;
    while i < cmds.len() {
        let Some(first) = joinable(&cmds[i]) else {
            i += 1;
            continue;
        };
        let sig = run_signature(first);
        let mut j = i + 1;
        while j < cmds.len() && joinable(&cmds[j]).is_some_and(|r| run_signature(r) == sig) {
            j += 1;
        }
        let n = j - i;
        if n > 1 {
            let span = cmds[i].meta.span.join(&cmds[j - 1].meta.span);
            sink.report(
                &CONSECUTIVE_RUN,
                span,
                format!(
                    "{n} consecutive RUN instructions could be combined into one with '&&', saving {} layer{}",
                    n - 1,
                    if n == 2 { "" } else { "s" }
                ),
            );
        }
        i = j;
    }
}

/// A dependency installation, as `program subcommand` text.
fn dependency_install(c: &SimpleCommand) -> Option<String> {
    let sub = c.subcommand().unwrap_or("");
    let positional: Vec<&str> = c
        .args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let hit = match c.program.as_str() {
        // `npm install express` adds a package; only a bare install reads the manifest.
        "npm" => matches!(sub, "install" | "i" | "ci") && positional.len() == 1,
        "pnpm" => matches!(sub, "install" | "i") && positional.len() == 1,
        "yarn" => positional.is_empty() || sub == "install",
        "pip" | "pip3" => {
            sub == "install"
                && (c.has_arg("-r") || c.args.iter().any(|a| a.starts_with("--requirement")))
        }
        "pipenv" | "poetry" | "bundle" | "composer" => sub == "install",
        "go" => sub == "mod" && positional.get(1) == Some(&"download"),
        _ => false,
    };
    if !hit {
        return None;
    }
    Some(match (c.program.as_str(), positional.first()) {
        ("go", _) => "go mod download".to_string(),
        (p, Some(s)) => format!("{p} {s}"),
        (p, None) => p.to_string(),
    })
}

fn copies_whole_context(c: &Command) -> bool {
    let sources = match &c.kind {
        CommandKind::Copy(copy) if copy.from.is_none() => &copy.sources.source_paths,
        CommandKind::Add(add) => &add.sources.source_paths,
        _ => return false,
    };
    sources.iter().any(|s| clean_path(s) == ".")
}

fn copy_all_before_install(stage: &Stage, sink: &mut Sink) {
    let Some(pos) = stage.commands.iter().position(copies_whole_context) else {
        return;
    };
    for cmd in &stage.commands[pos + 1..] {
        let CommandKind::Run(run) = &cmd.kind else {
            continue;
        };
        if let Some(install) = run_commands(run).iter().find_map(dependency_install) {
            let copy = &stage.commands[pos];
            sink.report(
                &COPY_ALL_BEFORE_INSTALL,
                copy.meta.span,
                format!(
                    "The whole build context is copied before '{install}' (line {}), so every source change reinstalls the dependencies; copy the dependency manifests and install them first",
                    cmd.meta.span.start.line
                ),
            );
            return;
        }
    }
}

/// Packages that are compilers or build toolchains.
fn is_compiler_package(pkg: &str) -> bool {
    // Drop version pins: `gcc=4:12.2.0-3`, `gcc~12`, `gcc-12`.
    let name = pkg.split(['=', '~']).next().unwrap_or("");
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    let base = base.strip_suffix('-').unwrap_or(base);
    matches!(
        base,
        "gcc"
            | "g++"
            | "gcc-c++"
            | "build-essential"
            | "build-base"
            | "clang"
            | "llvm"
            | "golang"
            | "golang-go"
            | "rustc"
            | "cargo"
            | "gfortran"
    )
}

/// Images whose purpose is compiling.
const COMPILER_IMAGES: [&str; 6] = ["golang", "rust", "gcc", "maven", "gradle", "sdk"];

fn compiles(c: &SimpleCommand) -> bool {
    let sub = c.subcommand().unwrap_or("");
    match c.program.as_str() {
        "go" => matches!(sub, "build" | "install"),
        "cargo" => matches!(sub, "build" | "install"),
        "mvn" | "mvnw" => c
            .args
            .iter()
            .any(|a| matches!(a.as_str(), "package" | "install" | "verify")),
        "gradle" | "gradlew" => c
            .args
            .iter()
            .any(|a| matches!(a.as_str(), "build" | "assemble" | "installDist")),
        "dotnet" => matches!(sub, "build" | "publish"),
        "gcc" | "g++" | "cc" | "make" | "cmake" => true,
        _ => false,
    }
}

fn compiler_in_single_stage(stage: &Stage, base: &BaseKind, sink: &mut Sink) {
    for cmd in &stage.commands {
        let CommandKind::Run(run) = &cmd.kind else {
            continue;
        };
        let commands = run_commands(run);
        let mut packages: Vec<String> = commands
            .iter()
            .filter(|c| is_install(c))
            .flat_map(|c| c.args.iter().filter(|a| !a.starts_with('-')).skip(1))
            .filter(|p| is_compiler_package(p))
            .cloned()
            .collect();
        packages.dedup();
        if !packages.is_empty() {
            sink.report(
                &COMPILER_IN_SINGLE_STAGE,
                cmd.meta.span,
                format!(
                    "This single-stage build installs {} into the final image; compile in a build stage and copy the result into a slim runtime stage",
                    packages.join(", ")
                ),
            );
            return;
        }
    }
    let BaseKind::Image(reference) = base else {
        return;
    };
    let Ok(r) = Reference::parse_normalized(reference) else {
        return;
    };
    let repo = r.path().rsplit('/').next().unwrap_or("");
    if !COMPILER_IMAGES.contains(&repo) {
        return;
    }
    let compiling = stage.commands.iter().any(|c| match &c.kind {
        CommandKind::Run(run) => run_commands(run).iter().any(compiles),
        _ => false,
    });
    if compiling {
        sink.report(
            &COMPILER_IN_SINGLE_STAGE,
            stage.from.base_span,
            format!(
                "This single-stage build compiles on '{reference}' and ships the whole toolchain; build in one stage and copy the result into a slim runtime stage"
            ),
        );
    }
}
