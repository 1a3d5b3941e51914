//! Behaviour of every construct and function, checked against what Go's `text/template` (with
//! Docker's function set) prints for the same template and data.

use serde_json::{Value, json};
use strata_template::{Template, TemplateError};

fn render(src: &str, data: &Value) -> String {
    Template::parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .execute(data)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn exec_err(src: &str, data: &Value) -> String {
    Template::parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .execute(data)
        .unwrap_err()
        .to_string()
}

fn parse_err(src: &str) -> String {
    Template::parse(src).unwrap_err().to_string()
}

fn image() -> Value {
    json!({
        "ID": "sha256:4f1f4b5c6e7d",
        "Repository": "alpine",
        "Tag": "3.20",
        "RepoTags": ["alpine:3.20", "alpine:latest"],
        "Size": 7_800_000,
        "VirtualSize": 7.8e6,
        "Created": "2024-06-01T00:00:00Z",
        "Config": {
            "Env": ["PATH=/usr/bin", "LANG=C"],
            "Cmd": ["/bin/sh"],
            "Labels": {"org.opencontainers.image.version": "3.20", "maintainer": "me"},
            "ExposedPorts": {"80/tcp": {}, "443/tcp": {}},
            "User": "",
            "Entrypoint": null
        },
        "RootFS": {"Type": "layers", "Layers": ["sha256:aa", "sha256:bb"]}
    })
}

#[test]
fn text_and_fields() {
    let data = image();
    assert_eq!(render("plain text", &data), "plain text");
    assert_eq!(
        render("{{.ID}}\t{{.Repository}}", &data),
        "sha256:4f1f4b5c6e7d\talpine"
    );
    assert_eq!(render("{{.Config.Cmd}}", &data), "[/bin/sh]");
    assert_eq!(render("{{.RootFS.Type}}", &data), "layers");
    assert_eq!(render("{{.}}", &json!("x")), "x");
    assert_eq!(
        render("{{.Size}} {{.VirtualSize}}", &data),
        "7800000 7.8e+06"
    );
}

#[test]
fn missing_keys_print_no_value_and_are_false() {
    let data = image();
    assert_eq!(render("{{.Nope}}", &data), "<no value>");
    assert_eq!(render("{{.Nope.Deeper}}", &data), "<no value>");
    assert_eq!(render("{{if .Nope}}y{{else}}n{{end}}", &data), "n");
    assert_eq!(render("{{.Config.Entrypoint}}", &data), "<nil>");
    assert_eq!(render("{{json .Nope}}", &data), "null");
}

#[test]
fn printing_like_go_fmt() {
    let data = json!({
        "m": {"b": 2, "a": [1, "x", null], "c": {"z": true}},
        "f": 1000000.0, "g": 0.5, "i": -3, "big": 18446744073709551615u64, "n": null
    });
    assert_eq!(
        render("{{.m}}", &data),
        "map[a:[1 x <nil>] b:2 c:map[z:true]]"
    );
    assert_eq!(
        render("{{.f}} {{.g}} {{.i}} {{.big}} {{.n}}", &data),
        "1e+06 0.5 -3 18446744073709551615 <nil>"
    );
    assert_eq!(
        render("{{1.0}} {{1e6}} {{0x10}} {{'a'}} {{-2}} {{true}}", &data),
        "1 1e+06 16 97 -2 true"
    );
    assert_eq!(
        render("{{\"tab\\there\"}}|{{`raw\\n`}}", &data),
        "tab\there|raw\\n"
    );
}

#[test]
fn trim_markers_and_comments() {
    let data = json!({"a": "A"});
    assert_eq!(render("x   {{- .a -}}   y", &data), "xAy");
    assert_eq!(render("x \n {{- .a}} \n y", &data), "xA \n y");
    assert_eq!(render("x {{.a -}} \n\t y", &data), "x Ay");
    assert_eq!(render("a{{/* comment */}}b", &data), "ab");
    assert_eq!(render("a {{- /* comment */ -}} b", &data), "ab");
    assert_eq!(render("{{/* multi\nline */}}ok", &data), "ok");
    assert_eq!(render("{{ .a }}{{-3}}", &data), "A-3");
}

#[test]
fn variables() {
    let data = image();
    assert_eq!(
        render("{{$x := .Repository}}{{$x}}:{{.Tag}}", &data),
        "alpine:3.20"
    );
    assert_eq!(
        render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}", &data),
        "2"
    );
    assert_eq!(render("{{$}}", &json!(5)), "5");
    assert_eq!(
        render("{{with .Config}}{{$.Repository}} {{.User}}|{{end}}", &data),
        "alpine |"
    );
    assert_eq!(render("{{$c := .Config}}{{$c.Cmd}}", &data), "[/bin/sh]");
    assert_eq!(
        render("{{range $i, $t := .RepoTags}}{{$i}}={{$t}} {{end}}", &data),
        "0=alpine:3.20 1=alpine:latest "
    );
    assert_eq!(
        render("{{range $t := .RepoTags}}{{$t}};{{end}}", &data),
        "alpine:3.20;alpine:latest;"
    );
    assert_eq!(
        render(
            "{{$i := 9}}{{range $i, $e := .RepoTags}}{{end}}{{$i}}",
            &data
        ),
        "9"
    );
}

#[test]
fn pipelines_and_parentheses() {
    let data = image();
    assert_eq!(render("{{.Repository | upper}}", &data), "ALPINE");
    assert_eq!(
        render("{{.Repository | printf \"%s:%s\" .Tag}}", &data),
        "3.20:alpine"
    );
    assert_eq!(render("{{(index .RepoTags 1)}}", &data), "alpine:latest");
    assert_eq!(
        render("{{(index .Config.Env 0) | lower}}", &data),
        "path=/usr/bin"
    );
    assert_eq!(render("{{(.Config).User | len}}", &data), "0");
    assert_eq!(render("{{len (split .ID \":\")}}", &data), "2");
}

#[test]
fn if_else_chains() {
    let t = "{{if eq .s \"a\"}}A{{else if eq .s \"b\"}}B{{else}}other{{end}}";
    assert_eq!(render(t, &json!({"s": "a"})), "A");
    assert_eq!(render(t, &json!({"s": "b"})), "B");
    assert_eq!(render(t, &json!({"s": "c"})), "other");
    for (v, want) in [
        (json!(0), "F"),
        (json!(1), "T"),
        (json!(""), "F"),
        (json!("x"), "T"),
        (json!([]), "F"),
        (json!([0]), "T"),
        (json!({}), "F"),
        (json!(null), "F"),
        (json!(false), "F"),
        (json!(0.0), "F"),
    ] {
        assert_eq!(render("{{if .}}T{{else}}F{{end}}", &v), want, "{v}");
    }
    assert_eq!(
        render(
            "{{if and .a .b}}y{{else}}n{{end}}",
            &json!({"a": 1, "b": 0})
        ),
        "n"
    );
    assert_eq!(
        render(
            "{{if or .a .b}}y{{else}}n{{end}}",
            &json!({"a": 0, "b": "x"})
        ),
        "y"
    );
    assert_eq!(render("{{if not .a}}y{{end}}", &json!({"a": 0})), "y");
    assert_eq!(
        render("{{if $v := .a}}{{$v}}{{end}}", &json!({"a": "kept"})),
        "kept"
    );
}

#[test]
fn range_constructs() {
    let data = image();
    assert_eq!(
        render("{{range .RepoTags}}{{.}} {{end}}", &data),
        "alpine:3.20 alpine:latest "
    );
    // Maps range in key order, whatever the JSON order.
    assert_eq!(
        render(
            "{{range $k, $v := .}}{{$k}}={{$v}},{{end}}",
            &json!({"b": 2, "a": 1, "c": 3})
        ),
        "a=1,b=2,c=3,"
    );
    assert_eq!(
        render("{{range .Config.ExposedPorts}}x{{end}}", &data),
        "xx"
    );
    assert_eq!(
        render(
            "{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}",
            &data
        ),
        "443/tcp 80/tcp "
    );
    assert_eq!(
        render("{{range .Nope}}x{{else}}empty{{end}}", &data),
        "empty"
    );
    assert_eq!(
        render("{{range .Config.Entrypoint}}x{{else}}none{{end}}", &data),
        "none"
    );
    assert_eq!(
        render(
            "{{range .}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}",
            &json!([1, 2, 3, 4])
        ),
        "12"
    );
    assert_eq!(
        render(
            "{{range .}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}",
            &json!([1, 2, 3])
        ),
        "13"
    );
    assert_eq!(render("{{range 3}}{{.}}{{end}}", &json!(null)), "012");
    assert_eq!(
        render(
            "{{range .}}{{range .}}{{.}}{{end}};{{end}}",
            &json!([[1, 2], [3]])
        ),
        "12;3;"
    );
    assert_eq!(
        render("{{range split \"a,b\" \",\"}}[{{.}}]{{end}}", &json!(null)),
        "[a][b]"
    );
}

#[test]
fn with_constructs() {
    let data = image();
    assert_eq!(
        render("{{with .Config.Labels}}{{.maintainer}}{{end}}", &data),
        "me"
    );
    assert_eq!(
        render("{{with .Config.User}}u={{.}}{{else}}root{{end}}", &data),
        "root"
    );
    assert_eq!(
        render(
            "{{with .Nope}}a{{else with .Tag}}tag {{.}}{{else}}c{{end}}",
            &data
        ),
        "tag 3.20"
    );
}

#[test]
fn define_template_block() {
    let data = image();
    assert_eq!(
        render(
            "{{define \"tag\"}}<{{.}}>{{end}}{{range .RepoTags}}{{template \"tag\" .}}{{end}}",
            &data
        ),
        "<alpine:3.20><alpine:latest>"
    );
    assert_eq!(
        render("{{define \"x\"}}[{{.}}]{{end}}{{template \"x\"}}", &data),
        "[<no value>]"
    );
    assert_eq!(render("{{block \"b\" .Tag}}v{{.}}{{end}}", &data), "v3.20");
    // A later define replaces the block's default body.
    assert_eq!(
        render(
            "{{block \"b\" .Tag}}v{{.}}{{end}}{{define \"b\"}}B{{.}}{{end}}",
            &data
        ),
        "B3.20"
    );
    let t = Template::parse("{{define \"a\"}}{{end}}{{block \"b\" .}}{{end}}").unwrap();
    assert_eq!(t.defined_templates(), vec!["a", "b"]);
}

#[test]
fn builtin_functions() {
    let d = json!({"s": "héllo", "a": [1, 2, 3], "m": {"k": "v"}, "n": 5});
    assert_eq!(render("{{len .s}} {{len .a}} {{len .m}}", &d), "6 3 1");
    assert_eq!(
        render("{{index .a 2}} {{index .m \"k\"}} {{index . \"a\" 0}}", &d),
        "3 v 1"
    );
    assert_eq!(
        render("{{slice .a 1 2}} {{slice .s 1}} {{slice .a}}", &d),
        "[2] éllo [1 2 3]"
    );
    assert_eq!(render("{{print \"a\" 1 2 \"b\"}}", &d), "a1 2b");
    assert_eq!(render("{{println \"a\" 1}}", &d), "a 1\n");
    assert_eq!(
        render(
            "{{printf \"%-6s|%5d|%.1f|%q|%t|%x|%v\" .s .n 2.25 \"q\" true 255 .a}}",
            &d
        ),
        "héllo |    5|2.2|\"q\"|true|ff|[1 2 3]"
    );
    assert_eq!(
        render(
            "{{eq .n 5}} {{ne .n 5}} {{lt .n 6}} {{le .n 5}} {{gt .n 5}} {{ge .n 5}}",
            &d
        ),
        "true false true true false true"
    );
    assert_eq!(render("{{eq .s \"x\" \"héllo\"}}", &d), "true");
    assert_eq!(
        render("{{html \"<a>&'\\\"\"}}", &d),
        "&lt;a&gt;&amp;&#39;&#34;"
    );
    assert_eq!(render("{{js \"it's <b>\"}}", &d), "it\\'s \\u003Cb\\u003E");
    assert_eq!(render("{{urlquery \"a b&c\"}}", &d), "a+b%26c");
    assert_eq!(
        render(
            "{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" 3}} {{or 0 \"\"}}",
            &d
        ),
        "0 2 3 "
    );
    assert_eq!(render("{{.n | and 1}}", &d), "5");
    assert_eq!(render("{{not 0}}", &d), "true");
}

#[test]
fn and_or_short_circuit() {
    // The erroring call is never evaluated.
    assert_eq!(render("{{and 0 (index .a 99)}}", &json!({"a": []})), "0");
    assert_eq!(render("{{or 1 (index .a 99)}}", &json!({"a": []})), "1");
}

#[test]
fn docker_functions() {
    let data = image();
    assert_eq!(render("{{json .Config.Cmd}}", &data), r#"["/bin/sh"]"#);
    assert_eq!(
        render("{{json .RootFS}}", &data),
        r#"{"Type":"layers","Layers":["sha256:aa","sha256:bb"]}"#
    );
    assert_eq!(render("{{json \"<&>\"}}", &data), r#""<&>""#);
    assert_eq!(
        render("{{json .VirtualSize}} {{json .Size}}", &data),
        "7800000 7800000"
    );
    assert_eq!(
        render("{{join .RepoTags \", \"}}", &data),
        "alpine:3.20, alpine:latest"
    );
    assert_eq!(
        render("{{join (split .ID \":\") \"/\"}}", &data),
        "sha256/4f1f4b5c6e7d"
    );
    assert_eq!(
        render("{{index (split .ID \":\") 1}}", &data),
        "4f1f4b5c6e7d"
    );
    assert_eq!(
        render("{{title \"hello docker world\"}}", &data),
        "Hello Docker World"
    );
    assert_eq!(
        render("{{upper .Repository}} {{lower \"ABC\"}}", &data),
        "ALPINE abc"
    );
    assert_eq!(render("[{{pad .Tag 2 1}}]", &data), "[  3.20 ]");
    assert_eq!(render("{{truncate .ID 12}}", &data), "sha256:4f1f4");
    assert_eq!(render("{{truncate .ID 100}}", &data), "sha256:4f1f4b5c6e7d");
}

#[test]
fn docker_realistic_formats() {
    let data = image();
    assert_eq!(
        render(
            "{{index .Config.Labels \"org.opencontainers.image.version\"}}",
            &data
        ),
        "3.20"
    );
    assert_eq!(render("{{index .Config.Labels \"absent\"}}", &data), "");
    assert_eq!(
        render("{{index .NoLabels \"absent\"}}", &json!({"NoLabels": null})),
        ""
    );
    assert_eq!(
        render(
            "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}\n{{end}}",
            &data
        ),
        "maintainer=me\norg.opencontainers.image.version=3.20\n"
    );
    assert_eq!(
        render(
            "{{range .Config.Env}}{{if eq (index (split . \"=\") 0) \"PATH\"}}{{.}}{{end}}{{end}}",
            &data
        ),
        "PATH=/usr/bin"
    );
    assert_eq!(render("{{.Config.Labels.maintainer}}", &data), "me");
    assert_eq!(render("{{len .RootFS.Layers}} layers", &data), "2 layers");
    assert_eq!(
        render("{{json .Config.Labels}}", &data),
        r#"{"org.opencontainers.image.version":"3.20","maintainer":"me"}"#
    );
}

#[test]
fn docker_table_formats_and_headers() {
    let f = Template::parse_docker("table {{.ID}}\\t{{.Repository}}\\t{{.Size}}").unwrap();
    assert!(f.table);
    assert_eq!(f.template.source(), "{{.ID}}\t{{.Repository}}\t{{.Size}}");
    let headers = json!({"ID": "IMAGE ID", "Repository": "REPOSITORY", "Size": "SIZE"});
    assert_eq!(
        f.render_header(&headers).unwrap(),
        "IMAGE ID\tREPOSITORY\tSIZE"
    );
    assert_eq!(
        f.render(&image()).unwrap(),
        "sha256:4f1f4b5c6e7d\talpine\t7800000"
    );
    // Header functions leave column titles alone; missing titles print <no value> like Docker.
    let f = Template::parse_docker(
        "table {{upper .Repository}}\t{{json .Tag}}\t{{truncate .ID 3}}\t{{.Other}}",
    )
    .unwrap();
    assert_eq!(
        f.render_header(&json!({"Repository": "Repository", "Tag": "TAG", "ID": "IMAGE ID"}))
            .unwrap(),
        "Repository\tTAG\tIMAGE ID\t<no value>"
    );
    let f = Template::parse_docker("{{.ID}}").unwrap();
    assert!(!f.table);
    let f = Template::parse_docker("table").unwrap();
    assert!(f.table);
    assert_eq!(f.template.source(), "");
    let f = Template::parse_docker("  {{.A}}\\n{{.B}}  ").unwrap();
    assert_eq!(f.render(&json!({"A": 1, "B": 2})).unwrap(), "1\n2");
}

#[test]
fn exec_errors_have_go_positions_and_texts() {
    let d = json!({"s": "str", "n": null, "a": [1], "m": {"k": 1}});
    assert_eq!(
        exec_err("{{.s.B}}", &d),
        // Go positions a field chain at its second field, and a value looked up in a map of
        // JSON data is an `interface {}` (Docker: `{{.Config.Cmd.Foo}}` fails at 1:9 "in type
        // interface {}").
        "template: :1:4: executing \"\" at <.s.B>: can't evaluate field B in type interface {}"
    );
    assert_eq!(
        exec_err("{{.n.B}}", &d),
        "template: :1:4: executing \"\" at <.n.B>: nil pointer evaluating interface {}.B"
    );
    assert_eq!(
        exec_err("x\n  {{index .a 5}}", &d),
        "template: :2:4: executing \"\" at <index .a 5>: error calling index: index out of range: 5"
    );
    assert_eq!(
        exec_err("{{len .s .s}}", &d),
        "template: :1:2: executing \"\" at <len .s .s>: wrong number of args for len: want 1 got 2"
    );
    assert_eq!(
        exec_err("{{upper .a}}", &d),
        "template: :1:2: executing \"\" at <upper .a>: wrong type for value; expected string; got []interface {}"
    );
    assert_eq!(
        exec_err("{{.s 1}}", &d),
        "template: :1:2: executing \"\" at <.s>: s is not a method but has arguments"
    );
    assert_eq!(
        exec_err("{{$ 1}}", &d),
        "template: :1:2: executing \"\" at <$>: can't give argument to non-function $"
    );
    assert_eq!(
        exec_err("{{.a | .s}}", &d),
        "template: :1:7: executing \"\" at <.s>: s is not a method but has arguments"
    );
    assert_eq!(
        exec_err("{{.m.k 1}}", &d),
        "template: :1:4: executing \"\" at <.m.k>: k is not a method but has arguments"
    );
    assert_eq!(
        exec_err("{{template \"nope\"}}", &d),
        "template: :1:2: executing \"\" at <{{template \"nope\"}}>: template \"nope\" not defined"
    );
    assert_eq!(
        exec_err("{{define \"t\"}}{{.X.Y}}{{end}}{{template \"t\" 3}}", &d),
        "template: :1:18: executing \"t\" at <.X.Y>: can't evaluate field X in type int"
    );
    assert_eq!(
        exec_err("{{range .s}}{{end}}", &d),
        "template: :1:8: executing \"\" at <.s>: range can't iterate over str"
    );
    assert_eq!(
        exec_err("{{call .s}}", &d),
        "template: :1:2: executing \"\" at <call .s>: error calling call: non-function .s of type string"
    );
    assert_eq!(
        exec_err("{{eq .a .a}}", &d),
        "template: :1:2: executing \"\" at <eq .a .a>: error calling eq: invalid type for comparison"
    );
    assert_eq!(
        exec_err("{{nil}}", &d),
        "template: :1:2: executing \"\" at <nil>: nil is not a command"
    );
    // Contexts are shown in full, as Docker 20.10 (Go 1.19) shows them: `docker inspect -f
    // '{{index .Config.Labels "nope"}}'` fails "at <index .Config.Labels \"nope\">".
    assert_eq!(
        exec_err("{{printf \"%s\" (index .a 7)}}", &d),
        "template: :1:15: executing \"\" at <index .a 7>: error calling index: index out of range: 7"
    );
    assert!(
        exec_err("{{index .aaaaaaaaaaaaaaaaaaaa 1 2 3}}", &d)
            .contains("at <index .aaaaaaaaaaaaaaaaaaaa 1 2 3>")
    );
}

#[test]
fn recursion_is_bounded() {
    let err = exec_err(
        "{{define \"r\"}}{{template \"r\" .}}{{end}}{{template \"r\" .}}",
        &json!(1),
    );
    assert!(
        err.ends_with("exceeded maximum template depth (100)"),
        "{err}"
    );
}

#[test]
fn parse_errors_have_go_texts() {
    assert_eq!(parse_err("{{.A"), "template: :1: unclosed action");
    assert_eq!(
        parse_err("a\n{{nope .A}}"),
        "template: :2: function \"nope\" not defined"
    );
    assert_eq!(parse_err("{{if .A}}x"), "template: :1: unexpected EOF");
    assert_eq!(parse_err("{{end}}"), "template: :1: unexpected {{end}}");
    assert_eq!(
        parse_err("{{$x}}"),
        "template: :1: undefined variable \"$x\""
    );
    assert_eq!(
        parse_err("{{/* x */ .A}}"),
        "template: :1: comment ends before closing delimiter"
    );
    assert_eq!(
        parse_err("{{\"abc}}"),
        "template: :1: unterminated quoted string"
    );
    assert_eq!(
        parse_err("{{.A | 1}}"),
        "template: :1: non executable command in pipeline stage 2"
    );
    assert_eq!(
        parse_err("{{continue}}"),
        "template: :1: {{continue}} outside {{range}}"
    );
    match Template::parse("ab\ncd{{)}}").unwrap_err() {
        TemplateError::Parse { line, column, .. } => assert_eq!((line, column), (2, 4)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn output_before_an_error_is_kept() {
    let t = Template::parse("a{{.s.x}}b").unwrap();
    let mut out = String::new();
    assert!(t.execute_to(&json!({"s": "x"}), &mut out).is_err());
    assert_eq!(out, "a");
}

/// A cut-down `types.ImageInspect`, as Docker's CLI types `docker image inspect`.
fn inspect_type() -> strata_template::GoType {
    use strata_template::GoType;
    let config = GoType::structure(
        "container.Config",
        [
            ("User", GoType::String),
            (
                "ExposedPorts",
                GoType::named_map("nat.PortSet", "nat.Port", GoType::empty_struct()),
            ),
            ("Env", GoType::slice(GoType::String)),
            ("Cmd", GoType::slice(GoType::String)),
            ("StopTimeout", GoType::ptr(GoType::Int)),
            ("Labels", GoType::map(GoType::String)),
        ],
    );
    GoType::structure(
        "types.ImageInspect",
        [
            ("ID", GoType::String),
            ("Config", GoType::ptr(config)),
            (
                "RootFS",
                GoType::structure(
                    "types.RootFS",
                    [
                        ("Type", GoType::String),
                        ("Layers", GoType::slice(GoType::String)),
                    ],
                ),
            ),
            (
                "Metadata",
                GoType::structure("types.ImageMetadata", [("LastTagTime", GoType::Time)]),
            ),
        ],
    )
    .json_key("ID", "Id")
}

fn typed(src: &str, data: &Value) -> Result<String, String> {
    Template::parse(src)
        .unwrap_or_else(|e| panic!("{src}: {e}"))
        .execute_typed(data, &inspect_type())
        .map_err(|e| e.to_string())
}

#[test]
fn typed_data_prints_as_go_values() {
    let full = json!({
        "Id": "sha256:ab",
        "Config": {"User": "", "ExposedPorts": {"80/tcp": {}}, "Env": ["A=1"], "Cmd": ["sh"],
                   "Labels": {"a": "<b>"}},
        "RootFS": {"Type": "layers", "Layers": ["sha256:1"]},
        "Metadata": {"LastTagTime": "2024-06-01T10:00:00.250Z"},
    });
    let bare = json!({"Id": "sha256:cd", "Config": {"Env": null, "Cmd": null, "Labels": null},
                      "RootFS": {"Type": "layers"}});
    // Docker 20.10 prints these for the same images.
    assert_eq!(typed("{{.Config.Cmd}}", &bare).unwrap(), "[]");
    assert_eq!(
        typed("{{.Config.ExposedPorts}}", &full).unwrap(),
        "map[80/tcp:{}]"
    );
    assert_eq!(typed("{{.Config.ExposedPorts}}", &bare).unwrap(), "map[]");
    assert_eq!(typed("{{.RootFS}}", &full).unwrap(), "{layers [sha256:1]}");
    assert_eq!(
        typed("{{.Config}}", &full).unwrap(),
        "{ map[80/tcp:{}] [A=1] [sh] <nil> map[a:<b>]}"
    );
    assert_eq!(
        typed("{{.Config}}", &bare).unwrap(),
        "{ map[] [] [] <nil> map[]}"
    );
    // fmt itself shows the pointer: `print` of a *container.Config.
    assert_eq!(
        typed("{{print .Config}}", &bare).unwrap(),
        "&{ map[] [] [] <nil> map[]}"
    );
    assert_eq!(
        typed("{{.Metadata}}", &full).unwrap(),
        "{2024-06-01 10:00:00.25 +0000 UTC}"
    );
    assert_eq!(
        typed("{{.Metadata}}", &bare).unwrap(),
        "{0001-01-01 00:00:00 +0000 UTC}"
    );
    assert_eq!(typed("{{.ID}}", &full).unwrap(), "sha256:ab");
    // Nil maps and slices: no value, empty ranges, zero-valued index, length 0.
    assert_eq!(typed("{{.Config.Labels.x}}", &bare).unwrap(), "<no value>");
    assert_eq!(
        typed("[{{index .Config.Labels \"x\"}}]", &bare).unwrap(),
        "[]"
    );
    assert_eq!(
        typed("{{range .Config.Env}}x{{else}}none{{end}}", &bare).unwrap(),
        "none"
    );
    assert_eq!(
        typed("{{len .Config.Env}} {{len .Config.Labels}}", &bare).unwrap(),
        "0 0"
    );
    assert_eq!(
        typed("{{if .RootFS}}struct{{end}}", &bare).unwrap(),
        "struct"
    );
    assert_eq!(
        typed(
            "{{range $k, $v := .Config.ExposedPorts}}{{$k}}={{$v}}{{end}}",
            &full
        )
        .unwrap(),
        "80/tcp={}"
    );
    // Unknown fields, and a string key into a map keyed by nat.Port, are errors.
    assert_eq!(
        typed("{{.Config.Nope}}", &full).unwrap_err(),
        "template: :1:9: executing \"\" at <.Config.Nope>: can't evaluate field Nope in type *container.Config"
    );
    assert_eq!(
        typed("{{.Id}}", &full).unwrap_err(),
        "template: :1:2: executing \"\" at <.Id>: can't evaluate field Id in type types.ImageInspect"
    );
    assert_eq!(
        typed("{{index .Config.ExposedPorts \"80/tcp\"}}", &full).unwrap_err(),
        "template: :1:2: executing \"\" at <index .Config.ExposedPorts \"80/tcp\">: error calling index: value has type string; should be nat.Port"
    );
    assert_eq!(
        typed("{{.Config.StopTimeout.X}}", &full).unwrap_err(),
        "template: :1:9: executing \"\" at <.Config.StopTimeout.X>: nil pointer evaluating *int.X"
    );
}

#[test]
fn json_of_rows_marshalled_as_maps_is_sorted_and_escaped() {
    use strata_template::GoType;
    let row = GoType::ptr(GoType::structure(
        "formatter.imageContext",
        [("Tag", GoType::String), ("Digest", GoType::String)],
    ))
    .json_as_map();
    let data = json!({"Tag": "a&b\u{2028}", "Digest": "<none>"});
    let t = Template::parse("{{json .}} {{json .Digest}}").unwrap();
    assert_eq!(
        t.execute_typed(&data, &row).unwrap(),
        r#"{"Digest":"\u003cnone\u003e","Tag":"a\u0026b\u2028"} "<none>""#
    );
    assert_eq!(
        Template::parse("{{.Nope}}")
            .unwrap()
            .execute_typed(&data, &row)
            .unwrap_err()
            .to_string(),
        "template: :1:2: executing \"\" at <.Nope>: can't evaluate field Nope in type *formatter.imageContext"
    );
}

#[test]
fn strict_execution_is_missingkey_error_over_raw_json() {
    let d = json!({"Config": {"Labels": null, "Env": ["A"]}, "L": {"a": "b"}});
    let strict = |src: &str| {
        Template::parse(src)
            .unwrap()
            .execute_strict(&d)
            .map_err(|e| e.to_string())
    };
    assert_eq!(
        strict("{{.Nope}}").unwrap_err(),
        "template: :1:2: executing \"\" at <.Nope>: map has no entry for key \"Nope\""
    );
    assert_eq!(
        strict("{{.Config.Nope}}").unwrap_err(),
        "template: :1:9: executing \"\" at <.Config.Nope>: map has no entry for key \"Nope\""
    );
    // Go's index over interface{} maps: a missing key is no value, a nil map an error.
    assert_eq!(strict("{{index .L \"x\"}}").unwrap(), "<no value>");
    assert_eq!(
        strict("{{index .Config.Labels \"x\"}}").unwrap_err(),
        "template: :1:2: executing \"\" at <index .Config.Labels \"x\">: error calling index: index of untyped nil"
    );
    assert_eq!(strict("{{.Config.Env}}").unwrap(), "[A]");
}
