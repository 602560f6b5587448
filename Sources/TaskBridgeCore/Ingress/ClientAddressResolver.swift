/// Decides which address a request came from. Forwarding headers are believed only when
/// the TCP peer is a configured trusted proxy; otherwise anyone could pick their own
/// rate-limit bucket by sending `X-Forwarded-For`.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [CIDR]

    public init(trustedProxies: [CIDR]) {
        self.trustedProxies = trustedProxies
    }

    public func isTrusted(_ ip: IPAddress) -> Bool {
        trustedProxies.contains { $0.contains(ip) }
    }

    /// - Parameters:
    ///   - peer: the TCP peer address text, if known.
    ///   - forwarded: values of `Forwarded` headers (RFC 7239), in order.
    ///   - xForwardedFor: values of `X-Forwarded-For` headers, in order.
    /// - Returns: the client address: walking the forwarding chain from the nearest hop,
    ///   the first address that is not a trusted proxy.
    public func clientAddress(peer: String?, forwarded: [String], xForwardedFor: [String]) -> String {
        guard let peerText = peer, let peerIP = IPAddress(peerText) else { return peer ?? "unknown" }
        guard isTrusted(peerIP) else { return peerIP.description }
        var chain = Self.forwardedFor(forwarded)
        if chain.isEmpty {
            chain = xForwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces() }
        }
        var candidate = peerIP
        for hop in chain.reversed() {
            guard let ip = IPAddress(Self.stripPort(hop)) else { break }
            candidate = ip
            if !isTrusted(ip) { break }
        }
        return candidate.description
    }

    /// The per-client rate-limit key for a resolved client address: IPv6 clients are
    /// counted per /64 (``IPAddress/rateLimitKey``); text that is not an address is used
    /// as it is.
    public static func rateLimitKey(_ clientAddress: String) -> String {
        IPAddress(clientAddress)?.rateLimitKey ?? clientAddress
    }

    /// The `for=` values of RFC 7239 `Forwarded` headers, in order.
    static func forwardedFor(_ headers: [String]) -> [String] {
        var out: [String] = []
        for header in headers {
            for element in header.split(separator: ",") {
                for pair in element.split(separator: ";") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2, kv[0].trimmingSpaces().lowercased() == "for" else { continue }
                    var v = kv[1].trimmingSpaces()
                    if v.hasPrefix("\""), v.hasSuffix("\""), v.count >= 2 { v = String(v.dropFirst().dropLast()) }
                    out.append(v)
                }
            }
        }
        return out
    }

    /// `1.2.3.4:5678` → `1.2.3.4`; `[::1]:80` → `::1`; a bare IPv6 address is kept.
    static func stripPort(_ s: String) -> String {
        if s.hasPrefix("["), let close = s.firstIndex(of: "]") {
            return String(s[s.index(after: s.startIndex)..<close])
        }
        if s.filter({ $0 == ":" }).count == 1, let colon = s.firstIndex(of: ":") {
            return String(s[..<colon])
        }
        return s
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
