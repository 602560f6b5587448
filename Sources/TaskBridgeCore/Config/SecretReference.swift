/// Where a secret lives. Config files never hold secret values themselves:
/// `{"env": "GITHUB_WEBHOOK_SECRET"}` or `{"file": "/run/secrets/github"}`.
public enum SecretReference: Sendable, Hashable, CustomStringConvertible {
    case env(String)
    case file(String)

    public var description: String {
        switch self {
        case .env(let name): "env \(name)"
        case .file(let path): "file \(path)"
        }
    }

    static func read(_ node: JSONNode) -> SecretReference? {
        if case .string = node.value {
            node.report("a secret must not be written into the config; use {\"env\": \"NAME\"} or {\"file\": \"/path\"}")
            return nil
        }
        let before = node.sink.diagnostics.count
        guard let obj = node.object(allowed: ["env", "file"]) else { return nil }
        switch (obj.string("env"), obj.string("file")) {
        case (let name?, nil): return .env(name)
        case (nil, let path?): return .file(path)
        case (.some, .some): obj.report("give either \"env\" or \"file\", not both")
        // Only when nothing more specific was said about this object (an unknown key, an
        // empty name); problems elsewhere in the file must not hide this one.
        case (nil, nil): if obj.sink.diagnostics.count == before { obj.report("expected {\"env\": \"NAME\"} or {\"file\": \"/path\"}") }
        }
        return nil
    }
}

/// A secret value. Its description never shows the value, so it cannot leak through
/// string interpolation into a log line or an error.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }

    public var text: String { String(decoding: bytes, as: UTF8.self) }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// A non-secret setting that may come from the environment:
/// `"https://groupchat.ai"` or `{"env": "GROUPCHAT_BASE_URL", "default": "https://groupchat.ai"}`.
public struct StringSetting: Sendable, Hashable {
    public var literal: String?
    public var env: String?
    public var fallback: String?

    public init(literal: String) {
        self.literal = literal
    }

    public init(env: String, fallback: String? = nil) {
        self.env = env
        self.fallback = fallback
    }

    public func resolve(_ environment: [String: String]) -> String? {
        if let literal { return literal }
        if let env, let v = environment[env], !v.isEmpty { return v }
        return fallback
    }

    public static func read(_ node: JSONNode) -> StringSetting? {
        if case .string = node.value { return node.string().map { StringSetting(literal: $0) } }
        guard let obj = node.object(allowed: ["env", "default"]) else { return nil }
        guard let env = obj.string("env", required: true) else { return nil }
        return StringSetting(env: env, fallback: obj.string("default", nonEmpty: false))
    }
}
