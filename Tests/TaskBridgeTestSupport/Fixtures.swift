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
    /// The example rule sets that need only a GroupChat target (the shipped config's);
    /// the PostHog and Zylon examples ship configs of their own.
    public static var groupChatExampleRules: [String] {
        ["sentry-to-tasks", "github-pr-flow", "website-feedback"].map { repositoryRoot + "/examples/\($0)/rules.json" }
    }

    public static let repositoryRoot: String = {
        URL(fileURLWithPath: directory).deletingLastPathComponent().deletingLastPathComponent().path
    }()

    /// Raw bytes of `Tests/Fixtures/<name>` (with or without `.json`), exactly as published.
    public static func bytes(_ name: String) -> [UInt8] {
        let file = name.hasSuffix(".json") ? name : name + ".json"
        guard let data = FileManager.default.contents(atPath: directory + "/" + file) else {
            fatalError("fixture \(file) is missing from \(directory)")
        }
        return [UInt8](data)
    }

    /// A file of the repository (example rules, the shipped config).
    public static func repositoryFile(_ relativePath: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: repositoryRoot + "/" + relativePath) else {
            fatalError("\(relativePath) is missing from \(repositoryRoot)")
        }
        return [UInt8](data)
    }

    /// A real fixture's raw bytes with the first occurrence of `needle` (which must be in
    /// the file) replaced by `replacement` — for encoding variants such as one byte that is
    /// not UTF-8 inside a string. Returns the bytes and the offset where `needle` began.
    public static func bytes(_ name: String, replacing needle: String, with replacement: [UInt8]) -> (bytes: [UInt8], offset: Int) {
        let raw = bytes(name)
        let n = Array(needle.utf8)
        guard let at = (0...(raw.count - n.count)).first(where: { raw[$0..<($0 + n.count)].elementsEqual(n) }) else {
            fatalError("fixture \(name) does not contain \(needle.debugDescription)")
        }
        return (Array(raw[..<at]) + replacement + raw[(at + n.count)...], at)
    }

    public static func json(_ name: String) throws -> JSONValue {
        try JSONParser.parse(bytes(name))
    }

    /// A real fixture with the named fields changed — e.g. `pull_request.closed` with
    /// `pull_request.merged = true`. Every changed field must already exist in the real
    /// payload (a derivation adjusts values, it never invents structure); every
    /// derivation used is listed in SOURCES.md.
    public static func derived(_ name: String, _ changes: [(String, JSONValue)]) -> [UInt8] {
        JSONWriter.serializeBytes(derivedDocument(name, changes))
    }

    public static func derivedDocument(_ name: String, _ changes: [(String, JSONValue)]) -> JSONValue {
        guard var value = try? json(name) else { fatalError("fixture \(name) is not JSON") }
        for (path, newValue) in changes {
            guard let fieldPath = try? FieldPath(parsing: path), let changed = set(value, fieldPath.segments[...], newValue) else {
                fatalError("derived variant of \(name) changes \(path), which the real payload does not have")
            }
            value = changed
        }
        return value
    }

    /// `doc` with the existing field at `path` set to `value`; `nil` if there is no such field.
    public static func setting(_ value: JSONValue, at path: String, in doc: JSONValue) -> JSONValue? {
        guard let fieldPath = try? FieldPath(parsing: path) else { return nil }
        return set(doc, fieldPath.segments[...], value)
    }

    static func set(_ value: JSONValue, _ path: ArraySlice<FieldPath.Segment>, _ newValue: JSONValue) -> JSONValue? {
        guard let first = path.first else { return newValue }
        switch (first, value) {
        case (.key(let k), .object(var o)):
            guard let child = o[k], let changed = set(child, path.dropFirst(), newValue) else { return nil }
            o[k] = changed
            return .object(o)
        case (.index(let i), .array(var a)) where i < a.count:
            guard let changed = set(a[i], path.dropFirst(), newValue) else { return nil }
            a[i] = changed
            return .array(a)
        default:
            return nil
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
