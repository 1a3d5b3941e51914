//! Every instruction's effect on the image config, history and filesystem.

mod common;
use common::*;
use serde_json::json;

#[test]
fn env_is_set_expanded_and_visible_to_run() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nENV A=1 B=\"two words\"\nENV C=${A}x\nRUN echo \"$C $B\" > /out\n");
    let cc = env.cc("test");
    let e = cc["Env"].as_array().unwrap();
    assert!(e.contains(&json!("A=1")) && e.contains(&json!("C=1x")));
    assert!(e.contains(&json!("B=two words")));
    assert_eq!(env.read("test", "/out").trim(), "1x two words");
}

#[test]
fn label_sorted_and_expanded() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nARG V=3\nLABEL z=1 a=\"x y\" ver=$V\n");
    assert_eq!(
        env.cc("test")["Labels"],
        json!({"a": "x y", "ver": "3", "z": "1"})
    );
    assert!(
        env.history("test")
            .contains(&"LABEL z=1 a=x y ver=3".to_string())
    );
}

#[test]
fn workdir_is_created_and_relative_paths_stack() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nWORKDIR /a\nWORKDIR b\nRUN pwd > /pwd\n");
    assert_eq!(env.cc("test")["WorkingDir"], "/a/b");
    assert_eq!(env.read("test", "/pwd").trim(), "/a/b");
    assert!(env.rootfs("test").join("a/b").is_dir());
}

#[test]
fn workdir_owned_by_user() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nUSER nobody\nWORKDIR /data\n");
    assert_eq!(owner(&env.rootfs("test").join("data")), (65534, 65534));
}

#[test]
fn user_applies_to_run() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN chmod 1777 /tmp\nUSER nobody\nRUN id -u > /tmp/uid\n");
    assert_eq!(env.cc("test")["User"], "nobody");
    assert_eq!(env.read("test", "/tmp/uid").trim(), "65534");
}

#[test]
fn expose_ports_and_ranges() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nEXPOSE 80 53/udp 8000-8001\n");
    assert_eq!(
        env.cc("test")["ExposedPorts"],
        json!({"53/udp": {}, "80/tcp": {}, "8000/tcp": {}, "8001/tcp": {}})
    );
}

#[test]
fn volume_json_and_plain() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nVOLUME /data\nVOLUME [\"/a\", \"/b\"]\n");
    assert_eq!(
        env.cc("test")["Volumes"],
        json!({"/a": {}, "/b": {}, "/data": {}})
    );
    assert!(env.history("test").contains(&"VOLUME [/a /b]".to_string()));
}

#[test]
fn cmd_shell_and_exec_forms() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nCMD echo hi\n");
    assert_eq!(env.cc("test")["Cmd"], json!(["/bin/sh", "-c", "echo hi"]));
    env.build("FROM scratch\nCMD [\"a\", \"b c\"]\n");
    assert_eq!(env.cc("test")["Cmd"], json!(["a", "b c"]));
    assert!(
        env.history("test")
            .contains(&"CMD [\"a\" \"b c\"]".to_string())
    );
}

#[test]
fn entrypoint_resets_inherited_cmd() {
    let Some(env) = env(&[]) else { return };
    // busybox's config has Cmd ["sh"]; a new ENTRYPOINT drops it.
    env.build("FROM busybox\nENTRYPOINT [\"/bin/echo\"]\n");
    let cc = env.cc("test");
    assert_eq!(cc["Entrypoint"], json!(["/bin/echo"]));
    assert!(cc["Cmd"].is_null(), "{cc}");
    // A CMD in the same stage is kept whatever the order.
    env.build("FROM busybox\nCMD [\"x\"]\nENTRYPOINT [\"/bin/echo\"]\n");
    assert_eq!(env.cc("test")["Cmd"], json!(["x"]));
}

#[test]
fn healthcheck_fields() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nHEALTHCHECK --interval=30s --timeout=5s --retries=3 CMD curl -f http://localhost/\n");
    let h = &env.cc("test")["Healthcheck"];
    assert_eq!(h["Test"], json!(["CMD-SHELL", "curl -f http://localhost/"]));
    assert_eq!(h["Interval"], json!(30_000_000_000i64));
    assert_eq!(h["Timeout"], json!(5_000_000_000i64));
    assert_eq!(h["Retries"], json!(3));
    env.build("FROM scratch\nHEALTHCHECK NONE\n");
    assert_eq!(env.cc("test")["Healthcheck"]["Test"], json!(["NONE"]));
}

#[test]
fn stopsignal_is_checked_and_set() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nSTOPSIGNAL SIGTERM\n");
    assert_eq!(env.cc("test")["StopSignal"], "SIGTERM");
    assert!(env.try_build("FROM scratch\nSTOPSIGNAL SIGNOPE\n").is_err());
}

#[test]
fn shell_changes_run_and_shell_form_cmd() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo $0 > /shell\nCMD run me\n");
    assert_eq!(env.cc("test")["Cmd"], json!(["/bin/sh", "-ec", "run me"]));
    assert_eq!(env.cc("test")["Shell"], json!(["/bin/sh", "-ec"]));
    assert_eq!(env.read("test", "/shell").trim(), "/bin/sh");
}

#[test]
fn onbuild_is_recorded_and_triggers_run_in_the_child() {
    let Some(env) = env(&[]) else { return };
    env.build_with(
        "FROM busybox\nONBUILD RUN echo triggered > /onbuild\n",
        |o| o.tags = vec!["parent".into()],
    );
    assert_eq!(
        env.cc("parent")["OnBuild"],
        json!(["RUN echo triggered > /onbuild"])
    );
    env.build("FROM parent\nRUN cat /onbuild > /seen\n");
    assert_eq!(env.read("test", "/seen").trim(), "triggered");
    assert!(env.cc("test")["OnBuild"].is_null());
}

#[test]
fn maintainer_sets_author() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nMAINTAINER someone <s@example.com>\n");
    assert_eq!(env.config("test")["author"], "someone <s@example.com>");
}

#[test]
fn arg_is_in_run_env_and_history_but_not_config() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nARG VERSION=1.0\nRUN echo $VERSION > /v\n");
    assert_eq!(env.read("test", "/v").trim(), "1.0");
    assert!(!env.cc("test").to_string().contains("VERSION"));
    assert!(
        env.history("test")
            .iter()
            .any(|h| h.starts_with("RUN |1 VERSION=1.0 /bin/sh -c"))
    );
}

#[test]
fn build_arg_overrides_default() {
    let Some(env) = env(&[]) else { return };
    env.build_with("FROM busybox\nARG V=default\nRUN echo $V > /v\n", |o| {
        o.build_args = strata_build::BuildArgs::parse(&["V=given".into()]).unwrap();
    });
    assert_eq!(env.read("test", "/v").trim(), "given");
}

#[test]
fn meta_arg_visible_in_from_only_unless_redeclared() {
    let Some(env) = env(&[]) else { return };
    env.build("ARG BASE=busybox\nARG X=meta\nFROM $BASE\nRUN echo \"[$X]\" > /a\nARG X\nRUN echo \"[$X]\" > /b\n");
    assert_eq!(env.read("test", "/a").trim(), "[]");
    assert_eq!(env.read("test", "/b").trim(), "[meta]");
}

#[test]
fn platform_args_are_predefined() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nARG TARGETARCH\nRUN echo $TARGETARCH > /arch\n");
    assert_eq!(
        env.read("test", "/arch").trim(),
        strata_oci::Platform::host().architecture
    );
}

#[test]
fn run_exec_form_and_heredoc() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN [\"/bin/sh\", \"-c\", \"echo exec > /e\"]\nRUN <<EOF\necho one > /h\necho two >> /h\nEOF\n");
    assert_eq!(env.read("test", "/e").trim(), "exec");
    assert_eq!(env.read("test", "/h"), "one\ntwo\n");
}

#[test]
fn run_deleting_a_lower_file_writes_a_whiteout() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN rm /bin/ls\n");
    assert!(env.layer("test", -1).contains(&"bin/.wh.ls".to_string()));
    assert!(!env.rootfs("test").join("bin/ls").exists());
}

#[test]
fn run_replacing_a_directory_writes_an_opaque_whiteout() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN mkdir -p /d && echo 1 > /d/old\nRUN rm -rf /d && mkdir /d && echo 2 > /d/new\n");
    let top = env.layer("test", -1);
    assert!(top.contains(&"d/.wh..wh..opq".to_string()), "{top:?}");
    let r = env.rootfs("test");
    assert!(!r.join("d/old").exists() && r.join("d/new").exists());
}

#[test]
fn failing_run_reports_stage_line_status_and_output() {
    let Some(env) = env(&[]) else { return };
    let e = env
        .try_build("FROM busybox AS build\nRUN echo first line; echo boom >&2; exit 3\n")
        .err()
        .unwrap();
    assert!(e.contains("exit code: 3"), "{e}");
    assert!(e.contains("[build] RUN echo first line"), "{e}");
    assert!(e.contains("(line 2)"), "{e}");
    assert!(e.contains("boom"), "{e}");
}

#[test]
fn run_network_none_has_only_loopback() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nRUN --network=none ls /sys/class/net > /nets\n");
    assert_eq!(env.read("test", "/nets").trim(), "lo");
}

#[test]
fn run_cannot_see_host_paths() {
    let Some(env) = env(&[]) else { return };
    let marker = env.tmp.path().join("host-marker");
    std::fs::write(&marker, "host").unwrap();
    let p = marker.display().to_string();
    env.build(&format!(
        "FROM busybox\nRUN test ! -e {p} && test ! -e /proc/1/root{p} && echo isolated > /r\nRUN echo x > /written\n"
    ));
    assert_eq!(env.read("test", "/r").trim(), "isolated");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "host");
    assert!(!std::path::Path::new("/written").exists());
}

/// All values of one ENV are expanded with the environment before it (Docker's rule).
#[test]
fn env_values_see_the_environment_before_the_instruction() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM scratch\nENV A=old\nENV A=new B=${A}-b\n");
    let e = env.cc("test")["Env"].clone();
    let e = e.as_array().unwrap();
    assert!(
        e.contains(&json!("A=new")) && e.contains(&json!("B=old-b")),
        "{e:?}"
    );
    assert!(
        env.history("test")
            .contains(&"ENV A=new B=old-b".to_string())
    );
}

/// ENTRYPOINT drops a CMD a base *stage* set: only a CMD of the same stage is kept.
#[test]
fn entrypoint_resets_a_cmd_of_the_base_stage() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox AS a\nCMD [\"from-a\"]\nFROM a\nENTRYPOINT [\"/bin/echo\"]\n");
    assert!(env.cc("test")["Cmd"].is_null(), "{}", env.cc("test"));
}

/// History lines in BuildKit's forms: EXPOSE lists the instruction's own ports, ONBUILD
/// writes none, HEALTHCHECK is Go's `%q` of the config, COPY leaves its flags out, and
/// RUN's `|N` names every ARG of the stage (one without a value as `K=`).
#[test]
fn history_lines_take_buildkits_forms() {
    let Some(env) = env(&[("a.txt", "a")]) else {
        return;
    };
    env.build(
        "FROM busybox AS b\nRUN echo > /f\n\
         FROM busybox\nEXPOSE 80\nEXPOSE 8000-8001/udp\nONBUILD RUN true\n\
         HEALTHCHECK --interval=5s --retries=4 CMD true\n\
         COPY --from=b --chown=1:1 /f /g\nCOPY --chmod=600 a.txt /a\n\
         ARG X=one\nARG Y\nRUN true\n",
    );
    let h = env.history("test");
    for want in [
        "EXPOSE map[80/tcp:{}]",
        "EXPOSE map[8000/udp:{} 8001/udp:{}]",
        "HEALTHCHECK &{[\"CMD-SHELL\" \"true\"] \"5s\" \"0s\" \"0s\" \"0s\" '\\x04'}",
        "COPY /f /g # buildkit",
        "COPY a.txt /a # buildkit",
        "RUN |2 X=one Y= /bin/sh -c true # buildkit",
    ] {
        assert!(h.contains(&want.to_string()), "{want:?} not in {h:#?}");
    }
    assert!(!h.iter().any(|l| l.starts_with("ONBUILD")), "{h:#?}");
}

/// WORKDIR always commits a layer, as BuildKit does: an empty one when the directory
/// exists; it creates through the image's symlinks instead of replacing them.
#[test]
fn workdir_commits_a_layer_and_follows_symlinks() {
    let Some(env) = env(&[]) else { return };
    env.build_with(
        "FROM busybox\nRUN mkdir /target && ln -s /target /link\n",
        |o| o.tags = vec!["linked".into()],
    );
    let base = env.layer_count("linked");
    env.build("FROM linked\nWORKDIR /etc\nWORKDIR /link/w\nRUN pwd > /tmp/pwd\n");
    assert_eq!(env.layer_count("test"), base + 3);
    let r = env.rootfs("test");
    assert!(
        std::fs::symlink_metadata(r.join("link"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(r.join("target/w").is_dir());
    // RUN starts there (getcwd names the directory the link leads to).
    assert_eq!(env.read("test", "/tmp/pwd").trim(), "/target/w");
    assert_eq!(env.cc("test")["WorkingDir"], "/link/w");
    // The layer of WORKDIR /etc is empty.
    assert!(
        env.layer("test", -3).is_empty(),
        "{:?}",
        env.layer("test", -3)
    );
    let h = env.config("test")["history"].clone();
    let h = h.as_array().unwrap();
    let etc = h
        .iter()
        .find(|e| e["created_by"] == "WORKDIR /etc")
        .unwrap();
    assert!(
        etc["empty_layer"].is_null() || etc["empty_layer"] == false,
        "{etc}"
    );
}

/// `CMD []` and `ENTRYPOINT []` leave no Cmd/Entrypoint (BuildKit omits empty lists).
#[test]
fn empty_cmd_and_entrypoint_are_left_out() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nENTRYPOINT []\nCMD []\n");
    let cc = env.cc("test");
    assert!(cc["Cmd"].is_null() && cc["Entrypoint"].is_null(), "{cc}");
    assert!(env.history("test").contains(&"CMD []".to_string()));
}

/// A stage built on a stage keeps that stage's ARG values for RUN, but RUN's history `|N`
/// names only the ARGs the stage itself declares (BuildKit's per-stage build args).
#[test]
fn run_history_names_only_the_stages_own_args() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox AS a\nARG X=1\nFROM a\nARG Y=2\nRUN echo $X$Y > /x\n");
    assert_eq!(env.read("test", "/x").trim(), "12");
    let h = env.history("test");
    assert!(
        h.contains(&"RUN |1 Y=2 /bin/sh -c echo $X$Y > /x # buildkit".to_string()),
        "{h:#?}"
    );
}

/// An ARG declared after an ENV of the same name wins for later expansions and RUNs (the
/// config keeps the ENV); an ENV declared after an ARG wins, as in BuildKit.
#[test]
fn the_later_of_arg_and_env_of_one_name_wins() {
    let Some(env) = env(&[]) else { return };
    env.build(
        "FROM busybox\nARG V=arg\nENV V=env\nRUN echo $V > /x\nARG V=arg2\nRUN echo $V > /y\nENV W=$V\nENV V=last\nRUN echo $V > /z\n",
    );
    assert_eq!(env.read("test", "/x"), "env\n");
    assert_eq!(env.read("test", "/y"), "arg2\n");
    assert_eq!(env.read("test", "/z"), "last\n");
    let e = env.cc("test")["Env"].clone();
    for want in ["V=last", "W=arg2"] {
        assert!(e.as_array().unwrap().contains(&want.into()), "{e}");
    }
    let h = env.history("test");
    assert!(
        h.contains(&"RUN |1 V=arg2 /bin/sh -c echo $V > /y # buildkit".to_string()),
        "{h:#?}"
    );
}

/// ENV keys are expanded like values (`ENV $K=v`).
#[test]
fn env_keys_are_expanded() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nARG K=mykey\nENV $K=v ${K}2=w\n");
    let e = env.cc("test")["Env"].clone();
    for want in ["mykey=v", "mykey2=w"] {
        assert!(e.as_array().unwrap().contains(&want.into()), "{e}");
    }
    assert!(
        env.history("test")
            .contains(&"ENV mykey=v mykey2=w".to_string())
    );
}

/// An absolute WORKDIR is kept as written (config and history), and its `mkdir -p` makes
/// every directory the path passes through; a relative one is joined and cleaned.
#[test]
fn absolute_workdir_is_kept_as_written() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nWORKDIR /c/../d/./e\nRUN pwd > /pwd\nWORKDIR f/\n");
    assert_eq!(env.read("test", "/pwd"), "/d/e\n");
    let root = env.rootfs("test");
    for d in ["c", "d/e", "d/e/f"] {
        assert!(root.join(d).is_dir(), "{d}");
    }
    assert_eq!(env.cc("test")["WorkingDir"], "/d/e/f");
    let h = env.history("test");
    assert!(h.contains(&"WORKDIR /c/../d/./e".to_string()), "{h:#?}");
    env.build("FROM busybox\nWORKDIR /a/b/\n");
    assert_eq!(env.cc("test")["WorkingDir"], "/a/b/");
}

/// A RUN sees BuildKit's sandbox: the default seccomp filter, HOME from the user's passwd
/// entry (`/` without one), the hostname `buildkitsandbox` (in /etc/hosts on the IPv4
/// line), and the host's resolv.conf even with `--network=none`.
#[test]
fn run_sandbox_matches_buildkit() {
    let Some(env) = env(&[]) else { return };
    env.build(
        "FROM busybox\nRUN echo \"$HOME\" > /home-root && hostname > /hostname && cp /etc/hosts /hosts \
         && grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status > /status && ls /dev > /devs\n\
         USER 4242\nRUN echo \"[$HOME]\" > /tmp/home-4242\nUSER root\nRUN cp /tmp/home-4242 /\n\
         ENV HOME=/set\nRUN echo $HOME > /home-set\n\
         RUN --network=none (test -e /etc/resolv.conf && echo yes || echo no) > /resolv\n",
    );
    assert_eq!(env.read("test", "/home-root"), "/root\n");
    assert_eq!(env.read("test", "/home-4242"), "[/]\n");
    assert_eq!(env.read("test", "/home-set"), "/set\n");
    assert_eq!(env.read("test", "/hostname"), "buildkitsandbox\n");
    // No new privileges, and Docker's default seccomp filter (mode 2).
    assert_eq!(env.read("test", "/status"), "NoNewPrivs:\t1\nSeccomp:\t2\n");
    // Its own POSIX message queues; /dev/core only where the host has /proc/kcore.
    let devs = env.read("test", "/devs");
    assert!(devs.lines().any(|l| l == "mqueue"), "{devs}");
    let kcore = std::path::Path::new("/proc/kcore").exists();
    assert_eq!(devs.lines().any(|l| l == "core"), kcore, "{devs}");
    let hosts = env.read("test", "/hosts");
    assert!(
        hosts.contains("127.0.0.1\tlocalhost buildkitsandbox\n"),
        "{hosts}"
    );
    assert!(!hosts.contains("loopback buildkitsandbox"), "{hosts}");
    if std::path::Path::new("/etc/resolv.conf").exists() {
        assert_eq!(env.read("test", "/resolv"), "yes\n");
    }
}

/// A bare `ARG X` after `ARG X=1` keeps the value.
#[test]
fn bare_arg_redeclaration_keeps_the_value() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nARG X=1\nARG X\nRUN echo \"[$X]\" > /x\n");
    assert_eq!(env.read("test", "/x"), "[1]\n");
    assert!(env.history("test").contains(&"ARG X".to_string()));
}

/// A RUN that is one heredoc starting with `#!` runs its body as an executable file (at
/// /dev/pipes/<name>), so the interpreter line counts; `<<-` strips tabs in the history
/// line too.
#[test]
fn heredoc_run_with_an_interpreter_line_runs_as_a_file() {
    let Some(env) = env(&[]) else { return };
    env.build(
        "FROM busybox\nRUN <<EOF\n#!/usr/bin/awk -f\nBEGIN { print \"awk\" > \"/awk-out\" }\nEOF\nRUN <<-EOT\n\techo tabs > /tabs\n\tEOT\n",
    );
    assert_eq!(env.read("test", "/awk-out"), "awk\n");
    assert_eq!(env.read("test", "/tabs"), "tabs\n");
    let h = env.history("test");
    assert!(
        h.contains(&"RUN /bin/sh -c /dev/pipes/EOF # buildkit".to_string()),
        "{h:#?}"
    );
    assert!(
        h.contains(&"RUN /bin/sh -c echo tabs > /tabs\n # buildkit".to_string()),
        "{h:#?}"
    );
}

/// A COPY heredoc body expands variables with quotes as ordinary characters and `\` as
/// the escape.
#[test]
fn copy_heredoc_bodies_keep_their_quotes() {
    let Some(env) = env(&[]) else { return };
    env.build("FROM busybox\nENV V=x\nCOPY <<EOF /f\n\"$V\" '$V' \\$V a\\b\nEOF\n");
    assert_eq!(env.read("test", "/f"), "\"x\" 'x' $V ab\n");
}

/// Without USER, a RUN is uid 0 even where the image has no /etc/passwd (HOME is then /);
/// what a WORKDIR makes for a numeric USER without a passwd entry is owned by uid:uid;
/// an empty user or group in `--chown` is id 0.
#[test]
fn users_without_passwd_entries() {
    let Some(env) = env(&[("f", "f")]) else {
        return;
    };
    env.build(
        "FROM busybox AS b\nFROM scratch\nCOPY --from=b /bin/busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo $HOME $(/bin/busybox id -u) > /out\"]\n",
    );
    assert_eq!(env.read("test", "/out"), "/ 0\n");
    env.build(
        "FROM busybox\nUSER 4242\nWORKDIR /w\nUSER root\nCOPY --chown=:nogroup f /g\nCOPY --chown=nobody: f /u\n",
    );
    let root = env.rootfs("test");
    assert_eq!(owner(&root.join("w")), (4242, 4242));
    assert_eq!(owner(&root.join("g")), (0, 65534));
    assert_eq!(owner(&root.join("u")), (65534, 0));
}

/// A RUN over an image without /proc, /sys and /dev leaves those mount points in its
/// layer, as BuildKit does; the stubs of the files bound in (/etc/hosts, resolv.conf) go,
/// leaving only the /etc that held them (BuildKit's layer has it too).
#[test]
fn run_leaves_the_mount_points_an_image_lacked() {
    let Some(env) = env(&[]) else { return };
    env.build(
        "FROM busybox AS b\nFROM scratch\nCOPY --from=b /bin/busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"true\"]\n",
    );
    let entries = env.layer("test", -1);
    for d in ["proc/", "sys/", "dev/"] {
        assert!(entries.iter().any(|e| e == d), "{d}: {entries:?}");
    }
    assert!(
        !entries.iter().any(|e| e.starts_with("etc/") && e.len() > 4),
        "{entries:?}"
    );
}
