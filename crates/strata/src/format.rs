//! Rendering of listings and documents the way the Docker CLI does: `--format table …`
//! (a header row, columns aligned by a tabwriter with Docker's settings), `--format json`
//! (one JSON object per line), a Go template (one rendering per item, no header), and
//! Docker's `inspect` JSON (4-space indent, HTML-escaped like Go's encoder).
//!
//! Docker executes templates on typed Go values; commands that know the Go type of their
//! rows or documents pass it ([`GoType`]) so `{{.X}}` prints what Docker prints. A template
//! that fails is reported as Docker's CLI reports it: `template parsing error: …` on stderr
//! (no `Error:` prefix), exit status 1 (64 for a malformed `inspect --format`).

use std::io::Write;

use anyhow::Context as _;
use serde_json::Value;
use strata_template::{DockerFormat, GoType, Template};

/// Report a template failure in Docker's words and end with `code`.
fn template_error(e: impl std::fmt::Display, code: u8) -> anyhow::Error {
    eprintln!("template parsing error: {e}");
    crate::Exit(code).into()
}

/// Write `rows` as Docker's formatter would. `default_table` is the command's default
/// format (used for `--format table` and when no format is given).
pub fn write_rows(
    out: &mut dyn Write,
    format: Option<&str>,
    default_table: &str,
    headers: &Value,
    rows: &[Value],
) -> anyhow::Result<()> {
    write_rows_typed(out, format, default_table, headers, rows, &GoType::Any)
}

/// [`write_rows`] for rows of Go type `row_type` (Docker's row context of the command).
/// Nothing is written when a row fails, as Docker renders every row before it prints.
pub fn write_rows_typed(
    out: &mut dyn Write,
    format: Option<&str>,
    default_table: &str,
    headers: &Value,
    rows: &[Value],
    row_type: &GoType,
) -> anyhow::Result<()> {
    let format = match format.map(str::trim) {
        None | Some("") | Some("table") => default_table.to_string(),
        Some("json") => "{{json .}}".to_string(),
        Some(f) => f.to_string(),
    };
    let parsed = Template::parse_docker(&format).map_err(|e| template_error(e, 1))?;
    let mut body = String::new();
    for row in rows {
        let line = parsed
            .render_typed(row, row_type)
            .map_err(|e| template_error(e, 1))?;
        body.push_str(&line);
        body.push('\n');
    }
    if parsed.table {
        // Go's tabwriter(minwidth 10, padding 3) counts padding inside the minimum width;
        // this crate adds padding after it, hence 7.
        let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(7).padding(3);
        let header = parsed
            .render_header(headers)
            .map_err(|e| template_error(e, 1))?;
        tw.write_all(header.as_bytes())?;
        tw.write_all(b"\n")?;
        tw.write_all(body.as_bytes())?;
        tw.flush()?;
        let aligned = tw.into_inner().context("aligning columns")?;
        out.write_all(&aligned)?;
    } else {
        out.write_all(body.as_bytes())?;
    }
    Ok(())
}

/// Execute a (non-table) template once per item, as `inspect --format` does.
pub fn write_template(out: &mut dyn Write, format: &str, items: &[Value]) -> anyhow::Result<()> {
    let format = if format.trim() == "json" {
        "{{json .}}"
    } else {
        format
    };
    let parsed = Template::parse_docker(format).context("template parsing error")?;
    for item in items {
        let s = parsed.render(item).context("template execution error")?;
        out.write_all(s.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// An `inspect --format` template, parsed before anything is looked up as Docker's CLI does;
/// a malformed one ends the command with status 64.
pub fn inspect_template(format: &str) -> anyhow::Result<DockerFormat> {
    let format = if format.trim() == "json" {
        "{{json .}}"
    } else {
        format
    };
    Template::parse_docker(format).map_err(|e| template_error(e, 64))
}

/// One `inspect --format` rendering as Docker's `TemplateInspector` makes it: over the typed
/// value (`ty`), and when that fails over the raw JSON with `missingkey=error`, whose error is
/// the one reported (`template parsing error: …`).
pub fn render_inspect(
    template: &DockerFormat,
    item: &Value,
    ty: &GoType,
) -> Result<String, String> {
    template.render_typed(item, ty).or_else(|_| {
        template
            .template
            .execute_strict(item)
            .map_err(|e| format!("template parsing error: {e}"))
    })
}

/// The Go type of a Docker CLI list row (`*formatter.imageContext`, `*image.historyContext`
/// …): `columns` are methods returning strings, `{{json .}}` marshals them as a map (sorted,
/// HTML-escaped), and any other name is an error.
pub fn string_row(type_name: &str, columns: &[&str]) -> GoType {
    GoType::ptr(GoType::structure(
        type_name,
        columns.iter().map(|c| (*c, GoType::String)),
    ))
    .json_as_map()
}

/// Go's `json.MarshalIndent(v, "", "    ")`: four spaces, and `<`, `>`, `&`, U+2028 and
/// U+2029 escaped as Go's encoder does (those characters only occur inside strings).
pub fn go_json_indent(v: &Value) -> String {
    strata_template::go_json_escape(&daemon_json_indent(v))
}

/// `docker inspect`'s document: the daemon's JSON (written without HTML escaping) indented
/// by the CLI with four spaces, so `<`, `>` and `&` stay as they are.
pub fn daemon_json_indent(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serialising a Value into memory cannot fail.
    let _ = serde::Serialize::serialize(v, &mut ser);
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn table_is_aligned_with_header() {
        let mut out = Vec::new();
        let headers = json!({"Repository": "REPOSITORY", "Tag": "TAG"});
        let rows = vec![
            json!({"Repository": "busybox", "Tag": "latest"}),
            json!({"Repository": "a", "Tag": "1"}),
        ];
        write_rows(
            &mut out,
            None,
            "table {{.Repository}}\t{{.Tag}}",
            &headers,
            &rows,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "REPOSITORY   TAG\nbusybox      latest\na            1\n"
        );
    }

    #[test]
    fn json_and_template_forms() {
        let rows = vec![json!({"ID": "abc", "Digest": "<none>"})];
        let mut out = Vec::new();
        write_rows(&mut out, Some("json"), "table {{.ID}}", &json!({}), &rows).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"ID\":\"abc\",\"Digest\":\"<none>\"}\n"
        );
        let mut out = Vec::new();
        write_rows(
            &mut out,
            Some("{{.ID}}"),
            "table {{.ID}}",
            &json!({}),
            &rows,
        )
        .unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "abc\n");
    }

    #[test]
    fn daemon_json_keeps_html_characters() {
        let v = json!([{"A": "<x&y>"}]);
        assert_eq!(
            daemon_json_indent(&v),
            "[\n    {\n        \"A\": \"<x&y>\"\n    }\n]"
        );
    }

    #[test]
    fn inspect_json_is_go_shaped() {
        let v = json!([{"A": "<x&y>", "B": []}]);
        assert_eq!(
            go_json_indent(&v),
            "[\n    {\n        \"A\": \"\\u003cx\\u0026y\\u003e\",\n        \"B\": []\n    }\n]"
        );
    }
}
