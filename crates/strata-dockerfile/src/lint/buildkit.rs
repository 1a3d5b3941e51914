//! Docker's build checks, run the way BuildKit's Dockerfile frontend runs them.
//!
//! Three passes, in BuildKit's order:
//!
//! 1. the parser's warnings and the checks BuildKit makes while turning syntax-tree nodes
//!    into instructions (MAINTAINER, FROM casing, definition comments);
//! 2. whole-file checks on the typed stages (stage names, instruction casing, FROM
//!    expansion with default ARG values only);
//! 3. a dispatch walk over every stage (BuildKit lints all stages when no target is given):
//!    it keeps the environment each instruction would see — ARG and ENV values, the declared
//!    ARG names, the stage it is built on — expands the same words BuildKit expands, and
//!    reports unset variables, relative WORKDIRs, repeated CMDs and the like.
//!
//! Values BuildKit would reject while dispatching (an expansion error, a bad port or signal)
//! end the walk with a [`LintError::Build`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use strata_oci::{Platform, Reference};
use strata_patterns::{PatternMatcher, clean_path};

use super::rules::*;
use super::{BaseImage, LintError, LintInput, Sink};
use crate::ast::{Dockerfile, Instruction};
use crate::instructions::{
    ArgCommand, Chmod, CommandKind, CommandMeta, Instructions, PortSpec, SourcesAndDest,
    parse_instructions, parse_signal,
};
use crate::quote::go_quote;
use crate::shell::{Expansion, Lex};
use crate::span::{LineIndex, Position, Span};

/// The default `PATH` BuildKit sets when an image has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Build arguments BuildKit never turns into environment variables.
const NON_ENV_ARGS: [&str; 2] = ["BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"];

/// Official images whose configuration sets no variable but `PATH`, so their environment is
/// known without pulling them.
const PATH_ONLY_IMAGES: [&str; 4] = [
    "docker.io/library/alpine",
    "docker.io/library/busybox",
    "docker.io/library/debian",
    "docker.io/library/ubuntu",
];

/// What a stage is built on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BaseKind {
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image, by its reference after ARG expansion.
    Image(String),
}

/// What the dispatch walk learned about a stage, for Strata's own rules.
#[derive(Debug, Clone)]
pub(crate) struct StageInfo {
    pub base: BaseKind,
    /// The effective USER at the end of the stage.
    pub user: String,
    /// Whether `user` is certain (false when an undescribed image may have set one).
    pub user_known: bool,
}

/// The typed instructions and per-stage facts, when the walk completed.
pub(crate) struct Checked {
    pub instructions: Instructions,
    pub stages: Vec<StageInfo>,
}

/// The state BuildKit's dispatcher keeps per stage, reduced to what the checks need.
#[derive(Debug, Clone)]
struct State {
    env: BTreeMap<String, String>,
    /// False when the base image may define variables we do not know about.
    env_known: bool,
    /// Names of the ARGs declared in this stage (and the stages it is built on).
    build_args: Vec<String>,
    workdir_set: bool,
    has_shell: bool,
    user: String,
    user_known: bool,
}

impl State {
    fn new(env_known: bool) -> State {
        let mut env = BTreeMap::new();
        env.insert("PATH".to_string(), DEFAULT_PATH.to_string());
        State {
            env,
            env_known,
            build_args: Vec::new(),
            workdir_set: false,
            has_shell: false,
            user: String::new(),
            user_known: env_known,
        }
    }

    fn from_image(reference: &str, facts: Option<&BaseImage>) -> State {
        let Some(facts) = facts else {
            let known = Reference::parse_normalized(reference)
                .is_ok_and(|r| PATH_ONLY_IMAGES.contains(&r.name().as_str()));
            return State::new(known);
        };
        let mut st = State::new(true);
        for kv in &facts.env {
            let (k, v) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            st.env.insert(k.to_string(), v.to_string());
        }
        st.has_shell = facts.has_shell;
        st.user = facts.user.clone();
        st
    }
}

/// Run Docker's checks; on success return the typed instructions and stage facts.
pub(crate) fn check(
    input: &LintInput<'_>,
    df: &Dockerfile,
    sink: &mut Sink,
) -> Result<Checked, LintError> {
    let index = LineIndex::new(input.source);
    for w in &df.warnings {
        sink.report(
            &NO_EMPTY_CONTINUATION,
            index.lines_span(w.line, w.line),
            "Empty continuation line",
        );
    }
    for node in &df.instructions {
        node_checks(node, sink);
    }
    let instructions = parse_instructions(df)?;
    let Some(last) = instructions.stages.last() else {
        let span = df.instructions.first().map(|i| i.span).unwrap_or_default();
        return Err(LintError::Build {
            message: "dockerfile contains no stages to build".to_string(),
            span,
        });
    };
    validate_stage_names(&instructions, sink);
    validate_command_casing(&instructions, sink);

    let lex = Lex::new(df.escape_token);
    let target = input
        .target_platform
        .clone()
        .unwrap_or_else(|| input.build_platform.clone());
    let target_name = last.name.clone().unwrap_or_default();
    let defaults = default_args(
        &input.build_platform,
        &target,
        &input.build_args,
        &target_name,
    );
    validate_base_images_with_default_args(&instructions, &lex, &defaults, sink);
    let (global, declared) =
        build_meta_args(&defaults, &lex, &instructions.meta_args, &input.build_args)?;
    let mut from_arg_keys: Vec<String> = declared.into_iter().collect();
    from_arg_keys.extend(global.keys().cloned());
    from_arg_keys.sort();
    from_arg_keys.dedup();

    let mut walker = Walker {
        input,
        lex,
        sink,
        global,
        from_arg_keys,
        target,
        matcher: ignore_matcher(input, df)?,
        all_names: instructions
            .stages
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.name.clone().map(|n| (n, i)))
            .collect(),
        stage_count: instructions.stages.len(),
    };
    let stages = walker.walk(&instructions)?;
    Ok(Checked {
        instructions,
        stages,
    })
}

/// The `.dockerignore` matcher, if the context has an ignore file.
fn ignore_matcher(
    input: &LintInput<'_>,
    df: &Dockerfile,
) -> Result<Option<PatternMatcher>, LintError> {
    let Some(patterns) = input.context.as_ref().and_then(|c| c.dockerignore.as_ref()) else {
        return Ok(None);
    };
    if patterns.is_empty() {
        return Ok(None);
    }
    PatternMatcher::new(patterns)
        .map(Some)
        .map_err(|e| LintError::Build {
            message: e.to_string(),
            span: df.instructions.first().map(|i| i.span).unwrap_or_default(),
        })
}

/// The span of an instruction's keyword.
fn keyword_span(meta: &CommandMeta) -> Span {
    let start = meta.span.start;
    let len = meta.keyword.len();
    Span {
        start,
        end: Position {
            line: start.line,
            column: start.column + meta.keyword.chars().count(),
            offset: start.offset + len,
        },
    }
}

/// Checks BuildKit runs while converting each syntax-tree node.
fn node_checks(node: &Instruction, sink: &mut Sink) {
    match node.name().as_str() {
        "maintainer" => sink.report(
            &MAINTAINER_DEPRECATED,
            node.keyword_span,
            "Maintainer instruction is deprecated in favor of using label",
        ),
        "from" => {
            let args = &node.args;
            if args.len() == 3 && args[2].value != args[2].value.to_lowercase() {
                sink.report(
                    &STAGE_NAME_CASING,
                    args[2].span,
                    format!("Stage name '{}' should be lowercase", args[2].value),
                );
            }
            if args.len() >= 3 {
                let kw = &node.keyword;
                let as_kw = &args[1].value;
                let mismatch = if *kw == kw.to_lowercase() {
                    *as_kw != as_kw.to_lowercase()
                } else if *kw == kw.to_uppercase() {
                    *as_kw != as_kw.to_uppercase()
                } else {
                    false
                };
                if mismatch {
                    sink.report(
                        &FROM_AS_CASING,
                        args[1].span,
                        format!("'{as_kw}' and '{kw}' keywords' casing do not match"),
                    );
                }
            }
            if args.len() == 3 && args[1].value.eq_ignore_ascii_case("as") {
                let name = args[2].value.to_lowercase();
                validate_definition_description("FROM", &[name], node, sink);
            }
        }
        "arg" => {
            let keys: Vec<String> = node
                .args
                .iter()
                .map(|a| a.value.split('=').next().unwrap_or("").to_string())
                .collect();
            validate_definition_description("ARG", &keys, node, sink);
        }
        _ => {}
    }
}

fn validate_definition_description(
    instruction: &str,
    keys: &[String],
    node: &Instruction,
    sink: &mut Sink,
) {
    let (Some(last), Some(first_key)) = (node.comments.last(), keys.first()) else {
        return;
    };
    let word = last.split(' ').next().unwrap_or("");
    if keys.iter().any(|k| k == word) {
        return;
    }
    let example = if keys.len() > 1 {
        "<arg_key>"
    } else {
        first_key.as_str()
    };
    sink.report(
        &INVALID_DEFINITION_DESCRIPTION,
        node.span,
        format!("Comment for {instruction} should follow the format: `# {example} <description>`"),
    );
}

fn validate_stage_names(ins: &Instructions, sink: &mut Sink) {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for stage in &ins.stages {
        let Some(name) = stage.name.as_deref().filter(|n| !n.is_empty()) else {
            continue;
        };
        let span = stage.from.stage_name_span.unwrap_or(stage.from_meta.span);
        if name == "context" || name == "scratch" {
            sink.report(
                &RESERVED_STAGE_NAME,
                span,
                format!(
                    "Stage name should not use the same name as reserved stage {}",
                    go_quote(name)
                ),
            );
        }
        if !seen.insert(name) {
            sink.report(
                &DUPLICATE_STAGE_NAME,
                span,
                format!(
                    "Duplicate stage name {}, stage names should be unique",
                    go_quote(name)
                ),
            );
        }
    }
}

fn validate_command_casing(ins: &Instructions, sink: &mut Sink) {
    let metas: Vec<&CommandMeta> = ins
        .stages
        .iter()
        .flat_map(|s| std::iter::once(&s.from_meta).chain(s.commands.iter().map(|c| &c.meta)))
        .collect();
    let (mut lower, mut upper) = (0usize, 0usize);
    for m in &metas {
        let k = &m.keyword;
        if *k == k.to_lowercase() {
            lower += 1;
        } else if *k == k.to_uppercase() {
            upper += 1;
        }
    }
    let majority_lower = lower > upper;
    for m in metas {
        let k = &m.keyword;
        let casing = if majority_lower && *k != k.to_lowercase() {
            "lowercase"
        } else if !majority_lower && *k != k.to_uppercase() {
            "uppercase"
        } else {
            continue;
        };
        sink.report(
            &CONSISTENT_INSTRUCTION_CASING,
            keyword_span(m),
            format!("Command '{k}' should match the case of the command majority ({casing})"),
        );
    }
}

/// `os/arch[/variant]` the way containerd formats a normalised platform (arm64's default
/// variant `v8` and amd64's `v1` are left out).
pub(crate) fn format_platform(p: &Platform) -> String {
    let variant = match (p.architecture.as_str(), p.variant.as_deref()) {
        ("arm64", Some("v8" | "8")) | ("amd64", Some("v1")) => None,
        (_, v) => v.filter(|v| !v.is_empty()),
    };
    match variant {
        Some(v) => format!("{}/{}/{}", p.os, p.architecture, v),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// BuildKit's predefined platform arguments (build arguments may override them).
fn default_args(
    build: &Platform,
    target: &Platform,
    overrides: &BTreeMap<String, String>,
    target_stage: &str,
) -> BTreeMap<String, String> {
    let pairs = [
        ("BUILDPLATFORM", format_platform(build)),
        ("BUILDOS", build.os.clone()),
        (
            "BUILDOSVERSION",
            build.os_version.clone().unwrap_or_default(),
        ),
        ("BUILDARCH", build.architecture.clone()),
        ("BUILDVARIANT", build.variant.clone().unwrap_or_default()),
        ("TARGETPLATFORM", format_platform(target)),
        ("TARGETOS", target.os.clone()),
        (
            "TARGETOSVERSION",
            target.os_version.clone().unwrap_or_default(),
        ),
        ("TARGETARCH", target.architecture.clone()),
        ("TARGETVARIANT", target.variant.clone().unwrap_or_default()),
        ("TARGETSTAGE", target_stage.to_string()),
    ];
    pairs
        .into_iter()
        .map(|(k, v)| {
            let v = overrides.get(k).cloned().unwrap_or(v);
            (k.to_string(), v)
        })
        .collect()
}

/// The global arguments after the meta ARGs (BuildKit's `buildMetaArgs`), and the names of
/// every meta ARG, with or without a value.
fn build_meta_args(
    defaults: &BTreeMap<String, String>,
    lex: &Lex,
    meta_args: &[(CommandMeta, ArgCommand)],
    build_args: &BTreeMap<String, String>,
) -> Result<(BTreeMap<String, String>, BTreeSet<String>), LintError> {
    let mut args = defaults.clone();
    let mut declared = BTreeSet::new();
    for (meta, cmd) in meta_args {
        for kp in &cmd.args {
            let value =
                match (build_args.get(&kp.key), &kp.value) {
                    (Some(v), _) => Some(v.clone()),
                    (None, Some(default)) => Some(lex.process_word(default, &args).map_err(
                        |e| LintError::Build {
                            message: e.to_string(),
                            span: meta.span,
                        },
                    )?),
                    (None, None) => None,
                };
            if let Some(v) = value {
                args.insert(kp.key.clone(), v);
            }
            declared.insert(kp.key.clone());
        }
    }
    Ok((args, declared))
}

/// InvalidDefaultArgInFrom: with default values only, every FROM must name a valid image.
fn validate_base_images_with_default_args(
    ins: &Instructions,
    lex: &Lex,
    defaults: &BTreeMap<String, String>,
    sink: &mut Sink,
) {
    // Like BuildKit, give up quietly on errors: the real expansion reports them.
    let Ok((args, _)) = build_meta_args(defaults, lex, &ins.meta_args, &BTreeMap::new()) else {
        return;
    };
    for stage in &ins.stages {
        let Ok(name) = lex.process_word(&stage.base, &args) else {
            return;
        };
        if Reference::parse_normalized(&name).is_err() {
            sink.report(
                &INVALID_DEFAULT_ARG_IN_FROM,
                stage.from.base_span,
                format!(
                    "Default value for ARG {} results in empty or invalid base image name",
                    stage.base
                ),
            );
        }
    }
}

/// BuildKit's `suggest.Search`: the closest option within edit distance 2, unless `val` is
/// itself an option.
pub(crate) fn suggest<'a>(val: &str, options: impl IntoIterator<Item = &'a str>) -> Option<String> {
    if val.is_empty() {
        return None;
    }
    let mut best = None;
    let mut score = 3;
    for opt in options {
        if opt == val {
            return None;
        }
        let d = levenshtein(val, opt);
        if d < score {
            score = d;
            best = Some(opt.to_string());
        }
    }
    best
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

static SECRET_DENY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)",
    )
    .ok()
});
static SECRET_ALLOW: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"(?i)(?:_|^)(?:public|file|version)(?:_|$)").ok());

/// Whether an ARG/ENV name looks like it holds a secret (BuildKit's word lists).
pub(crate) fn looks_secret(key: &str) -> bool {
    let (Some(deny), Some(allow)) = (SECRET_DENY.as_ref(), SECRET_ALLOW.as_ref()) else {
        return false;
    };
    deny.is_match(key) && !allow.is_match(key)
}

/// A source that ADD fetches instead of reading from the context.
pub(crate) fn is_remote_source(src: &str) -> bool {
    ["http://", "https://", "git@", "git://", "ssh://"]
        .iter()
        .any(|p| src.starts_with(p))
}

/// `[ip:][hostPort:]containerPort` as go-connections splits it.
fn split_port_parts(raw: &str) -> (String, String, String) {
    let parts: Vec<&str> = raw.split(':').collect();
    let n = parts.len();
    match n {
        1 => (String::new(), String::new(), parts[0].to_string()),
        2 => (String::new(), parts[0].to_string(), parts[1].to_string()),
        3 => (
            parts[0].to_string(),
            parts[1].to_string(),
            parts[2].to_string(),
        ),
        _ => (
            parts[..n - 2].join(":"),
            parts[n - 2].to_string(),
            parts[n - 1].to_string(),
        ),
    }
}

struct Walker<'a, 'b> {
    input: &'a LintInput<'a>,
    lex: Lex,
    sink: &'b mut Sink,
    global: BTreeMap<String, String>,
    from_arg_keys: Vec<String>,
    target: Platform,
    matcher: Option<PatternMatcher>,
    /// Every named stage (lower case) and its index.
    all_names: BTreeMap<String, usize>,
    stage_count: usize,
}

/// Where a CMD/ENTRYPOINT/HEALTHCHECK was last seen in a stage.
#[derive(Default)]
struct Trackers {
    cmd: Option<Span>,
    entrypoint: Option<Span>,
    healthcheck: Option<Span>,
}

impl Walker<'_, '_> {
    fn walk(&mut self, ins: &Instructions) -> Result<Vec<StageInfo>, LintError> {
        let mut states: Vec<State> = Vec::new();
        let mut infos: Vec<StageInfo> = Vec::new();
        let mut earlier: BTreeMap<String, usize> = BTreeMap::new();
        for (i, stage) in ins.stages.iter().enumerate() {
            let from = &stage.from;
            let from_span = stage.from_meta.span;
            let exp = self
                .lex
                .expand(&stage.base, &self.global)
                .map_err(|e| build_err(e.to_string(), from_span))?;
            self.report_unused_from_args(&exp, from.base_span);
            if exp.result.is_empty() {
                return Err(build_err(
                    format!("base name ({}) should not be blank", stage.base),
                    from_span,
                ));
            }
            let requested = match &from.platform {
                Some((raw, span)) => {
                    Some(self.check_from_platform(raw, *span, stage.name.as_deref())?)
                }
                None => None,
            };
            let base = match earlier.get(&exp.result) {
                Some(&j) => BaseKind::Stage(j),
                None if exp.result == "scratch" => BaseKind::Scratch,
                None => BaseKind::Image(exp.result.clone()),
            };
            if let Some(name) = &stage.name {
                earlier.insert(name.clone(), i);
            }
            let mut state = match &base {
                BaseKind::Stage(j) => states[*j].clone(),
                BaseKind::Scratch => State::new(true),
                BaseKind::Image(r) => {
                    let facts = self.input.base_images.get(r);
                    if let Some(actual) = facts.and_then(|f| f.platform.as_ref()) {
                        let expected = requested.as_ref().unwrap_or(&self.target);
                        if expected.os != actual.os || expected.architecture != actual.architecture
                        {
                            self.sink.report(
                                &INVALID_BASE_IMAGE_PLATFORM,
                                from_span,
                                format!(
                                    "Base image {r} was pulled with platform {}, expected {} for current build",
                                    go_quote(&format_platform(actual)),
                                    go_quote(&format_platform(expected))
                                ),
                            );
                        }
                    }
                    State::from_image(r, facts)
                }
            };
            let stage_label = stage.name.clone().unwrap_or_else(|| format!("stage-{i}"));
            self.dispatch_stage(i, &stage_label, stage, &mut state)?;
            infos.push(StageInfo {
                base,
                user: state.user.clone(),
                user_known: state.user_known,
            });
            states.push(state);
        }
        Ok(infos)
    }

    fn report_unused_from_args(&mut self, exp: &Expansion, span: Span) {
        for arg in &exp.unmatched {
            if self.from_arg_keys.iter().any(|k| k == arg) {
                continue;
            }
            let mut detail = format!("FROM argument '{arg}' is not declared");
            if let Some(s) = suggest(arg, self.from_arg_keys.iter().map(String::as_str)) {
                detail.push_str(&format!(" (did you mean {s}?)"));
            }
            self.sink.report(&UNDEFINED_ARG_IN_FROM, span, detail);
        }
    }

    /// Expand and check `FROM --platform`.
    fn check_from_platform(
        &mut self,
        raw: &str,
        span: Span,
        stage_name: Option<&str>,
    ) -> Result<Platform, LintError> {
        let exp = self.lex.expand(raw, &self.global).map_err(|e| {
            build_err(
                format!("failed to process arguments for platform {raw}: {e}"),
                span,
            )
        })?;
        self.report_unused_from_args(&exp, span);
        if exp.matched.len() == 1
            && exp.unmatched.is_empty()
            && exp.matched.contains("TARGETPLATFORM")
            && self.global.get("TARGETPLATFORM") == Some(&exp.result)
        {
            self.sink.report(
                &REDUNDANT_TARGET_PLATFORM,
                span,
                format!(
                    "Setting platform to predefined {raw} in FROM is redundant as this is the default behavior"
                ),
            );
        }
        let parsed = Platform::parse(&exp.result);
        if exp.matched.is_empty()
            && exp.unmatched.is_empty()
            && let Some(p) = &parsed
        {
            let name = stage_name.unwrap_or("");
            if !name.contains(p.os.as_str()) && !name.contains(p.architecture.as_str()) {
                self.sink.report(
                    &FROM_PLATFORM_FLAG_CONST_DISALLOWED,
                    span,
                    format!(
                        "FROM --platform flag should not use constant value {}",
                        go_quote(&exp.result)
                    ),
                );
            }
        }
        if exp.result.is_empty() {
            return Err(build_err(
                format!("empty platform value from expression {raw}"),
                span,
            ));
        }
        parsed.ok_or_else(|| {
            build_err(
                format!(
                    "failed to parse platform {raw}: {}: unknown operating system or architecture: invalid argument",
                    go_quote(&exp.result)
                ),
                span,
            )
        })
    }

    /// Expand one word as BuildKit's single-word expansion does, reporting unset variables.
    fn word(&mut self, st: &State, word: &str, span: Span) -> Result<String, LintError> {
        let exp = self
            .lex
            .expand(word, &st.env)
            .map_err(|e| build_err(e.to_string(), span))?;
        self.report_unmatched(st, exp.unmatched, span);
        Ok(exp.result)
    }

    /// Expand heredoc content of COPY/ADD (BuildKit's raw expansion: quotes are kept).
    fn raw_word(&mut self, st: &State, word: &str, span: Span) -> Result<String, LintError> {
        let mut lex = Lex::new('\\');
        lex.skip_process_quotes = true;
        let exp = lex
            .expand(word, &st.env)
            .map_err(|e| build_err(e.to_string(), span))?;
        self.report_unmatched(st, exp.unmatched, span);
        Ok(exp.result)
    }

    fn report_unmatched(&mut self, st: &State, unmatched: BTreeSet<String>, span: Span) {
        if !st.env_known {
            return;
        }
        for var in unmatched {
            if st.build_args.contains(&var) || NON_ENV_ARGS.contains(&var.as_str()) {
                continue;
            }
            let mut detail = format!("Usage of undefined variable '${var}'");
            if let Some(s) = suggest(&var, st.env.keys().map(String::as_str)) {
                detail.push_str(&format!(" (did you mean ${s}?)"));
            }
            self.sink.report(&UNDEFINED_VAR, span, detail);
        }
    }

    fn check_secret(&mut self, instruction: &str, key: &str, span: Span) {
        if looks_secret(key) {
            self.sink.report(
                &SECRETS_USED_IN_ARG_OR_ENV,
                span,
                format!(
                    "Do not use ARG or ENV instructions for sensitive data ({instruction} {})",
                    go_quote(key)
                ),
            );
        }
    }

    fn used_once(&mut self, slot: &mut Option<Span>, meta: &CommandMeta) {
        if let Some(previous) = slot.replace(meta.span) {
            self.sink.report(
                &MULTIPLE_INSTRUCTIONS_DISALLOWED,
                previous,
                format!(
                    "Multiple {} instructions should not be used in the same stage because only the last one will be used",
                    meta.keyword
                ),
            );
        }
    }

    fn dispatch_stage(
        &mut self,
        index: usize,
        label: &str,
        stage: &crate::instructions::Stage,
        st: &mut State,
    ) -> Result<(), LintError> {
        let mut trackers = Trackers::default();
        for cmd in &stage.commands {
            let meta = &cmd.meta;
            let span = meta.span;
            match &cmd.kind {
                CommandKind::Arg(a) => self.dispatch_arg(a, meta, st)?,
                CommandKind::Env(pairs) => {
                    let mut expanded = Vec::new();
                    for p in pairs {
                        let k = self.word(st, &p.key, span)?;
                        let v = self.word(st, &p.value, span)?;
                        expanded.push((k, v, p));
                    }
                    for (k, v, p) in expanded {
                        if p.no_delim {
                            self.legacy_key_value(meta, p.span);
                        }
                        self.check_secret("ENV", &k, p.span);
                        st.env.insert(k, v);
                    }
                }
                CommandKind::Label(pairs) => {
                    for p in pairs {
                        self.word(st, &p.key, span)?;
                        self.word(st, &p.value, span)?;
                    }
                    for p in pairs.iter().filter(|p| p.no_delim) {
                        self.legacy_key_value(meta, p.span);
                    }
                }
                CommandKind::Workdir(path) => {
                    let path = self.word(st, path, span)?;
                    if !st.workdir_set && !path.starts_with('/') {
                        self.sink.report(
                            &WORKDIR_RELATIVE_PATH,
                            span,
                            format!(
                                "Relative workdir {} can have unexpected results if the base image changes",
                                go_quote(&path)
                            ),
                        );
                    }
                    st.workdir_set = true;
                }
                CommandKind::User(u) => {
                    st.user = self.word(st, u, span)?;
                    st.user_known = true;
                }
                CommandKind::Volume(vols) => {
                    for v in vols {
                        self.word(st, v, span)?;
                    }
                }
                CommandKind::StopSignal(s) => {
                    let s = self.word(st, s, span)?;
                    parse_signal(&s).map_err(|m| build_err(m, span))?;
                }
                CommandKind::Copy(c) => {
                    if let Some(chown) = &c.chown {
                        self.word(st, &chown.value, span)?;
                    }
                    if let Some(chmod) = &c.chmod {
                        let mode = self.word(st, &chmod.value, span)?;
                        Chmod::parse(&mode).map_err(|m| build_err(m, chmod.span))?;
                    }
                    let sources = self.sources(st, &c.sources, span)?;
                    match &c.from {
                        Some(from) => self.check_copy_from(index, label, &from.value, span)?,
                        None => self.check_ignored("Copy", &sources, span),
                    }
                }
                CommandKind::Add(a) => {
                    for flag in [&a.chown, &a.checksum].into_iter().flatten() {
                        self.word(st, &flag.value, span)?;
                    }
                    if let Some(chmod) = &a.chmod {
                        let mode = self.word(st, &chmod.value, span)?;
                        Chmod::parse(&mode).map_err(|m| build_err(m, chmod.span))?;
                    }
                    let sources: Vec<String> = self
                        .sources(st, &a.sources, span)?
                        .into_iter()
                        .filter(|s| !is_remote_source(s))
                        .collect();
                    self.check_ignored("Add", &sources, span);
                }
                CommandKind::Expose(e) => {
                    for p in &e.ports {
                        let words = self
                            .lex
                            .process_words(p, &st.env)
                            .map_err(|e| build_err(e.to_string(), span))?;
                        for raw in words {
                            self.check_port(&raw, span)?;
                        }
                    }
                }
                CommandKind::Cmd(c) | CommandKind::Entrypoint(c) => {
                    let slot = if matches!(cmd.kind, CommandKind::Cmd(_)) {
                        &mut trackers.cmd
                    } else {
                        &mut trackers.entrypoint
                    };
                    self.used_once(slot, meta);
                    if c.prepend_shell && !st.has_shell {
                        self.sink.report(
                            &JSON_ARGS_RECOMMENDED,
                            span,
                            format!(
                                "JSON arguments recommended for {} to prevent unintended behavior related to OS signals",
                                meta.keyword
                            ),
                        );
                    }
                }
                CommandKind::Healthcheck(_) => self.used_once(&mut trackers.healthcheck, meta),
                CommandKind::Shell(_) => st.has_shell = true,
                CommandKind::Run(r) => {
                    for m in &r.mounts {
                        let mut unmatched = BTreeSet::new();
                        let lex = self.lex;
                        let env = &st.env;
                        let mut expand = |w: &str| -> Result<String, String> {
                            let e = lex.expand(w, env).map_err(|e| e.to_string())?;
                            unmatched.extend(e.unmatched);
                            Ok(e.result)
                        };
                        let parsed = m.parse(&mut expand);
                        self.report_unmatched(st, unmatched, span);
                        parsed.map_err(|msg| build_err(msg, m.span))?;
                    }
                }
                CommandKind::Maintainer(_) | CommandKind::Onbuild(_) | CommandKind::From(_) => {}
            }
        }
        Ok(())
    }

    fn legacy_key_value(&mut self, meta: &CommandMeta, span: Span) {
        let k = &meta.keyword;
        self.sink.report(
            &LEGACY_KEY_VALUE_FORMAT,
            span,
            format!("\"{k} key=value\" should be used instead of legacy \"{k} key value\" format"),
        );
    }

    fn dispatch_arg(
        &mut self,
        a: &ArgCommand,
        meta: &CommandMeta,
        st: &mut State,
    ) -> Result<(), LintError> {
        for kp in &a.args {
            self.check_secret("ARG", &kp.key, kp.span);
            let provided = self.input.build_args.get(&kp.key);
            let value = match (provided, &kp.value) {
                (Some(v), _) => Some(v.clone()),
                (None, Some(default)) => Some(self.word(st, default, meta.span)?),
                (None, None) => self.global.get(&kp.key).cloned(),
            };
            if let Some(v) = value
                && !NON_ENV_ARGS.contains(&kp.key.as_str())
            {
                st.env.insert(kp.key.clone(), v);
            }
            st.build_args.push(kp.key.clone());
        }
        Ok(())
    }

    fn sources(
        &mut self,
        st: &State,
        s: &SourcesAndDest,
        span: Span,
    ) -> Result<Vec<String>, LintError> {
        let mut out = Vec::new();
        for src in &s.source_paths {
            out.push(self.word(st, src, span)?);
        }
        self.word(st, &s.dest, span)?;
        for content in s.source_contents.iter().filter(|c| c.expand) {
            self.raw_word(st, &content.data, span)?;
        }
        Ok(out)
    }

    /// CopyIgnoredFile. As in BuildKit, an ignore file with `!` exceptions disables the check:
    /// whether an excluded directory's file is re-included cannot be decided statically.
    fn check_ignored(&mut self, cmd: &str, sources: &[String], span: Span) {
        let Some(matcher) = self.matcher.as_ref().filter(|m| !m.exclusions()) else {
            return;
        };
        let mut hits = Vec::new();
        for src in sources {
            let cleaned = clean_path(src);
            if matcher.matches(&cleaned) {
                hits.push(cleaned);
            }
        }
        for src in hits {
            self.sink.report(
                &COPY_IGNORED_FILE,
                span,
                format!(
                    "Attempting to {cmd} file {} that is excluded by .dockerignore",
                    go_quote(&src)
                ),
            );
        }
    }

    /// `COPY --from` must name an image, or a stage defined earlier.
    fn check_copy_from(
        &mut self,
        index: usize,
        label: &str,
        from: &str,
        span: Span,
    ) -> Result<(), LintError> {
        let target = match from.parse::<i64>() {
            Ok(n) => {
                if n < 0 || n as usize >= self.stage_count {
                    return Err(build_err(format!("invalid stage index {n}"), span));
                }
                Some(n as usize)
            }
            Err(_) => self.all_names.get(&from.to_lowercase()).copied(),
        };
        match target {
            Some(t) if t >= index => Err(build_err(
                format!(
                    "cannot copy from stage {}, it needs to be defined before current stage {}",
                    go_quote(from),
                    go_quote(label)
                ),
                span,
            )),
            _ => Ok(()),
        }
    }

    fn check_port(&mut self, raw: &str, span: Span) -> Result<(), LintError> {
        let (ip, host, container) = split_port_parts(raw);
        let proto = container.split_once('/').map(|(_, p)| p).unwrap_or("");
        if proto != proto.to_lowercase() {
            self.sink.report(
                &EXPOSE_PROTO_CASING,
                span,
                format!("Defined protocol '{raw}' in EXPOSE instruction should be lowercase"),
            );
        }
        if !ip.is_empty() || !host.is_empty() {
            self.sink.report(
                &EXPOSE_INVALID_FORMAT,
                span,
                format!(
                    "EXPOSE instruction should not define an IP address or host-port mapping, found '{raw}'"
                ),
            );
        }
        PortSpec::parse(raw).map_err(|m| build_err(m, span))?;
        Ok(())
    }
}

fn build_err(message: impl Into<String>, span: Span) -> LintError {
    LintError::Build {
        message: message.into(),
        span,
    }
}
