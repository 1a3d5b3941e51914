//! Fuzz the Dockerfile parser, the typed-instruction layer and diagnostic rendering: no input
//! may panic or hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_dockerfile::{CommandKind, Diagnostic, parse, parse_instructions};

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    let df = match parse(&src) {
        Ok(df) => df,
        Err(e) => {
            let _ = Diagnostic::from_error("Dockerfile", &e).render(&src);
            return;
        }
    };
    let _ = df.dump();
    for w in &df.warnings {
        let _ = Diagnostic::from_warning("Dockerfile", w).render(&src);
    }
    match parse_instructions(&df) {
        Ok(parsed) => {
            for stage in &parsed.stages {
                for cmd in &stage.commands {
                    if let CommandKind::Run(run) = &cmd.kind {
                        for m in &run.mounts {
                            let _ = m.parse_literal();
                        }
                    }
                }
            }
        }
        Err(e) => {
            let _ = Diagnostic::from_error("Dockerfile", &e).render(&src);
        }
    }
});
