//! Parallel gzip on a mix of incompressible and text data, the shape of a typical
//! application layer (already-compressed assets next to source and configuration):
//! `cargo run --release -p strata-layer --example gzip_mixed -- [THREADS] [RANDOM_MIB] [TEXT_MIB] [LEVEL]`
//!
//! Defaults: 2 threads, level 6, 24 MiB of random bytes followed by 11 MiB of text, then the same
//! amounts interleaved in 100 KiB pieces. Prints time, rate and ratio of each run (best of 5).

use std::io::Write;
use std::time::{Duration, Instant};

use strata_layer::ParallelGzEncoder;

/// Deterministic pseudo-random bytes (xorshift64*), incompressible for deflate.
fn random_bytes(len: usize, mut state: u64) -> Vec<u8> {
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

/// Text-like bytes: words from a small vocabulary in pseudo-random order, with numbers.
fn text_bytes(len: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the", "layer", "image", "config", "return", "function", "value", "error", "string",
        "import", "export", "const", "let", "if", "else", "for", "while", "match", "struct",
        "self", "data", "path", "file", "open", "read", "write", "buffer", "length", "index",
        "registry", "manifest", "digest", "blob", "upload", "compress", "stream", "chunk",
    ];
    let mut v = Vec::with_capacity(len + 64);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut line = 0u64;
    while v.len() < len {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let word = WORDS[(state >> 33) as usize % WORDS.len()];
        v.extend_from_slice(word.as_bytes());
        if (state >> 20).is_multiple_of(9) {
            line += 1;
            v.extend_from_slice(format!(" = {};\n", line * 7919 % 100_003).as_bytes());
        } else {
            v.push(b' ');
        }
    }
    v.truncate(len);
    v
}

fn run(name: &str, data: &[u8], threads: usize, level: u32) {
    let mut best = Duration::MAX;
    let mut size = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let mut enc = ParallelGzEncoder::new(Vec::with_capacity(data.len()), level, threads);
        enc.write_all(data).expect("gzip");
        let out = enc.finish().expect("gzip");
        best = best.min(start.elapsed());
        size = out.len();
    }
    let secs = best.as_secs_f64();
    println!(
        "{name:<28} {:6.1} MiB  {:7.0} ms  {:7.1} MB/s  ratio {:.3}",
        data.len() as f64 / (1 << 20) as f64,
        secs * 1e3,
        data.len() as f64 / secs / 1e6,
        size as f64 / data.len() as f64
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut next = |default: usize| {
        args.next()
            .map_or(default, |a| a.parse().expect("a number"))
    };
    let threads = next(2);
    let random_mib = next(24);
    let text_mib = next(11);
    let level = next(6) as u32;
    let random = random_bytes(random_mib << 20, 0x1234_5678_9abc_def1);
    let text = text_bytes(text_mib << 20);
    println!("gzip -{level}, {threads} thread(s)");
    run("random", &random, threads, level);
    run("text", &text, threads, level);
    let mut concatenated = random.clone();
    concatenated.extend_from_slice(&text);
    run("random then text", &concatenated, threads, level);
    let mut interleaved = Vec::with_capacity(concatenated.len());
    let (mut r, mut t) = (random.chunks(100 << 10), text.chunks(46 << 10));
    loop {
        match (r.next(), t.next()) {
            (None, None) => break,
            (a, b) => {
                interleaved.extend_from_slice(a.unwrap_or_default());
                interleaved.extend_from_slice(b.unwrap_or_default());
            }
        }
    }
    run("interleaved 100K/46K", &interleaved, threads, level);
}
