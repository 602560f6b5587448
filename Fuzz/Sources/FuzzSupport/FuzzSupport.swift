import CLibFuzzer
import Foundation
import TaskBridgeCore

/// Shared helpers for the libFuzzer harnesses: input slicing, invariant checks that
/// libFuzzer reports as crashes, and the repository's real config, rules and fixtures.

/// The fuzzer's input as an array.
public func fuzzBytes(_ start: UnsafePointer<UInt8>?, _ count: Int) -> [UInt8] {
    guard let start, count > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: start, count: count))
}

/// Stops the process with a message libFuzzer shows next to the crashing input.
public func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() {
        fatalError("fuzz invariant violated: \(message())", file: file, line: line)
    }
}

/// Splits at the first `separator` byte: `(before, after)`; without one, everything is `before`.
public func splitOnce(_ bytes: [UInt8], at separator: UInt8 = 0) -> ([UInt8], [UInt8]) {
    guard let i = bytes.firstIndex(of: separator) else { return (bytes, []) }
    return (Array(bytes[..<i]), Array(bytes[(i + 1)...]))
}

/// Bytes as a Swift-style escaped literal, for messages: `"a\u{0}\x{ff}"`.
public func escaped(_ bytes: [UInt8]) -> String {
    var out = "\""
    for b in bytes {
        switch b {
        case 0x22: out += "\\\""
        case 0x5C: out += "\\\\"
        case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
        default: out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
    }
    return out + "\""
}

public func escaped(_ s: String) -> String { escaped(Array(s.utf8)) }

/// The JSON value as compact sorted JSON, for messages.
public func show(_ value: JSONValue?) -> String {
    value.map { JSONWriter.serialize($0) } ?? "(none)"
}

/// A small deterministic PRNG seeded from the input, for harnesses that need choices
/// that stay the same when libFuzzer replays an input.
public struct InputRandom: RandomNumberGenerator {
    var state: UInt64
    public init(_ bytes: [UInt8]) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        state = h
    }
    public mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// The repository this harness was built from (override with TASKBRIDGE_ROOT).
public enum Repo {
    public static let root: String = {
        if let r = ProcessInfo.processInfo.environment["TASKBRIDGE_ROOT"], !r.isEmpty { return r }
        // …/Fuzz/Sources/FuzzSupport/FuzzSupport.swift → the repository root.
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static func file(_ relative: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: root + "/" + relative) else {
            fatalError("fuzz harness setup: cannot read \(root)/\(relative) (set TASKBRIDGE_ROOT)")
        }
        return Array(data)
    }

    public static func files(in relativeDir: String, suffix: String = ".json") -> [String] {
        let dir = root + "/" + relativeDir
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasSuffix(suffix) }.sorted().map { relativeDir + "/" + $0 }
    }

    public static let exampleRuleFiles = [
        "examples/github-pr-flow/rules.json",
        "examples/sentry-to-tasks/rules.json",
        "examples/website-feedback/rules.json",
    ]

    /// The target kinds the parsers are given (see ``FuzzGroupChatKind``).
    public static let targetKinds: [any TargetKindParser] = [FuzzGroupChatKind()]

    /// `config/taskbridge.json`, parsed.
    public static let shippedConfig: TaskBridgeConfig = {
        do {
            return try ConfigParser.parse(file("config/taskbridge.json"), file: "config/taskbridge.json", kinds: targetKinds)
        } catch {
            fatalError("fuzz harness setup: shipped config does not parse: \(error)")
        }
    }()

    /// The example rule sets against the shipped config.
    public static let exampleRules: RuleSet = {
        do {
            return try RuleParser(config: shippedConfig).parse(exampleRuleFiles.map { .init(path: $0, bytes: file($0)) })
        } catch {
            fatalError("fuzz harness setup: example rules do not parse: \(error)")
        }
    }()

    /// A real provider event: its source, normalized type and payload bytes.
    public struct FixtureEvent: Sendable {
        public let source: String
        public let type: String
        public let bytes: [UInt8]
        public let payload: JSONValue
    }

    /// Every fixture under Tests/Fixtures plus a widget submission, fully parsed.
    public static let fixtureEvents: [FixtureEvent] = {
        var out: [FixtureEvent] = []
        for provider in ["github", "sentry"] {
            for path in files(in: "Tests/Fixtures/" + provider) {
                let bytes = file(path)
                guard let payload = try? JSONParser.parse(bytes) else { fatalError("fixture \(path) is not JSON") }
                let name = String(path.split(separator: "/").last!.dropLast(5))  // pull_request.opened
                let resource = String(name.split(separator: ".").first!)
                let type = payload["action"]?.stringValue.map { resource + "." + $0 } ?? resource
                out.append(FixtureEvent(source: provider, type: type, bytes: bytes, payload: payload))
            }
        }
        let widget = Array(#"{"email":"ada@example.com","message":"The checkout button does nothing","name":"Ada","page":"https://shop.example.com/checkout"}"#.utf8)
        out.append(FixtureEvent(source: "widget", type: "widget.submitted", bytes: widget, payload: try! JSONParser.parse(widget)))
        return out
    }()
}

/// An event context over `body`, with every other root filled so templates and
/// conditions reading them resolve.
public func fuzzContext(source: String, type: String, body: JSONValue, steps: [String: JSONValue] = [:],
                        captures: [String: String] = [:]) -> EventContext {
    EventContext(id: "evt_01HF7YAT00ZZZZZZZZZZZZZZZZ", type: type, source: source, receivedAtMillis: 1_700_000_000_000,
                 dedupeKey: "delivery-1", body: body,
                 headers: ["x-github-event": "pull_request", "user-agent": "GitHub-Hookshot/abc", "content-type": "application/json",
                           "sentry-hook-resource": "issue", "request-id": "req-1", "origin": "http://localhost:3000"],
                 clientIP: "203.0.113.7", captures: captures, steps: steps)
}

/// Strict UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing past
/// U+10FFFF), written independently of the standard library's.
public func isValidUTF8(_ b: [UInt8]) -> Bool {
    var i = 0
    while i < b.count {
        let c = b[i]
        if c < 0x80 { i += 1; continue }
        let n: Int
        var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
        switch c {
        case 0xC2...0xDF: n = 1
        case 0xE0: n = 2; lo = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: n = 2
        case 0xED: n = 2; hi = 0x9F
        case 0xF0: n = 3; lo = 0x90
        case 0xF1...0xF3: n = 3
        case 0xF4: n = 3; hi = 0x8F
        default: return false
        }
        guard i + n < b.count else { return false }
        if b[i + 1] < lo || b[i + 1] > hi { return false }
        var k = 2
        while k <= n {
            if b[i + k] < 0x80 || b[i + k] > 0xBF { return false }
            k += 1
        }
        i += n + 1
    }
    return true
}

/// Whether `value` holds a number (or a numeric string) at least `magnitude` in size
/// anywhere — for skipping inputs that hit a known, separately tracked trap.
public func containsNumber(atLeast magnitude: Double, in value: JSONValue) -> Bool {
    switch value {
    case .number(let n): return !(abs(n) < magnitude)
    case .string(let s):
        guard let d = Double(s.trimmingCharacters(in: .whitespacesAndNewlines)) else { return false }
        return !(abs(d) < magnitude)
    case .array(let items): return items.contains { containsNumber(atLeast: magnitude, in: $0) }
    case .object(let members): return members.values.contains { containsNumber(atLeast: magnitude, in: $0) }
    case .null, .bool: return false
    }
}

/// Whether `value` holds an infinite number anywhere.
public func containsNonFinite(_ value: JSONValue) -> Bool {
    switch value {
    case .number(let n): return !n.isFinite
    case .array(let items): return items.contains(where: containsNonFinite)
    case .object(let members): return members.values.contains(where: containsNonFinite)
    default: return false
    }
}

/// The signature of a harness's `LLVMFuzzerTestOneInput`.
public typealias FuzzCallback = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Starts libFuzzer on `callback`; called from each harness's `<module>_main`.
///
/// `warmUp` touches the harness's lazy globals (parsed config, rules, fixtures) first, so
/// their one-time allocations are not charged to the first input by libFuzzer's per-input
/// leak check. (Swift keeps flags in spare pointer bits, so LeakSanitizer cannot see that
/// some long-lived objects are still referenced; fuzz.sh turns the exit-time check off.)
public func runLibFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                         _ callback: FuzzCallback, warmUp: () -> Void = {}) -> CInt {
    warmUp()
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, callback)
}
