/// A string every match of a regular expression must contain — `gc-` for
/// `(?i)\bgc-(?<task>[a-z0-9_]+)` — found conservatively, so a cheap substring search can
/// rule out most texts before the regex engine runs.
///
/// Only literal characters outside any group or class count; a character followed by
/// `?`, `*` or `{` is dropped (it may be absent); a top-level `|` or any inline flag other
/// than a leading `(?i)` gives up. Escapes end a run (`\.` is not used even though it is
/// literal): giving up is always safe, guessing wrong is not.
public struct RequiredLiteral: Sendable, Hashable {
    public let bytes: [UInt8]
    public let ignoreCase: Bool

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
        var inClass = false
        var i = 0
        func endRun() {
            if !current.isEmpty { runs.append(current) }
            current = []
        }
        while i < chars.count {
            let c = chars[i]
            if inClass {
                if c == UInt8(ascii: "\\") { i += 2; continue }
                if c == UInt8(ascii: "]") { inClass = false }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "\\"):
                endRun()
                i += 2
                continue
            case UInt8(ascii: "["):
                endRun()
                inClass = true
            case UInt8(ascii: "("):
                endRun()
                // Inline flags such as (?x) or (?s) change what characters mean: give up.
                if i + 2 < chars.count, chars[i + 1] == UInt8(ascii: "?") {
                    let next = chars[i + 2]
                    let isFlag = (next >= UInt8(ascii: "a") && next <= UInt8(ascii: "z")) || next == UInt8(ascii: "-")
                    if isFlag && next != UInt8(ascii: "P") { return nil }
                }
                depth += 1
            case UInt8(ascii: ")"):
                endRun()
                depth -= 1
            case UInt8(ascii: "|"):
                if depth == 0 { return nil }
            case UInt8(ascii: "?"), UInt8(ascii: "*"):
                if depth == 0, !current.isEmpty { current.removeLast() }
                endRun()
            case UInt8(ascii: "{"):
                // A counted repetition ({0,3}) may allow zero: drop the atom, skip the count.
                if depth == 0, !current.isEmpty { current.removeLast() }
                endRun()
                while i < chars.count, chars[i] != UInt8(ascii: "}") { i += 1 }
            case UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "$"):
                endRun()
            default:
                if depth == 0 {
                    if ignoreCase && c >= 0x80 { return nil }
                    current.append(ignoreCase ? Self.lower(c) : c)
                }
            }
            i += 1
        }
        endRun()
        guard let longest = runs.max(by: { $0.count < $1.count }), !longest.isEmpty else { return nil }
        self.bytes = longest
        self.ignoreCase = ignoreCase
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
