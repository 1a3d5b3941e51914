//! Fuzz the layer reader: arbitrary bytes through validation (with and without devices)
//! and through extraction into a scratch directory, which must stay self-contained.
#![no_main]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;
use strata_layer::{ApplyOptions, LayerError, ValidateOptions, apply, validate};

static RUN: AtomicU64 = AtomicU64::new(0);

fn scratch() -> PathBuf {
    let n = RUN.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("strata-fuzz-tar-{}-{n}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let strict = validate(data, &ValidateOptions::default());
    let _ = validate(
        data,
        &ValidateOptions {
            allow_devices: true,
        },
    );

    let outer = scratch();
    let root = outer.join("root");
    if std::fs::create_dir_all(&root).is_err() {
        return;
    }
    let applied = apply(data, &root, &ApplyOptions::default());
    // Apply runs the same checks as validate: what one refuses the other refuses; apply
    // may only fail additionally on the filesystem (say, a file where a directory goes).
    match (&strict, &applied) {
        (Err(e), Ok(_)) => panic!("apply accepted a layer validate refused: {e}"),
        (Ok(_), Err(e)) if !matches!(e, LayerError::Io { .. }) => {
            panic!("apply refused a layer validate accepted: {e}")
        }
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        _ => {}
    }
    // Nothing may appear beside the root.
    let stray = std::fs::read_dir(&outer)
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name() != "root")
                .count()
        })
        .unwrap_or(0);
    assert_eq!(stray, 0, "apply wrote outside its root");
    let _ = std::fs::remove_dir_all(&outer);
});
