//! Throughput of the layer pipeline on a real directory:
//! `cargo run --release -p strata-layer --example throughput -- /usr/bin`
//!
//! Measures create (tar from the tree), gzip with single-threaded flate2 and with the
//! parallel encoder, zstd, validate (plain and compressed) and apply. Rates are MB/s of
//! uncompressed tar.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use strata_layer::{
    ApplyOptions, CompressOptions, Compression, CreateOptions, LayerWriter, ParallelGzEncoder,
    ValidateOptions, apply, create, validate,
};

fn rate(bytes: usize, start: Instant) -> String {
    let secs = start.elapsed().as_secs_f64();
    format!("{:7.1} MB/s ({secs:.2} s)", bytes as f64 / secs / 1e6)
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "/usr/bin".into()));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Warm the page cache, then measure.
    create(&dir, std::io::sink(), &CreateOptions::default()).expect("create");
    let start = Instant::now();
    let mut tar = Vec::new();
    let summary = create(&dir, &mut tar, &CreateOptions::default()).expect("create");
    let n = tar.len();
    println!(
        "input: {} ({} entries, {:.1} MB tar), {threads} cores",
        dir.display(),
        summary.entries,
        n as f64 / 1e6
    );
    println!("create                      {}", rate(n, start));

    let start = Instant::now();
    validate(
        &tar[..],
        &ValidateOptions {
            allow_devices: true,
        },
    )
    .expect("validate");
    println!("validate (plain)            {}", rate(n, start));

    let start = Instant::now();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&tar).expect("gzip");
    let reference = gz.finish().expect("gzip");
    println!(
        "gzip -6 flate2, 1 thread    {}  ratio {:.3}",
        rate(n, start),
        reference.len() as f64 / n as f64
    );

    for t in [1, threads] {
        let start = Instant::now();
        let mut enc = ParallelGzEncoder::new(Vec::new(), 6, t);
        enc.write_all(&tar).expect("gzip");
        let blob = enc.finish().expect("gzip");
        println!(
            "gzip -6 parallel, {t} thread{} {}  ratio {:.3}",
            if t == 1 { " " } else { "s" },
            rate(n, start),
            blob.len() as f64 / n as f64
        );
    }

    let mut blobs = Vec::new();
    for (compression, t) in [
        (Compression::Gzip, threads),
        (Compression::Zstd, 1),
        (Compression::Zstd, threads),
    ] {
        let options = CompressOptions {
            compression,
            level: None,
            threads: t,
        };
        let start = Instant::now();
        let mut w = LayerWriter::new(Vec::new(), &options).expect("writer");
        w.write_all(&tar).expect("write");
        let (info, blob) = w.finish().expect("finish");
        println!(
            "pipeline {:?} {t} thread{}   {}  ratio {:.3} (diffID + digest + compress)",
            compression,
            if t == 1 { " " } else { "s" },
            rate(n, start),
            info.size as f64 / n as f64
        );
        blobs.push((compression, blob));
    }

    for (compression, blob) in &blobs {
        let start = Instant::now();
        validate(
            &blob[..],
            &ValidateOptions {
                allow_devices: true,
            },
        )
        .expect("validate");
        println!("validate ({compression:?})          {}", rate(n, start));
    }

    let dest = std::env::temp_dir().join(format!("strata-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dest).expect("mkdir");
    let start = Instant::now();
    apply(&tar[..], &dest, &ApplyOptions::for_current_user()).expect("apply");
    println!("apply (plain)               {}", rate(n, start));
    std::fs::remove_dir_all(&dest).expect("cleanup");
}
