//! Dockerfile lexer and parser, shell word expansion, typed instructions, diagnostics and lint rules. No I/O.
