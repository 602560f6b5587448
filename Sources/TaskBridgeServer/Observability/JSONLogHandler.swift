#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization
import TaskBridgeCore

/// One JSON object per line on standard error: `{"ts":…,"level":…,"msg":…,…metadata}`.
/// Metadata values are strings; callers never put secrets in metadata.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    let label: String

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var object: [String: JSONValue] = [
            "ts": .string(LogTimestamp.now()), "level": .string(event.level.rawValue), "logger": .string(label),
            "msg": .string(event.message.description),
        ]
        for (k, v) in metadata { object[k] = Self.json(v) }
        for (k, v) in event.metadata ?? [:] { object[k] = Self.json(v) }
        let line = JSONWriter.serialize(.object(object)) + "\n"
        StandardError.write(line)
    }

    static func json(_ v: Logger.Metadata.Value) -> JSONValue {
        switch v {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let a): .array(a.map(json))
        case .dictionary(let d): .object(d.mapValues(json))
        }
    }
}

enum StandardError {
    static let lock = Mutex(())
    static func write(_ s: String) {
        lock.withLock { _ in
            var s = s
            s.withUTF8 { buf in
                var offset = 0
                while offset < buf.count {
                    let n = Glibc.write(2, buf.baseAddress! + offset, buf.count - offset)
                    if n <= 0 { return }
                    offset += n
                }
            }
        }
    }
}
