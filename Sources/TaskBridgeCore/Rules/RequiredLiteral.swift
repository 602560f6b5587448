/// A string every match of a regular expression must contain — `gc-` for
/// `(?i)\bgc-(?<task>[a-z0-9_]+)` — found conservatively, so a cheap substring search can
/// rule out most texts before the regex engine runs.
///
/// Only literal characters outside any group or class count; a character followed by
/// `?`, `*` or a count (`{0,3}`) is dropped (it may be absent); a top-level `|`, a `{`
/// that starts no count, or any inline flag other than a leading `(?i)` (capital flags
/// such as `(?Wi)` included) gives up. Escapes end a run (`\.` is not used even though it is
/// literal), and an escape that spells a character or longer syntax (`\x41`, `\u{…}`,
/// `\N{…}`, `\p{L}`, `\k<name>`, `\Q…\E`, `\1`) gives up. Characters the regex engine
/// may match in another spelling are left out: non-ASCII ones (`é` also matches `e` +
/// U+0301, and a combining mark changes the character before it), `k` when ignoring case
/// (KELVIN SIGN matches it), and CR (CR LF is one character, so `\r\n?` may match
/// neither). Giving up is always safe, guessing wrong is not.
public struct RequiredLiteral: Sendable, Hashable {
    public let bytes: [UInt8]
    public let ignoreCase: Bool

    /// Escapes of exactly two characters that match no literal text of their own.
    static let simpleEscapes = Set("bBdDwWsShHvVnrtfeaAzZGRXKyYOC".utf8)

    public init?(pattern: String) {
        var chars = Array(pattern.utf8)
        var ignoreCase = false
        if chars.starts(with: Array("(?i)".utf8)) {
            ignoreCase = true
            chars.removeFirst(4)
        }
        var runs: [[UInt8]] = []
        var current: [UInt8] = []
        var depth = 0
        var classDepth = 0
        var i = 0
        func endRun() {
            if !current.isEmpty { runs.append(current) }
            current = []
        }
        /// The character before a quantifier may be absent; one before a non-ASCII
        /// character may combine with it.
        func dropLast() {
            if depth == 0, !current.isEmpty { current.removeLast() }
        }
        while i < chars.count {
            let c = chars[i]
            if classDepth > 0 {
                if c == UInt8(ascii: "\\") { i += 2; continue }
                if c == UInt8(ascii: "[") { classDepth += 1 }  // a nested class or [:alpha:]
                if c == UInt8(ascii: "]") { classDepth -= 1 }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "\\"):
                guard i + 1 < chars.count else { return nil }
                let e = chars[i + 1]
                let alphanumeric = (e >= UInt8(ascii: "0") && e <= UInt8(ascii: "9")) || (e | 0x20 >= UInt8(ascii: "a") && e | 0x20 <= UInt8(ascii: "z"))
                if alphanumeric && !Self.simpleEscapes.contains(e) { return nil }
                endRun()
                i += 2
                continue
            case UInt8(ascii: "["):
                endRun()
                classDepth = 1
                // `]` right after `[` or `[^` may be a member rather than the end.
                if i + 1 < chars.count, chars[i + 1] == UInt8(ascii: "^") { i += 1 }
                if i + 1 < chars.count, chars[i + 1] == UInt8(ascii: "]") { i += 1 }
            case UInt8(ascii: "("):
                endRun()
                // Inline flags such as (?x), (?s), (?^) or (?Wi) change what characters mean:
                // give up. Flags may be capitals too (`W`, `D`, `S`, `P`), so any letter
                // counts (`(?P<name>…)` gives up as well: safe, only less filtering).
                if i + 2 < chars.count, chars[i + 1] == UInt8(ascii: "?") {
                    let next = chars[i + 2]
                    let isFlag = (next | 0x20 >= UInt8(ascii: "a") && next | 0x20 <= UInt8(ascii: "z")) || next == UInt8(ascii: "-") || next == UInt8(ascii: "^")
                    if isFlag { return nil }
                }
                depth += 1
            case UInt8(ascii: ")"):
                endRun()
                depth -= 1
            case UInt8(ascii: "|"):
                if depth == 0 { return nil }
            case UInt8(ascii: "?"), UInt8(ascii: "*"):
                dropLast()
                endRun()
            case UInt8(ascii: "{"):
                // A counted repetition ({0,3}, { 2 , }) may allow zero: drop the atom, skip
                // the count. A `{` that starts no count: give up rather than guess.
                dropLast()
                endRun()
                var j = i + 1
                while j < chars.count, (chars[j] >= UInt8(ascii: "0") && chars[j] <= UInt8(ascii: "9")) || chars[j] == UInt8(ascii: ",")
                    || chars[j] == 0x20 || (0x09...0x0D).contains(chars[j]) { j += 1 }
                guard j < chars.count, chars[j] == UInt8(ascii: "}") else { return nil }
                i = j
            case UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "$"):
                endRun()
            case 0x80...:
                if ignoreCase { return nil }
                dropLast()
                endRun()
                i += 1
                while i < chars.count, chars[i] & 0xC0 == 0x80 { i += 1 }
                continue
            default:
                let b = ignoreCase ? Self.lower(c) : c
                if Self.hasOtherSpellings(b, ignoreCase: ignoreCase) {
                    endRun()
                } else if depth == 0 {
                    current.append(b)
                }
            }
            i += 1
        }
        endRun()
        guard let longest = runs.max(by: { $0.count < $1.count }), !longest.isEmpty else { return nil }
        self.bytes = longest
        self.ignoreCase = ignoreCase
    }

    /// ASCII characters a match may hold in another spelling.
    static func hasOtherSpellings(_ b: UInt8, ignoreCase: Bool) -> Bool {
        switch b {
        case 0x0D: true  // CR LF is one character: a quantifier after LF covers the CR too
        case UInt8(ascii: "k"): ignoreCase  // (?i)k matches U+212A KELVIN SIGN
        default: false
        }
    }

    static func lower(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z") ? c + 32 : c
    }

    /// Whether `text` contains the literal (ASCII case-insensitively when the pattern
    /// is `(?i)`).
    public func occurs(in text: String) -> Bool {
        var text = text
        return text.withUTF8 { hay in
            let n = bytes.count
            guard hay.count >= n else { return false }
            let first = bytes[0]
            var i = 0
            while i <= hay.count - n {
                let c = ignoreCase ? Self.lower(hay[i]) : hay[i]
                if c == first {
                    var k = 1
                    while k < n, (ignoreCase ? Self.lower(hay[i + k]) : hay[i + k]) == bytes[k] { k += 1 }
                    if k == n { return true }
                }
                i += 1
            }
            return false
        }
    }
}
