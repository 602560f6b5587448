/// An IPv4 or IPv6 address as bytes. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, as a
/// dual-stack socket reports IPv4 peers) are stored as IPv4 so CIDR checks see one form.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public var isIPv4: Bool { bytes.count == 4 }

    public init?(_ text: String) {
        var s = Substring(text)
        if s.hasPrefix("["), s.hasSuffix("]") { s = s.dropFirst().dropLast() }
        if let zone = s.firstIndex(of: "%") { s = s[..<zone] }
        if let v4 = IPAddress.parseIPv4(s) {
            bytes = v4
        } else if let v6 = IPAddress.parseIPv6(s) {
            if v6[0..<10].allSatisfy({ $0 == 0 }), v6[10] == 0xFF, v6[11] == 0xFF {
                bytes = Array(v6[12..<16])
            } else {
                bytes = v6
            }
        } else {
            return nil
        }
    }

    public var description: String {
        if isIPv4 { return bytes.map(String.init).joined(separator: ".") }
        var groups: [UInt16] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1])) }
        // Compress the longest run of zero groups (RFC 5952).
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8, groups[j] == 0 { j += 1 }
                if j - i > bestLen, j - i > 1 { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        let hex = groups.map { String($0, radix: 16) }
        if bestStart < 0 { return hex.joined(separator: ":") }
        let head = hex[0..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLen)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// The key per-client rate limits count under: an IPv4 address as is, an IPv6
    /// address by its /64 network (`2001:db8:1:2::/64`). One IPv6 subscriber or host
    /// usually holds a whole /64, so counting each address would give it 2^64 buckets.
    /// IPv4-mapped IPv6 addresses are IPv4 already (see ``init(_:)``).
    public var rateLimitKey: String {
        if isIPv4 { return description }
        return IPAddress(bytes: Array(bytes[0..<8]) + Array(repeating: 0, count: 8)).description + "/64"
    }

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    static func parseIPv4(_ s: Substring) -> [UInt8]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            // No leading zeros: `010` is 8 to inet_aton and 10 to others, so it is refused.
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), p.allSatisfy(\.isNumber),
                  p.count == 1 || p.first != "0", let v = UInt8(p) else { return nil }
            out.append(v)
        }
        return out
    }

    static func parseIPv6(_ s: Substring) -> [UInt8]? {
        guard s.contains(":") else { return nil }
        var halves: [String] = []
        if let gap = s.firstRange(of: "::") {
            halves = [String(s[..<gap.lowerBound]), String(s[gap.upperBound...])]
            if halves[1].contains("::") { return nil }
        } else {
            halves = [String(s)]
        }
        guard halves.count <= 2 else { return nil }
        /// Hex groups of one to four digits (no sign); a dotted quad only as the last group
        /// of the whole address (`lastOfAddress`).
        func groups(_ part: String, lastOfAddress: Bool) -> [UInt8]? {
            if part.isEmpty { return [] }
            var out: [UInt8] = []
            let items = part.split(separator: ":", omittingEmptySubsequences: false)
            for (idx, item) in items.enumerated() {
                if lastOfAddress, idx == items.count - 1, item.contains("."), let v4 = parseIPv4(item) {
                    out += v4
                    continue
                }
                guard !item.isEmpty, item.count <= 4, item.allSatisfy(\.isHexDigit), item.allSatisfy(\.isASCII),
                      let v = UInt16(item, radix: 16) else { return nil }
                out += [UInt8(v >> 8), UInt8(v & 0xFF)]
            }
            return out
        }
        guard let head = groups(halves[0], lastOfAddress: halves.count == 1) else { return nil }
        if halves.count == 1 {
            return head.count == 16 ? head : nil
        }
        guard let tail = groups(halves[1], lastOfAddress: true), head.count + tail.count <= 14 else { return nil }
        return head + Array(repeating: 0, count: 16 - head.count - tail.count) + tail
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `::1/128`); a bare address is a /32 or /128.
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let network: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addr = IPAddress(String(parts[0])) else { return nil }
        // An IPv4-mapped IPv6 prefix such as ::ffff:10.0.0.0/104 is written against 128
        // bits but stored as IPv4, so it becomes 10.0.0.0/8.
        let mapped = addr.isIPv4 && parts[0].contains(":")
        var len = addr.bytes.count * 8
        if parts.count == 2 {
            guard let l = Int(parts[1]), (0...(mapped ? 128 : len)).contains(l) else { return nil }
            len = mapped ? max(0, l - 96) : l
        }
        network = addr
        prefixLength = len
    }

    public var description: String { "\(network)/\(prefixLength)" }

    public func contains(_ ip: IPAddress) -> Bool {
        guard ip.bytes.count == network.bytes.count else { return false }
        var remaining = prefixLength
        for i in 0..<ip.bytes.count where remaining > 0 {
            let bits = min(8, remaining)
            let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if ip.bytes[i] & mask != network.bytes[i] & mask { return false }
            remaining -= bits
        }
        return true
    }
}
