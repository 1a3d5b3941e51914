//! Registry authentication: `WWW-Authenticate` challenges and bearer tokens.
//!
//! # Model
//!
//! A registry says how it wants to be authenticated when `/v2/` (or any request) answers
//! 401: `Basic realm="…"`, or `Bearer realm="https://auth/token",service="reg",
//! scope="repository:app:pull"` ([distribution token spec]). Basic means sending the
//! credentials with every request. Bearer means asking the token server (the realm) for a
//! token covering the *scopes* the request needs — `repository:NAME:pull`,
//! `repository:NAME:pull,push`, `registry:catalog:*` — and sending that token.
//!
//! Tokens are cached per scope set until shortly before they expire
//! (`expires_in`, at least 60 s as the spec says), so a pull of many blobs fetches one token.
//! A 401 on a request that carried a token means the token no longer suffices (expired, or
//! the registry wants a scope we did not ask for — `error="insufficient_scope"` with the
//! scope it wants): the cached token is dropped and one fresh token is fetched with the
//! scopes merged, once per request.
//!
//! Token requests: with an identity (refresh) token, the OAuth2 `POST` form
//! (`grant_type=refresh_token`); otherwise `GET realm?service=…&scope=…` with Basic
//! credentials if there are any, anonymous if not. A cross-repository mount asks for
//! `repository:SOURCE:pull` next to `repository:TARGET:pull,push`.
//!
//! [distribution token spec]: https://distribution.github.io/distribution/spec/auth/token/
//!
//! Written by hand: the challenge grammar (RFC 7235 auth-params) is a few lines, and the
//! crates that parse it do not implement the token flow.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One authentication challenge from a `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: String,
    },
    Bearer {
        realm: String,
        service: Option<String>,
        /// Scopes the registry named (space-separated in the header).
        scopes: Vec<String>,
        /// `error="insufficient_scope"` and the like.
        error: Option<String>,
    },
}

/// Parse a `WWW-Authenticate` header value into its challenges (unknown schemes are
/// skipped). Handles several challenges in one header and quoted values with escapes.
pub fn parse_challenges(header: &str) -> Vec<Challenge> {
    let mut out = Vec::new();
    let mut rest = header.trim();
    while !rest.is_empty() {
        // The scheme: a token up to whitespace.
        let end = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        let scheme = rest[..end].to_ascii_lowercase();
        rest = rest[end..].trim_start_matches([' ', '\t', ',']);
        let (params, after) = parse_params(rest);
        rest = after;
        match scheme.as_str() {
            "basic" => out.push(Challenge::Basic {
                realm: params.get("realm").cloned().unwrap_or_default(),
            }),
            "bearer" => out.push(Challenge::Bearer {
                realm: params.get("realm").cloned().unwrap_or_default(),
                service: params.get("service").cloned(),
                scopes: params
                    .get("scope")
                    .map(|s| s.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                error: params.get("error").cloned(),
            }),
            _ => {}
        }
        if scheme.is_empty() {
            break;
        }
    }
    out
}

/// Parse `k=v, k="v"` pairs until the next challenge's scheme (a token not followed by
/// `=`). Returns the parameters (keys lowercased) and the unparsed remainder.
fn parse_params(mut s: &str) -> (HashMap<String, String>, &str) {
    let mut params = HashMap::new();
    loop {
        s = s.trim_start_matches([' ', '\t', ',']);
        let Some(eq) = s.find('=') else {
            return (params, s);
        };
        let key = &s[..eq];
        if key.is_empty() || key.contains(|c: char| c.is_whitespace() || c == ',') {
            // `Basic realm=…` after a Bearer challenge: a new scheme starts here.
            return (params, s);
        }
        let mut v = &s[eq + 1..];
        let value;
        if let Some(q) = v.strip_prefix('"') {
            let mut buf = String::new();
            let mut chars = q.char_indices();
            let mut consumed = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            buf.push(n);
                        }
                    }
                    '"' => {
                        consumed = i + 1;
                        break;
                    }
                    c => buf.push(c),
                }
            }
            value = buf;
            v = &q[consumed..];
        } else {
            let end = v.find(',').unwrap_or(v.len());
            value = v[..end].trim().to_string();
            v = &v[end..];
        }
        params.insert(key.to_ascii_lowercase(), value);
        s = v;
    }
}

/// A cached bearer token.
#[derive(Clone)]
pub(crate) struct Token {
    pub value: String,
    pub expires: Instant,
}

impl Token {
    pub fn new(value: String, expires_in: Option<u64>, issued: Instant) -> Token {
        // The spec's minimum lifetime is 60 s; refresh 10 s early to absorb clock and
        // request latency.
        let life = expires_in.unwrap_or(60).max(60);
        Token {
            value,
            expires: issued + Duration::from_secs(life.saturating_sub(10)),
        }
    }

    pub fn is_fresh(&self) -> bool {
        Instant::now() < self.expires
    }
}

/// The answer of a token server.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub access_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<u64>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// A normalised cache key for a set of scopes.
pub(crate) fn scope_key(scopes: &[String]) -> String {
    let mut v: Vec<&str> = scopes.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v.join(" ")
}

/// Merge scopes: `repository:a:pull` and `repository:a:push` become
/// `repository:a:pull,push`; other scopes are kept as they are.
pub(crate) fn merge_scopes(scopes: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    let mut actions: HashMap<String, Vec<String>> = HashMap::new();
    for s in scopes {
        let (resource, acts) = match s.rsplit_once(':') {
            Some((r, a)) if r.contains(':') => (r.to_string(), a.to_string()),
            _ => (s.clone(), String::new()),
        };
        let entry = actions.entry(resource.clone()).or_insert_with(|| {
            order.push(resource.clone());
            Vec::new()
        });
        for a in acts.split(',').filter(|a| !a.is_empty()) {
            if !entry.iter().any(|x| x == a) {
                entry.push(a.to_string());
            }
        }
    }
    order
        .into_iter()
        .map(|r| {
            let mut acts = actions.remove(&r).unwrap_or_default();
            acts.sort();
            if acts.is_empty() {
                r
            } else {
                format!("{r}:{}", acts.join(","))
            }
        })
        .collect()
}

/// `repository:NAME:pull`.
pub fn pull_scope(path: &str) -> String {
    format!("repository:{path}:pull")
}

/// `repository:NAME:pull,push`.
pub fn push_scope(path: &str) -> String {
    format!("repository:{path}:pull,push")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic() {
        let c = parse_challenges(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull repository:c:push""#,
        );
        assert_eq!(
            c,
            vec![Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scopes: vec!["repository:a/b:pull".into(), "repository:c:push".into()],
                error: None,
            }]
        );
        let c = parse_challenges(r#"Basic realm="Registry Realm""#);
        assert_eq!(
            c,
            vec![Challenge::Basic {
                realm: "Registry Realm".into()
            }]
        );
    }

    #[test]
    fn parses_several_challenges_and_escapes() {
        let c = parse_challenges(
            r#"Bearer realm="r\"x",error="insufficient_scope", Basic realm=plain"#,
        );
        assert_eq!(c.len(), 2);
        assert!(
            matches!(&c[0], Challenge::Bearer { realm, error: Some(e), .. } if realm == "r\"x" && e == "insufficient_scope")
        );
        assert!(matches!(&c[1], Challenge::Basic { realm } if realm == "plain"));
        assert!(parse_challenges("Negotiate").is_empty());
        assert!(parse_challenges("").is_empty());
    }

    #[test]
    fn merges_scopes() {
        let m = merge_scopes(vec![
            "repository:a:pull".to_string(),
            "repository:b:pull".to_string(),
            "repository:a:push,pull".to_string(),
            "registry:catalog:*".to_string(),
        ]);
        assert_eq!(
            m,
            vec![
                "repository:a:pull,push",
                "repository:b:pull",
                "registry:catalog:*"
            ]
        );
        assert_eq!(
            scope_key(&["b".into(), "a".into(), "b".into()]),
            "a b".to_string()
        );
    }
}
