//! The image stage's last `COPY` prepared ahead of its turn (the solver's speculation): it
//! is used when what it depended on is unchanged when the step comes, dropped otherwise,
//! and in every case the image is the one a build without it gives.

mod common;

use common::{env, mode, owner};

const EPOCH: i64 = 1_700_000_000;

const FILES: &[(&str, &str)] = &[("f", "f"), ("d/g", "g"), ("d/e/h", "h"), ("top", "t")];

struct Both {
    /// The manifest digests with and without speculation.
    with: String,
    without: String,
    /// Steps that used a layer prepared ahead.
    prepared: usize,
    /// Chunks of big files compressed ahead that a layer used.
    chunks: usize,
    env: common::Env,
}

/// Build `df` over [`FILES`] in two fresh stores, with and without speculation, with
/// `SOURCE_DATE_EPOCH` so that the two builds' times agree.
fn both(df: &str) -> Option<Both> {
    both_with(df, |_| {})
}

/// [`both`], with `setup` adding to each context.
fn both_with(df: &str, setup: impl Fn(&std::path::Path)) -> Option<Both> {
    let plain = env(FILES)?;
    setup(&plain.ctx);
    let without = plain.build_with(df, |o| {
        o.source_date_epoch = Some(EPOCH);
        o.speculate = false;
    });
    assert_eq!(without.out.prepared_ahead, 0);
    assert_eq!(without.out.chunks_prepared_ahead, 0);
    let env = env(FILES)?;
    setup(&env.ctx);
    let with = env.build_with(df, |o| o.source_date_epoch = Some(EPOCH));
    Some(Both {
        with: with.out.manifest.digest.to_string(),
        without: without.out.manifest.digest.to_string(),
        prepared: with.out.prepared_ahead,
        chunks: with.out.chunks_prepared_ahead,
        env,
    })
}

#[test]
fn the_tail_copy_prepared_while_another_stage_runs_is_used() {
    let df = "FROM busybox AS b\nRUN sleep 1 && echo x > /x\n\
              FROM busybox\nWORKDIR /app\nCOPY --from=b /x /app/x\nCOPY f /app/\n\
              RUN mkdir /app/bin && echo old > /app/top\nCOPY . /app/\nCMD [\"sh\"]\n";
    let Some(b) = both(df) else {
        return;
    };
    assert_eq!(b.prepared, 1, "the prepared layer was not used");
    assert_eq!(b.with, b.without);
    let root = b.env.rootfs("test");
    assert_eq!(std::fs::read_to_string(root.join("app/top")).unwrap(), "t");
    assert_eq!(
        std::fs::read_to_string(root.join("app/d/e/h")).unwrap(),
        "h"
    );
    assert!(root.join("app/bin").is_dir() && root.join("app/x").is_file());
}

#[test]
fn a_destination_changed_in_between_is_not_taken_from_the_prepared_layer() {
    let df = "FROM busybox\nWORKDIR /app\nRUN chmod 700 /app && chown 5:6 /app\nCOPY . /app/\n";
    let Some(b) = both(df) else {
        return;
    };
    assert_eq!(b.prepared, 0);
    assert_eq!(b.with, b.without);
    let root = b.env.rootfs("test");
    assert_eq!(mode(&root.join("app")) & 0o7777, 0o700);
    assert_eq!(owner(&root.join("app")), (5, 6));
}

#[test]
fn a_conflict_made_in_between_still_fails_the_copy() {
    let Some(env) = env(FILES) else {
        return;
    };
    let df = "FROM busybox\nWORKDIR /app\nRUN echo file > /app/d\nCOPY . /app/\n";
    let Err(err) = env.try_build(df) else {
        panic!("the copy over a file where a directory goes succeeded");
    };
    assert!(err.contains("cannot copy to non-directory"), "{err}");
}

#[test]
fn a_chown_user_added_in_between_is_resolved_when_the_step_runs() {
    let df = "FROM busybox\nWORKDIR /app\n\
              RUN echo 'u:x:1234:4321::/:/bin/sh' >> /etc/passwd && echo 'u:x:4321:' >> /etc/group\n\
              COPY --chown=u . /app/\n";
    let Some(b) = both(df) else {
        return;
    };
    assert_eq!(b.prepared, 0);
    assert_eq!(b.with, b.without);
    let root = b.env.rootfs("test");
    assert_eq!(owner(&root.join("app/d/g")), (1234, 4321));
}

#[test]
fn a_destination_made_a_symlink_in_between_is_followed() {
    let df = "FROM busybox\nWORKDIR /app\nRUN mkdir /real && cd / && rmdir /app && ln -s /real /app\n\
              COPY . /app/\n";
    let Some(b) = both(df) else {
        return;
    };
    assert_eq!(b.prepared, 0);
    assert_eq!(b.with, b.without);
    let root = b.env.rootfs("test");
    assert_eq!(std::fs::read_to_string(root.join("real/d/g")).unwrap(), "g");
}

#[test]
fn a_file_the_copy_replaces_does_not_stop_the_prepared_layer() {
    // What is below a copied file does not change what the copy writes. (The sleeps in
    // these tests leave the low-priority speculator time to start even on a busy machine: a
    // speculation not started when its step comes is cancelled, by design.)
    let df = "FROM busybox\nWORKDIR /app\nRUN sleep 1 && echo old > /app/f\nCOPY . /app/\n";
    let Some(b) = both(df) else {
        return;
    };
    assert_eq!(b.prepared, 1, "the prepared layer was not used");
    assert_eq!(b.with, b.without);
    let root = b.env.rootfs("test");
    assert_eq!(std::fs::read_to_string(root.join("app/f")).unwrap(), "f");
}

#[test]
fn a_chown_user_whose_ids_change_in_between_gets_the_new_ones() {
    let df = "FROM busybox\nWORKDIR /app\n\
              RUN echo 'u:x:1234:4321::/:/bin/sh' >> /etc/passwd && echo 'u:x:4321:' >> /etc/group\n\
              ENV X=1\n\
              RUN sed -i s/1234/2000/ /etc/passwd && sed -i s/4321/3000/ /etc/passwd /etc/group\n\
              COPY --chown=u . /app/\n";
    let Some(b) = both(df) else {
        return;
    };
    assert_eq!(b.prepared, 0);
    assert_eq!(b.with, b.without);
    let root = b.env.rootfs("test");
    assert_eq!(owner(&root.join("app/d/g")), (2000, 3000));
}

#[test]
fn big_files_copied_from_another_stage_are_compressed_ahead() {
    // Text and random data in files of several chunks, one a whole number of chunks, made
    // by separate steps; a small file; a big file outside /out/ that a second COPY names.
    // The last RUN gives the speculator time to finish before the copies run.
    let df = "FROM busybox AS b\nWORKDIR /out\n\
              RUN seq 1 400000 > text\n\
              COPY random.bin random\n\
              RUN head -c 1048576 text > exact && echo small > small\n\
              RUN seq 1 300000 > /elsewhere\n\
              RUN sleep 2\n\
              FROM busybox\nCOPY --from=b /out/ /data/\nCOPY --from=b /elsewhere /e\nCOPY f /\n";
    let Some(b) = both_with(df, |ctx| {
        std::fs::write(ctx.join("random.bin"), random(2 << 20)).unwrap()
    }) else {
        return;
    };
    assert_eq!(b.with, b.without);
    // text (2.6 MB: 3 chunks), random (2), exact (1); /elsewhere is not under /out/ but is
    // named by the second COPY, so it is prepared too (2).
    assert_eq!(b.chunks, 8, "chunks taken from the memo");
    let root = b.env.rootfs("test");
    let text = std::fs::read_to_string(root.join("data/text")).unwrap();
    assert!(text.starts_with("1\n2\n") && text.ends_with("400000\n"));
    assert_eq!(
        std::fs::metadata(root.join("data/random")).unwrap().len(),
        2 << 20
    );
    assert_eq!(
        std::fs::metadata(root.join("data/exact")).unwrap().len(),
        1 << 20
    );
}

/// Deterministic incompressible bytes (xorshift64*).
fn random(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        v.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    v.truncate(len);
    v
}
