//! `/metrics` for Prometheus: requests, verdicts, bytes and scan latency per channel.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ChannelLabel {
    pub channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabel {
    pub channel: String,
    pub action: String,
}

/// Why an incident could not be recorded: `disk_full` (space returns, writes resume) or
/// `error` (anything else).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RecordFailureLabel {
    pub channel: String,
    pub cause: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabel {
    pub route: String,
    pub status: u16,
}

pub struct Metrics {
    registry: Registry,
    /// The ICAP door's own counters (connections, 204s, echoes, protocol errors), kept by
    /// the door and exported here when it runs.
    pub icap: std::sync::OnceLock<std::sync::Arc<baomi_icap::IcapState>>,
    /// The mail door's counters, likewise.
    pub milter: std::sync::OnceLock<std::sync::Arc<baomi_milter::MilterStats>>,
    pub objects: Family<ChannelLabel, Counter>,
    pub bytes: Family<ChannelLabel, Counter>,
    pub verdicts: Family<VerdictLabel, Counter>,
    pub errors: Family<ChannelLabel, Counter>,
    pub record_failures: Family<RecordFailureLabel, Counter>,
    pub scan_seconds: Family<ChannelLabel, Histogram>,
    pub http_requests: Family<RouteLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("baomi");
        let objects = Family::<ChannelLabel, Counter>::default();
        let bytes = Family::<ChannelLabel, Counter>::default();
        let verdicts = Family::<VerdictLabel, Counter>::default();
        let errors = Family::<ChannelLabel, Counter>::default();
        let record_failures = Family::<RecordFailureLabel, Counter>::default();
        let scan_seconds = Family::<ChannelLabel, Histogram>::new_with_constructor(|| {
            // 0.5 ms … ~65 s
            Histogram::new(exponential_buckets(0.0005, 2.0, 18))
        });
        let http_requests = Family::<RouteLabel, Counter>::default();
        registry.register("objects_inspected", "Objects inspected", objects.clone());
        registry.register(
            "bytes_inspected",
            "Bytes of objects inspected",
            bytes.clone(),
        );
        registry.register(
            "verdicts",
            "Verdicts by channel and action",
            verdicts.clone(),
        );
        registry.register(
            "inspection_errors",
            "Objects whose inspection failed (fail mode applied)",
            errors.clone(),
        );
        registry.register(
            "record_failures",
            "Incidents that could not be recorded (the door applied its fail mode)",
            record_failures.clone(),
        );
        registry.register(
            "scan_seconds",
            "Time to inspect one object",
            scan_seconds.clone(),
        );
        registry.register(
            "http_requests",
            "REST API requests by route and status",
            http_requests.clone(),
        );
        Metrics {
            registry,
            icap: std::sync::OnceLock::new(),
            milter: std::sync::OnceLock::new(),
            objects,
            bytes,
            verdicts,
            errors,
            record_failures,
            scan_seconds,
            http_requests,
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        let mut doors = String::new();
        if let Some(state) = self.icap.get() {
            let s = state.stats.snapshot();
            counters(
                &mut doors,
                &[
                    (
                        "icap_connections",
                        "ICAP connections accepted",
                        s.connections,
                    ),
                    ("icap_options", "ICAP OPTIONS requests", s.options),
                    ("icap_reqmod", "ICAP REQMOD requests", s.reqmod),
                    ("icap_respmod", "ICAP RESPMOD requests", s.respmod),
                    (
                        "icap_no_content",
                        "ICAP 204 answers (allowed unchanged)",
                        s.no_content,
                    ),
                    (
                        "icap_echoed",
                        "Messages echoed back (client did not allow 204)",
                        s.echoed,
                    ),
                    (
                        "icap_blocks",
                        "ICAP answers carrying the block page",
                        s.blocks,
                    ),
                    (
                        "icap_protocol_errors",
                        "Malformed or truncated ICAP requests",
                        s.errors,
                    ),
                    (
                        "icap_inspector_failures",
                        "Inspections failed or timed out (fail mode applied)",
                        s.inspector_failures,
                    ),
                    (
                        "icap_over_limit",
                        "Bodies over the size limit",
                        s.over_limit,
                    ),
                    (
                        "icap_body_bytes",
                        "HTTP body bytes received over ICAP",
                        s.body_bytes,
                    ),
                    (
                        "icap_upload_pieces",
                        "Pieces of uploads sent in several requests, kept until whole",
                        s.pieces,
                    ),
                    (
                        "icap_uploads_assembled",
                        "Uploads in pieces put together and inspected whole",
                        s.pieces_assembled,
                    ),
                    (
                        "icap_uploads_expired",
                        "Uploads in pieces dropped unfinished after their idle age",
                        s.pieces_expired,
                    ),
                ],
            );
            gauges(
                &mut doors,
                &[
                    (
                        "icap_active_connections",
                        "ICAP connections open now",
                        s.active_connections,
                    ),
                    (
                        "icap_peak_connections",
                        "The most ICAP connections open at once since start",
                        s.peak_connections,
                    ),
                    (
                        "icap_uploads_in_pieces",
                        "Uploads in pieces in progress now",
                        state.uploads_held().0 as u64,
                    ),
                    (
                        "icap_upload_pieces_bytes",
                        "Bytes held on the spool for uploads in pieces",
                        state.uploads_held().1,
                    ),
                ],
            );
        }
        if let Some(m) = self.milter.get() {
            let g = baomi_milter::MilterStats::get;
            counters(
                &mut doors,
                &[
                    (
                        "milter_connections",
                        "MTA connections accepted",
                        g(&m.connections),
                    ),
                    (
                        "milter_refused_connections",
                        "MTA connections closed because max_connections were open",
                        g(&m.refused_connections),
                    ),
                    (
                        "milter_body_chunks",
                        "Message body chunks received",
                        g(&m.body_chunks),
                    ),
                    (
                        "milter_messages",
                        "Messages answered at their end",
                        g(&m.messages),
                    ),
                    (
                        "milter_failures",
                        "Messages given the fail mode (tempfail unless fail_open)",
                        g(&m.failures),
                    ),
                ],
            );
            gauges(
                &mut doors,
                &[
                    (
                        "milter_active_connections",
                        "MTA connections open now",
                        g(&m.active_connections),
                    ),
                    (
                        "milter_peak_connections",
                        "The most MTA connections open at once since start",
                        g(&m.peak_connections),
                    ),
                ],
            );
        }
        // OpenMetrics ends with `# EOF`; the doors' families go before it.
        match out.rfind("# EOF") {
            Some(at) => out.insert_str(at, &doors),
            None => out.push_str(&doors),
        }
        out
    }

    pub fn channel(c: &str) -> ChannelLabel {
        ChannelLabel {
            channel: c.to_owned(),
        }
    }
}

/// Counters kept outside the registry (the doors' own atomics), in the text format.
fn counters(out: &mut String, list: &[(&str, &str, u64)]) {
    for (name, help, v) in list {
        out.push_str(&format!(
            "# HELP baomi_{name} {help}.\n# TYPE baomi_{name} counter\nbaomi_{name}_total {v}\n"
        ));
    }
}

fn gauges(out: &mut String, list: &[(&str, &str, u64)]) {
    for (name, help, v) in list {
        out.push_str(&format!(
            "# HELP baomi_{name} {help}.\n# TYPE baomi_{name} gauge\nbaomi_{name} {v}\n"
        ));
    }
}
