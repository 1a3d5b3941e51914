//! Parse a generated 10,000-line Dockerfile and print the median of several runs.
//!
//! Run with `cargo bench -p strata-dockerfile --bench parse`. The input mixes every instruction
//! family, continuation lines, comments, JSON forms and heredocs so that each code path of the
//! parser and of the typed-instruction layer is on the clock.

use std::time::{Duration, Instant};

fn generate(lines: usize) -> String {
    let mut s = String::from("# syntax=docker/dockerfile:1\nARG BASE=alpine:3.20\n");
    let mut n = 2;
    let mut stage = 0;
    while n < lines {
        s.push_str(&format!(
            "FROM --platform=$BUILDPLATFORM ${{BASE}} AS stage{stage}\n"
        ));
        s.push_str("# install the toolchain\n");
        s.push_str("RUN --mount=type=cache,target=/var/cache/apk,sharing=locked \\\n    apk add --no-cache build-base git \\\n    && rm -rf /tmp/*\n");
        s.push_str("ENV PATH=/usr/local/bin:$PATH LANG=C.UTF-8\n");
        s.push_str("LABEL org.opencontainers.image.title=\"demo app\" version=1.0\n");
        s.push_str("COPY --chown=1000:1000 --chmod=0755 src/ /app/src/\n");
        s.push_str("WORKDIR /app\n");
        s.push_str("RUN <<EOF\nset -e\nmake -j4\nEOF\n");
        s.push_str("EXPOSE 8080/tcp 9000-9010/udp\n");
        s.push_str("HEALTHCHECK --interval=30s --timeout=3s CMD [\"/app/health\", \"--quick\"]\n");
        s.push_str("USER 1000:1000\n");
        s.push_str("CMD [\"/app/server\", \"--port\", \"8080\"]\n");
        n += 17;
        stage += 1;
    }
    s
}

fn main() {
    let src = generate(10_000);
    let line_count = src.lines().count();
    let runs = 25;
    let mut parse_times = Vec::with_capacity(runs);
    let mut typed_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let df = strata_dockerfile::parse(&src).expect("generated Dockerfile parses");
        parse_times.push(t.elapsed());
        let t = Instant::now();
        let parsed = strata_dockerfile::instructions::parse_instructions(&df)
            .expect("generated Dockerfile is valid");
        typed_times.push(t.elapsed());
        std::hint::black_box(parsed);
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    parse_times.sort();
    typed_times.sort();
    let (p, t) = (parse_times[runs / 2], typed_times[runs / 2]);
    println!(
        "parse {line_count} lines: median {:.2} ms (min {:.2}) over {runs} runs; typed instructions: median {:.2} ms (min {:.2}); total median {:.2} ms",
        ms(p),
        ms(parse_times[0]),
        ms(t),
        ms(typed_times[0]),
        ms(p + t)
    );
}
