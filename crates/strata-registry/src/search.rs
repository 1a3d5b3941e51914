//! Search: Docker Hub's `GET /v1/search?q=TERM&n=LIMIT` (also served by some other
//! registries), and for OCI registries without it, the repository catalog
//! (`GET /v2/_catalog`, paginated with `Link`) filtered by the term.
//!
//! Which registry is searched follows Docker: in `HOST/term` the first component is a
//! registry if it contains `.` or `:` or is `localhost`; otherwise Docker Hub is searched.

use reqwest::{Method, StatusCode};
use serde::Serialize;

use crate::client::{Client, Req, read_limited, status_error};
use crate::error::{Error, Result};
use crate::pull::next_link;

/// One search result, with Docker's JSON field names for `--format`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SearchResult {
    #[serde(rename = "Name", alias = "name")]
    pub name: String,
    #[serde(rename = "Description", alias = "description", default)]
    pub description: String,
    #[serde(rename = "StarCount", alias = "star_count", default)]
    pub star_count: u64,
    #[serde(rename = "IsOfficial", alias = "is_official", default)]
    pub is_official: bool,
    #[serde(rename = "IsAutomated", alias = "is_automated", default)]
    pub is_automated: bool,
}

/// Split `HOST/term` into the registry domain (`docker.io` by default) and the term.
pub fn split_search_term(term: &str) -> (String, String) {
    if let Some((first, rest)) = term.split_once('/')
        && (first.contains('.') || first.contains(':') || first == "localhost")
    {
        let domain = if first == "index.docker.io" {
            "docker.io"
        } else {
            first
        };
        return (domain.to_string(), rest.to_string());
    }
    ("docker.io".to_string(), term.to_string())
}

impl Client {
    /// Search `domain` for `term`, at most `limit` results.
    pub async fn search(
        &self,
        domain: &str,
        term: &str,
        limit: usize,
    ) -> Result<Vec<SearchResult>> {
        let reg = self.registry(domain)?;
        let v1 = if domain == "docker.io" {
            crate::client::parse_url("https://index.docker.io/v1/search")?
        } else {
            reg.url("v1/search").await?
        };
        let mut url = v1;
        url.query_pairs_mut()
            .append_pair("q", term)
            .append_pair("n", &limit.to_string());
        let resp = reg.send(Req::new(Method::GET, url.clone(), &[])).await;
        match resp {
            Ok(r) if r.status().is_success() => {
                let body = read_limited(r, 16 << 20, &reg.domain, "search results").await?;
                #[derive(serde::Deserialize)]
                struct Answer {
                    #[serde(default)]
                    results: Vec<SearchResult>,
                }
                let a: Answer = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                    registry: reg.domain.clone(),
                    message: format!("malformed search results: {e}"),
                })?;
                let mut results = a.results;
                results.truncate(limit);
                return Ok(results);
            }
            Ok(r) if r.status() == StatusCode::NOT_FOUND && domain != "docker.io" => {}
            Ok(r) => return Err(status_error(&url, r).await),
            Err(e) => return Err(e),
        }
        // No v1 search: filter the catalog.
        let scopes = vec!["registry:catalog:*".to_string()];
        let mut url = reg.url("v2/_catalog?n=1000").await?;
        let needle = term.to_ascii_lowercase();
        let mut results = Vec::new();
        for _ in 0..10_000 {
            let resp = reg
                .send(Req::new(Method::GET, url.clone(), &scopes))
                .await?;
            if !resp.status().is_success() {
                return Err(status_error(&url, resp).await);
            }
            let next = next_link(resp.headers()).and_then(|l| url.join(&l).ok());
            let body = read_limited(resp, 64 << 20, &reg.domain, "catalog").await?;
            #[derive(serde::Deserialize)]
            struct Catalog {
                #[serde(default)]
                repositories: Option<Vec<String>>,
            }
            let c: Catalog = serde_json::from_slice(&body).map_err(|e| Error::Protocol {
                registry: reg.domain.clone(),
                message: format!("malformed catalog: {e}"),
            })?;
            for repo in c.repositories.unwrap_or_default() {
                if results.len() >= limit {
                    return Ok(results);
                }
                if repo.to_ascii_lowercase().contains(&needle) {
                    results.push(SearchResult {
                        name: format!("{domain}/{repo}"),
                        description: String::new(),
                        star_count: 0,
                        is_official: false,
                        is_automated: false,
                    });
                }
            }
            match next {
                Some(n) => url = n,
                None => break,
            }
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_terms_like_docker() {
        assert_eq!(
            split_search_term("busybox"),
            ("docker.io".into(), "busybox".into())
        );
        assert_eq!(
            split_search_term("library/busybox"),
            ("docker.io".into(), "library/busybox".into())
        );
        assert_eq!(
            split_search_term("localhost:5000/app"),
            ("localhost:5000".into(), "app".into())
        );
        assert_eq!(
            split_search_term("reg.example/a/b"),
            ("reg.example".into(), "a/b".into())
        );
    }

    #[test]
    fn hub_json_shape() {
        let r: SearchResult = serde_json::from_str(
            r#"{"name":"busybox","description":"d","star_count":3,"is_official":true,"is_automated":false}"#,
        )
        .unwrap();
        assert_eq!(r.star_count, 3);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["Name"], "busybox");
        assert_eq!(v["IsOfficial"], true);
    }
}
