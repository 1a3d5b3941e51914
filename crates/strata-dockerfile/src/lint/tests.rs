//! Unit tests of the rules: each rule with inputs that trigger it and inputs that do not, the
//! `# check=` directive, ordering, and the output shapes.

use strata_oci::Platform;

use super::*;

fn run(src: &str) -> Report {
    lint(&LintInput::new(src, "Dockerfile"))
}

fn run_with(src: &str, f: impl FnOnce(&mut LintInput<'_>)) -> Report {
    let mut input = LintInput::new(src, "Dockerfile");
    input.build_platform = Platform::parse("linux/amd64").unwrap();
    f(&mut input);
    lint(&input)
}

fn details(r: &Report, rule: &str) -> Vec<String> {
    assert!(r.error.is_none(), "unexpected error: {:?}", r.error);
    r.findings
        .iter()
        .filter(|f| f.rule.name == rule)
        .map(|f| f.detail.clone())
        .collect()
}

fn lines(r: &Report, rule: &str) -> Vec<usize> {
    r.findings
        .iter()
        .filter(|f| f.rule.name == rule)
        .map(|f| f.span.start.line)
        .collect()
}

fn facts(ignore: Option<&[&str]>) -> ContextFacts {
    ContextFacts {
        dockerignore: ignore.map(|p| p.iter().map(|s| s.to_string()).collect()),
        ..ContextFacts::default()
    }
}

#[test]
fn stage_name_casing() {
    let r = run("FROM alpine:3.20 AS Build\n");
    assert_eq!(
        details(&r, "StageNameCasing"),
        ["Stage name 'Build' should be lowercase"]
    );
    assert!(details(&run("FROM alpine:3.20 AS build\n"), "StageNameCasing").is_empty());
}

#[test]
fn from_as_casing() {
    let r = run("FROM alpine:3.20 as build\n");
    assert_eq!(
        details(&r, "FromAsCasing"),
        ["'as' and 'FROM' keywords' casing do not match"]
    );
    let r = run("from alpine:3.20 AS build\n");
    assert_eq!(
        details(&r, "FromAsCasing"),
        ["'AS' and 'from' keywords' casing do not match"]
    );
    assert!(details(&run("from alpine:3.20 as build\n"), "FromAsCasing").is_empty());
    assert!(details(&run("FROM alpine:3.20 AS build\n"), "FromAsCasing").is_empty());
    // A mixed-case FROM is ConsistentInstructionCasing's business only.
    assert!(details(&run("From alpine:3.20 as build\n"), "FromAsCasing").is_empty());
}

#[test]
fn no_empty_continuation() {
    let r = run("FROM alpine:3.20\nRUN echo a \\\n\n  b\n");
    assert_eq!(
        details(&r, "NoEmptyContinuation"),
        ["Empty continuation line"]
    );
    assert_eq!(lines(&r, "NoEmptyContinuation"), [4]);
    let r = run("FROM alpine:3.20\nRUN echo a \\\n  b\n");
    assert!(details(&r, "NoEmptyContinuation").is_empty());
}

#[test]
fn consistent_instruction_casing() {
    let r = run("FROM alpine:3.20\nrun echo a\nRUN echo b\n");
    assert_eq!(
        details(&r, "ConsistentInstructionCasing"),
        ["Command 'run' should match the case of the command majority (uppercase)"]
    );
    let r = run("from alpine:3.20\nrun echo a\nRUN echo b\n");
    assert_eq!(
        details(&r, "ConsistentInstructionCasing"),
        ["Command 'RUN' should match the case of the command majority (lowercase)"]
    );
    let r = run("FROM alpine:3.20\nRun echo a\n");
    assert_eq!(
        details(&r, "ConsistentInstructionCasing"),
        ["Command 'Run' should match the case of the command majority (uppercase)"]
    );
    assert!(
        details(
            &run("FROM alpine:3.20\nRUN a\n"),
            "ConsistentInstructionCasing"
        )
        .is_empty()
    );
    // Meta ARGs before the first FROM are not counted, as in BuildKit.
    assert!(
        details(
            &run("arg X=1\nFROM alpine:3.20\n"),
            "ConsistentInstructionCasing"
        )
        .is_empty()
    );
}

#[test]
fn duplicate_and_reserved_stage_names() {
    let r = run("FROM alpine:3.20 AS a\nFROM alpine:3.20 AS a\n");
    assert_eq!(
        details(&r, "DuplicateStageName"),
        ["Duplicate stage name \"a\", stage names should be unique"]
    );
    assert_eq!(lines(&r, "DuplicateStageName"), [2]);
    let r = run("FROM alpine:3.20 AS a\nFROM alpine:3.20 AS b\n");
    assert!(details(&r, "DuplicateStageName").is_empty());
    let r = run("FROM alpine:3.20 AS scratch\n");
    assert_eq!(
        details(&r, "ReservedStageName"),
        ["Stage name should not use the same name as reserved stage \"scratch\""]
    );
    let r = run("FROM alpine:3.20 AS Context\n");
    assert_eq!(
        details(&r, "ReservedStageName"),
        ["Stage name should not use the same name as reserved stage \"context\""]
    );
    assert!(details(&run("FROM alpine:3.20 AS base\n"), "ReservedStageName").is_empty());
}

#[test]
fn json_args_recommended() {
    let r = run("FROM alpine:3.20\nCMD echo hi\nENTRYPOINT my-app serve\n");
    assert_eq!(
        details(&r, "JSONArgsRecommended"),
        [
            "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
            "JSON arguments recommended for ENTRYPOINT to prevent unintended behavior related to OS signals"
        ]
    );
    assert!(
        details(
            &run("FROM alpine:3.20\nCMD [\"echo\", \"hi\"]\n"),
            "JSONArgsRecommended"
        )
        .is_empty()
    );
    let r = run("FROM alpine:3.20\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo hi\n");
    assert!(details(&r, "JSONArgsRecommended").is_empty());
    // A SHELL set in the base stage counts too.
    let r = run("FROM alpine:3.20 AS a\nSHELL [\"/bin/ash\", \"-c\"]\nFROM a\nCMD echo hi\n");
    assert!(details(&r, "JSONArgsRecommended").is_empty());
}

#[test]
fn maintainer_deprecated() {
    let r = run("FROM alpine:3.20\nMAINTAINER me@example.com\n");
    assert_eq!(
        details(&r, "MaintainerDeprecated"),
        ["Maintainer instruction is deprecated in favor of using label"]
    );
    let r = run("FROM alpine:3.20\nLABEL org.opencontainers.image.authors=me\n");
    assert!(details(&r, "MaintainerDeprecated").is_empty());
}

#[test]
fn undefined_arg_in_from() {
    let r = run("FROM alpine:${TAG}\n");
    assert_eq!(
        details(&r, "UndefinedArgInFrom"),
        ["FROM argument 'TAG' is not declared"]
    );
    let r = run("ARG TAGG=3.20\nFROM alpine:${TAG}\n");
    assert_eq!(
        details(&r, "UndefinedArgInFrom"),
        ["FROM argument 'TAG' is not declared (did you mean TAGG?)"]
    );
    let r = run("FROM --platform=${BULDPLATFORM:-$BUILDPLATFORM} alpine:3.20 AS b\n");
    assert_eq!(
        details(&r, "UndefinedArgInFrom"),
        ["FROM argument 'BULDPLATFORM' is not declared (did you mean BUILDPLATFORM?)"]
    );
    assert!(
        details(
            &run("ARG TAG=3.20\nFROM alpine:${TAG}\n"),
            "UndefinedArgInFrom"
        )
        .is_empty()
    );
    assert!(details(&run("ARG TAG\nFROM alpine:3${TAG}\n"), "UndefinedArgInFrom").is_empty());
    let r = run("FROM --platform=$BUILDPLATFORM alpine:3.20\n");
    assert!(details(&r, "UndefinedArgInFrom").is_empty());
}

#[test]
fn workdir_relative_path() {
    let r = run("FROM alpine:3.20\nWORKDIR app\n");
    assert_eq!(
        details(&r, "WorkdirRelativePath"),
        ["Relative workdir \"app\" can have unexpected results if the base image changes"]
    );
    let r = run("FROM alpine:3.20\nWORKDIR /app\nWORKDIR sub\n");
    assert!(details(&r, "WorkdirRelativePath").is_empty());
    let r = run("FROM alpine:3.20 AS a\nWORKDIR /app\nFROM a\nWORKDIR sub\n");
    assert!(details(&r, "WorkdirRelativePath").is_empty());
    // Expansion happens first: an absolute path from an ARG is fine.
    let r = run("FROM alpine:3.20\nARG DIR=/srv\nWORKDIR $DIR\n");
    assert!(details(&r, "WorkdirRelativePath").is_empty());
}

#[test]
fn undefined_var() {
    let r = run("FROM alpine:3.20\nCOPY $foo .\n");
    assert_eq!(
        details(&r, "UndefinedVar"),
        ["Usage of undefined variable '$foo'"]
    );
    let r = run("FROM alpine:3.20\nARG VERSION=1\nENV V=$VERSOIN\n");
    assert_eq!(
        details(&r, "UndefinedVar"),
        ["Usage of undefined variable '$VERSOIN' (did you mean $VERSION?)"]
    );
    // In one ENV, later pairs do not see earlier ones (BuildKit expands first).
    let r = run("FROM scratch\nENV A=1 B=$A\n");
    assert_eq!(
        details(&r, "UndefinedVar"),
        ["Usage of undefined variable '$A'"]
    );
    // Declared ARGs without a value, PATH, earlier ENVs and the base stage's ENV are defined.
    let r = run(
        "FROM scratch AS a\nENV HOME_DIR=/h\nFROM a\nARG X\nENV A=1\nENV Y=$X:$PATH:$A:$HOME_DIR\nWORKDIR ${HOME_DIR}\n",
    );
    assert!(details(&r, "UndefinedVar").is_empty());
    // An image we know nothing about may define anything.
    let r = run("FROM golang:1.22\nENV P=$GOPATH/bin\n");
    assert!(details(&r, "UndefinedVar").is_empty());
    // Unless the caller describes it.
    let described = |env: Vec<String>| {
        run_with("FROM golang:1.22\nENV P=$GOPATH/bin\n", |i| {
            i.base_images.insert(
                "golang:1.22".to_string(),
                BaseImage {
                    env,
                    ..BaseImage::default()
                },
            );
        })
    };
    assert!(details(&described(vec!["GOPATH=/go".into()]), "UndefinedVar").is_empty());
    assert_eq!(
        details(&described(vec![]), "UndefinedVar"),
        ["Usage of undefined variable '$GOPATH' (did you mean $PATH?)"]
    );
    // RUN command lines are left to the shell; mounts are expanded.
    assert!(details(&run("FROM alpine:3.20\nRUN echo $NOPE\n"), "UndefinedVar").is_empty());
    let r = run("FROM alpine:3.20\nRUN --mount=type=cache,target=$CACHE true\n");
    assert_eq!(
        details(&r, "UndefinedVar"),
        ["Usage of undefined variable '$CACHE'"]
    );
}

#[test]
fn multiple_instructions_disallowed() {
    let r = run("FROM alpine:3.20\nCMD [\"a\"]\nHEALTHCHECK NONE\nCMD [\"b\"]\nHEALTHCHECK NONE\n");
    assert_eq!(
        details(&r, "MultipleInstructionsDisallowed"),
        [
            "Multiple CMD instructions should not be used in the same stage because only the last one will be used",
            "Multiple HEALTHCHECK instructions should not be used in the same stage because only the last one will be used"
        ]
    );
    // The earlier, ignored instruction is the one reported.
    assert_eq!(lines(&r, "MultipleInstructionsDisallowed"), [2, 3]);
    let r = run("FROM alpine:3.20 AS a\nCMD [\"a\"]\nFROM a\nCMD [\"b\"]\n");
    assert!(details(&r, "MultipleInstructionsDisallowed").is_empty());
}

#[test]
fn legacy_key_value_format() {
    let r = run("FROM alpine:3.20\nENV A b\nlabel x y\n");
    assert_eq!(
        details(&r, "LegacyKeyValueFormat"),
        [
            "\"ENV key=value\" should be used instead of legacy \"ENV key value\" format",
            "\"label key=value\" should be used instead of legacy \"label key value\" format"
        ]
    );
    let r = run("FROM alpine:3.20\nENV A=b C=d\nLABEL x=y\n");
    assert!(details(&r, "LegacyKeyValueFormat").is_empty());
}

#[test]
fn invalid_base_image_platform() {
    let with = |platform: &str| {
        run_with("FROM alpine:3.20\n", |i| {
            i.base_images.insert(
                "alpine:3.20".to_string(),
                BaseImage {
                    platform: Platform::parse(platform),
                    ..BaseImage::default()
                },
            );
        })
    };
    assert_eq!(
        details(&with("linux/arm64/v8"), "InvalidBaseImagePlatform"),
        [
            "Base image alpine:3.20 was pulled with platform \"linux/arm64\", expected \"linux/amd64\" for current build"
        ]
    );
    assert!(details(&with("linux/amd64"), "InvalidBaseImagePlatform").is_empty());
    // Without facts nothing can be said.
    assert!(details(&run("FROM alpine:3.20\n"), "InvalidBaseImagePlatform").is_empty());
}

#[test]
fn redundant_target_platform() {
    let r = run("FROM --platform=$TARGETPLATFORM alpine:3.20\n");
    assert_eq!(
        details(&r, "RedundantTargetPlatform"),
        [
            "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior"
        ]
    );
    let r = run("FROM --platform=${TARGETPLATFORM} alpine:3.20\n");
    assert_eq!(details(&r, "RedundantTargetPlatform").len(), 1);
    let r = run("FROM --platform=$BUILDPLATFORM alpine:3.20\n");
    assert!(details(&r, "RedundantTargetPlatform").is_empty());
}

#[test]
fn secrets_used_in_arg_or_env() {
    let r = run("FROM alpine:3.20\nARG API_KEY\nENV DB_PASSWORD=x\nARG github_token\n");
    assert_eq!(
        details(&r, "SecretsUsedInArgOrEnv"),
        [
            "Do not use ARG or ENV instructions for sensitive data (ARG \"API_KEY\")",
            "Do not use ARG or ENV instructions for sensitive data (ENV \"DB_PASSWORD\")",
            "Do not use ARG or ENV instructions for sensitive data (ARG \"github_token\")"
        ]
    );
    let r =
        run("FROM alpine:3.20\nARG PUBLIC_KEY\nENV KEYBOARD=x\nARG TOKEN_FILE\nENV AUTHOR=me\n");
    assert!(details(&r, "SecretsUsedInArgOrEnv").is_empty());
}

#[test]
fn invalid_default_arg_in_from() {
    let r = run("ARG TAG\nFROM alpine:${TAG}\n");
    assert_eq!(
        details(&r, "InvalidDefaultArgInFrom"),
        ["Default value for ARG alpine:${TAG} results in empty or invalid base image name"]
    );
    // Checked with defaults only: a build argument does not hide it.
    let r = run_with("ARG IMAGE\nFROM ${IMAGE}\n", |i| {
        i.build_args.insert("IMAGE".into(), "alpine:3.20".into());
    });
    assert_eq!(details(&r, "InvalidDefaultArgInFrom").len(), 1);
    assert!(
        details(
            &run("ARG TAG=3.20\nFROM alpine:${TAG}\n"),
            "InvalidDefaultArgInFrom"
        )
        .is_empty()
    );
}

#[test]
fn from_platform_flag_const_disallowed() {
    let r = run("FROM --platform=linux/amd64 alpine:3.20 AS build\n");
    assert_eq!(
        details(&r, "FromPlatformFlagConstDisallowed"),
        ["FROM --platform flag should not use constant value \"linux/amd64\""]
    );
    let r = run("FROM --platform=linux/amd64 alpine:3.20 AS build-amd64\n");
    assert!(details(&r, "FromPlatformFlagConstDisallowed").is_empty());
    let r = run("FROM --platform=$BUILDPLATFORM alpine:3.20 AS build\n");
    assert!(details(&r, "FromPlatformFlagConstDisallowed").is_empty());
}

#[test]
fn copy_ignored_file() {
    let src = "FROM alpine:3.20 AS a\nCOPY secret.txt ./src/ /app/\nADD ./build/out /x\nFROM a\nCOPY --from=a secret.txt /y\n";
    let r = run_with(src, |i| {
        i.context = Some(facts(Some(&["secret.txt", "build"])))
    });
    assert_eq!(
        details(&r, "CopyIgnoredFile"),
        [
            "Attempting to Copy file \"secret.txt\" that is excluded by .dockerignore",
            "Attempting to Add file \"build/out\" that is excluded by .dockerignore"
        ]
    );
    // `!` exceptions make the answer undecidable: BuildKit skips the check.
    let r = run_with(src, |i| {
        i.context = Some(facts(Some(&["build", "!build/out"])))
    });
    assert!(details(&r, "CopyIgnoredFile").is_empty());
    let r = run_with(src, |i| i.context = Some(facts(Some(&["*.md"]))));
    assert!(details(&r, "CopyIgnoredFile").is_empty());
    let r = run_with(src, |i| i.context = Some(facts(None)));
    assert!(details(&r, "CopyIgnoredFile").is_empty());
}

#[test]
fn invalid_definition_description_is_experimental() {
    let body =
        "# some comment\nARG foo=bar\n# build stage\nFROM alpine:3.20 AS base\n# a b\nARG a b\n";
    assert!(details(&run(body), "InvalidDefinitionDescription").is_empty());
    let r = run(&format!(
        "# check=experimental=InvalidDefinitionDescription\n{body}"
    ));
    assert_eq!(
        details(&r, "InvalidDefinitionDescription"),
        [
            "Comment for ARG should follow the format: `# foo <description>`",
            "Comment for FROM should follow the format: `# base <description>`",
        ]
    );
    let good = "# check=experimental=all\n# foo the foo\nARG foo=bar\n\n# base the base\nFROM alpine:3.20 AS base\n# x\nARG y z\n";
    assert_eq!(
        details(&run(good), "InvalidDefinitionDescription"),
        ["Comment for ARG should follow the format: `# <arg_key> <description>`"]
    );
}

#[test]
fn expose_rules() {
    let r = run("FROM alpine:3.20\nEXPOSE 80/TCP 127.0.0.1:8080:8080 5000:5000\n");
    assert_eq!(
        details(&r, "ExposeProtoCasing"),
        ["Defined protocol '80/TCP' in EXPOSE instruction should be lowercase"]
    );
    assert_eq!(
        details(&r, "ExposeInvalidFormat"),
        [
            "EXPOSE instruction should not define an IP address or host-port mapping, found '127.0.0.1:8080:8080'",
            "EXPOSE instruction should not define an IP address or host-port mapping, found '5000:5000'"
        ]
    );
    let r = run("FROM alpine:3.20\nARG PORT=8080\nEXPOSE 80/tcp 53/udp $PORT\n");
    assert!(details(&r, "ExposeProtoCasing").is_empty());
    assert!(details(&r, "ExposeInvalidFormat").is_empty());
}

#[test]
fn base_image_not_pinned() {
    let r = run("FROM alpine\nFROM node:latest\n");
    assert_eq!(
        details(&r, "BaseImageNotPinned"),
        [
            "Base image 'alpine' has no tag, so it means 'latest'; pin a version (and a digest) for reproducible builds",
            "Base image 'node:latest' uses the 'latest' tag; pin a version (and a digest) for reproducible builds"
        ]
    );
    let digest = "alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let r = run(&format!(
        "FROM alpine:3.20 AS a\nFROM {digest}\nFROM scratch\nFROM a\nARG V=22\nFROM node:${{V}}\n"
    ));
    assert!(details(&r, "BaseImageNotPinned").is_empty());
}

#[test]
fn apt_get_update_alone() {
    let r = run("FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n");
    assert_eq!(
        details(&r, "AptGetUpdateAlone"),
        [
            "'apt-get update' runs without an install in the same RUN; its package index is cached in a layer of its own and goes stale"
        ]
    );
    let r = run(
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n",
    );
    assert!(details(&r, "AptGetUpdateAlone").is_empty());
}

#[test]
fn package_cache_left() {
    let r = run(
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nRUN apk add git\nRUN pip install flask\nRUN dnf install -y gcc\n",
    );
    assert_eq!(
        details(&r, "PackageCacheLeft"),
        [
            "'apt-get install' leaves the package lists in the layer; remove /var/lib/apt/lists/* in the same RUN",
            "'apk add' without --no-cache leaves the package index in the layer",
            "'pip install' without --no-cache-dir leaves its download cache in the layer",
            "'dnf install' leaves the package cache in the layer; run 'dnf clean all' in the same RUN"
        ]
    );
    let r = run(concat!(
        "FROM debian:12\n",
        "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n",
        "RUN --mount=type=cache,target=/var/lib/apt --mount=type=cache,target=/var/cache/apt apt-get update && apt-get install -y gcc\n",
        "RUN apk add --no-cache git\n",
        "RUN python3 -m pip install --no-cache-dir flask\n",
        "RUN dnf install -y gcc && dnf clean all\n",
    ));
    assert!(details(&r, "PackageCacheLeft").is_empty());
    let r = run("FROM python:3.12\nENV PIP_NO_CACHE_DIR=1\nRUN pip install flask\n");
    assert!(details(&r, "PackageCacheLeft").is_empty());
}

#[test]
fn root_user() {
    let r = run("FROM alpine:3.20\nRUN true\n");
    assert_eq!(
        details(&r, "RootUser"),
        ["The final stage runs as root; add a USER instruction with a non-root user"]
    );
    let r = run("FROM alpine:3.20\nUSER app\nUSER root\n");
    assert_eq!(
        details(&r, "RootUser"),
        ["The final stage runs as \"root\"; switch to a non-root user"]
    );
    assert_eq!(lines(&r, "RootUser"), [3]);
    assert!(details(&run("FROM alpine:3.20\nUSER 1000:1000\n"), "RootUser").is_empty());
    // Inherited from the stage it is built on; earlier stages do not matter.
    let r = run("FROM alpine:3.20 AS base\nUSER app\nFROM base\n");
    assert!(details(&r, "RootUser").is_empty());
    let r = run("FROM alpine:3.20 AS build\nRUN make\nFROM alpine:3.20\nUSER app\n");
    assert!(details(&r, "RootUser").is_empty());
    let r = run("FROM gcr.io/distroless/static:nonroot\n");
    assert!(details(&r, "RootUser").is_empty());
}

#[test]
fn add_for_local_file() {
    let r = run("FROM alpine:3.20\nADD app.py config/ /app/\n");
    assert_eq!(
        details(&r, "AddForLocalFile"),
        ["ADD of local 'app.py', 'config/' does nothing COPY would not do; use COPY"]
    );
    let r = run(concat!(
        "FROM alpine:3.20\n",
        "ADD rootfs.tar.gz /\n",
        "ADD https://example.com/tool /usr/local/bin/tool\n",
        "ADD git@github.com:org/repo.git /src\n",
        "COPY app.py /app/\n",
    ));
    assert!(details(&r, "AddForLocalFile").is_empty());
}

#[test]
fn missing_dockerignore() {
    let context = ContextFacts {
        dockerignore: None,
        has_git: true,
        has_node_modules: true,
        large_files: vec![LargeFile {
            path: "data/dump.sql".into(),
            size: 3 * 512 * 1024 * 1024,
        }],
    };
    let r = run_with("FROM alpine:3.20\n", |i| i.context = Some(context.clone()));
    assert_eq!(
        details(&r, "MissingDockerignore"),
        [
            "The build context has no .dockerignore but contains .git, node_modules and the large file data/dump.sql (1.5 GiB); a .dockerignore keeps such content out of every build"
        ]
    );
    let with_ignore = ContextFacts {
        dockerignore: Some(vec![]),
        ..context
    };
    let r = run_with("FROM alpine:3.20\n", |i| i.context = Some(with_ignore));
    assert!(details(&r, "MissingDockerignore").is_empty());
    let r = run_with("FROM alpine:3.20\n", |i| i.context = Some(facts(None)));
    assert!(details(&r, "MissingDockerignore").is_empty());
    assert!(details(&run("FROM alpine:3.20\n"), "MissingDockerignore").is_empty());
}

#[test]
fn consecutive_run() {
    let r = run("FROM alpine:3.20\nRUN a\nRUN b\nRUN c\nCOPY x /x\nRUN d\nRUN e\n");
    assert_eq!(
        details(&r, "ConsecutiveRun"),
        [
            "3 consecutive RUN instructions could be combined into one with '&&', saving 2 layers",
            "2 consecutive RUN instructions could be combined into one with '&&', saving 1 layer"
        ]
    );
    assert_eq!(lines(&r, "ConsecutiveRun"), [2, 6]);
    let r = run(concat!(
        "FROM alpine:3.20\n",
        "RUN a\n",
        "RUN --mount=type=cache,target=/c b\n",
        "RUN [\"c\"]\n",
        "RUN --network=none d\n",
    ));
    assert!(details(&r, "ConsecutiveRun").is_empty());
}

#[test]
fn copy_all_before_install() {
    let r = run("FROM node:22\nWORKDIR /app\nCOPY . .\nRUN npm ci\n");
    assert_eq!(
        details(&r, "CopyAllBeforeInstall"),
        [
            "The whole build context is copied before 'npm ci' (line 4), so every source change reinstalls the dependencies; copy the dependency manifests and install them first"
        ]
    );
    assert_eq!(lines(&r, "CopyAllBeforeInstall"), [3]);
    let r = run(
        "FROM python:3.12\nCOPY ./ /src\nRUN pip install --no-cache-dir -r /src/requirements.txt\n",
    );
    assert_eq!(details(&r, "CopyAllBeforeInstall").len(), 1);
    let r = run(concat!(
        "FROM node:22\n",
        "COPY package.json package-lock.json ./\n",
        "RUN npm ci\n",
        "COPY . .\n",
        "RUN npm run build && npm install -g serve\n",
    ));
    assert!(details(&r, "CopyAllBeforeInstall").is_empty());
}

#[test]
fn compiler_in_single_stage() {
    let r = run(
        "FROM debian:12\nRUN apt-get update && apt-get install -y build-essential gcc-12 curl && rm -rf /var/lib/apt/lists/*\n",
    );
    assert_eq!(
        details(&r, "CompilerInSingleStage"),
        [
            "This single-stage build installs build-essential, gcc-12 into the final image; compile in a build stage and copy the result into a slim runtime stage"
        ]
    );
    let r = run("FROM golang:1.22\nCOPY . .\nRUN go build -o /app .\n");
    assert_eq!(
        details(&r, "CompilerInSingleStage"),
        [
            "This single-stage build compiles on 'golang:1.22' and ships the whole toolchain; build in one stage and copy the result into a slim runtime stage"
        ]
    );
    let r = run(
        "FROM golang:1.22 AS build\nRUN go build -o /app .\nFROM alpine:3.20\nCOPY --from=build /app /app\n",
    );
    assert!(details(&r, "CompilerInSingleStage").is_empty());
    let r = run("FROM alpine:3.20\nRUN apk add --no-cache curl\n");
    assert!(details(&r, "CompilerInSingleStage").is_empty());
}

#[test]
fn check_skip_and_experimental() {
    let body = "FROM alpine:3.20 AS BASE\nCMD echo hi\n";
    let r = run(&format!(
        "# check=skip=JSONArgsRecommended,StageNameCasing\n{body}"
    ));
    assert!(details(&r, "JSONArgsRecommended").is_empty());
    assert!(details(&r, "StageNameCasing").is_empty());
    assert!(!details(&r, "RootUser").is_empty());
    let r = run(&format!("# check=skip=all\n{body}"));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    // Experimental rules run even when everything is skipped.
    let r = run("# check=skip=all;experimental=all\n# nope\nFROM alpine:3.20 AS base\n");
    assert_eq!(r.rule_names(), ["InvalidDefinitionDescription"]);
}

#[test]
fn check_error_true_makes_findings_errors() {
    let r = run("# check=error=true\nFROM alpine:3.20\nCMD echo hi\n");
    assert!(r.error_on_findings);
    assert!(r.failed());
    assert!(r.findings.iter().all(|f| f.level == Level::Error));
    let r = run("FROM alpine:3.20\nCMD echo hi\n");
    assert!(!r.failed());
    assert!(r.findings.iter().all(|f| f.level == Level::Warning));
    // No finding, no failure, even with error=true.
    let r = run("# check=error=true\nFROM alpine:3.20\nUSER app\n");
    assert!(r.findings.is_empty() && !r.failed());
}

#[test]
fn check_build_arg_replaces_the_directive() {
    let src = "# check=skip=JSONArgsRecommended\nFROM alpine:3.20\nCMD echo hi\n";
    let r = run_with(src, |i| {
        i.build_args
            .insert(CHECK_BUILD_ARG.into(), "skip=RootUser;error=true".into());
    });
    assert_eq!(r.rule_names(), ["JSONArgsRecommended"]);
    assert!(r.failed());
}

#[test]
fn bad_check_options_stop_the_check() {
    let r = run("# check=bogus\nFROM alpine:3.20\n");
    let err = r.error.clone().expect("an error");
    assert_eq!(
        err.to_string(),
        "failed to parse check options: invalid check option \"bogus\""
    );
    assert_eq!(err.span().start.line, 1);
    assert!(r.failed());
}

#[test]
fn build_time_errors_stop_the_check() {
    let cases = [
        (
            "FROM alpine:3.20\nSTOPSIGNAL SIGNOPE\n",
            "invalid signal: SIGNOPE",
        ),
        ("FROM alpine:3.20\nEXPOSE 80/xyz\n", "invalid proto: xyz"),
        (
            "FROM alpine:3.20\nENV A=${MISSING:?required}\n",
            "failed to process \"${MISSING:?required}\": MISSING: required",
        ),
        (
            "FROM alpine:3.20\nCOPY --from=later /a /b\nFROM alpine:3.20 AS later\n",
            "cannot copy from stage \"later\", it needs to be defined before current stage \"stage-0\"",
        ),
        ("ARG B\nFROM ${B}\n", "base name (${B}) should not be blank"),
        (
            "FROM alpine:3.20\nCOPY --chmod=999 a /b\n",
            "invalid chmod parameter: '999'. it should be octal string and between 0 and 07777",
        ),
    ];
    for (src, message) in cases {
        let r = run(src);
        assert_eq!(
            r.error.as_ref().map(ToString::to_string).as_deref(),
            Some(message),
            "{src}"
        );
        assert!(r.failed());
    }
}

#[test]
fn parse_errors_are_reported_with_their_location() {
    let src = "FROM alpine:3.20\nRUNN echo hi\n";
    let r = run(src);
    let err = r.error.as_ref().expect("a parse error");
    assert!(matches!(err, LintError::Parse(_)));
    insta::assert_snapshot!(err.diagnostic("Dockerfile").render(src));
}

#[test]
fn findings_are_sorted_by_line_then_detail() {
    let r = run("FROM alpine:3.20 as Build\nENV b c\nCMD x\nMAINTAINER m\n");
    let keys: Vec<(usize, String)> = r
        .findings
        .iter()
        .map(|f| (f.span.start.line, f.detail.clone()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(keys.len() >= 5);
    assert_eq!(keys[0].1, "'as' and 'FROM' keywords' casing do not match");
}

#[test]
fn json_output_shape() {
    let r = run("FROM alpine:3.20 AS Build\nUSER app\n");
    let v = to_json(&r);
    let obj = v.as_object().unwrap();
    assert_eq!(obj.keys().collect::<Vec<_>>(), ["warnings"]);
    let w = &v["warnings"][0];
    let keys: Vec<&String> = w.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "rule",
            "description",
            "detail",
            "url",
            "level",
            "file",
            "line",
            "column"
        ]
    );
    assert_eq!(
        w,
        &serde_json::json!({
            "rule": "StageNameCasing",
            "description": "Stage names should be lowercase",
            "detail": "Stage name 'Build' should be lowercase",
            "url": "https://docs.docker.com/go/dockerfile/rule/stage-name-casing/",
            "level": "warning",
            "file": "Dockerfile",
            "line": 1,
            "column": 21,
        })
    );
}

#[test]
fn sarif_output_shape() {
    let r = run("# check=error=true\nFROM alpine:3.20 AS Build\nUSER app\n");
    let v = to_sarif(&r);
    assert_eq!(v["version"], "2.1.0");
    assert_eq!(v["$schema"], output::SARIF_SCHEMA);
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), ALL_RULES.len());
    for rule in rules {
        assert!(rule["id"].is_string() && rule["shortDescription"]["text"].is_string());
        assert!(rule["helpUri"].as_str().unwrap().starts_with("https://"));
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
    let res = &results[0];
    assert_eq!(res["ruleId"], "StageNameCasing");
    assert_eq!(
        rules[res["ruleIndex"].as_u64().unwrap() as usize]["id"],
        "StageNameCasing"
    );
    assert_eq!(res["level"], "error");
    assert_eq!(
        res["message"]["text"],
        "Stage name 'Build' should be lowercase"
    );
    let loc = &res["locations"][0]["physicalLocation"];
    assert_eq!(loc["artifactLocation"]["uri"], "Dockerfile");
    assert_eq!(loc["region"]["startLine"], 2);
    assert_eq!(loc["region"]["startColumn"], 21);
    assert_eq!(loc["region"]["endColumn"], 26);
}

#[test]
fn text_output() {
    let src = "# check=error=true\nFROM alpine:3.20 AS Build\nCMD echo hi\nUSER app\n";
    let r = run(src);
    insta::assert_snapshot!(render_text(&r, src, false));
    let clean = run("FROM alpine:3.20\nUSER app\n");
    assert_eq!(
        render_text(&clean, "", false),
        "Check complete, no warnings found.\n"
    );
}

#[test]
fn suggestions_follow_buildkit() {
    assert_eq!(
        buildkit::suggest("TAGG", ["TAG", "VERSION"]).as_deref(),
        Some("TAG")
    );
    assert_eq!(buildkit::suggest("TAG", ["TAG", "TAGG"]), None);
    assert_eq!(buildkit::suggest("ABCDEF", ["XYZ"]), None);
}

#[test]
fn shell_splitting_for_run_rules() {
    let cmds = practices::simple_commands(
        "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y 'a b' \\\n c; echo \"x;y\" # done\n(cd /x | tee)",
    );
    assert_eq!(
        cmds,
        vec![
            vec!["apt-get".to_string(), "update".into()],
            vec![
                "DEBIAN_FRONTEND=noninteractive".into(),
                "apt-get".into(),
                "install".into(),
                "-y".into(),
                "a b".into(),
                "c".into()
            ],
            vec!["echo".into(), "x;y".into()],
            vec!["cd".into(), "/x".into()],
            vec!["tee".into()],
        ]
    );
}
