//! Fuzz shell word expansion in every lexer mode: no input may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_dockerfile::shell::{EnvList, Lex};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let word = String::from_utf8_lossy(rest);
    let mut lex = Lex::new(if mode & 1 == 0 { '\\' } else { '`' });
    lex.raw_quotes = mode & 2 != 0;
    lex.raw_escapes = mode & 4 != 0;
    lex.skip_unset_env = mode & 8 != 0;
    lex.skip_process_quotes = mode & 16 != 0;
    let env = EnvList::from_pairs(&["A=abc", "EMPTY=", "PAT=a*b?c", "SP=x  y"]);
    let _ = lex.expand(&word, &env);
});
