//! Typed instructions and build stages (BuildKit's `instructions` package).
//!
//! [`parse_command`] checks one syntax-tree [`Instruction`]: its flags against the ones that
//! instruction accepts, its argument count, and the instruction-specific rules, with BuildKit's
//! exact messages. [`parse_instructions`] does that for a whole file and groups the result into
//! [`Stage`]s (one per FROM) plus the meta ARGs written before the first FROM.
//!
//! Values are kept as written, *before* variable expansion (`COPY --chmod=$MODE`), because
//! expansion depends on build arguments and on the stage's environment. The checks BuildKit only
//! performs after expansion are available as parsers on the raw values — [`Chmod::parse`],
//! [`PortSpec::parse`], [`parse_signal`], [`MountFlag::parse`] with an expander — so the build
//! frontend and the linter apply them to the expanded text. Running them eagerly would reject files BuildKit accepts (a broken value in a
//! stage that `--target` never builds).

mod flags;
pub mod mount;
pub mod values;

use std::time::Duration;

pub use mount::{CacheSharing, Mount, MountType, parse_mount};
pub use values::{Chmod, PortSpec, parse_go_duration, parse_signal};

use crate::ast::{Dockerfile, Instruction};
use crate::error::Error;
use crate::parser::parse_heredoc;
use crate::quote::go_quote;
use crate::span::Span;
use flags::Kind;

/// What every typed command shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMeta {
    /// The instruction name in lower case (`run`).
    pub name: String,
    /// The keyword as written (`RUN`, `Run`…).
    pub keyword: String,
    /// The logical source line, trimmed.
    pub original: String,
    /// The whole instruction in the source.
    pub span: Span,
}

/// A checked instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub meta: CommandMeta,
    pub kind: CommandKind,
}

/// The instruction-specific part of a [`Command`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandKind {
    Add(AddCommand),
    Arg(ArgCommand),
    Cmd(ShellDependentCmd),
    Copy(CopyCommand),
    Entrypoint(ShellDependentCmd),
    Env(Vec<KeyValuePair>),
    Expose(ExposeCommand),
    From(FromCommand),
    Healthcheck(Healthcheck),
    Label(Vec<KeyValuePair>),
    Maintainer(String),
    Onbuild(OnbuildCommand),
    Run(RunCommand),
    Shell(Vec<String>),
    StopSignal(String),
    User(String),
    Volume(Vec<String>),
    Workdir(String),
}

/// `FROM [--platform=P] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromCommand {
    /// The base image reference or stage name, unexpanded.
    pub base: String,
    pub base_span: Span,
    /// The stage name, lower-cased.
    pub stage_name: Option<String>,
    /// The stage name as written (for the StageNameCasing rule).
    pub stage_name_as_written: Option<String>,
    /// The `AS` keyword as written and its span (for the FromAsCasing rule).
    pub as_keyword: Option<(String, Span)>,
    pub stage_name_span: Option<Span>,
    /// `--platform`, unexpanded, with the flag's span.
    pub platform: Option<(String, Span)>,
}

/// A `key=value` pair of ENV or LABEL. Values keep their quotes: expand them with
/// [`crate::shell::Lex::process_word`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValuePair {
    pub key: String,
    pub value: String,
    /// True for the legacy `ENV key value` form (the LegacyKeyValueFormat rule).
    pub no_delim: bool,
    pub span: Span,
}

/// One `ARG name[=default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgPair {
    pub key: String,
    /// The default, unexpanded (quotes kept), if any.
    pub value: Option<String>,
    /// The description from a `# name description` comment line above.
    pub comment: Option<String>,
    pub span: Span,
}

/// `ARG a b=c …`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgCommand {
    pub args: Vec<ArgPair>,
}

/// A heredoc used as a RUN script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    pub name: String,
    /// The body as written (tabs not yet stripped).
    pub data: String,
    pub chomp: bool,
}

/// The command line of RUN, CMD and ENTRYPOINT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShellDependentCmd {
    /// Exec form: the array. Shell form: one string to run with the stage's SHELL.
    pub cmd_line: Vec<String>,
    /// True in shell form.
    pub prepend_shell: bool,
    /// Heredoc bodies (RUN only).
    pub files: Vec<InlineFile>,
}

/// What a RUN runs once its heredocs are taken into account, as BuildKit's `dispatchRun`
/// decides it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunScript {
    /// These words: in shell form one string for the stage's SHELL (`sh -c`), in exec form
    /// the array. A command that is one heredoc alone (`RUN <<EOF`) becomes its body (tabs
    /// stripped for `<<-`); a command using heredocs inside (`RUN cat <<A > f`) becomes the
    /// command line with each body and delimiter appended, for the shell to read.
    Args(Vec<String>),
    /// A command that is one heredoc alone whose body starts with `#!`: BuildKit writes the
    /// body (tabs stripped for `<<-`) to `/dev/pipes/<name>`, mode 0755 on a read-only
    /// mount, and runs that path with the shell, so the kernel honours the interpreter line.
    Executable {
        /// The file's name: the heredoc delimiter.
        name: String,
        /// The file's content.
        data: String,
    },
}

impl RunScript {
    /// Where an [`RunScript::Executable`] body is mounted.
    pub const PIPES_DIR: &'static str = "/dev/pipes";

    /// The words the RUN runs (before the shell is prepended in shell form), as they also
    /// appear in its history line.
    pub fn args(&self) -> Vec<String> {
        match self {
            RunScript::Args(a) => a.clone(),
            RunScript::Executable { name, .. } => vec![format!("{}/{name}", Self::PIPES_DIR)],
        }
    }
}

impl ShellDependentCmd {
    /// How BuildKit runs this command line with its heredocs (see [`RunScript`]).
    pub fn script(&self) -> RunScript {
        let [line] = self.cmd_line.as_slice() else {
            return RunScript::Args(self.cmd_line.clone());
        };
        if self.files.is_empty() || !self.prepend_shell {
            return RunScript::Args(self.cmd_line.clone());
        }
        if let (Ok(Some(_)), Some(f)) = (parse_heredoc(line.trim()), self.files.first()) {
            let data = if f.chomp {
                crate::ast::chomp_heredoc_content(&f.data)
            } else {
                f.data.clone()
            };
            // BuildKit looks for the interpreter line before stripping tabs.
            if f.data.starts_with("#!") {
                return RunScript::Executable {
                    name: f.name.clone(),
                    data,
                };
            }
            return RunScript::Args(vec![data]);
        }
        let mut full = line.clone();
        for f in &self.files {
            full.push('\n');
            full.push_str(&f.data);
            full.push_str(&f.name);
        }
        RunScript::Args(vec![full])
    }
}

/// `RUN` network modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkMode {
    Default,
    None,
    Host,
}

/// `RUN` security modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityMode {
    Sandbox,
    Insecure,
}

/// A `--mount` as written; [`MountFlag::parse`] it once its variables are known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountFlag {
    pub raw: String,
    pub span: Span,
}

impl MountFlag {
    /// Expand and check this mount.
    pub fn parse(
        &self,
        expand: &mut dyn FnMut(&str) -> Result<String, String>,
    ) -> Result<Mount, String> {
        parse_mount(&self.raw, Some(expand))
    }

    /// Check this mount with its values taken literally.
    pub fn parse_literal(&self) -> Result<Mount, String> {
        let mut id = |s: &str| -> Result<String, String> { Ok(s.to_string()) };
        parse_mount(&self.raw, Some(&mut id))
    }
}

/// A `--device=name[,required]` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub required: bool,
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCommand {
    pub cmd: ShellDependentCmd,
    pub mounts: Vec<MountFlag>,
    pub network: NetworkMode,
    pub security: SecurityMode,
    pub devices: Vec<Device>,
    /// Names of the flags that were written.
    pub flags_used: Vec<String>,
}

/// A heredoc used as a COPY/ADD source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceContent {
    /// The file name (the heredoc delimiter).
    pub path: String,
    /// The content (tabs already stripped for `<<-`).
    pub data: String,
    /// Whether variables in `data` are expanded.
    pub expand: bool,
}

impl SourceContent {
    /// The file's content as COPY/ADD writes it. With [`SourceContent::expand`] set (an
    /// unquoted delimiter), variables are expanded as BuildKit expands heredoc bodies: `\`
    /// is the escape token whatever `# escape=` says, and quotes are ordinary characters
    /// (`"$V"` and `'$V'` both keep their quotes and have `$V` replaced), so a script written
    /// this way keeps its quoting.
    pub fn expanded(&self, env: &dyn crate::shell::Env) -> Result<String, crate::ShellError> {
        if !self.expand {
            return Ok(self.data.clone());
        }
        let mut lex = crate::shell::Lex::new('\\');
        lex.skip_process_quotes = true;
        lex.process_word(&self.data, env)
    }
}

/// Sources and destination of COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourcesAndDest {
    pub dest: String,
    pub source_paths: Vec<String>,
    pub source_contents: Vec<SourceContent>,
}

/// A flag value kept with the span of the flag it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagValue {
    pub value: String,
    pub span: Span,
}

/// `COPY`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCommand {
    pub sources: SourcesAndDest,
    pub from: Option<FlagValue>,
    pub chown: Option<FlagValue>,
    /// Unexpanded; check with [`Chmod::parse`].
    pub chmod: Option<FlagValue>,
    pub link: bool,
    pub parents: bool,
    pub excludes: Vec<String>,
}

/// `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCommand {
    pub sources: SourcesAndDest,
    pub chown: Option<FlagValue>,
    pub chmod: Option<FlagValue>,
    pub link: bool,
    pub keep_git_dir: bool,
    pub checksum: Option<FlagValue>,
    pub excludes: Vec<String>,
    /// `--unpack`, when written.
    pub unpack: Option<bool>,
}

/// `EXPOSE`: the words as written, string-sorted like BuildKit; check each with
/// [`PortSpec::parse`] after expansion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExposeCommand {
    pub ports: Vec<String>,
}

/// `HEALTHCHECK`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Healthcheck {
    /// `HEALTHCHECK NONE`: disable the base image's check.
    None,
    Check {
        /// `["CMD", args…]` (exec form) or `["CMD-SHELL", "text"]` (shell form).
        test: Vec<String>,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        start_interval: Option<Duration>,
        /// `--retries` (0 when unset).
        retries: u32,
    },
}

/// `ONBUILD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnbuildCommand {
    /// The trigger's source text (heredoc bodies appended), stored in the image config.
    pub expression: String,
    /// The trigger's keyword, upper-cased.
    pub trigger: String,
}

/// A build stage: a FROM and the commands after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// `AS` name, lower-cased.
    pub name: Option<String>,
    /// The base image or earlier stage, unexpanded.
    pub base: String,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
    /// The FROM instruction itself.
    pub from: FromCommand,
    pub from_meta: CommandMeta,
    /// Commands of the stage, in order (FROM excluded).
    pub commands: Vec<Command>,
    /// The `# name description` comment above FROM, if any.
    pub comment: Option<String>,
}

/// A whole Dockerfile, checked and grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instructions {
    /// ARG instructions before the first FROM.
    pub meta_args: Vec<(CommandMeta, ArgCommand)>,
    pub stages: Vec<Stage>,
}

/// All instruction names, upper-cased (for "did you mean" suggestions).
pub const INSTRUCTION_NAMES: [&str; 18] = [
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Check every instruction and group them into stages.
pub fn parse_instructions(df: &Dockerfile) -> Result<Instructions, Error> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for node in &df.instructions {
        let cmd = parse_command(node)?;
        let Command { meta, kind } = cmd;
        match kind {
            CommandKind::Arg(a) if stages.is_empty() => meta_args.push((meta, a)),
            CommandKind::From(from) => {
                let comment = stage_comment(&node.comments, from.stage_name.as_deref());
                stages.push(Stage {
                    name: from.stage_name.clone(),
                    base: from.base.clone(),
                    platform: from.platform.as_ref().map(|p| p.0.clone()),
                    from,
                    from_meta: meta,
                    commands: Vec::new(),
                    comment,
                });
            }
            kind => match stages.last_mut() {
                Some(stage) => stage.commands.push(Command { meta, kind }),
                None => {
                    return Err(Error::Stage {
                        message: "no build stage in current context".to_string(),
                        span: node.span,
                    });
                }
            },
        }
    }
    Ok(Instructions { meta_args, stages })
}

fn stage_comment(comments: &[String], name: Option<&str>) -> Option<String> {
    let name = name.filter(|n| !n.is_empty())?;
    let prefix = format!("{name} ");
    comments
        .iter()
        .find_map(|c| c.strip_prefix(&prefix).map(str::to_string))
}

/// Errors about one instruction, with the span they point at.
struct Req<'a> {
    node: &'a Instruction,
    args: Vec<String>,
}

impl Req<'_> {
    fn err(&self, message: impl Into<String>) -> Error {
        self.err_at(message, self.node.span)
    }

    fn err_at(&self, message: impl Into<String>, span: Span) -> Error {
        Error::Instruction {
            message: message.into(),
            line: self.node.start_line(),
            span,
        }
    }

    fn flags(&self, defs: &[(&'static str, Kind)]) -> Result<flags::Parsed, Error> {
        flags::parse(&self.node.flags, defs).map_err(|(m, s)| self.err_at(m, s))
    }

    fn meta(&self) -> CommandMeta {
        CommandMeta {
            name: self.node.name(),
            keyword: self.node.keyword.clone(),
            original: self.node.original.trim().to_string(),
            span: self.node.span,
        }
    }

    fn json(&self) -> bool {
        self.node.json_form
    }
}

fn at_least_one(cmd: &str) -> String {
    format!("{cmd} requires at least one argument")
}

fn exactly_one(cmd: &str) -> String {
    format!("{cmd} requires exactly one argument")
}

fn no_destination(cmd: &str) -> String {
    format!(
        "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
    )
}

/// BuildKit's `nodeArgs`: argument values, and for ONBUILD the trigger keyword and its args.
fn node_args(node: &Instruction) -> Vec<String> {
    match &node.trigger {
        Some(t) => {
            let mut v = vec![t.keyword.clone()];
            v.extend(node_args(t));
            v
        }
        None => node.args.iter().map(|a| a.value.clone()).collect(),
    }
}

/// A string flag's value; an empty one (`--from=`) is no flag at all, as BuildKit's flag
/// defaults are empty strings that mean "not given".
fn flag_value(v: Option<(String, Span)>) -> Option<FlagValue> {
    v.filter(|(value, _)| !value.is_empty())
        .map(|(value, span)| FlagValue { value, span })
}

/// Check one instruction.
pub fn parse_command(node: &Instruction) -> Result<Command, Error> {
    let req = Req {
        node,
        args: node_args(node),
    };
    let kind = match node.name().as_str() {
        "env" => {
            req.flags(&[])?;
            CommandKind::Env(parse_kvps(&req, "ENV")?)
        }
        "maintainer" => {
            if req.args.len() != 1 {
                return Err(req.err(exactly_one("MAINTAINER")));
            }
            req.flags(&[])?;
            CommandKind::Maintainer(req.args[0].clone())
        }
        "label" => {
            req.flags(&[])?;
            CommandKind::Label(parse_kvps(&req, "LABEL")?)
        }
        "add" => parse_add(&req)?,
        "copy" => parse_copy(&req)?,
        "from" => parse_from(&req)?,
        "onbuild" => parse_onbuild(&req)?,
        "workdir" => {
            if req.args.len() != 1 {
                return Err(req.err(exactly_one("WORKDIR")));
            }
            req.flags(&[])?;
            CommandKind::Workdir(req.args[0].clone())
        }
        "run" => parse_run(&req)?,
        "cmd" => {
            req.flags(&[])?;
            CommandKind::Cmd(shell_dependent(&req))
        }
        "entrypoint" => {
            req.flags(&[])?;
            CommandKind::Entrypoint(shell_dependent(&req))
        }
        "healthcheck" => parse_healthcheck(&req)?,
        "expose" => {
            if req.args.is_empty() {
                return Err(req.err(at_least_one("EXPOSE")));
            }
            req.flags(&[])?;
            let mut ports = req.args.clone();
            ports.sort();
            CommandKind::Expose(ExposeCommand { ports })
        }
        "user" => {
            if req.args.len() != 1 {
                return Err(req.err(exactly_one("USER")));
            }
            req.flags(&[])?;
            CommandKind::User(req.args[0].clone())
        }
        "volume" => {
            if req.args.is_empty() {
                return Err(req.err(at_least_one("VOLUME")));
            }
            req.flags(&[])?;
            let mut volumes = Vec::new();
            for v in &req.args {
                let v = v.trim();
                if v.is_empty() {
                    return Err(req.err("VOLUME specified can not be an empty string"));
                }
                volumes.push(v.to_string());
            }
            CommandKind::Volume(volumes)
        }
        "stopsignal" => {
            // BuildKit does not check STOPSIGNAL's flags.
            if req.args.len() != 1 {
                return Err(req.err(exactly_one("STOPSIGNAL")));
            }
            CommandKind::StopSignal(req.args[0].clone())
        }
        "arg" => parse_arg(&req)?,
        "shell" => {
            req.flags(&[])?;
            let args = handle_json_args(&req);
            if args.is_empty() {
                return Err(req.err(at_least_one("SHELL")));
            }
            if !req.json() {
                return Err(req.err("SHELL requires the arguments to be in JSON form"));
            }
            CommandKind::Shell(args)
        }
        _ => {
            let message = flags::suggest(
                format!("unknown instruction: {}", node.keyword),
                &node.keyword,
                &INSTRUCTION_NAMES,
                false,
            );
            return Err(req.err_at(message, node.keyword_span));
        }
    };
    Ok(Command {
        meta: req.meta(),
        kind,
    })
}

fn parse_kvps(req: &Req<'_>, cmd: &str) -> Result<Vec<KeyValuePair>, Error> {
    let args = &req.node.args;
    if args.is_empty() {
        return Err(req.err(at_least_one(cmd)));
    }
    if !args.len().is_multiple_of(3) {
        return Err(req.err(format!("Bad input to {cmd}, too many arguments")));
    }
    let mut out = Vec::new();
    for chunk in args.chunks(3) {
        if chunk[0].value.is_empty() {
            return Err(req.err(format!("{cmd} names can not be blank")));
        }
        out.push(KeyValuePair {
            key: chunk[0].value.clone(),
            value: chunk[1].value.clone(),
            no_delim: chunk[2].value.is_empty(),
            span: chunk[0].span.join(&chunk[1].span),
        });
    }
    Ok(out)
}

/// BuildKit's `handleJSONArgs`: JSON form as is, shell form joined into one string.
fn handle_json_args(req: &Req<'_>) -> Vec<String> {
    if req.args.is_empty() {
        return Vec::new();
    }
    if req.json() {
        req.args.clone()
    } else {
        vec![req.args.join(" ")]
    }
}

fn shell_dependent(req: &Req<'_>) -> ShellDependentCmd {
    let files = req
        .node
        .heredocs
        .iter()
        .map(|h| InlineFile {
            name: h.name.clone(),
            data: h.content.clone(),
            chomp: h.chomp,
        })
        .collect();
    let cmd_line = handle_json_args(req);
    ShellDependentCmd {
        cmd_line,
        prepend_shell: !req.json(),
        files,
    }
}

fn parse_run(req: &Req<'_>) -> Result<CommandKind, Error> {
    let parsed = req.flags(&[
        ("mount", Kind::Strings),
        ("network", Kind::String),
        ("security", Kind::String),
        ("device", Kind::Strings),
    ])?;
    let cmd = shell_dependent(req);
    let mut mounts = Vec::new();
    for (raw, span) in parsed.strings_at("mount") {
        parse_mount(&raw, None).map_err(|m| req.err_at(m, span))?;
        mounts.push(MountFlag { raw, span });
    }
    let network = match parsed.string_at("network") {
        None => NetworkMode::Default,
        Some((v, span)) => match v.as_str() {
            "default" => NetworkMode::Default,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => return Err(req.err_at(format!("invalid network mode {}", go_quote(&v)), span)),
        },
    };
    let security = match parsed.string_at("security") {
        None => SecurityMode::Sandbox,
        Some((v, span)) => match v.as_str() {
            "sandbox" => SecurityMode::Sandbox,
            "insecure" => SecurityMode::Insecure,
            _ => return Err(req.err_at(format!("security {} is not valid", go_quote(&v)), span)),
        },
    };
    let mut devices = Vec::new();
    for (raw, span) in parsed.strings_at("device") {
        let mut parts = raw.split(',');
        let name = parts.next().unwrap_or("").to_string();
        if name.is_empty() {
            return Err(req.err_at(format!("invalid device {}", go_quote(&raw)), span));
        }
        let mut required = false;
        for p in parts {
            match p.split_once('=') {
                None if p == "required" => required = true,
                Some(("required", v)) => {
                    required = crate::directives::parse_go_bool(v).ok_or_else(|| {
                        req.err_at(format!("invalid value for required: {v}"), span)
                    })?;
                }
                _ => {
                    return Err(req.err_at(format!("unexpected key '{p}' in '{raw}'"), span));
                }
            }
        }
        devices.push(Device { name, required });
    }
    Ok(CommandKind::Run(RunCommand {
        cmd,
        mounts,
        network,
        security,
        devices,
        flags_used: parsed.used_names(),
    }))
}

fn parse_sources_and_dest(req: &Req<'_>, cmd: &str) -> Result<SourcesAndDest, Error> {
    let (dest, srcs) = match req.args.split_last() {
        Some((d, s)) => (d.clone(), s),
        None => return Err(req.err(no_destination(cmd))),
    };
    if let Ok(Some(_)) = parse_heredoc(&dest) {
        return Err(req.err(format!("{cmd} cannot accept a heredoc as a destination")));
    }
    let mut source_paths = Vec::new();
    let mut source_contents = Vec::new();
    for src in srcs {
        match parse_heredoc(src) {
            Ok(Some(h)) => {
                let doc = req.node.heredocs.iter().rev().find(|d| d.name == h.name);
                let mut data = doc.map(|d| d.content.clone()).unwrap_or_default();
                if h.chomp {
                    data = crate::ast::chomp_heredoc_content(&data);
                }
                source_contents.push(SourceContent {
                    path: h.name,
                    data,
                    expand: h.expand,
                });
            }
            _ => source_paths.push(src.clone()),
        }
    }
    Ok(SourcesAndDest {
        dest,
        source_paths,
        source_contents,
    })
}

fn parse_add(req: &Req<'_>) -> Result<CommandKind, Error> {
    if req.args.len() < 2 {
        return Err(req.err(no_destination("ADD")));
    }
    let f = req.flags(&[
        ("exclude", Kind::Strings),
        ("chown", Kind::String),
        ("chmod", Kind::String),
        ("link", Kind::Bool),
        ("keep-git-dir", Kind::Bool),
        ("checksum", Kind::String),
        ("unpack", Kind::Bool),
    ])?;
    let sources = parse_sources_and_dest(req, "ADD")?;
    Ok(CommandKind::Add(AddCommand {
        sources,
        chown: flag_value(f.string_at("chown")),
        chmod: flag_value(f.string_at("chmod")),
        link: f.bool("link"),
        keep_git_dir: f.bool("keep-git-dir"),
        checksum: flag_value(f.string_at("checksum")),
        excludes: f.strings("exclude"),
        unpack: f.used("unpack").then(|| f.bool("unpack")),
    }))
}

fn parse_copy(req: &Req<'_>) -> Result<CommandKind, Error> {
    if req.args.len() < 2 {
        return Err(req.err(no_destination("COPY")));
    }
    let f = req.flags(&[
        ("exclude", Kind::Strings),
        ("parents", Kind::Bool),
        ("chown", Kind::String),
        ("from", Kind::String),
        ("chmod", Kind::String),
        ("link", Kind::Bool),
    ])?;
    let sources = parse_sources_and_dest(req, "COPY")?;
    Ok(CommandKind::Copy(CopyCommand {
        sources,
        from: flag_value(f.string_at("from")),
        chown: flag_value(f.string_at("chown")),
        chmod: flag_value(f.string_at("chmod")),
        link: f.bool("link"),
        parents: f.bool("parents"),
        excludes: f.strings("exclude"),
    }))
}

fn valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
}

fn parse_from(req: &Req<'_>) -> Result<CommandKind, Error> {
    let args = &req.node.args;
    let (stage_name, as_written, as_kw, name_span) = match args.len() {
        3 if args[1].value.eq_ignore_ascii_case("as") => {
            let lower = args[2].value.to_lowercase();
            if !valid_stage_name(&lower) {
                return Err(req.err_at(
                    format!(
                        "invalid name for build stage: {}, name can't start with a number or contain symbols",
                        go_quote(&args[2].value)
                    ),
                    args[2].span,
                ));
            }
            (
                Some(lower),
                Some(args[2].value.clone()),
                Some((args[1].value.clone(), args[1].span)),
                Some(args[2].span),
            )
        }
        1 => (None, None, None, None),
        _ => return Err(req.err("FROM requires either one or three arguments")),
    };
    let f = req.flags(&[("platform", Kind::String)])?;
    Ok(CommandKind::From(FromCommand {
        base: args[0].value.clone(),
        base_span: args[0].span,
        stage_name,
        stage_name_as_written: as_written,
        as_keyword: as_kw,
        stage_name_span: name_span,
        // `--platform=` is no platform, as an empty flag value is in BuildKit.
        platform: f.string_at("platform").filter(|(p, _)| !p.is_empty()),
    }))
}

fn parse_onbuild(req: &Req<'_>) -> Result<CommandKind, Error> {
    if req.args.is_empty() {
        return Err(req.err(at_least_one("ONBUILD")));
    }
    req.flags(&[])?;
    let trigger = req.args[0].trim().to_uppercase();
    match trigger.as_str() {
        "ONBUILD" => {
            return Err(req.err("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"));
        }
        "MAINTAINER" | "FROM" => {
            return Err(req.err(format!("{trigger} isn't allowed as an ONBUILD trigger")));
        }
        _ => {}
    }
    // The original text without the leading `ONBUILD` keyword, then any heredoc bodies.
    let original = req.node.original.trim_start();
    let mut expression = match original.get(..7) {
        Some(k) if k.eq_ignore_ascii_case("onbuild") => original[7..].trim_start().to_string(),
        _ => original.to_string(),
    };
    for h in &req.node.heredocs {
        expression.push('\n');
        expression.push_str(&h.content);
        expression.push_str(&h.name);
    }
    Ok(CommandKind::Onbuild(OnbuildCommand {
        expression,
        trigger,
    }))
}

fn parse_healthcheck(req: &Req<'_>) -> Result<CommandKind, Error> {
    if req.args.is_empty() {
        return Err(req.err(at_least_one("HEALTHCHECK")));
    }
    let typ = req.args[0].to_uppercase();
    let rest = &req.args[1..];
    if typ == "NONE" {
        // BuildKit does not look at the flags of HEALTHCHECK NONE.
        if !rest.is_empty() {
            return Err(req.err("HEALTHCHECK NONE takes no arguments"));
        }
        return Ok(CommandKind::Healthcheck(Healthcheck::None));
    }
    let f = req.flags(&[
        ("interval", Kind::String),
        ("timeout", Kind::String),
        ("start-period", Kind::String),
        ("start-interval", Kind::String),
        ("retries", Kind::String),
    ])?;
    if typ != "CMD" {
        return Err(req.err(format!(
            "Unknown type {} in HEALTHCHECK (try CMD)",
            go_quote(&typ)
        )));
    }
    let cmd: Vec<String> = if rest.is_empty() {
        Vec::new()
    } else if req.json() {
        rest.to_vec()
    } else {
        vec![rest.join(" ")]
    };
    if cmd.is_empty() {
        return Err(req.err("Missing command after HEALTHCHECK CMD"));
    }
    let kind = if req.json() { "CMD" } else { "CMD-SHELL" };
    let mut test = vec![kind.to_string()];
    test.extend(cmd);
    let interval = |name: &str| -> Result<Option<Duration>, Error> {
        match f.string_at(name) {
            None => Ok(None),
            Some((v, span)) => {
                values::parse_interval(name, Some(&v)).map_err(|m| req.err_at(m, span))
            }
        }
    };
    let retries = match f.string_at("retries") {
        Some((v, span)) if !v.is_empty() => {
            let n = values::parse_go_int32(&v).map_err(|m| req.err_at(m, span))?;
            if n < 0 {
                return Err(req.err_at(format!("--retries cannot be negative ({n})"), span));
            }
            n as u32
        }
        _ => 0,
    };
    Ok(CommandKind::Healthcheck(Healthcheck::Check {
        test,
        interval: interval("interval")?,
        timeout: interval("timeout")?,
        start_period: interval("start-period")?,
        start_interval: interval("start-interval")?,
        retries,
    }))
}

fn parse_arg(req: &Req<'_>) -> Result<CommandKind, Error> {
    if req.args.is_empty() {
        return Err(req.err(at_least_one("ARG")));
    }
    req.flags(&[])?;
    let mut args = Vec::new();
    for a in &req.node.args {
        let (key, value) = match a.value.split_once('=') {
            Some((k, v)) => {
                if k.is_empty() {
                    return Err(req.err("ARG names can not be blank"));
                }
                (k.to_string(), Some(v.to_string()))
            }
            None => (a.value.clone(), None),
        };
        let comment = stage_comment(&req.node.comments, Some(&key));
        args.push(ArgPair {
            key,
            value,
            comment,
            span: a.span,
        });
    }
    Ok(CommandKind::Arg(ArgCommand { args }))
}
