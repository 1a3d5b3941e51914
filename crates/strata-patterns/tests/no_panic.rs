//! Property: no pattern list and no path makes the matcher panic, and the three matching
//! strategies always agree.

use proptest::prelude::*;
use strata_patterns::{MatchInfo, PatternMatcher, parse_ignore_file};

/// Characters that exercise every branch of the pattern syntax, plus arbitrary ones.
fn pattern_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::sample::select(vec![
            '*', '?', '[', ']', '^', '!', '-', '\\', '/', '.', ':', '&', '~', '$', '(', ')', '{',
            '}', '|', '+', 'a', 'b', 'd', 'p', 'x', 'L', '0', ' ', '#',
        ]),
        1 => any::<char>(),
    ]
}

fn pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(pattern_char(), 0..16).prop_map(|c| c.into_iter().collect())
}

fn path() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(vec!['a', 'b', '/', '.', '*', 'x', '[', '\\']),
            1 => any::<char>(),
        ],
        0..24,
    )
    .prop_map(|c| c.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_strategies_agree(
        patterns in prop::collection::vec(pattern(), 0..5),
        path in path(),
    ) {
        let Ok(m) = PatternMatcher::new(&patterns) else { return Ok(()) };
        let full = m.matches(&path);
        let _ = m.matches_exact(&path);
        let (no_context, _) = m.matches_using_parent_results(&path, &MatchInfo::default());
        prop_assert_eq!(full, no_context);
        // Without exceptions, walking the ancestors agrees with full matching for clean
        // relative paths (with exceptions Docker's two strategies may differ; see the docs).
        let clean = strata_patterns::clean_path(&path);
        if !m.exclusions() && !clean.starts_with('/') && !clean.starts_with("..") && clean != "." {
            let mut info = MatchInfo::default();
            let parts: Vec<&str> = clean.split('/').collect();
            let mut walked = false;
            for depth in 1..=parts.len() {
                let (hit, next) = m.matches_using_parent_results(&parts[..depth].join("/"), &info);
                walked = hit;
                info = next;
            }
            prop_assert_eq!(walked, m.matches(&clean));
        }
    }

    #[test]
    fn ignore_file_parsing_never_panics(text in "(?s).{0,200}") {
        let patterns = parse_ignore_file(&text);
        let _ = PatternMatcher::new(&patterns);
    }
}
