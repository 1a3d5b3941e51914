//! Frontend: a Dockerfile's typed stages → the stages to build, in dependency order, with
//! their bases resolved to scratch, an earlier stage or an image name, and the ARG scope
//! every stage starts with.
//!
//! ARG scoping follows BuildKit: meta ARGs (before the first FROM) are expanded in order
//! against the predefined platform ARGs and each other, `--build-arg` overrides their
//! defaults (and the predefined ARGs themselves), and they are visible only in FROM lines
//! unless a stage re-declares them with a bare `ARG NAME`. Inside a stage, `ARG` values
//! become part of the environment of later instructions (expansion and RUN) but never of
//! the image config.
//!
//! Stage look-ups follow BuildKit too: `FROM name` means a stage only when `name`, after
//! expansion, equals an earlier stage's (lower-case) name exactly; `COPY --from` and
//! `RUN --mount from=` are taken as written (no variable is expanded in them), compared
//! case-insensitively, and a number there is a stage index. Every image name a Dockerfile
//! uses must be a valid reference, in built stages or not.
//!
//! `--target` pruning: only the target and the stages it reaches through its base (`FROM
//! stage`) and `COPY --from` are built; other stages are not even checked beyond parsing
//! and the checks above (a stage using a later one as a source is an error only if built).

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use strata_dockerfile::instructions::CommandKind;
use strata_dockerfile::{Instructions, Lex};
use strata_oci::Platform;

use crate::{BuildError, Result};

/// `--build-arg` values: `KEY=VALUE`, or `KEY` alone to take the value from the
/// environment of the `strata` process (ignored when unset, as Docker does).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildArgs(pub IndexMap<String, String>);

impl BuildArgs {
    pub fn parse(items: &[String]) -> Result<BuildArgs> {
        let mut map = IndexMap::new();
        for item in items {
            match item.split_once('=') {
                Some((k, v)) => {
                    if k.is_empty() {
                        return Err(BuildError::BuildArg {
                            arg: item.clone(),
                            reason: "the name is empty".into(),
                        });
                    }
                    map.insert(k.to_string(), v.to_string());
                }
                None => {
                    if let Ok(v) = std::env::var(item) {
                        map.insert(item.clone(), v);
                    }
                }
            }
        }
        Ok(BuildArgs(map))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// Proxy ARGs are predefined: usable without an ARG line, and left out of history.
pub const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The platform ARGs BuildKit defines for every build (target = build platform here: we
/// do not cross-build).
pub fn platform_args(platform: &Platform) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let variant = platform.variant.clone().unwrap_or_default();
    let full = platform.to_slash_string();
    for prefix in ["TARGET", "BUILD"] {
        m.insert(format!("{prefix}PLATFORM"), full.clone());
        m.insert(format!("{prefix}OS"), platform.os.clone());
        m.insert(format!("{prefix}ARCH"), platform.architecture.clone());
        m.insert(format!("{prefix}VARIANT"), variant.clone());
    }
    m
}

/// Where a stage starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image name, expanded.
    Image(String),
}

/// The stages to build.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Stage indexes in an order where every stage comes after the ones it needs.
    pub order: Vec<usize>,
    pub target: usize,
    /// The base of every stage (only meaningful for stages in `order`).
    pub bases: Vec<Base>,
    /// Meta ARG values after `--build-arg`s (what FROM lines see).
    pub global_args: BTreeMap<String, String>,
    /// The meta ARGs' names as declared (a stage's bare `ARG NAME` takes the value from here).
    pub declared_meta: Vec<String>,
    /// The stages each stage needs (its base, `COPY --from` and `RUN --mount from=`): the
    /// solver starts a stage once these are done, so independent stages run concurrently.
    pub deps: Vec<Vec<usize>>,
}

/// The user-visible name of a stage: its `AS` name, else `stage-N`.
pub fn stage_name(ins: &Instructions, i: usize) -> String {
    ins.stages[i]
        .name
        .clone()
        .unwrap_or_else(|| format!("stage-{i}"))
}

fn dockerfile_err(message: String, line: usize) -> BuildError {
    BuildError::Dockerfile {
        message,
        line: Some(line),
    }
}

/// The stage a `COPY --from` or `RUN --mount from=` names, if any. As in BuildKit, a number
/// is a stage index (an error when there is no such stage) and a name is compared
/// case-insensitively with every stage's, including later ones; anything else is an image
/// name. Of several stages with one name the last is taken, as BuildKit does. The solver
/// resolves `COPY --from` with this same function.
pub(crate) fn find_source_stage(
    ins: &Instructions,
    name: &str,
) -> std::result::Result<Option<usize>, String> {
    if let Ok(n) = name.parse::<i64>() {
        return usize::try_from(n)
            .ok()
            .filter(|i| *i < ins.stages.len())
            .map(Some)
            .ok_or_else(|| format!("invalid stage index {n}"));
    }
    let lower = name.to_lowercase();
    Ok(ins
        .stages
        .iter()
        .rposition(|s| s.name.as_deref() == Some(lower.as_str())))
}

/// The stage a `FROM` line names: BuildKit looks the name up as written among the stages
/// defined so far (the last one of that name wins), and stage names are stored in lower
/// case, so `FROM Builder` is an image name, not the stage `AS builder`; nor is `FROM 0`
/// a stage index.
fn find_base_stage(ins: &Instructions, name: &str, before: usize) -> Option<usize> {
    ins.stages[..before]
        .iter()
        .rposition(|s| s.name.as_deref() == Some(name))
}

/// An image name a Dockerfile uses (a stage base or a `--from` that is no stage) must be a
/// valid reference, in every stage: BuildKit parses them all, reachable or not.
fn check_image_name(name: &str, line: usize) -> Result<()> {
    strata_oci::Reference::parse_docker(name)
        .map(|_| ())
        .map_err(|e| {
            dockerfile_err(
                format!(
                    "failed to parse stage name {}: {e}",
                    strata_dockerfile::quote::go_quote(name)
                ),
                line,
            )
        })
}

/// Work out what to build.
pub fn plan(
    ins: &Instructions,
    lex: &Lex,
    target: Option<&str>,
    build_args: &BuildArgs,
    platform: &Platform,
) -> Result<Plan> {
    if ins.stages.is_empty() {
        return Err(BuildError::Dockerfile {
            message: "dockerfile contains no stages to build".into(),
            line: None,
        });
    }
    let mut global: BTreeMap<String, String> = platform_args(platform);
    // A `--build-arg` naming a predefined ARG replaces its value everywhere, FROM lines and
    // meta ARG defaults included, as in BuildKit.
    for (k, v) in global.iter_mut() {
        if let Some(o) = build_args.get(k) {
            *v = o.to_string();
        }
    }
    let mut declared_meta = Vec::new();
    for (meta, arg) in &ins.meta_args {
        for a in &arg.args {
            declared_meta.push(a.key.clone());
            let value = match build_args.get(&a.key) {
                Some(v) => Some(v.to_string()),
                None => match &a.value {
                    Some(v) => Some(
                        lex.process_word(v, &global)
                            .map_err(|e| dockerfile_err(e.to_string(), meta.span.start.line))?,
                    ),
                    None => None,
                },
            };
            if let Some(v) = value {
                global.insert(a.key.clone(), v);
            }
        }
    }
    let target_idx = match target {
        None => ins.stages.len() - 1,
        Some(t) => {
            let lower = t.to_lowercase();
            ins.stages
                .iter()
                .rposition(|s| s.name.as_deref() == Some(lower.as_str()))
        }
        .ok_or_else(|| BuildError::TargetNotFound {
            target: t.to_string(),
        })?,
    };
    let mut bases = Vec::with_capacity(ins.stages.len());
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(ins.stages.len());
    // A stage using a later stage as a source: an error only if the stage is built.
    let mut used_before_defined: Vec<Option<BuildError>> = Vec::with_capacity(ins.stages.len());
    for (i, st) in ins.stages.iter().enumerate() {
        let line = st.from_meta.span.start.line;
        let name = lex
            .process_word(&st.base, &global)
            .map_err(|e| dockerfile_err(e.to_string(), line))?;
        if name.is_empty() {
            return Err(dockerfile_err(
                format!("base name ({}) should not be blank", st.base),
                line,
            ));
        }
        let mut d = Vec::new();
        let base = if name.eq_ignore_ascii_case("scratch") {
            Base::Scratch
        } else if let Some(j) = find_base_stage(ins, &name, i) {
            d.push(j);
            Base::Stage(j)
        } else {
            check_image_name(&name, line)?;
            Base::Image(name)
        };
        let mut later = None;
        for c in &st.commands {
            let mut froms: Vec<(String, &str)> = Vec::new();
            match &c.kind {
                CommandKind::Copy(copy) => {
                    froms.extend(copy.from.iter().map(|f| (f.value.clone(), "copy")))
                }
                // Mount sources are checked when the RUN is built; here they only order stages.
                CommandKind::Run(run) => froms.extend(
                    run.mounts
                        .iter()
                        .filter_map(|m| m.parse_literal().ok())
                        .filter_map(|m| m.from)
                        .map(|f| (f, "mount")),
                ),
                _ => {}
            }
            // The source is looked up as written: BuildKit expands no variable in
            // `--from` (`--from=$STAGE` names an image called `$STAGE`).
            for (from, verb) in froms {
                let line = c.meta.span.start.line;
                match find_source_stage(ins, &from).map_err(|m| dockerfile_err(m, line))? {
                    Some(j) if j < i => d.push(j),
                    Some(_) => {
                        later.get_or_insert_with(|| {
                            dockerfile_err(
                                format!(
                                    "cannot {verb} from stage {}, it needs to be defined before current stage {}",
                                    strata_dockerfile::quote::go_quote(&from),
                                    strata_dockerfile::quote::go_quote(&stage_name(ins, i))
                                ),
                                line,
                            )
                        });
                    }
                    None => check_image_name(&from, line)?,
                }
            }
        }
        bases.push(base);
        deps.push(d);
        used_before_defined.push(later);
    }
    // Depth-first from the target: dependencies first.
    let mut order = Vec::new();
    let mut state: HashMap<usize, bool> = HashMap::new();
    fn visit(
        i: usize,
        deps: &[Vec<usize>],
        state: &mut HashMap<usize, bool>,
        order: &mut Vec<usize>,
    ) {
        if state.contains_key(&i) {
            return;
        }
        state.insert(i, false);
        for &d in &deps[i] {
            visit(d, deps, state, order);
        }
        state.insert(i, true);
        order.push(i);
    }
    visit(target_idx, &deps, &mut state, &mut order);
    if let Some(e) = order
        .iter()
        .find_map(|&i| used_before_defined.get_mut(i).and_then(Option::take))
    {
        return Err(e);
    }
    Ok(Plan {
        order,
        target: target_idx,
        bases,
        global_args: global,
        declared_meta,
        deps,
    })
}

/// Go's `%q` of a string slice, as BuildKit writes `CMD`/`ENTRYPOINT` history:
/// `["a" "b"]`.
pub fn go_quote_slice(items: &[String]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|s| strata_dockerfile::quote::go_quote(s))
        .collect();
    format!("[{}]", inner.join(" "))
}

/// Go's `%q` of an integer: a quoted rune literal (`strconv.QuoteRune`): `'A'`,
/// `'\x04'`, `'\n'`.
pub fn go_quote_rune(n: i64) -> String {
    let c = u32::try_from(n).ok().and_then(char::from_u32);
    let inner = match c {
        None => "\u{fffd}".into(),
        Some('\x07') => "\\a".into(),
        Some('\x08') => "\\b".into(),
        Some('\x0c') => "\\f".into(),
        Some('\n') => "\\n".into(),
        Some('\r') => "\\r".into(),
        Some('\t') => "\\t".into(),
        Some('\x0b') => "\\v".into(),
        Some('\'') => "\\'".into(),
        Some('\\') => "\\\\".into(),
        Some(c) if (c as u32) < 0x20 || c as u32 == 0x7f => format!("\\x{:02x}", c as u32),
        Some(c) if c.is_control() => format!("\\u{:04x}", c as u32),
        Some(c) => c.to_string(),
    };
    format!("'{inner}'")
}

/// Go's `%v` of a string slice: `[a b]`.
pub fn go_slice(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Go's `time.Duration.String()` for whole nanoseconds.
pub fn go_duration(d: std::time::Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000_000_000 {
        let (unit, div) = if ns < 1_000 {
            ("ns", 1)
        } else if ns < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{}{unit}", trim_frac(ns, div));
    }
    let total_secs = ns / 1_000_000_000;
    let frac = ns % 1_000_000_000;
    let h = total_secs / 3600;
    let m = (total_secs % 3600) / 60;
    let s = total_secs % 60;
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&trim_frac(s * 1_000_000_000 + frac, 1_000_000_000));
    out.push('s');
    out
}

fn trim_frac(v: u128, div: u128) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ins(src: &str) -> (Instructions, Lex) {
        let df = strata_dockerfile::parse(src).unwrap();
        let lex = Lex::new(df.escape_token);
        (strata_dockerfile::parse_instructions(&df).unwrap(), lex)
    }

    #[test]
    fn target_prunes_unreachable_stages() {
        let (i, lex) = ins(
            "FROM scratch AS a\nFROM scratch AS b\nCOPY --from=a /x /x\nFROM scratch AS c\nFROM b AS d\n",
        );
        let p = plan(
            &i,
            &lex,
            Some("d"),
            &BuildArgs::default(),
            &Platform::host(),
        )
        .unwrap();
        assert_eq!(p.order, vec![0, 1, 3]);
        assert_eq!(p.bases[3], Base::Stage(1));
        let p = plan(&i, &lex, None, &BuildArgs::default(), &Platform::host()).unwrap();
        assert_eq!(p.order, vec![0, 1, 3]);
        let p = plan(
            &i,
            &lex,
            Some("C"),
            &BuildArgs::default(),
            &Platform::host(),
        )
        .unwrap();
        assert_eq!(p.order, vec![2]);
        assert!(matches!(
            plan(
                &i,
                &lex,
                Some("nope"),
                &BuildArgs::default(),
                &Platform::host()
            ),
            Err(BuildError::TargetNotFound { .. })
        ));
    }

    #[test]
    fn meta_args_expand_in_from_and_build_args_override() {
        let (i, lex) = ins("ARG REG=example.com\nARG IMG=${REG}/app:1\nFROM ${IMG}\n");
        let p = plan(&i, &lex, None, &BuildArgs::default(), &Platform::host()).unwrap();
        assert_eq!(p.bases[0], Base::Image("example.com/app:1".into()));
        let ba = BuildArgs::parse(&["REG=local".into()]).unwrap();
        let p = plan(&i, &lex, None, &ba, &Platform::host()).unwrap();
        assert_eq!(p.bases[0], Base::Image("local/app:1".into()));
        let (i, lex) = ins("ARG B\nFROM ${B}\n");
        assert!(plan(&i, &lex, None, &BuildArgs::default(), &Platform::host()).is_err());
    }

    fn plan_of(src: &str, target: Option<&str>) -> Result<Plan> {
        let (i, lex) = ins(src);
        plan(&i, &lex, target, &BuildArgs::default(), &Platform::host())
    }

    fn err_text(r: Result<Plan>) -> String {
        match r {
            Ok(p) => panic!("planned {:?}", p.order),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn from_names_a_stage_only_as_written_in_lower_case() {
        // `FROM Builder` is an image name (and an invalid one), `FROM 0` the image `0`.
        let e = err_text(plan_of("FROM scratch AS Builder\nFROM Builder\n", None));
        assert!(e.contains("failed to parse stage name \"Builder\""), "{e}");
        let p = plan_of("FROM scratch AS builder\nFROM 0\n", None).unwrap();
        assert_eq!(p.bases[1], Base::Image("0".into()));
        // A later stage of the same name is the base of the stages after it.
        let p = plan_of("FROM scratch AS a\nFROM a AS a\nFROM a\n", None).unwrap();
        assert_eq!(p.bases[1], Base::Stage(0));
        assert_eq!(p.bases[2], Base::Stage(1));
        // --target and --from compare names case-insensitively.
        let p = plan_of(
            "FROM scratch AS Src\nFROM scratch AS Out\nCOPY --from=SRC /x /x\n",
            Some("OUT"),
        )
        .unwrap();
        assert_eq!(p.order, vec![0, 1]);
    }

    #[test]
    fn arg_lines_alone_are_no_build() {
        let e = err_text(plan_of("ARG A=1\nARG B\n", None));
        assert!(e.contains("dockerfile contains no stages to build"), "{e}");
    }

    #[test]
    fn image_names_accepted_like_docker() {
        for name in [
            "Example.com/img:1",
            "localhost:5000/a/b:tag",
            "img@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "docker.io/library/img",
        ] {
            let p =
                plan_of(&format!("FROM {name}\n"), None).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.bases[0], Base::Image(name.into()));
        }
        for bad in ["Img", "-img", "img::1"] {
            let e = err_text(plan_of(
                &format!("FROM scratch AS s\nFROM s\nCOPY --from={bad} /x /x\n"),
                None,
            ));
            assert!(e.contains("failed to parse stage name"), "{bad}: {e}");
        }
    }

    #[test]
    fn copy_from_expands_no_variable() {
        let e = err_text(plan_of(
            "ARG S=a\nFROM scratch AS a\nFROM scratch\nCOPY --from=$S /x /x\n",
            None,
        ));
        assert!(e.contains("failed to parse stage name \"$S\""), "{e}");
        let e = err_text(plan_of("FROM scratch\nCOPY --from=7 /x /x\n", None));
        assert!(e.contains("invalid stage index 7"), "{e}");
    }

    #[test]
    fn a_later_source_stage_is_an_error_only_in_a_built_stage() {
        let src = "FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\n";
        let p = plan_of(src, None).unwrap();
        assert_eq!(p.order, vec![1]);
        let e = err_text(plan_of(src, Some("a")));
        assert!(
            e.contains(
                "cannot copy from stage \"b\", it needs to be defined before current stage \"a\""
            ),
            "{e}"
        );
    }

    #[test]
    fn platform_args_are_predefined() {
        let (i, lex) = ins("FROM img-${TARGETARCH}\n");
        let p = plan(&i, &lex, None, &BuildArgs::default(), &Platform::host()).unwrap();
        assert_eq!(
            p.bases[0],
            Base::Image(format!("img-{}", Platform::host().architecture))
        );
    }

    #[test]
    fn a_build_arg_replaces_a_predefined_arg_in_the_global_scope() {
        let (i, lex) = ins("ARG M=$TARGETARCH\nFROM img-${TARGETARCH}\n");
        let ba = BuildArgs::parse(&["TARGETARCH=foo".into()]).unwrap();
        let p = plan(&i, &lex, None, &ba, &Platform::host()).unwrap();
        assert_eq!(p.bases[0], Base::Image("img-foo".into()));
        assert_eq!(p.global_args["M"], "foo");
        assert_eq!(p.global_args["TARGETARCH"], "foo");
        assert_eq!(p.global_args["TARGETOS"], Platform::host().os);
    }

    #[test]
    fn go_quoted_runes() {
        assert_eq!(go_quote_rune(4), "'\\x04'");
        assert_eq!(go_quote_rune(0), "'\\x00'");
        assert_eq!(go_quote_rune(10), "'\\n'");
        assert_eq!(go_quote_rune(65), "'A'");
        assert_eq!(go_quote_rune(39), "'\\''");
        assert_eq!(go_quote_rune(0x85), "'\\u0085'");
        assert_eq!(go_quote_rune(-1), "'\u{fffd}'");
    }

    #[test]
    fn go_formats() {
        assert_eq!(go_duration(Duration::from_secs(30)), "30s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(
            go_quote_slice(&["a b".into(), "c".into()]),
            "[\"a b\" \"c\"]"
        );
        assert_eq!(go_slice(&["/bin/sh".into(), "-c".into()]), "[/bin/sh -c]");
    }
}
