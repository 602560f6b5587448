import Metrics
import Prometheus
import Synchronization
import TaskBridgeCore

/// Every metric TaskBridge exports, on a registry owned by one application instance
/// (no global bootstrap, so several instances can live in one test process). Label
/// values are bounded: event types past the first ``BoundedLabel/limit`` distinct ones
/// are counted as `other`.
public final class TaskBridgeMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let eventTypes = BoundedLabel()
    private let gauges = Mutex<[String: Metrics.Gauge]>([:])
    private let counters = Mutex<[String: Metrics.Counter]>([:])
    private let timers = Mutex<[String: Metrics.Timer]>([:])

    /// Metric handles are created once per label set and reused: creating one is a
    /// registry lookup, too slow for the ingest path.
    func counter(_ name: String, _ labels: [(String, String)]) -> Metrics.Counter {
        Self.cached(in: counters, name, labels) { Metrics.Counter(label: name, dimensions: labels, factory: factory) }
    }

    func timer(_ name: String, _ labels: [(String, String)]) -> Metrics.Timer {
        Self.cached(in: timers, name, labels) { Metrics.Timer(label: name, dimensions: labels, factory: factory) }
    }

    private static func cached<Handle>(in cache: borrowing Mutex<[String: Handle]>, _ name: String, _ labels: [(String, String)],
                                       make: () -> Handle) -> Handle {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return cache.withLock { c in
            if let existing = c[key] { return existing }
            let made = make()
            c[key] = made
            return made
        }
    }

    public init() {
        registry = PrometheusCollectorRegistry()
        var f = PrometheusMetricsFactory(registry: registry)
        f.defaultDurationHistogramBuckets = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            .seconds(10), .seconds(30), .seconds(60), .seconds(300), .seconds(900), .seconds(3600),
        ]
        factory = f
    }

    /// An accepted or refused webhook. `outcome`: planned, unmatched, ignored, duplicate,
    /// discarded, rejected.
    public func event(source: String, type: String?, outcome: String) {
        counter("taskbridge_events_total", [("source", source), ("type", type.map(eventTypes.admit) ?? "unknown"), ("outcome", outcome)]).increment()
    }

    public func rejected(source: String, status: Int) {
        counter("taskbridge_ingress_rejected_total", [("source", source), ("status", String(status))]).increment()
    }

    /// Per-target handles for the delivery path, found with one dictionary lookup.
    final class TargetHandles: Sendable {
        let attempts: [String: Metrics.Counter]
        let duration: Metrics.Timer
        let succeeded: Metrics.Counter
        let dead: Metrics.Counter
        let latency: Metrics.Timer

        init(_ m: TaskBridgeMetrics, _ target: String) {
            var attempts: [String: Metrics.Counter] = [:]
            for c in ["1xx", "2xx", "3xx", "4xx", "5xx", "other", "error"] {
                attempts[c] = m.counter("taskbridge_delivery_attempts_total", [("target", target), ("status_class", c)])
            }
            self.attempts = attempts
            duration = m.timer("taskbridge_attempt_duration_seconds", [("target", target)])
            succeeded = m.counter("taskbridge_jobs_finished_total", [("target", target), ("state", "succeeded")])
            dead = m.counter("taskbridge_jobs_finished_total", [("target", target), ("state", "dead")])
            latency = m.timer("taskbridge_delivery_latency_seconds", [("target", target)])
        }
    }

    private let targetHandles = Mutex<[String: TargetHandles]>([:])

    func handles(_ target: String) -> TargetHandles {
        if let h = targetHandles.withLock({ $0[target] }) { return h }
        let made = TargetHandles(self, target)
        return targetHandles.withLock { t in
            if let existing = t[target] { return existing }
            t[target] = made
            return made
        }
    }

    public func attempt(target: String, status: Int?, seconds: Double) {
        let h = handles(target)
        h.attempts[FailureClass.statusClass(status)]?.increment()
        h.duration.recordNanoseconds(Int64(seconds * 1e9))
    }

    /// 401/403 from a target: its token is wrong, expired or revoked.
    public func authenticationFailure(target: String) {
        counter("taskbridge_target_auth_failures_total", [("target", target)]).increment()
    }

    public func jobFinished(target: String, state: String, sinceReceivedSeconds: Double?) {
        let h = handles(target)
        if state == "succeeded" {
            h.succeeded.increment()
            if let s = sinceReceivedSeconds { h.latency.recordNanoseconds(Int64(max(0, s) * 1e9)) }
        } else {
            h.dead.increment()
        }
    }

    public func gauge(_ name: String, _ labels: [(String, String)], _ value: Double) {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let g = gauges.withLock { g in
            if let existing = g[key] { return existing }
            let made = Metrics.Gauge(label: name, dimensions: labels, factory: factory)
            g[key] = made
            return made
        }
        g.record(value)
    }

    public func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// Admits the first `limit` distinct values of a label; later ones become `other`.
final class BoundedLabel: Sendable {
    static let limit = 200
    private let seen = Mutex<Set<String>>([])

    func admit(_ value: String) -> String {
        let v = value.count > 100 ? String(value.prefix(100)) : value
        return seen.withLock { s in
            if s.contains(v) { return v }
            if s.count >= Self.limit { return "other" }
            s.insert(v)
            return v
        }
    }
}
