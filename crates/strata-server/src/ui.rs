//! A small read-only web page: repositories at `/`, a repository's tags with their
//! sizes at `/ui/<name>`, and one image's layers (or an index's platforms) at
//! `/ui/<name>/<reference>`. Server-rendered HTML with no scripts; every value is
//! escaped. Visibility follows the same rule as `_catalog`: a browser that sends Basic
//! credentials sees what that user may pull, anyone else what anonymous users may pull.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use strata_oci::{Document, Parsed};

use crate::api::RouteLabel;
use crate::names::{Reference, valid_name};
use crate::server::AppState;

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn human(n: i64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < units.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
<style>body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse}}\
td,th{{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}}code{{font-size:.9em}}</style>\
</head><body><p><a href=\"/\">Strata registry</a></p><h1>{t}</h1>{body}</body></html>",
        t = esc(title)
    );
    let mut r = (StatusCode::OK, html).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

fn not_found(what: &str) -> Response {
    let mut r = page("Not found", &format!("<p>{}</p>", esc(what)));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}

fn labelled(mut r: Response) -> Response {
    r.extensions_mut().insert(RouteLabel("ui"));
    r
}

/// `GET /`.
pub async fn index(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let viewer = state.auth.viewer(req.headers()).await;
    let repos = match state.registry.catalog().await {
        Ok(r) => r,
        Err(e) => return labelled(crate::error::ApiError::from(e).into_response()),
    };
    let mut body = String::from("<table><tr><th>Repository</th><th>Tags</th></tr>");
    let mut shown = 0;
    for name in repos.iter().filter(|n| state.auth.can_pull(&viewer, n)) {
        let tags = state.registry.tags(name).await.unwrap_or_default();
        let _ = write!(
            body,
            "<tr><td><a href=\"/ui/{n}\">{n}</a></td><td>{}</td></tr>",
            tags.len(),
            n = esc(name)
        );
        shown += 1;
    }
    body.push_str("</table>");
    if shown == 0 {
        body = "<p>No repositories yet.</p>".to_string();
    }
    labelled(page("Repositories", &body))
}

/// `GET /ui/<name>` and `GET /ui/<name>/<reference>`.
pub async fn repo(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let viewer = state.auth.viewer(req.headers()).await;
    let path = req.uri().path().trim_start_matches("/ui/").to_string();
    // `<name>` or `<name>/<reference>`: a reference has no `/`, so try the whole path as
    // a name first.
    let (name, reference) =
        if valid_name(&path) && state.registry.repo_exists(&path).await.unwrap_or(false) {
            (path.clone(), None)
        } else {
            match path.rsplit_once('/') {
                Some((n, r)) => (n.to_string(), Some(r.to_string())),
                None => (path.clone(), None),
            }
        };
    if !valid_name(&name)
        || !state.auth.can_pull(&viewer, &name)
        || !state.registry.repo_exists(&name).await.unwrap_or(false)
    {
        return labelled(not_found("no such repository"));
    }
    let r = match reference {
        None => tags_page(&state, &name).await,
        Some(r) => match Reference::parse(&r) {
            Some(r) => manifest_page(&state, &name, &r).await,
            None => not_found("invalid reference"),
        },
    };
    labelled(r)
}

async fn summarize(
    state: &AppState,
    name: &str,
    r: &Reference,
) -> Option<(String, String, String)> {
    let m = state.registry.manifest(name, r).await.ok()??;
    let parsed =
        Parsed::parse_with_digest(m.bytes.to_vec(), m.digest.clone(), Some(&m.media_type)).ok()?;
    let size = match &parsed.value {
        Document::Manifest(im) => {
            human(im.config.size + im.layers.iter().map(|l| l.size).sum::<i64>())
        }
        Document::Index(ix) => format!("index of {}", ix.manifests.len()),
    };
    Some((m.digest.to_string(), m.media_type, size))
}

async fn tags_page(state: &AppState, name: &str) -> Response {
    let tags = state.registry.tags(name).await.unwrap_or_default();
    let mut body =
        String::from("<table><tr><th>Tag</th><th>Digest</th><th>Type</th><th>Size</th></tr>");
    for t in &tags {
        let Some((digest, mt, size)) = summarize(state, name, &Reference::Tag(t.clone())).await
        else {
            continue;
        };
        let _ = write!(
            body,
            "<tr><td><a href=\"/ui/{n}/{t}\">{t}</a></td><td><code>{d}</code></td><td>{mt}</td><td>{size}</td></tr>",
            n = esc(name),
            t = esc(t),
            d = esc(&digest[..digest.len().min(19)]),
            mt = esc(&mt),
            size = esc(&size)
        );
    }
    body.push_str("</table>");
    page(name, &body)
}

async fn manifest_page(state: &AppState, name: &str, r: &Reference) -> Response {
    let Ok(Some(m)) = state.registry.manifest(name, r).await else {
        return not_found("no such manifest");
    };
    let Ok(parsed) =
        Parsed::parse_with_digest(m.bytes.to_vec(), m.digest.clone(), Some(&m.media_type))
    else {
        return not_found("unreadable manifest");
    };
    let mut body = format!(
        "<p>Digest <code>{}</code><br>Media type {}</p>",
        esc(m.digest.as_str()),
        esc(&m.media_type)
    );
    match &parsed.value {
        Document::Manifest(im) => {
            let total = im.config.size + im.layers.iter().map(|l| l.size).sum::<i64>();
            let _ = write!(
                body,
                "<p>Config <code>{}</code> ({})<br>Total size {}</p>\
<table><tr><th>#</th><th>Layer</th><th>Type</th><th>Size</th></tr>",
                esc(im.config.digest.as_str()),
                human(im.config.size),
                human(total)
            );
            for (i, l) in im.layers.iter().enumerate() {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                    i + 1,
                    esc(l.digest.as_str()),
                    esc(&l.media_type),
                    human(l.size)
                );
            }
        }
        Document::Index(ix) => {
            body.push_str("<table><tr><th>Platform</th><th>Manifest</th><th>Size</th></tr>");
            for c in &ix.manifests {
                let platform = c
                    .platform
                    .as_ref()
                    .map(|p| p.to_slash_string())
                    .unwrap_or_else(|| "-".to_string());
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td><a href=\"/ui/{}/{d}\"><code>{d}</code></a></td><td>{}</td></tr>",
                    esc(&platform),
                    esc(name),
                    human(c.size),
                    d = esc(c.digest.as_str())
                );
            }
        }
    }
    body.push_str("</table>");
    page(&format!("{name}:{r}"), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_sizes() {
        assert_eq!(esc("<a href='x'>&"), "&lt;a href=&#39;x&#39;&gt;&amp;");
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 * 1024 * 1024), "3.0 MiB");
    }
}
