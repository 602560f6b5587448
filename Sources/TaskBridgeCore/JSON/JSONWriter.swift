/// Serializes ``JSONValue`` as compact JSON with sorted object keys, so output is
/// deterministic (dry-run output, stored step requests and tests compare byte for byte).
public enum JSONWriter {
    public static func serialize(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    /// Compact JSON in whatever key order the dictionaries hold: for storage, where
    /// nobody compares the text and sorting keys would cost more than writing them.
    public static func serializeUnordered(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out, sortKeys: false)
        return out
    }

    public static func serializeBytes(_ value: JSONValue) -> [UInt8] {
        Array(serialize(value).utf8)
    }

    /// Integral values print without a fraction (`42`, not `42.0`); others use Swift's
    /// shortest round-trip form.
    public static func format(number: Double) -> String {
        if number.isFinite, number == number.rounded(), abs(number) < 1e15 {
            return String(Int64(number))
        }
        if !number.isFinite { return "null" }
        return "\(number)"
    }

    public static func write(_ value: JSONValue, into out: inout String, sortKeys: Bool = true) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += format(number: n)
        case .string(let s): writeString(s, into: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out, sortKeys: sortKeys)
            }
            out += "]"
        case .object(let members):
            out += "{"
            if sortKeys {
                for (i, key) in members.keys.sorted().enumerated() {
                    if i > 0 { out += "," }
                    writeString(key, into: &out)
                    out += ":"
                    write(members[key]!, into: &out, sortKeys: true)
                }
            } else {
                var first = true
                for (key, member) in members {
                    if !first { out += "," }
                    first = false
                    writeString(key, into: &out)
                    out += ":"
                    write(member, into: &out, sortKeys: false)
                }
            }
            out += "}"
        }
    }

    public static func writeString(_ s: String, into out: inout String) {
        out += "\""
        out += escape(s)
        out += "\""
    }

    /// The body of a JSON string literal for `s`, without the surrounding quotes.
    public static func escape(_ s: String) -> String {
        // Almost every string needs no escaping: check the bytes once and return it as is.
        var clean = true
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5C || b == 0xE2 {
            clean = false
            break
        }
        if clean { return s }
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
