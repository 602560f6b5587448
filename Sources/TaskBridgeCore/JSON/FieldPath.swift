/// The one path syntax used by rule conditions and templates.
///
/// `root.key.key[0].key`, `body.labels[*].name` (every element), `body["odd.key"]`.
/// Identifiers may contain letters, digits, `_`, `-`, `$` and `@`, so header names such
/// as `headers.x-github-event` read naturally.
public struct FieldPath: Hashable, Sendable, CustomStringConvertible {
    public enum Segment: Hashable, Sendable {
        case key(String)
        case index(Int)
        case wildcard
    }

    public let segments: [Segment]
    public let description: String

    /// The first segment: `body`, `headers`, `event`, `client`, `captures` or `steps`.
    public var root: String {
        if case .key(let k) = segments.first { return k }
        return ""
    }

    /// The path below its root, e.g. `pull_request.head.ref` for `body.pull_request.head.ref`.
    public var tail: ArraySlice<Segment> { segments.dropFirst() }

    public init(segments: [Segment]) {
        self.segments = segments
        var text = ""
        for (i, seg) in segments.enumerated() {
            switch seg {
            case .key(let k):
                if k.allSatisfy(FieldPath.isIdentifierCharacter), !k.isEmpty {
                    text += (i == 0 ? "" : ".") + k
                } else {
                    text += "[\"" + JSONWriter.escape(k) + "\"]"
                }
            case .index(let n): text += "[\(n)]"
            case .wildcard: text += "[*]"
            }
        }
        self.description = text
    }

    public init(parsing text: String) throws(FieldPathError) {
        let chars = Array(text.unicodeScalars)
        var segs: [Segment] = []
        var i = 0
        func fail(_ why: String) -> FieldPathError { FieldPathError(path: text, reason: why) }
        func readIdentifier() throws(FieldPathError) -> String {
            let start = i
            while i < chars.count, FieldPath.isIdentifierCharacter(Character(chars[i])) { i += 1 }
            if start == i {
                throw fail(i < chars.count ? "unexpected \"\(chars[i])\" at position \(i + 1)" : "path ends with \".\"")
            }
            return String(String.UnicodeScalarView(chars[start..<i]))
        }
        if text.isEmpty { throw fail("path is empty") }
        segs.append(.key(try readIdentifier()))
        while i < chars.count {
            switch chars[i] {
            case ".":
                i += 1
                segs.append(.key(try readIdentifier()))
            case "[":
                i += 1
                guard i < chars.count else { throw fail("unclosed \"[\"") }
                if chars[i] == "*" {
                    i += 1
                    segs.append(.wildcard)
                } else if chars[i] == "\"" {
                    i += 1
                    var key = ""
                    while i < chars.count, chars[i] != "\"" {
                        if chars[i] == "\\", i + 1 < chars.count { i += 1 }
                        key.unicodeScalars.append(chars[i])
                        i += 1
                    }
                    guard i < chars.count else { throw fail("unclosed quoted key") }
                    i += 1
                    segs.append(.key(key))
                } else {
                    let start = i
                    while i < chars.count, chars[i].properties.numericType != nil, chars[i].isASCII { i += 1 }
                    guard start < i, let n = Int(String(String.UnicodeScalarView(chars[start..<i]))) else {
                        throw fail("expected an index, \"*\" or a quoted key after \"[\" at position \(start + 1)")
                    }
                    segs.append(.index(n))
                }
                guard i < chars.count, chars[i] == "]" else { throw fail("expected \"]\" at position \(i + 1)") }
                i += 1
            default:
                throw fail("unexpected \"\(chars[i])\" at position \(i + 1)")
            }
        }
        self.init(segments: segs)
    }

    static func isIdentifierCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-" || c == "$" || c == "@")
    }

    /// Reads the value below the root from `value`. A `[*]` segment collects the rest of
    /// the path from every element into an array; `nil` means "no value here".
    public func resolveTail(in value: JSONValue) -> JSONValue? {
        Self.resolve(tail, in: value)
    }

    static func resolve(_ segs: ArraySlice<Segment>, in value: JSONValue) -> JSONValue? {
        guard let first = segs.first else { return value }
        let rest = segs.dropFirst()
        switch first {
        case .key(let k):
            guard let child = value[k] else { return nil }
            return resolve(rest, in: child)
        case .index(let n):
            guard let items = value.arrayValue, n >= 0, n < items.count else { return nil }
            return resolve(rest, in: items[n])
        case .wildcard:
            guard let items = value.arrayValue else { return nil }
            return .array(items.compactMap { resolve(rest, in: $0) })
        }
    }
}

public struct FieldPathError: Error, Hashable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "invalid path \"\(path)\": \(reason)" }
}
