//! Go `text/template` evaluation over JSON values, for Docker-style `--format` options.
//!
//! `docker images --format '{{.ID}}\t{{.Repository}}'`, `docker inspect --format
//! '{{json .Config}}'`, `{{range .RepoTags}}{{.}} {{end}}`, `{{index .Config.Labels "a.b"}}` and
//! `table {{.ID}}\t{{.Size}}` are Go templates, and users' scripts depend on their exact output.
//! No maintained Rust crate evaluates Go templates (`gtmpl` has been unmaintained since 2021
//! and lacks Docker's functions), so Strata implements the language itself:
//!
//! * **Syntax** ([`parse`](Template::parse)): text and `{{actions}}`, `{{- `/` -}}` trim markers,
//!   `{{/* comments */}}`, field chains `.A.B`, `$` and variables (`$x := …`, `$x = …`,
//!   `range $i, $e := …`), pipelines with `|`, parenthesised pipelines, string (with escapes),
//!   raw string, character, number, `true`/`false`/`nil` literals; `if`/`else if`/`else`,
//!   `range` (with `else`, `break`, `continue`), `with`/`else with`/`else`, `define`,
//!   `template`, `block`. As in Go, unknown functions and undeclared variables are parse errors.
//! * **Data**: a `serde_json::Value`, seen as Go sees JSON decoded into `interface{}`. A missing
//!   map key is Go's "no value": it prints `<no value>` and is false. Values print like Go's
//!   `%v`: strings raw, integers without `.0`, floats in shortest `%g` form (`1e+06`), `null`
//!   as `<nil>`, arrays as `[a b c]`, maps as `map[k1:v1 k2:v2]` with sorted keys. `range`
//!   visits maps in key order.
//! * **Functions**: Go's builtins (`and or not len index slice print printf println eq ne lt
//!   le gt ge html js urlquery call`) and Docker's (`json split join title lower upper pad
//!   truncate`). `json` encodes like Docker: compact, no HTML escaping, no trailing newline.
//! * **Docker formats** ([`Template::parse_docker`]): the `table` prefix, and the `\t`/`\n`
//!   escapes Docker expands in format strings. Header rows ([`Template::execute_header`]) run
//!   the same template over a map of column headers with Docker's header functions, which leave
//!   names untouched. Tabs stay tabs; aligning columns is the caller's job (tabwriter).
//!
//! * **Types** ([`GoType`], [`Template::execute_typed`]): data that Docker holds in typed Go
//!   values carries their shape, so it prints as Go prints them (structs as `{…}` in field
//!   order, nil slices as `[]`, nil maps as `map[]`) and an unknown struct field is an error.
//!   [`Template::execute_strict`] is Go's `missingkey=error` over untyped data.
//!
//! Errors carry Go's positions and texts, e.g. `template: :1:2: executing "" at <.A.B>: can't
//! evaluate field B in type string`.
//!
//! Differences from Go that follow from the data model: untyped data is plain JSON, so an
//! integer is printed as an integer whatever its Go type would have been, and `index` on a
//! missing map key or a `null` map yields the zero value of the map's element type inferred
//! from its other entries (the empty string for label maps, as Docker prints). Typed data
//! prints a nested non-nil pointer as a fixed address (Go's differs from run to run), and
//! `printf` formats typed arguments as their JSON.

mod exec;
mod funcs;
mod lex;
mod parse;
mod printf;
mod types;
mod value;

use serde_json::Value;

pub use crate::types::{Field, GoType, StructType};
pub use crate::value::go_json_escape;

use crate::exec::Options;
use crate::funcs::Mode;
use crate::lex::go_quote;
use crate::parse::Tree;

/// A template failed to parse or to execute. The messages follow Go's `text/template`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("template: {name}:{line}: {message}")]
    Parse {
        /// Name of the template (empty for `--format` templates, as in Docker).
        name: String,
        /// 1-based line of the offending token.
        line: usize,
        /// 0-based byte column of the offending token.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Evaluation failed at a node.
    #[error(
        "template: {name}:{line}:{column}: executing {} at <{context}>: {message}",
        go_quote(.template)
    )]
    Exec {
        /// Name of the template source.
        name: String,
        /// 1-based line of the node.
        line: usize,
        /// 0-based byte column of the node, as Go reports it.
        column: usize,
        /// The (possibly `{{define}}`d) template being executed.
        template: String,
        /// The node, as written.
        context: String,
        /// What went wrong.
        message: String,
    },
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    source: String,
    tree: Tree,
}

/// A parsed Docker `--format` value.
#[derive(Debug, Clone)]
pub struct DockerFormat {
    /// Whether the format started with `table`: render a header row and align columns.
    pub table: bool,
    /// The template after the `table` prefix. Its source is empty for a bare `table`, which
    /// asks for the command's default columns.
    pub template: Template,
}

/// 1-based line and 0-based byte column of `pos` in `src`, as Go's `ErrorContext` computes.
fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src.as_bytes()[..pos];
    let line = 1 + before.iter().filter(|b| **b == b'\n').count();
    let column = match before.iter().rposition(|b| *b == b'\n') {
        Some(nl) => pos - nl - 1,
        None => pos,
    };
    (line, column)
}

impl Template {
    /// Parses `source` as a Go template with Docker's function set.
    pub fn parse(source: &str) -> Result<Template, TemplateError> {
        let tree = parse::parse(source, &|name| funcs::arity(name).is_some()).map_err(|e| {
            let (line, column) = line_col(source, e.pos);
            TemplateError::Parse {
                name: String::new(),
                line,
                column,
                message: e.message,
            }
        })?;
        Ok(Template {
            source: source.to_string(),
            tree,
        })
    }

    /// Parses a Docker `--format` value the way the Docker CLI prepares it: a leading `table`
    /// selects table output and is removed, surrounding spaces are trimmed, and the two-character
    /// sequences `\t` and `\n` become a tab and a newline.
    pub fn parse_docker(format: &str) -> Result<DockerFormat, TemplateError> {
        let table = format.starts_with("table");
        let rest = if table {
            &format["table".len()..]
        } else {
            format
        };
        let rest = rest
            .trim_matches(' ')
            .replace("\\t", "\t")
            .replace("\\n", "\n");
        Ok(DockerFormat {
            table,
            template: Template::parse(&rest)?,
        })
    }

    /// The template text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Names of the templates defined with `define` or `block`.
    pub fn defined_templates(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tree.defines.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Evaluates the template over `data`.
    pub fn execute(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.execute_to(data, &mut out)?;
        Ok(out)
    }

    /// Evaluates the template over `data`, appending to `out`. On error, `out` holds the output
    /// produced before the failure, as Go's writer would.
    pub fn execute_to(&self, data: &Value, out: &mut String) -> Result<(), TemplateError> {
        self.run(Mode::Normal, Options::default(), data, &GoType::Any, out)
    }

    /// Evaluates the template over `data` whose Go type is `ty`, as Docker's CLI executes
    /// templates on its typed values (see [`GoType`]).
    pub fn execute_typed(&self, data: &Value, ty: &GoType) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.run(Mode::Normal, Options::default(), data, ty, &mut out)?;
        Ok(out)
    }

    /// Evaluates the template over untyped `data` with Go's `missingkey=error`: looking up a
    /// key the data lacks fails (`map has no entry for key "X"`). Docker's `inspect` falls back
    /// to this over the raw JSON when the typed execution fails.
    pub fn execute_strict(&self, data: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        let options = Options {
            missing_key_error: true,
        };
        self.run(Mode::Strict, options, data, &GoType::Any, &mut out)?;
        Ok(out)
    }

    /// Renders a table header: evaluates the template over `headers`, a JSON object mapping each
    /// field name to its column title (`{"ID": "IMAGE ID"}`), with Docker's header functions —
    /// `json split join title lower upper truncate` return their first argument unchanged, so
    /// `{{upper .Name}}` shows the column title as given. A field without a title prints
    /// `<no value>`, as in Docker.
    pub fn execute_header(&self, headers: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        self.run(
            Mode::Header,
            Options::default(),
            headers,
            &GoType::Any,
            &mut out,
        )?;
        Ok(out)
    }

    fn run(
        &self,
        mode: Mode,
        options: Options,
        data: &Value,
        ty: &GoType,
        out: &mut String,
    ) -> Result<(), TemplateError> {
        exec::execute(&self.tree, mode, options, data, ty, out).map_err(|e| {
            let (line, column) = line_col(&self.source, e.pos);
            // The node in full, as Docker 20.10's Go prints it (older Go cut it at 20
            // characters).
            let context = e.context;
            TemplateError::Exec {
                name: String::new(),
                line,
                column,
                template: e.template,
                context,
                message: e.message,
            }
        })
    }
}

impl DockerFormat {
    /// Renders one item (one row of a table); Docker prints a newline after each.
    pub fn render(&self, item: &Value) -> Result<String, TemplateError> {
        self.template.execute(item)
    }

    /// Renders one item of Go type `ty` (see [`Template::execute_typed`]).
    pub fn render_typed(&self, item: &Value, ty: &GoType) -> Result<String, TemplateError> {
        self.template.execute_typed(item, ty)
    }

    /// Renders the header row of a table format (see [`Template::execute_header`]).
    pub fn render_header(&self, headers: &Value) -> Result<String, TemplateError> {
        self.template.execute_header(headers)
    }
}
