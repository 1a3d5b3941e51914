//! The rule table: every check's name, one-line description and documentation URL.
//!
//! Docker's checks keep BuildKit's names, descriptions and `docs.docker.com/go/…` URLs
//! verbatim, because users look them up, skip them by name (`# check=skip=…`) and compare our
//! output with `docker build --check`. Strata's own best-practice rules follow the same shape
//! with a URL under [`STRATA_RULE_URL_BASE`].

/// Where a rule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// One of Docker's build checks, with BuildKit's texts.
    Docker,
    /// One of Strata's best-practice rules.
    Strata,
}

/// A lint rule.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The name used in output and in `# check=skip=`, e.g. `StageNameCasing`.
    pub name: &'static str,
    /// One sentence saying what the rule wants.
    pub description: &'static str,
    /// Where the rule is documented.
    pub url: &'static str,
    /// Experimental rules run only when `# check=experimental=` names them (or `all`).
    pub experimental: bool,
    pub origin: Origin,
}

/// Prefix of the documentation URL of Strata's own rules (the rule name in kebab case and a
/// slash follow).
pub const STRATA_RULE_URL_BASE: &str = "https://strata.dev/docs/lint/";

macro_rules! docker_rule {
    ($ident:ident, $name:literal, $kebab:literal, $desc:literal) => {
        docker_rule!($ident, $name, $kebab, $desc, false);
    };
    ($ident:ident, $name:literal, $kebab:literal, $desc:literal, $experimental:literal) => {
        pub static $ident: Rule = Rule {
            name: $name,
            description: $desc,
            url: concat!("https://docs.docker.com/go/dockerfile/rule/", $kebab, "/"),
            experimental: $experimental,
            origin: Origin::Docker,
        };
    };
}

macro_rules! strata_rule {
    ($ident:ident, $name:literal, $kebab:literal, $desc:literal) => {
        pub static $ident: Rule = Rule {
            name: $name,
            description: $desc,
            url: concat!("https://strata.dev/docs/lint/", $kebab, "/"),
            experimental: false,
            origin: Origin::Strata,
        };
    };
}

docker_rule!(
    STAGE_NAME_CASING,
    "StageNameCasing",
    "stage-name-casing",
    "Stage names should be lowercase"
);
docker_rule!(
    FROM_AS_CASING,
    "FromAsCasing",
    "from-as-casing",
    "The 'as' keyword should match the case of the 'from' keyword"
);
docker_rule!(
    NO_EMPTY_CONTINUATION,
    "NoEmptyContinuation",
    "no-empty-continuation",
    "Empty continuation lines will become errors in a future release"
);
docker_rule!(
    CONSISTENT_INSTRUCTION_CASING,
    "ConsistentInstructionCasing",
    "consistent-instruction-casing",
    "All commands within the Dockerfile should use the same casing (either upper or lower)"
);
docker_rule!(
    DUPLICATE_STAGE_NAME,
    "DuplicateStageName",
    "duplicate-stage-name",
    "Stage names should be unique"
);
docker_rule!(
    RESERVED_STAGE_NAME,
    "ReservedStageName",
    "reserved-stage-name",
    "Reserved words should not be used as stage names"
);
docker_rule!(
    JSON_ARGS_RECOMMENDED,
    "JSONArgsRecommended",
    "json-args-recommended",
    "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals"
);
docker_rule!(
    MAINTAINER_DEPRECATED,
    "MaintainerDeprecated",
    "maintainer-deprecated",
    "The MAINTAINER instruction is deprecated, use a label instead to define an image author"
);
docker_rule!(
    UNDEFINED_ARG_IN_FROM,
    "UndefinedArgInFrom",
    "undefined-arg-in-from",
    "FROM command must use declared ARGs"
);
docker_rule!(
    WORKDIR_RELATIVE_PATH,
    "WorkdirRelativePath",
    "workdir-relative-path",
    "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes"
);
docker_rule!(
    UNDEFINED_VAR,
    "UndefinedVar",
    "undefined-var",
    "Variables should be defined before their use"
);
docker_rule!(
    MULTIPLE_INSTRUCTIONS_DISALLOWED,
    "MultipleInstructionsDisallowed",
    "multiple-instructions-disallowed",
    "Multiple instructions of the same type should not be used in the same stage"
);
docker_rule!(
    LEGACY_KEY_VALUE_FORMAT,
    "LegacyKeyValueFormat",
    "legacy-key-value-format",
    "Legacy key/value format with whitespace separator should not be used"
);
docker_rule!(
    INVALID_BASE_IMAGE_PLATFORM,
    "InvalidBaseImagePlatform",
    "invalid-base-image-platform",
    "Base image platform does not match expected target platform"
);
docker_rule!(
    REDUNDANT_TARGET_PLATFORM,
    "RedundantTargetPlatform",
    "redundant-target-platform",
    "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior"
);
docker_rule!(
    SECRETS_USED_IN_ARG_OR_ENV,
    "SecretsUsedInArgOrEnv",
    "secrets-used-in-arg-or-env",
    "Sensitive data should not be used in the ARG or ENV commands"
);
docker_rule!(
    INVALID_DEFAULT_ARG_IN_FROM,
    "InvalidDefaultArgInFrom",
    "invalid-default-arg-in-from",
    "Default value for global ARG results in an empty or invalid base image name"
);
docker_rule!(
    FROM_PLATFORM_FLAG_CONST_DISALLOWED,
    "FromPlatformFlagConstDisallowed",
    "from-platform-flag-const-disallowed",
    "FROM --platform flag should not use a constant value"
);
docker_rule!(
    COPY_IGNORED_FILE,
    "CopyIgnoredFile",
    "copy-ignored-file",
    "Attempting to Copy file that is excluded by .dockerignore"
);
docker_rule!(
    INVALID_DEFINITION_DESCRIPTION,
    "InvalidDefinitionDescription",
    "invalid-definition-description",
    "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.",
    true
);
docker_rule!(
    EXPOSE_PROTO_CASING,
    "ExposeProtoCasing",
    "expose-proto-casing",
    "Protocol in EXPOSE instruction should be lowercase"
);
docker_rule!(
    EXPOSE_INVALID_FORMAT,
    "ExposeInvalidFormat",
    "expose-invalid-format",
    "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release"
);

strata_rule!(
    BASE_IMAGE_NOT_PINNED,
    "BaseImageNotPinned",
    "base-image-not-pinned",
    "Base images should be pinned to a specific version"
);
strata_rule!(
    APT_GET_UPDATE_ALONE,
    "AptGetUpdateAlone",
    "apt-get-update-alone",
    "apt-get update should be combined with apt-get install in the same RUN instruction"
);
strata_rule!(
    PACKAGE_CACHE_LEFT,
    "PackageCacheLeft",
    "package-cache-left",
    "Package manager caches should not be left in the image layer"
);
strata_rule!(
    ROOT_USER,
    "RootUser",
    "root-user",
    "The final stage should switch to a non-root user"
);
strata_rule!(
    ADD_FOR_LOCAL_FILE,
    "AddForLocalFile",
    "add-for-local-file",
    "COPY should be used instead of ADD for local files and directories"
);
strata_rule!(
    MISSING_DOCKERIGNORE,
    "MissingDockerignore",
    "missing-dockerignore",
    "A .dockerignore should keep VCS data, dependency folders and large files out of the build context"
);
strata_rule!(
    CONSECUTIVE_RUN,
    "ConsecutiveRun",
    "consecutive-run",
    "Consecutive RUN instructions should be combined into one layer"
);
strata_rule!(
    COPY_ALL_BEFORE_INSTALL,
    "CopyAllBeforeInstall",
    "copy-all-before-install",
    "Dependency manifests should be copied and installed before the rest of the sources"
);
strata_rule!(
    COMPILER_IN_SINGLE_STAGE,
    "CompilerInSingleStage",
    "compiler-in-single-stage",
    "Builds that need compilers should use a multi-stage build"
);

/// Every rule, Docker's first (in BuildKit's order), then Strata's.
pub static ALL_RULES: [&Rule; 31] = [
    &STAGE_NAME_CASING,
    &FROM_AS_CASING,
    &NO_EMPTY_CONTINUATION,
    &CONSISTENT_INSTRUCTION_CASING,
    &DUPLICATE_STAGE_NAME,
    &RESERVED_STAGE_NAME,
    &JSON_ARGS_RECOMMENDED,
    &MAINTAINER_DEPRECATED,
    &UNDEFINED_ARG_IN_FROM,
    &WORKDIR_RELATIVE_PATH,
    &UNDEFINED_VAR,
    &MULTIPLE_INSTRUCTIONS_DISALLOWED,
    &LEGACY_KEY_VALUE_FORMAT,
    &INVALID_BASE_IMAGE_PLATFORM,
    &REDUNDANT_TARGET_PLATFORM,
    &SECRETS_USED_IN_ARG_OR_ENV,
    &INVALID_DEFAULT_ARG_IN_FROM,
    &FROM_PLATFORM_FLAG_CONST_DISALLOWED,
    &COPY_IGNORED_FILE,
    &INVALID_DEFINITION_DESCRIPTION,
    &EXPOSE_PROTO_CASING,
    &EXPOSE_INVALID_FORMAT,
    &BASE_IMAGE_NOT_PINNED,
    &APT_GET_UPDATE_ALONE,
    &PACKAGE_CACHE_LEFT,
    &ROOT_USER,
    &ADD_FOR_LOCAL_FILE,
    &MISSING_DOCKERIGNORE,
    &CONSECUTIVE_RUN,
    &COPY_ALL_BEFORE_INSTALL,
    &COMPILER_IN_SINGLE_STAGE,
];

/// The rule called `name`, if any.
pub fn rule_by_name(name: &str) -> Option<&'static Rule> {
    ALL_RULES.iter().copied().find(|r| r.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_urls_follow_the_scheme() {
        let mut names: Vec<&str> = ALL_RULES.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL_RULES.len());
        for r in ALL_RULES {
            match r.origin {
                Origin::Docker => {
                    assert!(
                        r.url
                            .starts_with("https://docs.docker.com/go/dockerfile/rule/")
                    )
                }
                Origin::Strata => assert!(r.url.starts_with(STRATA_RULE_URL_BASE)),
            }
            assert!(r.url.ends_with('/'), "{}", r.url);
        }
        assert_eq!(
            rule_by_name("UndefinedVar").map(|r| r.url),
            Some("https://docs.docker.com/go/dockerfile/rule/undefined-var/")
        );
        assert!(rule_by_name("NoSuchRule").is_none());
    }
}
