//! Arbitrary bytes, and valid layers with bytes flipped, never make validate or apply
//! panic; apply never writes outside its root.

mod support;

use proptest::prelude::*;
use strata_layer::{ApplyOptions, ValidateOptions, apply, validate};
use support::*;

fn valid_layer() -> Vec<u8> {
    tar(&[
        dir("a/"),
        file("a/f", b"hello world"),
        symlink("a/s", "f"),
        hardlink("a/h", "a/f"),
        entry("PaxHeaders/x", b'x', "", b"16 path=a/b/c/d\n"),
        file("ignored-name", b"pax named"),
        file("a/.wh.gone", b""),
        dir("b/"),
        file("b/.wh..wh..opq", b""),
        entry("dev", b'6', "", b""),
    ])
}

fn check(bytes: &[u8]) {
    let _ = validate(bytes, &ValidateOptions::default());
    let _ = validate(
        bytes,
        &ValidateOptions {
            allow_devices: true,
        },
    );
    let outer = tempfile::tempdir().unwrap();
    let root = outer.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let _ = apply(bytes, &root, &ApplyOptions::default());
    // Nothing but the root itself may exist beside it.
    assert_eq!(
        listing(outer.path())
            .iter()
            .filter(|n| !n.starts_with("root"))
            .count(),
        0
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        check(&bytes);
    }

    #[test]
    fn flipped_bytes(flips in proptest::collection::vec((0usize..8192, any::<u8>()), 1..8)) {
        let mut layer = valid_layer();
        for (at, value) in flips {
            let at = at % layer.len();
            layer[at] = value;
        }
        check(&layer);
    }

    #[test]
    fn truncated_anywhere(cut in 0usize..8192) {
        let layer = valid_layer();
        check(&layer[..cut % layer.len()]);
    }
}

#[test]
fn the_seed_layer_is_valid() {
    let summary = validate(
        &valid_layer()[..],
        &ValidateOptions {
            allow_devices: true,
        },
    )
    .unwrap();
    assert_eq!(summary.entries, 9);
}
