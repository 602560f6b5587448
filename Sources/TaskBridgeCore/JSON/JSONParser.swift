/// A validating JSON parser over raw bytes that can materialize only part of a document.
///
/// The whole input is always checked for well-formedness (so a malformed body is always
/// rejected), but only subtrees named by the ``PathTrie`` become ``JSONValue``s; the rest
/// is skipped without allocating. Nesting is capped so hostile input cannot exhaust the
/// stack.
public enum JSONParser {
    public static let defaultMaxDepth = 200

    public static func parse(_ bytes: [UInt8], keeping trie: PathTrie = .everything,
                             maxDepth: Int = defaultMaxDepth) throws(JSONParseError) -> JSONValue {
        let result: Result<JSONValue, JSONParseError> = bytes.withUnsafeBufferPointer { buf in
            var scanner = Scanner(bytes: buf, maxDepth: maxDepth)
            do throws(JSONParseError) {
                scanner.skipWhitespace()
                let value = try scanner.parseValue(trie, depth: 0)
                scanner.skipWhitespace()
                if scanner.i != buf.count { throw scanner.error("unexpected data after the JSON value") }
                return .success(value)
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    public static func parse(_ text: String, keeping trie: PathTrie = .everything) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8), keeping: trie)
    }

    struct Scanner {
        let bytes: UnsafeBufferPointer<UInt8>
        let maxDepth: Int
        var i = 0

        init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
            self.bytes = bytes
            self.maxDepth = maxDepth
        }

        func error(_ reason: String) -> JSONParseError {
            JSONParseError(offset: i, reason: reason)
        }

        @inline(__always) mutating func skipWhitespace() {
            while i < bytes.count {
                switch bytes[i] {
                case 0x20, 0x0A, 0x0D, 0x09: i += 1
                default: return
                }
            }
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws(JSONParseError) {
            skipWhitespace()
            guard i < bytes.count else { throw error("unexpected end of input, expected \(what)") }
            guard bytes[i] == byte else { throw error("expected \(what), found \(describe(bytes[i]))") }
            i += 1
        }

        func describe(_ b: UInt8) -> String {
            b >= 0x20 && b < 0x7F ? "\"\(Character(Unicode.Scalar(b)))\"" : "byte 0x\(String(b, radix: 16))"
        }

        /// Parses (keeping) or skips the value at `i`, depending on `trie`.
        mutating func parseValue(_ trie: PathTrie, depth: Int) throws(JSONParseError) -> JSONValue {
            guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            skipWhitespace()
            guard i < bytes.count else { throw error("unexpected end of input, expected a value") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                return try parseObject(trie, depth: depth)
            case UInt8(ascii: "["):
                return try parseArray(trie, depth: depth)
            case UInt8(ascii: "\""):
                return .string(try parseString())
            case UInt8(ascii: "t"):
                try literal("true")
                return .bool(true)
            case UInt8(ascii: "f"):
                try literal("false")
                return .bool(false)
            case UInt8(ascii: "n"):
                try literal("null")
                return .null
            default:
                return .number(try parseNumber(materialize: true))
            }
        }

        mutating func skipValue(depth: Int) throws(JSONParseError) {
            guard depth <= maxDepth else { throw error("nesting deeper than \(maxDepth) levels") }
            skipWhitespace()
            guard i < bytes.count else { throw error("unexpected end of input, expected a value") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                skipWhitespace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return }
                while true {
                    skipWhitespace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                        throw error(i < bytes.count ? "expected an object key, found \(describe(bytes[i]))" : "unexpected end of input in an object")
                    }
                    try skipString()
                    try expect(UInt8(ascii: ":"), "\":\"")
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    guard i < bytes.count else { throw error("unexpected end of input in an object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return }
                    throw error("expected \",\" or \"}\", found \(describe(bytes[i]))")
                }
            case UInt8(ascii: "["):
                i += 1
                skipWhitespace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return }
                while true {
                    try skipValue(depth: depth + 1)
                    skipWhitespace()
                    guard i < bytes.count else { throw error("unexpected end of input in an array") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return }
                    throw error("expected \",\" or \"]\", found \(describe(bytes[i]))")
                }
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default:
                _ = try parseNumber(materialize: false)
            }
        }

        mutating func parseObject(_ trie: PathTrie, depth: Int) throws(JSONParseError) -> JSONValue {
            if !trie.keepAll && trie.children.isEmpty {
                try skipValue(depth: depth)
                return .object([:])
            }
            i += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                    throw error(i < bytes.count ? "expected an object key, found \(describe(bytes[i]))" : "unexpected end of input in an object")
                }
                let key = try parseString()
                try expect(UInt8(ascii: ":"), "\":\"")
                if trie.keepAll {
                    members[key] = try parseValue(trie, depth: depth + 1)
                } else if let child = trie.children[key] {
                    members[key] = try parseValue(child, depth: depth + 1)
                } else {
                    try skipValue(depth: depth + 1)
                }
                skipWhitespace()
                guard i < bytes.count else { throw error("unexpected end of input in an object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw error("expected \",\" or \"}\", found \(describe(bytes[i]))")
            }
        }

        mutating func parseArray(_ trie: PathTrie, depth: Int) throws(JSONParseError) -> JSONValue {
            let elementTrie: PathTrie
            if trie.keepAll {
                elementTrie = trie
            } else if let e = trie.elements {
                elementTrie = e.trie
            } else {
                try skipValue(depth: depth)
                return .array([])
            }
            i += 1
            var items: [JSONValue] = []
            skipWhitespace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                items.append(try parseValue(elementTrie, depth: depth + 1))
                skipWhitespace()
                guard i < bytes.count else { throw error("unexpected end of input in an array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw error("expected \",\" or \"]\", found \(describe(bytes[i]))")
            }
        }

        mutating func literal(_ word: StaticString) throws(JSONParseError) {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw error("unexpected end of input") }
            let w = word.utf8Start
            for k in 0..<n where bytes[i + k] != w[k] {
                throw error("invalid literal, expected \"\(word)\"")
            }
            i += n
        }

        /// Whether any byte of `x` is `"`, `\\`, below 0x20 or above 0x7F — eight bytes per
        /// test (the classic "has zero byte" / "has less than" word tricks). Non-ASCII bytes
        /// leave the fast path so their UTF-8 can be checked.
        @inline(__always) static func hasStringSpecial(_ x: UInt64) -> Bool {
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let quote = x ^ (ones &* 0x22)
            let slash = x ^ (ones &* 0x5C)
            let zeroInQuote = (quote &- ones) & ~quote & highs
            let zeroInSlash = (slash &- ones) & ~slash & highs
            let control = (x &- ones &* 0x20) & ~x & highs
            return (zeroInQuote | zeroInSlash | control | (x & highs)) != 0
        }

        /// Advances `i` over ordinary ASCII string bytes, eight at a time.
        @inline(__always) mutating func skipPlainStringBytes() {
            guard let base = bytes.baseAddress else { return }
            while i + 8 <= bytes.count {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if Self.hasStringSpecial(word) { return }
                i += 8
            }
        }

        /// Advances `i` over string content until a `"`, a `\\`, a control character or the
        /// end of the input, checking that non-ASCII bytes are UTF-8 (RFC 8259 §8.1).
        @inline(__always) mutating func skipStringContent() throws(JSONParseError) {
            while true {
                skipPlainStringBytes()
                guard i < bytes.count else { return }
                let b = bytes[i]
                if b < 0x80 {
                    if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { return }
                    i += 1
                    continue
                }
                let n = UTF8Validation.multiByteLength(bytes, at: i)
                if n == 0 {
                    throw JSONParseError(offset: i, reason: UTF8Validation.problem(bytes, at: i), kind: .invalidUTF8)
                }
                i += n
            }
        }

        /// Skips a string, validating escapes and UTF-8 and rejecting raw control characters.
        mutating func skipString() throws(JSONParseError) {
            i += 1
            while true {
                try skipStringContent()
                guard i < bytes.count else { break }
                let b = bytes[i]
                if b == UInt8(ascii: "\"") { i += 1; return }
                if b == UInt8(ascii: "\\") {
                    i += 1
                    guard i < bytes.count else { break }
                    switch bytes[i] {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        i += 1
                    case UInt8(ascii: "u"):
                        _ = try readHex4(at: i + 1)
                        i += 5
                    default:
                        throw error("invalid escape sequence in a string")
                    }
                    continue
                }
                throw error("unescaped control character in a string")
            }
            throw error("unterminated string")
        }

        func readHex4(at p: Int) throws(JSONParseError) -> UInt32 {
            guard p + 4 <= bytes.count else { throw JSONParseError(offset: p, reason: "truncated \\u escape") }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = bytes[p + k]
                let d: UInt32
                switch c {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(c - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(c - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(c - UInt8(ascii: "A") + 10)
                default: throw JSONParseError(offset: p + k, reason: "invalid \\u escape")
                }
                v = v << 4 | d
            }
            return v
        }

        mutating func parseString() throws(JSONParseError) -> String {
            let start = i + 1
            i = start
            // Fast path: no escapes.
            try skipStringContent()
            if i < bytes.count, bytes[i] == UInt8(ascii: "\"") {
                let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
                i += 1
                return text
            }
            var utf8: [UInt8] = Array(bytes[start..<i])
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    i += 1
                    return String(decoding: utf8, as: UTF8.self)
                }
                if b < 0x20 { throw error("unescaped control character in a string") }
                if b != UInt8(ascii: "\\") {
                    let run = i
                    try skipStringContent()
                    utf8.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
                    continue
                }
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): utf8.append(0x22)
                case UInt8(ascii: "\\"): utf8.append(0x5C)
                case UInt8(ascii: "/"): utf8.append(0x2F)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4(at: i)
                    i += 4
                    if (0xD800...0xDBFF).contains(scalar), i + 6 <= bytes.count,
                       bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        let low = try readHex4(at: i + 2)
                        if (0xDC00...0xDFFF).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            i += 6
                        }
                    }
                    let s = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    utf8.append(contentsOf: String(s).utf8)
                default:
                    i -= 1
                    throw error("invalid escape sequence in a string")
                }
            }
            throw error("unterminated string")
        }

        mutating func parseNumber(materialize: Bool) throws(JSONParseError) -> Double {
            let start = i
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count, isDigit(bytes[i]) else {
                i = start
                throw error(i < bytes.count ? "unexpected \(describe(bytes[i])), expected a value" : "unexpected end of input")
            }
            if bytes[i] == UInt8(ascii: "0") {
                i += 1
            } else {
                while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard i < bytes.count, isDigit(bytes[i]) else { throw error("invalid number") }
                while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard i < bytes.count, isDigit(bytes[i]) else { throw error("invalid number") }
                while i < bytes.count, isDigit(bytes[i]) { i += 1 }
            }
            guard materialize else { return 0 }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            guard let value = Double(text) else { throw JSONParseError(offset: start, reason: "invalid number") }
            return value
        }

        @inline(__always) func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    }
}

public struct JSONParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The bytes are UTF-8 but not JSON.
        case syntax
        /// A string holds bytes that are not UTF-8 (RFC 8259 §8.1 requires UTF-8).
        case invalidUTF8
    }

    /// Byte offset of the problem in the input.
    public let offset: Int
    public let reason: String
    public let kind: Kind

    public init(offset: Int, reason: String, kind: Kind = .syntax) {
        self.offset = offset
        self.reason = reason
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .syntax: "malformed JSON at byte \(offset): \(reason)"
        case .invalidUTF8: "invalid UTF-8 at byte \(offset): \(reason)"
        }
    }
}
