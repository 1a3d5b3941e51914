//! Typed instructions: one positive test per instruction family, and a table with every error
//! message (BuildKit's wording) that parsing and checking can produce.

use std::time::Duration;

use strata_dockerfile::instructions::{
    Chmod, CommandKind, Healthcheck, Instructions, MountType, NetworkMode, RunScript, SecurityMode,
};
use strata_dockerfile::{Diagnostic, Error, parse, parse_instructions};

fn typed(src: &str) -> Instructions {
    let df = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    parse_instructions(&df).unwrap_or_else(|e| panic!("{src}: {e}"))
}

/// The kinds of the first stage's commands.
fn kinds(src: &str) -> Vec<CommandKind> {
    typed(src)
        .stages
        .remove(0)
        .commands
        .into_iter()
        .map(|c| c.kind)
        .collect()
}

fn one(src: &str) -> CommandKind {
    let mut k = kinds(&format!("FROM scratch\n{src}\n"));
    assert_eq!(k.len(), 1, "{src}");
    k.remove(0)
}

fn error(src: &str) -> Error {
    match parse(src) {
        Err(e) => e,
        Ok(df) => parse_instructions(&df).expect_err(src),
    }
}

#[test]
fn from_and_stages() {
    let t = typed(
        "ARG BASE=alpine\nARG V\n# builder compiles the code\nFROM --platform=$BUILDPLATFORM ${BASE} As Builder\nRUN make\nfrom builder\nCOPY --from=builder /out /out\n",
    );
    assert_eq!(t.meta_args.len(), 2);
    assert_eq!(t.meta_args[0].1.args[0].key, "BASE");
    assert_eq!(t.meta_args[0].1.args[0].value.as_deref(), Some("alpine"));
    assert_eq!(t.meta_args[1].1.args[0].value, None);
    assert_eq!(t.stages.len(), 2);
    let s = &t.stages[0];
    assert_eq!(s.name.as_deref(), Some("builder"));
    assert_eq!(s.from.stage_name_as_written.as_deref(), Some("Builder"));
    assert_eq!(s.from.as_keyword.as_ref().unwrap().0, "As");
    assert_eq!(s.base, "${BASE}");
    assert_eq!(s.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(s.comment.as_deref(), Some("compiles the code"));
    assert_eq!(s.commands.len(), 1);
    assert_eq!(t.stages[1].from_meta.keyword, "from");
    assert_eq!(t.stages[1].name, None);
}

#[test]
fn run_flags_and_forms() {
    let CommandKind::Run(r) = one(
        "RUN --mount=type=cache,target=/root/.cache --mount=type=secret,id=tok --network=none --security=insecure --device=gpu,required pip install -r req.txt",
    ) else {
        panic!()
    };
    assert_eq!(r.cmd.cmd_line, vec!["pip install -r req.txt"]);
    assert!(r.cmd.prepend_shell);
    assert_eq!(r.mounts.len(), 2);
    assert_eq!(r.mounts[0].parse_literal().unwrap().kind, MountType::Cache);
    let secret = r.mounts[1].parse_literal().unwrap();
    assert_eq!(
        (secret.kind, secret.id.as_deref()),
        (MountType::Secret, Some("tok"))
    );
    assert_eq!(r.network, NetworkMode::None);
    assert_eq!(r.security, SecurityMode::Insecure);
    assert_eq!(r.devices[0].name, "gpu");
    assert!(r.devices[0].required);
    assert_eq!(r.flags_used, vec!["mount", "network", "security", "device"]);

    let CommandKind::Run(r) = one("RUN [\"echo\", \"a b\"]") else {
        panic!()
    };
    assert_eq!(r.cmd.cmd_line, vec!["echo", "a b"]);
    assert!(!r.cmd.prepend_shell);

    let CommandKind::Run(r) = one("RUN <<EOF bash\n\techo hi\nEOF") else {
        panic!()
    };
    assert_eq!(r.cmd.files[0].name, "EOF");
    assert_eq!(r.cmd.files[0].data, "\techo hi\n");

    // Mount values with variables are checked after expansion.
    let CommandKind::Run(r) = one("RUN --mount=type=$T,target=/x true") else {
        panic!()
    };
    let mut expand = |s: &str| -> Result<String, String> { Ok(s.replace("$T", "tmpfs")) };
    assert_eq!(
        r.mounts[0].parse(&mut expand).unwrap().kind,
        MountType::Tmpfs
    );
}

#[test]
fn copy_and_add() {
    let CommandKind::Copy(c) = one(
        "COPY --from=build --chown=app:app --chmod=0644 --link --parents --exclude=*.md --exclude=.git a b /dst/",
    ) else {
        panic!()
    };
    assert_eq!(c.from.unwrap().value, "build");
    assert_eq!(c.chown.unwrap().value, "app:app");
    assert_eq!(
        Chmod::parse(&c.chmod.unwrap().value).unwrap(),
        Chmod::Octal(0o644)
    );
    assert!(c.link && c.parents);
    assert_eq!(c.excludes, vec!["*.md", ".git"]);
    assert_eq!(c.sources.source_paths, vec!["a", "b"]);
    assert_eq!(c.sources.dest, "/dst/");

    let CommandKind::Copy(c) = one("COPY [\"a b\", \"/c d/\"]") else {
        panic!()
    };
    assert_eq!(c.sources.source_paths, vec!["a b"]);
    assert_eq!(c.sources.dest, "/c d/");

    let CommandKind::Copy(c) =
        one("COPY <<-one <<'two' keep /dst/\n\tfirst $X\none\nsecond $X\ntwo")
    else {
        panic!()
    };
    assert_eq!(c.sources.source_paths, vec!["keep"]);
    let sc = &c.sources.source_contents;
    assert_eq!(
        (sc[0].path.as_str(), sc[0].data.as_str(), sc[0].expand),
        ("one", "first $X\n", true)
    );
    assert_eq!(
        (sc[1].path.as_str(), sc[1].data.as_str(), sc[1].expand),
        ("two", "second $X\n", false)
    );

    let CommandKind::Add(a) = one(
        "ADD --checksum=sha256:abc --keep-git-dir=true --chmod=u+x --unpack=false --link=false https://x/y.tgz /opt/",
    ) else {
        panic!()
    };
    assert_eq!(a.checksum.unwrap().value, "sha256:abc");
    assert!(a.keep_git_dir && !a.link);
    assert_eq!(a.unpack, Some(false));
    assert_eq!(
        Chmod::parse(&a.chmod.unwrap().value).unwrap(),
        Chmod::Symbolic("u+x".into())
    );
}

#[test]
fn empty_flag_values_are_no_flags() {
    // BuildKit's string flags default to "", which means "not given": `--from=` copies from
    // the context, `--chown=` changes no owner, `FROM --platform=` names no platform.
    let CommandKind::Copy(c) = one("COPY --from= --chown= --chmod= a /b") else {
        panic!()
    };
    assert!(c.from.is_none() && c.chown.is_none() && c.chmod.is_none());
    let CommandKind::Add(a) = one("ADD --chown= --checksum= a /b") else {
        panic!()
    };
    assert!(a.chown.is_none() && a.checksum.is_none());
    let t = typed("FROM --platform= scratch\n");
    assert_eq!(t.stages[0].platform, None);
}

#[test]
fn heredoc_sources_expand_like_buildkit() {
    let env = strata_dockerfile::EnvList::from_pairs(&["V=x"]);
    let CommandKind::Copy(c) = one("COPY <<EOF /f\n\"$V\" '$V' \\$V a\\b ${V}y\nEOF") else {
        panic!()
    };
    let f = &c.sources.source_contents[0];
    assert_eq!(f.expanded(&env).unwrap(), "\"x\" 'x' $V ab xy\n");
    // A quoted delimiter turns expansion off: the text is kept as written.
    let CommandKind::Copy(c) = one("COPY <<'EOF' /f\n\"$V\" \\$V\nEOF") else {
        panic!()
    };
    let f = &c.sources.source_contents[0];
    assert_eq!(f.expanded(&env).unwrap(), "\"$V\" \\$V\n");
    // The backtick escape directive does not change how a heredoc body is expanded.
    let t = typed("# escape=`\nFROM scratch\nCOPY <<EOF /f\n\\$V `$V\nEOF\n");
    let CommandKind::Copy(c) = &t.stages[0].commands[0].kind else {
        panic!()
    };
    assert_eq!(
        c.sources.source_contents[0].expanded(&env).unwrap(),
        "$V `x\n"
    );
}

#[test]
fn run_heredoc_scripts_as_buildkit_runs_them() {
    let script = |src: &str| {
        let CommandKind::Run(r) = one(src) else {
            panic!("{src}")
        };
        r.cmd.script()
    };
    // No heredoc, or exec form: the command line as it is.
    assert_eq!(
        script("RUN echo hi"),
        RunScript::Args(vec!["echo hi".into()])
    );
    assert_eq!(
        script("RUN [\"echo\", \"<<EOF\"]"),
        RunScript::Args(vec!["echo".into(), "<<EOF".into()])
    );
    // A heredoc alone: its body is the script, tabs stripped for <<-.
    assert_eq!(
        script("RUN <<EOF\necho one\nEOF"),
        RunScript::Args(vec!["echo one\n".into()])
    );
    assert_eq!(
        script("RUN <<-EOF\n\techo t\n\t\tdeeper\n\tEOF"),
        RunScript::Args(vec!["echo t\ndeeper\n".into()])
    );
    // With an interpreter line the body becomes an executable file under /dev/pipes.
    let s = script("RUN <<-'PY'\n#!/usr/bin/env python3\n\tprint(1)\nPY");
    assert_eq!(
        s,
        RunScript::Executable {
            name: "PY".into(),
            data: "#!/usr/bin/env python3\nprint(1)\n".into()
        }
    );
    assert_eq!(s.args(), vec!["/dev/pipes/PY"]);
    // Tabs before `#!` hide it: BuildKit looks before stripping them.
    assert_eq!(
        script("RUN <<-EOF\n\t#!/bin/sh\n\tEOF"),
        RunScript::Args(vec!["#!/bin/sh\n".into()])
    );
    // Heredocs inside a command: bodies and delimiters appended for the shell, unstripped.
    assert_eq!(
        script("RUN cat <<A > /a && cat <<-B > /b\nx\nA\n\ty\n\tB"),
        RunScript::Args(vec!["cat <<A > /a && cat <<-B > /b\nx\nA\n\ty\nB".into()])
    );
}

#[test]
fn healthcheck_forms() {
    let CommandKind::Healthcheck(Healthcheck::Check {
        test,
        interval,
        timeout,
        start_period,
        start_interval,
        retries,
    }) = one(
        "HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 CMD curl -f http://localhost/",
    )
    else {
        panic!()
    };
    assert_eq!(test, vec!["CMD-SHELL", "curl -f http://localhost/"]);
    assert_eq!(interval, Some(Duration::from_secs(30)));
    assert_eq!(timeout, Some(Duration::from_secs(3)));
    assert_eq!(start_period, Some(Duration::from_secs(60)));
    assert_eq!(start_interval, Some(Duration::from_millis(500)));
    assert_eq!(retries, 3);
    let CommandKind::Healthcheck(Healthcheck::Check { test, interval, .. }) =
        one("HEALTHCHECK --interval=0s CMD [\"/bin/check\", \"-q\"]")
    else {
        panic!()
    };
    assert_eq!(test, vec!["CMD", "/bin/check", "-q"]);
    assert_eq!(interval, None);
    assert_eq!(
        one("HEALTHCHECK none"),
        CommandKind::Healthcheck(Healthcheck::None)
    );
    // Like BuildKit, flags of HEALTHCHECK NONE are not looked at.
    assert_eq!(
        one("HEALTHCHECK --bogus NONE"),
        CommandKind::Healthcheck(Healthcheck::None)
    );
}

#[test]
fn env_label_arg_both_syntaxes() {
    let CommandKind::Env(e) = one("ENV A=1 B=\"two words\" C=") else {
        panic!()
    };
    let pairs: Vec<_> = e
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_str(), p.no_delim))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("A", "1", false),
            ("B", "\"two words\"", false),
            ("C", "", false)
        ]
    );
    let CommandKind::Env(e) = one("ENV PATH /usr/bin:/bin  extra") else {
        panic!()
    };
    assert_eq!(
        (e[0].key.as_str(), e[0].value.as_str(), e[0].no_delim),
        ("PATH", "/usr/bin:/bin  extra", true)
    );
    let CommandKind::Label(l) = one("LABEL maintainer=\"me <me@x>\" version=2") else {
        panic!()
    };
    assert_eq!(l.len(), 2);
    assert_eq!(l[1].key, "version");
    assert_eq!(l[1].value, "2");
    let CommandKind::Label(l) = one("LABEL a b c") else {
        panic!()
    };
    assert_eq!((l[0].key.as_str(), l[0].value.as_str()), ("a", "b c"));
    let CommandKind::Arg(a) = one("ARG A B=2 C=\"x y\"") else {
        panic!()
    };
    let got: Vec<_> = a
        .args
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![("A", None), ("B", Some("2")), ("C", Some("\"x y\""))]
    );
}

#[test]
fn simple_instructions() {
    assert_eq!(one("USER app:app"), CommandKind::User("app:app".into()));
    assert_eq!(one("WORKDIR /a b"), CommandKind::Workdir("/a b".into()));
    assert_eq!(
        one("STOPSIGNAL SIGTERM"),
        CommandKind::StopSignal("SIGTERM".into())
    );
    assert_eq!(one("MAINTAINER me"), CommandKind::Maintainer("me".into()));
    assert_eq!(
        one("VOLUME /a /b"),
        CommandKind::Volume(vec!["/a".into(), "/b".into()])
    );
    assert_eq!(
        one("VOLUME [\"/data\"]"),
        CommandKind::Volume(vec!["/data".into()])
    );
    assert_eq!(
        one("SHELL [\"/bin/bash\", \"-c\"]"),
        CommandKind::Shell(vec!["/bin/bash".into(), "-c".into()])
    );
    let CommandKind::Expose(e) = one("EXPOSE 9000/udp 80 8000-8010/tcp") else {
        panic!()
    };
    assert_eq!(e.ports, vec!["80", "8000-8010/tcp", "9000/udp"]);
    let CommandKind::Cmd(c) = one("CMD [\"a\"]") else {
        panic!()
    };
    assert_eq!(c.cmd_line, vec!["a"]);
    let CommandKind::Entrypoint(c) = one("ENTRYPOINT exec app") else {
        panic!()
    };
    assert_eq!(c.cmd_line, vec!["exec app"]);
    assert!(c.prepend_shell);
    let CommandKind::Onbuild(o) = one("ONBUILD RUN <<EOF\necho hi\nEOF") else {
        panic!()
    };
    assert_eq!(o.trigger, "RUN");
    assert_eq!(o.expression, "RUN <<EOF\necho hi\nEOF");
    let CommandKind::Onbuild(o) = one("onbuild copy . /app") else {
        panic!()
    };
    assert_eq!(o.expression, "copy . /app");
}

#[test]
fn every_error_message() {
    let cases: &[(&str, &str)] = &[
        ("RUN x", "no build stage in current context"),
        (
            "FROM",
            "dockerfile parse error on line 1: FROM requires either one or three arguments",
        ),
        (
            "FROM a b",
            "dockerfile parse error on line 1: FROM requires either one or three arguments",
        ),
        (
            "FROM a AS 1x",
            "dockerfile parse error on line 1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols",
        ),
        (
            "FROM --platfrom=x a",
            "dockerfile parse error on line 1: unknown flag: --platfrom (did you mean platform?)",
        ),
        (
            "FROM scratch\nFOO bar",
            "dockerfile parse error on line 2: unknown instruction: FOO (did you mean FROM?)",
        ),
        (
            "FROM scratch\nrunn x",
            "dockerfile parse error on line 2: unknown instruction: runn (did you mean run?)",
        ),
        (
            "FROM scratch\nXYZZY x",
            "dockerfile parse error on line 2: unknown instruction: XYZZY",
        ),
        (
            "FROM scratch\nCOPY a",
            "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "FROM scratch\nADD a",
            "dockerfile parse error on line 2: ADD requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "FROM scratch\nCOPY --from a b",
            "dockerfile parse error on line 2: missing a value on flag: --from",
        ),
        (
            "FROM scratch\nCOPY --link=maybe a b",
            "dockerfile parse error on line 2: expecting boolean value for flag --link, not: maybe",
        ),
        (
            "FROM scratch\nCOPY --link= a b",
            "dockerfile parse error on line 2: missing a value on flag: --link",
        ),
        (
            "FROM scratch\nCOPY --from=a --from=b a b",
            "dockerfile parse error on line 2: duplicate flag specified: --from",
        ),
        (
            "FROM scratch\nCOPY --keep-git-dir a b",
            "dockerfile parse error on line 2: unknown flag: --keep-git-dir",
        ),
        (
            "FROM scratch\nCOPY --chwon=1 a b",
            "dockerfile parse error on line 2: unknown flag: --chwon (did you mean chown?)",
        ),
        (
            "FROM scratch\nCOPY a <<EOF\nEOF",
            "dockerfile parse error on line 2: COPY cannot accept a heredoc as a destination",
        ),
        (
            "FROM scratch\nRUN --mount=from=$X,target=/x y",
            "dockerfile parse error on line 2: 'from' doesn't support variable expansion, define alias stage instead",
        ),
        (
            "FROM scratch\nRUN --mount=a\\\"b y",
            "dockerfile parse error on line 2: failed to parse csv mounts: parse error on line 1, column 2: bare \" in non-quoted field",
        ),
        (
            "FROM scratch\nRUN --network=bridge x",
            "dockerfile parse error on line 2: invalid network mode \"bridge\"",
        ),
        (
            "FROM scratch\nRUN --security=x y",
            "dockerfile parse error on line 2: security \"x\" is not valid",
        ),
        (
            "FROM scratch\nRUN --foo x",
            "dockerfile parse error on line 2: unknown flag: --foo",
        ),
        (
            "FROM scratch\nENV",
            "dockerfile parse error on line 2: ENV requires at least one argument",
        ),
        ("FROM scratch\nENV a", "ENV must have two arguments"),
        (
            "FROM scratch\nENV =x",
            "dockerfile parse error on line 2: ENV names can not be blank",
        ),
        (
            "FROM scratch\nLABEL a=b c",
            "Syntax error - can't find = in \"c\". Must be of the form: name=value",
        ),
        (
            "FROM scratch\nLABEL",
            "dockerfile parse error on line 2: LABEL requires at least one argument",
        ),
        (
            "FROM scratch\nMAINTAINER",
            "dockerfile parse error on line 2: MAINTAINER requires exactly one argument",
        ),
        (
            "FROM scratch\nWORKDIR",
            "dockerfile parse error on line 2: WORKDIR requires exactly one argument",
        ),
        (
            "FROM scratch\nUSER",
            "dockerfile parse error on line 2: USER requires exactly one argument",
        ),
        (
            "FROM scratch\nUSER --foo=x a",
            "dockerfile parse error on line 2: unknown flag: --foo",
        ),
        (
            "FROM scratch\nVOLUME",
            "dockerfile parse error on line 2: VOLUME requires at least one argument",
        ),
        (
            "FROM scratch\nVOLUME [\" \"]",
            "dockerfile parse error on line 2: VOLUME specified can not be an empty string",
        ),
        (
            "FROM scratch\nSTOPSIGNAL",
            "dockerfile parse error on line 2: STOPSIGNAL requires exactly one argument",
        ),
        (
            "FROM scratch\nEXPOSE",
            "dockerfile parse error on line 2: EXPOSE requires at least one argument",
        ),
        (
            "FROM scratch\nARG",
            "dockerfile parse error on line 2: ARG requires at least one argument",
        ),
        (
            "FROM scratch\nARG =x",
            "dockerfile parse error on line 2: ARG names can not be blank",
        ),
        (
            "FROM scratch\nSHELL",
            "dockerfile parse error on line 2: SHELL requires at least one argument",
        ),
        (
            "FROM scratch\nSHELL []",
            "dockerfile parse error on line 2: SHELL requires at least one argument",
        ),
        (
            "FROM scratch\nSHELL bash -c",
            "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form",
        ),
        (
            "FROM scratch\nHEALTHCHECK",
            "dockerfile parse error on line 2: HEALTHCHECK requires at least one argument",
        ),
        (
            "FROM scratch\nHEALTHCHECK NONE x",
            "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments",
        ),
        (
            "FROM scratch\nHEALTHCHECK CMD",
            "dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD",
        ),
        (
            "FROM scratch\nHEALTHCHECK CONNECT TCP 7000",
            "dockerfile parse error on line 2: Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)",
        ),
        (
            "FROM scratch\nHEALTHCHECK --interval=1ns CMD x",
            "dockerfile parse error on line 2: Interval \"interval\" cannot be less than 1ms",
        ),
        (
            "FROM scratch\nHEALTHCHECK --timeout=abc CMD x",
            "dockerfile parse error on line 2: time: invalid duration \"abc\"",
        ),
        (
            "FROM scratch\nHEALTHCHECK --retries=-1 CMD x",
            "dockerfile parse error on line 2: --retries cannot be negative (-1)",
        ),
        (
            "FROM scratch\nHEALTHCHECK --retries=x CMD x",
            "dockerfile parse error on line 2: strconv.ParseInt: parsing \"x\": invalid syntax",
        ),
        (
            "FROM scratch\nHEALTHCHECK --interva=1s CMD x",
            "dockerfile parse error on line 2: unknown flag: --interva (did you mean interval?)",
        ),
        (
            "FROM scratch\nONBUILD",
            "dockerfile parse error on line 2: ONBUILD requires at least one argument",
        ),
        (
            "FROM scratch\nONBUILD ONBUILD RUN x",
            "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        (
            "FROM scratch\nONBUILD from x",
            "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM scratch\nONBUILD MAINTAINER x",
            "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
        (
            "FROM scratch\nCMD --foo x",
            "dockerfile parse error on line 2: unknown flag: --foo",
        ),
        (
            "FROM scratch\nENTRYPOINT --foo x",
            "dockerfile parse error on line 2: unknown flag: --foo",
        ),
        (
            "FROM scratch\nRUN [\"a\", 1]",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        ("FROM scratch\nRUN <<EOF\nno end", "unterminated heredoc"),
        (
            "# escape=x\nFROM scratch",
            "invalid escape token 'x' does not match ` or \\",
        ),
        (
            "# escape=`\n# escape=\\\nFROM scratch",
            "only one escape parser directive can be used",
        ),
        ("", "file with no instructions"),
        ("# only a comment\n", "file with no instructions"),
    ];
    for (src, want) in cases {
        assert_eq!(error(src).to_string(), *want, "{src:?}");
    }
    assert_eq!(cases.len(), 61);
}

#[test]
fn error_spans_point_at_the_culprit() {
    let src = "FROM scratch\nCOPY --link \\\n  --form=build a b\n";
    let err = error(src);
    assert_eq!(
        err.to_string(),
        "dockerfile parse error on line 2: unknown flag: --form (did you mean from?)"
    );
    let span = err.span();
    assert_eq!((span.start.line, span.start.column), (3, 3));
    assert_eq!(&src[span.byte_range()], "--form=build");
}

#[test]
fn rendered_diagnostics() {
    let src = "FROM alpine\nCOPY --link \\\n  --form=build /a /b\n";
    let d = Diagnostic::from_error("Dockerfile", &error(src));
    insta::assert_snapshot!("unknown_flag", d.render(src));

    let src = "FROM alpine AS Build!\n";
    let d = Diagnostic::from_error("Dockerfile", &error(src));
    insta::assert_snapshot!("bad_stage_name", d.render(src));

    let src = "FROM alpine\nRUN apk add \\\n\n    curl\n";
    let df = parse(src).unwrap();
    let d = Diagnostic::from_warning("Dockerfile", &df.warnings[0]);
    insta::assert_snapshot!("empty_continuation_warning", d.render(src));

    let src = "FROM alpine\nRUN <<EOF\necho never closed\n";
    let d = Diagnostic::from_error("Dockerfile", &error(src));
    insta::assert_snapshot!("unterminated_heredoc", d.render(src));
}
