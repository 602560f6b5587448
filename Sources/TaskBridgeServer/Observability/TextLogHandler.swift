import Logging

/// One line per event on standard error, logfmt-style:
/// `2026-11-22T17:50:00.123Z info taskbridge: delivery attempt job=j_1 outcome=ok`.
///
/// Replaces swift-log's `StreamLogHandler`, which merged and sorted metadata through
/// several dictionaries per line (with a line per delivery attempt, ~6% of batched
/// delivery CPU) and wrote newlines inside values verbatim, so a payload-derived error
/// could forge a log line. Here values are quoted when they need it and control
/// characters are escaped, so every event stays on exactly one line.
public struct TextLogHandler: LogHandler {
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
        StandardError.write(Self.line(timestamp: LogTimestamp.now(), level: event.level, label: label,
                                      message: event.message.description, base: metadata, explicit: event.metadata))
    }

    /// The whole line, newline included. Explicit metadata wins over the handler's;
    /// keys are sorted so lines read the same way every time.
    static func line(timestamp: String, level: Logger.Level, label: String, message: String,
                     base: Logger.Metadata, explicit: Logger.Metadata?) -> String {
        var out = timestamp
        out += " "
        out += level.rawValue
        out += " "
        out += label
        out += ": "
        appendEscaped(message, quoting: false, to: &out)
        var merged = base
        if let explicit {
            if merged.isEmpty { merged = explicit } else { merged.merge(explicit) { _, new in new } }
        }
        for key in merged.keys.sorted() {
            out += " "
            out += key
            out += "="
            appendEscaped(text(merged[key]!), quoting: true, to: &out)
        }
        out += "\n"
        return out
    }

    static func text(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let a): "[" + a.map(text).joined(separator: ", ") + "]"
        case .dictionary(let d): "[" + d.keys.sorted().map { "\($0): \(text(d[$0]!))" }.joined(separator: ", ") + "]"
        }
    }

    /// Escapes control characters (`\n`, `\t`, …) always; quotes the value, escaping `"`
    /// and `\`, when it is empty or holds a space, `=` or `"`.
    static func appendEscaped(_ value: String, quoting: Bool, to out: inout String) {
        let utf8 = value.utf8
        let needsQuotes = quoting && (utf8.isEmpty || utf8.contains { $0 == 0x20 || $0 == 0x3D || $0 == 0x22 })
        let needsEscapes = utf8.contains { $0 < 0x20 || $0 == 0x7F || (needsQuotes && ($0 == 0x22 || $0 == 0x5C)) }
        if !needsQuotes && !needsEscapes {
            out += value
            return
        }
        if needsQuotes { out += "\"" }
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\"" where needsQuotes: out += "\\\""
            case "\\" where needsQuotes: out += "\\\\"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        if needsQuotes { out += "\"" }
    }
}
