//! The Dockerfile linter behind `strata lint` and `strata build --check`.
//!
//! # Model
//!
//! [`lint`] takes a [`LintInput`] — the Dockerfile text and its display name, the build
//! arguments, and facts about the build context the caller collected ([`ContextFacts`]: the
//! `.dockerignore` patterns, whether `.git`, `node_modules` or large files are present) and,
//! optionally, about base images ([`BaseImage`]) — and returns a [`Report`]: the findings, and
//! the error that stopped the check if there was one (a parse error, a bad `# check=` value, or
//! a value BuildKit would reject while dispatching, such as `${VAR:?msg}` with `VAR` unset).
//! It does no I/O: the binary reads files, walks the context and prints.
//!
//! The checks run the way BuildKit's Dockerfile frontend runs them during `docker build
//! --check`: parse-time rules on the syntax tree, then a walk over every stage that expands
//! words with the same variables BuildKit would have (meta ARGs, build arguments, the
//! `BUILDPLATFORM`/`TARGETPLATFORM` family, ARG and ENV of the stage and of the stage it is
//! built on), reporting the same findings with the same detail texts. Strata's own
//! best-practice rules then look at the typed instructions and at the RUN command lines.
//!
//! One difference is deliberate. BuildKit knows each base image's configuration because it
//! pulls it; the linter does not. A stage's environment is therefore *known* only when it
//! starts from `scratch`, from an earlier stage whose environment is known, from an image the
//! caller described in [`LintInput::base_images`], or from an official OS image that sets
//! nothing but `PATH` (`alpine`, `busybox`, `debian`, `ubuntu`). `UndefinedVar` is reported
//! only in known environments, so a variable set by, say, the `golang` image is never reported
//! as undefined. `InvalidBaseImagePlatform` needs a [`BaseImage::platform`].
//!
//! # Levels and directives
//!
//! Every finding is a warning. `# check=error=true` (or the `BUILDKIT_DOCKERFILE_CHECK` build
//! argument, which replaces the directive as in BuildKit) turns every finding into an error.
//! `# check=skip=A,B` skips rules by name (Strata's rules too), `skip=all` skips every
//! non-experimental rule, and `experimental=…` enables experimental rules — which then run even
//! when skipped, as in BuildKit.
//!
//! # Rules
//!
//! Docker's build checks (name, what triggers it; texts and URLs are BuildKit's):
//!
//! | rule | reported when |
//! |---|---|
//! | `StageNameCasing` | `FROM x AS Name`: the stage name is not lower case |
//! | `FromAsCasing` | `FROM` and `AS` are cased differently (`FROM x as y`) |
//! | `NoEmptyContinuation` | a blank line inside a line continuation |
//! | `ConsistentInstructionCasing` | an instruction is not cased like the majority (mixed case always is) |
//! | `DuplicateStageName` | two stages share a name |
//! | `ReservedStageName` | a stage is named `scratch` or `context` |
//! | `JSONArgsRecommended` | CMD/ENTRYPOINT in shell form while no SHELL is set |
//! | `MaintainerDeprecated` | MAINTAINER is used |
//! | `UndefinedArgInFrom` | FROM (or its `--platform`) uses an ARG that is never declared |
//! | `WorkdirRelativePath` | the first WORKDIR of a stage chain is relative |
//! | `UndefinedVar` | a word expanded by ENV, LABEL, ADD, COPY, WORKDIR, USER, VOLUME, STOPSIGNAL, ARG defaults or `RUN --mount` uses an unset variable |
//! | `MultipleInstructionsDisallowed` | CMD, ENTRYPOINT or HEALTHCHECK appears twice in a stage (the earlier one is reported) |
//! | `LegacyKeyValueFormat` | `ENV key value` or `LABEL key value` |
//! | `InvalidBaseImagePlatform` | a described base image's platform differs from the one requested |
//! | `RedundantTargetPlatform` | `FROM --platform=$TARGETPLATFORM` |
//! | `SecretsUsedInArgOrEnv` | an ARG or ENV name looks like a secret (`*_PASSWORD`, `API_KEY`, `TOKEN`…) |
//! | `InvalidDefaultArgInFrom` | with default ARG values only, a FROM names no valid image |
//! | `FromPlatformFlagConstDisallowed` | `FROM --platform=linux/amd64` with a constant not echoed in the stage name |
//! | `CopyIgnoredFile` | COPY/ADD of a context path that `.dockerignore` excludes (skipped when the ignore file has `!` exceptions) |
//! | `InvalidDefinitionDescription` | experimental: the comment right above `FROM … AS name` or `ARG name` does not start with the name |
//! | `ExposeProtoCasing` | `EXPOSE 80/TCP` |
//! | `ExposeInvalidFormat` | `EXPOSE 127.0.0.1:80:80` or `EXPOSE 8080:80` |
//!
//! Strata's best-practice rules, from the Docker image-building guides (documentation under
//! [`rules::STRATA_RULE_URL_BASE`]):
//!
//! | rule | reported when | what to do |
//! |---|---|---|
//! | `BaseImageNotPinned` | a base image has no tag or uses `latest` | pin a version tag, ideally with a digest (`alpine:3.20@sha256:…`) |
//! | `AptGetUpdateAlone` | a RUN runs `apt-get update` (or `apt update`) but installs nothing | run `apt-get update && apt-get install …` in one RUN, or the cached index goes stale |
//! | `PackageCacheLeft` | `apt-get install` without removing `/var/lib/apt/lists`, `apk add` without `--no-cache`, `pip install` without `--no-cache-dir`, `yum`/`dnf install` without `clean all` — unless a cache mount covers the cache | clean up in the same RUN or use `RUN --mount=type=cache` |
//! | `RootUser` | the final stage never switches to a non-root USER | add `USER <non-root>` |
//! | `AddForLocalFile` | ADD copies local files that are not archives | use COPY; keep ADD for archives and remote sources |
//! | `MissingDockerignore` | no `.dockerignore` while the context holds `.git`, `node_modules` or large files | add a `.dockerignore` |
//! | `ConsecutiveRun` | RUN instructions with the same flags follow each other | join them with `&&` (one finding per sequence) |
//! | `CopyAllBeforeInstall` | `COPY . …` comes before a dependency installation (`npm ci`, `pip install -r`, `go mod download`…) in the same stage | copy the manifests, install, then copy the rest |
//! | `CompilerInSingleStage` | a single-stage build installs a compiler toolchain, or compiles on a compiler image | build in one stage, copy the artefact into a slim runtime stage |
//!
//! The rule logic is written by hand: it reproduces BuildKit's checks on top of this crate's
//! parser and expander, and no crate implements either.

mod buildkit;
mod output;
mod practices;
pub mod rules;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use strata_oci::Platform;

use crate::diagnostic::{Diagnostic, Severity};
use crate::directives::CheckOptions;
use crate::span::Span;

pub use rules::{ALL_RULES, Origin, Rule, rule_by_name};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Warning,
    Error,
}

impl Level {
    /// `warning` or `error`, as written in JSON and SARIF.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One problem found by a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static Rule,
    /// The specific message, e.g. `Stage name 'Build' should be lowercase`.
    pub detail: String,
    pub level: Level,
    /// The offending source range.
    pub span: Span,
}

/// A large file found in the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LargeFile {
    /// Slash-separated path relative to the context root.
    pub path: String,
    pub size: u64,
}

/// What the caller knows about the build context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContextFacts {
    /// The patterns of the ignore file in effect (`Dockerfile.dockerignore` or `.dockerignore`,
    /// read with [`strata_patterns::parse_ignore_file`]), or `None` when there is none.
    pub dockerignore: Option<Vec<String>>,
    /// The context has a `.git` directory.
    pub has_git: bool,
    /// The context has a `node_modules` directory.
    pub has_node_modules: bool,
    /// Files at least as large as the caller's threshold.
    pub large_files: Vec<LargeFile>,
}

/// What the caller knows about a base image (e.g. from the local store).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseImage {
    /// `Config.Env`, `KEY=VALUE` strings.
    pub env: Vec<String>,
    /// `Config.User` (empty: root).
    pub user: String,
    /// `Config.Shell` is set.
    pub has_shell: bool,
    /// The image's platform.
    pub platform: Option<Platform>,
}

/// Everything [`lint`] looks at.
#[derive(Debug, Clone)]
pub struct LintInput<'a> {
    /// The Dockerfile text.
    pub source: &'a str,
    /// The name shown in findings (`Dockerfile`, `build/app.Dockerfile`).
    pub file: String,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// Facts about the build context, if there is one.
    pub context: Option<ContextFacts>,
    /// Base images the caller could describe, keyed by the reference as written in FROM after
    /// ARG expansion (`alpine:3.20`).
    pub base_images: BTreeMap<String, BaseImage>,
    /// The platform the build runs on (`BUILDPLATFORM`).
    pub build_platform: Platform,
    /// The platform built for (`TARGETPLATFORM`); the build platform when `None`.
    pub target_platform: Option<Platform>,
}

impl<'a> LintInput<'a> {
    /// An input with no build arguments, no context facts, and the host as platform.
    pub fn new(source: &'a str, file: impl Into<String>) -> Self {
        LintInput {
            source,
            file: file.into(),
            build_args: BTreeMap::new(),
            context: None,
            base_images: BTreeMap::new(),
            build_platform: Platform::host(),
            target_platform: None,
        }
    }
}

/// The error that stopped a check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LintError {
    /// The Dockerfile does not parse, or an instruction is malformed.
    #[error(transparent)]
    Parse(#[from] crate::Error),
    /// The `# check=` directive (or `BUILDKIT_DOCKERFILE_CHECK`) is malformed.
    #[error("failed to parse check options: {message}")]
    CheckOptions { message: String, span: Span },
    /// A value BuildKit would reject while building (an expansion error, a bad port…).
    #[error("{message}")]
    Build { message: String, span: Span },
}

impl LintError {
    /// The source range the error is about.
    pub fn span(&self) -> Span {
        match self {
            LintError::Parse(e) => e.span(),
            LintError::CheckOptions { span, .. } | LintError::Build { span, .. } => *span,
        }
    }

    /// The error as a diagnostic for `file`.
    pub fn diagnostic(&self, file: &str) -> Diagnostic {
        Diagnostic::new(Severity::Error, file, self.span(), self.to_string())
    }
}

/// The outcome of [`lint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The file name findings refer to.
    pub file: String,
    /// Findings sorted by line, then detail.
    pub findings: Vec<Finding>,
    /// What stopped the check early, if anything (findings up to that point are kept).
    pub error: Option<LintError>,
    /// `# check=error=true` was in effect.
    pub error_on_findings: bool,
}

impl Report {
    /// Whether the check failed: an error stopped it or an error-level finding exists.
    pub fn failed(&self) -> bool {
        self.error.is_some() || self.findings.iter().any(|f| f.level == Level::Error)
    }

    /// The names of the rules that produced findings, sorted and deduplicated.
    pub fn rule_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.findings.iter().map(|f| f.rule.name).collect();
        names.sort_unstable();
        names.dedup();
        names
    }
}

/// The rule filter and level that `# check=` selects.
#[derive(Debug, Clone, Default)]
pub(crate) struct Policy {
    options: CheckOptions,
}

impl Policy {
    fn enabled(&self, rule: &Rule) -> bool {
        let o = &self.options;
        if rule.experimental {
            o.experimental_all || o.experimental.iter().any(|r| r == rule.name)
        } else {
            !o.skip_all && !o.skip.iter().any(|r| r == rule.name)
        }
    }

    fn level(&self) -> Level {
        if self.options.error {
            Level::Error
        } else {
            Level::Warning
        }
    }
}

/// Collects findings, applying the policy.
pub(crate) struct Sink {
    policy: Policy,
    findings: Vec<Finding>,
}

impl Sink {
    fn new(policy: Policy) -> Self {
        Sink {
            policy,
            findings: Vec::new(),
        }
    }

    pub(crate) fn report(&mut self, rule: &'static Rule, span: Span, detail: impl Into<String>) {
        if self.policy.enabled(rule) {
            self.findings.push(Finding {
                rule,
                detail: detail.into(),
                level: self.policy.level(),
                span,
            });
        }
    }
}

/// The build argument that replaces the `# check=` directive, as in BuildKit.
pub const CHECK_BUILD_ARG: &str = "BUILDKIT_DOCKERFILE_CHECK";

/// Run every rule over `input`.
pub fn lint(input: &LintInput<'_>) -> Report {
    let mut report = Report {
        file: input.file.clone(),
        findings: Vec::new(),
        error: None,
        error_on_findings: false,
    };
    let df = match crate::parse(input.source) {
        Ok(df) => df,
        Err(e) => {
            report.error = Some(LintError::Parse(e));
            return report;
        }
    };
    let (check_value, check_span) = match input.build_args.get(CHECK_BUILD_ARG) {
        Some(v) => (Some(v.clone()), Span::default()),
        None => match df.directive("check") {
            Some(d) => (Some(d.value.clone()), d.span),
            None => (None, Span::default()),
        },
    };
    let options = match check_value.as_deref().map(CheckOptions::parse) {
        None => CheckOptions::default(),
        Some(Ok(o)) => o,
        Some(Err(message)) => {
            report.error = Some(LintError::CheckOptions {
                message,
                span: check_span,
            });
            return report;
        }
    };
    report.error_on_findings = options.error;
    let mut sink = Sink::new(Policy { options });
    let outcome = buildkit::check(input, &df, &mut sink);
    match outcome {
        Ok(stages) => practices::check(input, &df, &stages, &mut sink),
        Err(e) => report.error = Some(e),
    }
    let mut findings = sink.findings;
    findings.sort_by(|a, b| {
        (
            a.span.start.line,
            &a.detail,
            a.span.start.column,
            a.rule.name,
        )
            .cmp(&(
                b.span.start.line,
                &b.detail,
                b.span.start.column,
                b.rule.name,
            ))
    });
    findings.dedup();
    report.findings = findings;
    report
}

pub use output::{render_text, to_json, to_sarif};
