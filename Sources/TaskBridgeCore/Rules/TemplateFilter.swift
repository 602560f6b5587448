/// A transform applied to a template value: `{{ body.title | truncate 80 }}`.
public enum TemplateFilter: Sendable, Hashable {
    case lower
    case upper
    case trim
    case truncate(Int)
    case fallback(String)
    case json
    case date
    case unixMillis
    case join(String)
    case first

    public static let names = ["lower", "upper", "trim", "truncate", "default", "json", "date", "unixms", "join", "first"]

    public struct ParseError: Error {
        public let reason: String
    }

    init(parsing text: String) throws(ParseError) {
        let name = String(text.prefix { !$0.isWhitespace })
        let arg = text.dropFirst(name.count).trimmingSpaces()
        func noArgument(_ f: TemplateFilter) throws(ParseError) -> TemplateFilter {
            guard arg.isEmpty else { throw ParseError(reason: "filter \"\(name)\" takes no argument") }
            return f
        }
        func stringArgument() throws(ParseError) -> String {
            guard let s = TemplateFilter.unquote(arg) else {
                throw ParseError(reason: "filter \"\(name)\" needs a quoted string argument, e.g. \(name) \"…\"")
            }
            return s
        }
        switch name {
        case "lower": self = try noArgument(.lower)
        case "upper": self = try noArgument(.upper)
        case "trim": self = try noArgument(.trim)
        case "json": self = try noArgument(.json)
        case "date": self = try noArgument(.date)
        case "unixms": self = try noArgument(.unixMillis)
        case "first": self = try noArgument(.first)
        case "truncate":
            guard let n = Int(arg), n > 0 else { throw ParseError(reason: "filter \"truncate\" needs a positive length, e.g. truncate 80") }
            self = .truncate(n)
        case "default": self = .fallback(try stringArgument())
        case "join": self = .join(try stringArgument())
        default:
            let hint = Spelling.suggestion(for: name, among: TemplateFilter.names).map { " (did you mean \"\($0)\"?)" } ?? ""
            throw ParseError(reason: "unknown filter \"\(name)\"\(hint); filters: \(TemplateFilter.names.joined(separator: ", "))")
        }
    }

    static func unquote(_ s: String) -> String? {
        guard s.count >= 2, s.hasPrefix("\""), s.hasSuffix("\"") else { return nil }
        var out = ""
        var escaped = false
        for c in s.dropFirst().dropLast() {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                default: out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "\"" {
                return nil
            } else {
                out.append(c)
            }
        }
        return escaped ? nil : out
    }

    func apply(_ value: JSONValue?, template: String) throws(TemplateError) -> JSONValue? {
        if case .fallback(let text) = self {
            if value == nil { return .string(text) }
            if case .string("")? = value { return .string(text) }
            return value
        }
        guard let value else { return nil }
        switch self {
        case .lower: return .string(value.textValue.lowercased())
        case .upper: return .string(value.textValue.uppercased())
        case .trim: return .string(value.textValue.trimmingCharacters())
        case .truncate(let n):
            let text = value.textValue
            guard text.count > n else { return .string(text) }
            return .string(String(text.prefix(max(0, n - 1))) + "…")
        case .json: return .string(JSONWriter.escape(value.textValue))
        case .first:
            guard case .array(let items) = value else { return value }
            return items.first
        case .join(let sep):
            guard case .array(let items) = value else { return .string(value.textValue) }
            return .string(items.map(\.textValue).joined(separator: sep))
        case .date:
            let seconds = try TemplateFilter.unixSeconds(value, filter: "date", template: template)
            return .string(TemplateFilter.iso8601(seconds))
        case .unixMillis:
            let seconds = try TemplateFilter.unixSeconds(value, filter: "unixms", template: template)
            return .number((seconds * 1000).rounded())
        case .fallback: return value
        }
    }

    /// Unix time in seconds from a number (seconds, or milliseconds when it is too large
    /// to be seconds) or a numeric string.
    static func unixSeconds(_ value: JSONValue) -> Double? {
        var n: Double?
        switch value {
        case .number(let d): n = d
        case .string(let s): n = Double(s.trimmingCharacters())
        default: n = nil
        }
        guard let n, n.isFinite else { return nil }
        return n > 100_000_000_000 ? n / 1000 : n
    }

    /// ``unixSeconds(_:)`` for the filter `filter`, refusing a time outside the years
    /// 0000–9999 (``ISO8601/formattableSeconds``): a webhook's `"due": "1e300"` is an
    /// error of this template, not a date.
    static func unixSeconds(_ value: JSONValue, filter: String, template: String) throws(TemplateError) -> Double {
        guard let seconds = unixSeconds(value) else {
            throw TemplateError(template: template, reason: "filter \"\(filter)\" needs a Unix time, found \(value.typeName) \(value.textValue.prefix(40))")
        }
        guard ISO8601.formattableSeconds.contains(seconds.rounded(.down)) else {
            throw TemplateError(template: template, reason: "filter \"\(filter)\": Unix time \(value.textValue.prefix(40)) is out of range (years 0000 to 9999)")
        }
        return seconds
    }

    static func iso8601(_ seconds: Double) -> String { ISO8601.format(seconds: seconds) }
}
