//! Prometheus metrics, in a registry owned by the server (not a process-global one), so an
//! application that mounts the router keeps its own registry and metric names apart.
//!
//! Label values are bounded: `model` is a loaded model's name or `_none` (unknown names
//! from requests never become labels), `route` one of the fixed route names.

use prometheus::{Encoder, Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts};

/// The server's metrics.
pub struct Metrics {
    registry: prometheus::Registry,
    /// Requests by model, route and status code.
    pub requests: IntCounterVec,
    /// Request latency by model and route.
    pub latency: HistogramVec,
    /// Requests being handled now.
    pub in_flight: IntGauge,
    /// Seconds the last load of each model took.
    pub load_seconds: GaugeVec,
    /// Times each model was loaded (1 at start, +1 per reload).
    pub version: IntGaugeVec,
    /// Unix time of each model's last load.
    pub loaded_at: GaugeVec,
    /// Resident memory of the process (read from /proc at scrape time).
    pub rss_bytes: Gauge,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let registry = prometheus::Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("mercato_requests_total", "HTTP requests by model, route and status"),
            &["model", "route", "status"],
        )
        .expect("valid metric");
        // 50 µs to 5 s: model calls take microseconds, batches and overloaded servers longer.
        let buckets =
            vec![5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        let latency = HistogramVec::new(
            HistogramOpts::new("mercato_request_duration_seconds", "Request latency by model and route")
                .buckets(buckets),
            &["model", "route"],
        )
        .expect("valid metric");
        let in_flight = IntGauge::new("mercato_in_flight_requests", "Requests being handled").expect("valid metric");
        let load_seconds = GaugeVec::new(
            Opts::new("mercato_model_load_seconds", "Seconds the last load of the model took"),
            &["model"],
        )
        .expect("valid metric");
        let version =
            IntGaugeVec::new(Opts::new("mercato_model_version", "Loads of the model since start"), &["model"])
                .expect("valid metric");
        let loaded_at = GaugeVec::new(
            Opts::new("mercato_model_loaded_timestamp_seconds", "Unix time of the model's last load"),
            &["model"],
        )
        .expect("valid metric");
        let rss_bytes = Gauge::new("mercato_resident_memory_bytes", "Resident set size of the process").expect("valid");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(in_flight.clone()),
            Box::new(load_seconds.clone()),
            Box::new(version.clone()),
            Box::new(loaded_at.clone()),
            Box::new(rss_bytes.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Metrics { registry, requests, latency, in_flight, load_seconds, version, loaded_at, rss_bytes }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        if let Some(rss) = resident_bytes() {
            self.rss_bytes.set(rss as f64);
        }
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }

    /// Forgets the label values of a model that is no longer loaded.
    pub fn forget_model(&self, name: &str) {
        let _ = self.load_seconds.remove_label_values(&[name]);
        let _ = self.version.remove_label_values(&[name]);
        let _ = self.loaded_at.remove_label_values(&[name]);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Resident set size from `/proc/self/statm` (Linux; `None` elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
