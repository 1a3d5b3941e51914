//! Lexical path cleaning with the rules of Go's `path.Clean` / `filepath.Clean` on Unix.
//!
//! Docker cleans every `.dockerignore` pattern (and, in its `Matches` helpers, the path) before
//! matching, and derives parent directories with `filepath.Dir`. Matching results depend on the
//! exact output of those two functions — `"**/"` becomes `"**"`, `"a/./b/../c"` becomes `"a/c"`,
//! `Dir("dir/file/")` is `"dir/file"` — so they are reproduced here rule for rule rather than
//! approximated with `std::path`, which normalises differently (it keeps `..`, drops trailing
//! slashes only on iteration, and never yields `"."` for an empty path).

/// Returns the shortest path equivalent to `path` by purely lexical processing, exactly as Go's
/// `path.Clean` does:
///
/// 1. multiple slashes become one;
/// 2. `.` elements are removed;
/// 3. an inner `..` removes the non-`..` element before it;
/// 4. `..` at the start of a rooted path is dropped.
///
/// The result has no trailing slash unless it is `"/"`, and an empty result is `"."`.
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    // A relative path may climb above its start; a rooted one cannot.
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// Go's `filepath.Dir` on Unix: everything up to the last slash, cleaned; `"."` when there is no
/// slash.
pub(crate) fn parent_dir(path: &str) -> String {
    match path.rfind('/') {
        Some(slash) => clean_path(&path[..=slash]),
        None => ".".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_matches_go() {
        // Cases from Go's path.Clean documentation and test table.
        let cases = [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("/abc/", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("///abc", "/abc"),
            ("abc//", "abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
            ("**/", "**"),
            ("!", "!"),
        ];
        for (input, want) in cases {
            assert_eq!(clean_path(input), want, "clean({input:?})");
        }
    }

    #[test]
    fn parent_dir_matches_go() {
        let cases = [
            ("file", "."),
            ("file/", "file"),
            ("dir/file", "dir"),
            ("dir/file/", "dir/file"),
            ("/", "/"),
            ("/a", "/"),
            ("a//b", "a"),
            ("", "."),
        ];
        for (input, want) in cases {
            assert_eq!(parent_dir(input), want, "dir({input:?})");
        }
    }
}
