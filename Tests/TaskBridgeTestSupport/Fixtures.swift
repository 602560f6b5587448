import Foundation
import Synchronization
import TaskBridgeCore

/// Real provider payloads from Tests/Fixtures (provenance in SOURCES.md), and variants
/// derived from them in code where a provider publishes no example.
public enum Fixtures {
    public static let directory: String = {
        // …/Tests/TaskBridgeTestSupport/Fixtures.swift → …/Tests/Fixtures
        let here = URL(fileURLWithPath: #filePath)
        return here.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    /// The repository root (for example rule sets and the shipped config).
    public static let repositoryRoot: String = {
        URL(fileURLWithPath: directory).deletingLastPathComponent().deletingLastPathComponent().path
    }()

    public static func bytes(_ name: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
            fatalError("fixture \(name) is missing from \(directory)")
        }
        return [UInt8](data)
    }

    public static func json(_ name: String) -> JSONValue {
        do {
            return try JSONParser.parse(bytes(name))
        } catch {
            fatalError("fixture \(name) is not JSON: \(error)")
        }
    }

    /// A real fixture with the named fields changed — e.g. `pull_request.closed.json` with
    /// `pull_request.merged = true`. Every derivation used is listed in SOURCES.md.
    public static func derived(_ name: String, _ changes: [(String, JSONValue)]) -> [UInt8] {
        var value = json(name)
        for (path, newValue) in changes {
            let fieldPath = try! FieldPath(parsing: path)
            value = set(value, fieldPath.segments[...], newValue)
        }
        return JSONWriter.serializeBytes(value)
    }

    static func set(_ value: JSONValue, _ path: ArraySlice<FieldPath.Segment>, _ newValue: JSONValue) -> JSONValue {
        guard let first = path.first else { return newValue }
        switch (first, value) {
        case (.key(let k), .object(var o)):
            o[k] = set(o[k] ?? .object([:]), path.dropFirst(), newValue)
            return .object(o)
        case (.index(let i), .array(var a)) where i < a.count:
            a[i] = set(a[i], path.dropFirst(), newValue)
            return .array(a)
        default:
            fatalError("cannot set \(path) in \(value.typeName)")
        }
    }
}

/// Signed requests as the providers send them.
public enum Signed {
    public static func github(_ body: [UInt8], secret: String, event: String, delivery: String,
                              contentType: String = "application/json") -> [(String, String)] {
        [("Content-Type", contentType), ("X-GitHub-Event", event), ("X-GitHub-Delivery", delivery),
         ("X-Hub-Signature-256", "sha256=" + HMACSignature.sign(body, secret: Secret(secret))),
         ("User-Agent", "GitHub-Hookshot/test")]
    }

    public static func sentry(_ body: [UInt8], secret: String, resource: String, requestID: String) -> [(String, String)] {
        [("Content-Type", "application/json"), ("Sentry-Hook-Resource", resource), ("Request-ID", requestID),
         ("Sentry-Hook-Timestamp", "1700000000"), ("Sentry-Hook-Signature", HMACSignature.sign(body, secret: Secret(secret)))]
    }
}

/// Waits for an asynchronous outcome (delivery happens after the 202) for at most
/// `seconds`; returns whether it happened. Bounded, so a regression fails instead of
/// hanging — not a speed assertion.
public func eventually(_ seconds: Double = 20, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(nanoseconds: 20_000_000)
    }
    return try await condition()
}

/// A value shared between tasks and callbacks in tests.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) {
        mutex = Mutex(value)
    }

    public func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R {
        mutex.withLock { body(&$0) }
    }

    public var value: Value { mutex.withLock { $0 } }
}
