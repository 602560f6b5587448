/// The one header a trusted proxy names the client in (`server.forwardedHeader`).
/// Reading only the header the proxy actually sets matters: a proxy that appends to
/// `X-Forwarded-For` passes a client's own `Forwarded` header through untouched, so
/// preferring whichever header is present would let the client pick its address.
public enum ForwardedHeader: String, Sendable, CaseIterable {
    /// `X-Forwarded-For: client, proxy1, …`, appended to by each proxy (nginx's
    /// `$proxy_add_x_forwarded_for`, Caddy's default).
    case xForwardedFor = "x-forwarded-for"
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    case forwarded = "forwarded"
    /// `X-Real-IP: client`: one address, set (not appended) by the nearest proxy.
    case xRealIP = "x-real-ip"
}

/// Decides which address a request came from. The forwarding header is believed only
/// when the TCP peer is a configured trusted proxy; otherwise anyone could pick their
/// own rate-limit bucket by sending `X-Forwarded-For`.
public struct ClientAddressResolver: Sendable {
    public let trustedProxies: [CIDR]
    public let header: ForwardedHeader

    public init(trustedProxies: [CIDR], header: ForwardedHeader = .xForwardedFor) {
        self.trustedProxies = trustedProxies
        self.header = header
    }

    public func isTrusted(_ ip: IPAddress) -> Bool {
        trustedProxies.contains { $0.contains(ip) }
    }

    /// - Parameters:
    ///   - peer: the TCP peer address text, if known.
    ///   - headerValues: the values of the configured ``header``, in order; every other
    ///     forwarding header is ignored.
    /// - Returns: the client address. For a list header: walking the chain from the
    ///   nearest hop, the first address that is not a trusted proxy. For `X-Real-IP`:
    ///   the address the proxy wrote.
    public func clientAddress(peer: String?, headerValues: [String]) -> String {
        guard let peerText = peer, let peerIP = IPAddress(peerText) else { return peer ?? "unknown" }
        guard isTrusted(peerIP), let lastValue = headerValues.last else { return peerIP.description }
        let chain: [String]
        switch header {
        case .forwarded: chain = Self.forwardedFor(headerValues)
        case .xForwardedFor: chain = headerValues.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces() }
        case .xRealIP:
            // One address; a proxy sets it rather than appending, so the last one counts.
            let last = lastValue.split(separator: ",").last.map { $0.trimmingSpaces() } ?? ""
            return IPAddress(Self.stripPort(last))?.description ?? peerIP.description
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
