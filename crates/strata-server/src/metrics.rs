//! Prometheus metrics, hand-written: a request counter by method, route and status,
//! a latency histogram by route, and byte counters. The exposition format is a few lines
//! of text, so this avoids a metrics framework and its global registry.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Histogram bucket bounds, seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The metrics of one server.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) uploads_expired: AtomicU64,
}

impl Metrics {
    /// Record one finished request.
    pub fn observe(&self, method: &str, route: &'static str, status: u16, elapsed: Duration) {
        if let Ok(mut m) = self.requests.lock() {
            *m.entry((method.to_string(), route, status)).or_insert(0) += 1;
        }
        if let Ok(mut m) = self.latency.lock() {
            let h = m.entry(route).or_default();
            let s = elapsed.as_secs_f64();
            for (i, b) in BUCKETS.iter().enumerate() {
                if s <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += s;
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP strata_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE strata_http_requests_total counter\n");
        if let Ok(m) = self.requests.lock() {
            for ((method, route, status), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "strata_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        out.push_str("# HELP strata_http_request_duration_seconds Request latency.\n");
        out.push_str("# TYPE strata_http_request_duration_seconds histogram\n");
        if let Ok(m) = self.latency.lock() {
            for (route, h) in m.iter() {
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "strata_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{b}\"}} {}",
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "strata_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "strata_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "strata_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        for (name, help, v) in [
            (
                "strata_blob_bytes_received_total",
                "Blob bytes received in uploads.",
                &self.bytes_received,
            ),
            (
                "strata_blob_bytes_sent_total",
                "Blob bytes sent in downloads.",
                &self.bytes_sent,
            ),
            (
                "strata_uploads_expired_total",
                "Upload sessions removed after expiry.",
                &self.uploads_expired,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe("GET", "blob", 200, Duration::from_millis(3));
        m.observe("GET", "blob", 200, Duration::from_secs(2));
        let text = m.render();
        assert!(text.contains(
            "strata_http_requests_total{method=\"GET\",route=\"blob\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "strata_http_request_duration_seconds_bucket{route=\"blob\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("strata_http_request_duration_seconds_count{route=\"blob\"} 2"));
    }
}
