//! Robustness: no input makes the parser, the typed layer, the renderer or the shell lexer
//! panic or loop. Inputs are both arbitrary text and text assembled from Dockerfile fragments
//! (keywords, flags, quotes, escapes, heredocs, substitutions) to reach deep code paths.

use proptest::prelude::*;
use strata_dockerfile::shell::{EnvList, Lex};
use strata_dockerfile::{Diagnostic, parse, parse_instructions};

const FRAGMENTS: &[&str] = &[
    "FROM ",
    "RUN ",
    "COPY ",
    "ADD ",
    "ENV ",
    "LABEL ",
    "ARG ",
    "ONBUILD ",
    "HEALTHCHECK ",
    "CMD ",
    "ENTRYPOINT ",
    "SHELL ",
    "EXPOSE ",
    "VOLUME ",
    "USER ",
    "WORKDIR ",
    "STOPSIGNAL ",
    "MAINTAINER ",
    "NONE ",
    "AS ",
    "--mount=",
    "type=cache,target=/x",
    "--from=",
    "--chmod=",
    "--link",
    "--platform=",
    "--interval=",
    "--",
    "=",
    "\n",
    "\r\n",
    " ",
    "\t",
    "\\",
    "`",
    "\\\n",
    "# escape=`\n",
    "# syntax=x\n",
    "# check=skip=all\n",
    "#",
    "\"",
    "'",
    "[",
    "]",
    ",",
    "\"a\"",
    "<<",
    "<<-",
    "<<EOF",
    "EOF",
    "<<'E'",
    "E",
    "3<<X",
    "X",
    "$",
    "${",
    "}",
    ":-",
    ":+",
    ":?",
    "#",
    "##",
    "%",
    "%%",
    "/",
    "//",
    "*",
    "?",
    "a",
    "é",
    "\u{feff}",
    "\u{a0}",
    "0",
    "80/tcp",
    "alpine",
    "{",
    "}",
];

fn exercise(src: &str) {
    match parse(src) {
        Ok(df) => {
            let _ = df.dump();
            let lex = Lex::new(df.escape_token);
            let env = EnvList::from_pairs(&["A=1", "B="]);
            for i in &df.instructions {
                for a in &i.args {
                    let _ = lex.expand(&a.value, &env);
                }
                for f in &i.flags {
                    let _ = src.get(f.span.byte_range());
                }
            }
            for w in &df.warnings {
                let _ = Diagnostic::from_warning("Dockerfile", w).render(src);
            }
            match parse_instructions(&df) {
                Ok(t) => {
                    for s in &t.stages {
                        for c in &s.commands {
                            if let strata_dockerfile::CommandKind::Run(r) = &c.kind {
                                for m in &r.mounts {
                                    let _ = m.parse_literal();
                                }
                            }
                        }
                    }
                }
                Err(e) => {
                    let _ = Diagnostic::from_error("Dockerfile", &e).render(src);
                }
            }
        }
        Err(e) => {
            let _ = Diagnostic::from_error("Dockerfile", &e).render(src);
        }
    }
}

/// 2000 cases per property in the suite; `PROPTEST_CASES` raises it for long runs
/// (`PROPTEST_CASES=5000000 cargo test --release -p strata-dockerfile --test proptest`).
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,400}") {
        exercise(&src);
    }

    #[test]
    fn fragment_soup_never_panics(parts in proptest::collection::vec(0..FRAGMENTS.len(), 0..80)) {
        let src: String = parts.iter().map(|&i| FRAGMENTS[i]).collect();
        exercise(&src);
    }

    #[test]
    fn expansion_never_panics(word in proptest::collection::vec(0..FRAGMENTS.len(), 0..60), backtick in any::<bool>()) {
        let word: String = word.iter().map(|&i| FRAGMENTS[i]).collect();
        let mut lex = Lex::new(if backtick { '`' } else { '\\' });
        let env = EnvList::from_pairs(&["A=abc", "B=", "C=a*b?c"]);
        let _ = lex.expand(&word, &env);
        lex.raw_quotes = true;
        lex.raw_escapes = true;
        lex.skip_unset_env = true;
        let _ = lex.expand(&word, &env);
    }
}
