import FuzzSupport
import Glibc
import TaskBridgeCore

/// IP addresses, CIDR blocks and the client-address resolver (trusted proxies,
/// `Forwarded`, `X-Forwarded-For`).
///
/// Input: newline-separated lines — the TCP peer, two values of the forwarding header,
/// then trusted-proxy CIDRs; the last byte picks the header kind. Invariants:
/// - IPAddress reads exactly what the system's inet_pton reads, to the same bytes
///   (IPv4-mapped IPv6 as IPv4; brackets and a zone aside);
/// - an address IPAddress reads prints (RFC 5952) as text that inet_pton reads to the same
///   bytes and that IPAddress reads back unchanged;
/// - a CIDR contains its own network, its prefix fits the family, and its text reads back;
/// - an IPv6 rate-limit key is the /64 that holds the address, an IPv4 key the address;
/// - the resolver never believes forwarding headers from an untrusted peer, and always
///   answers the peer or an address taken from the forwarding chain, in canonical form.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = fuzzBytes(start, count)
    let lines = input.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        .prefix(8).map { String(decoding: $0, as: UTF8.self) }
    for line in lines {
        checkAddress(line)
        checkAddress(stripPortLike(line))
        if let cidr = CIDR(line) {
            invariant(cidr.contains(cidr.network), "\(escaped(line)): CIDR \(cidr) does not contain its network")
            invariant((0...(cidr.network.bytes.count * 8)).contains(cidr.prefixLength), "prefix \(cidr.prefixLength)")
            let again = CIDR(cidr.description)
            invariant(again == cidr, "CIDR \(escaped(line)) → \(cidr) → \(String(describing: again))")
        }
    }
    guard let peer = lines.first, let last = input.last else { return 0 }
    let values = Array(lines.dropFirst().prefix(2))
    let trusted = lines.dropFirst(3).compactMap(CIDR.init)
    let header = ForwardedHeader.allCases[Int(last) % ForwardedHeader.allCases.count]
    let resolver = ClientAddressResolver(trustedProxies: trusted, header: header)
    let answer = resolver.clientAddress(peer: peer, headerValues: values)
    guard let peerIP = IPAddress(peer) else {
        invariant(answer == peer, "unparseable peer \(escaped(peer)) answered \(escaped(answer))")
        return 0
    }
    guard let answerIP = IPAddress(answer) else {
        invariant(false, "resolver answered a non-address \(escaped(answer))")
        return 0
    }
    invariant(answerIP.description == answer, "answer \(escaped(answer)) is not canonical")
    if !resolver.isTrusted(peerIP) {
        invariant(answer == peerIP.description, "untrusted peer \(peer), but the answer is \(answer)")
    } else if answer != peerIP.description {
        let chain = values.joined(separator: ",")
        let hops = chain.split(whereSeparator: { ",;= \t\"[]".contains($0) }).compactMap { IPAddress(String($0)) ?? IPAddress(stripPortLike(String($0))) }
        invariant(hops.contains(answerIP), "answer \(answer) is neither the peer nor a forwarded hop in \(escaped(chain))")
    }
    return 0
}

func stripPortLike(_ s: String) -> String {
    if s.hasPrefix("["), let close = s.firstIndex(of: "]") { return String(s[s.index(after: s.startIndex)..<close]) }
    if s.filter({ $0 == ":" }).count == 1, let colon = s.firstIndex(of: ":") { return String(s[..<colon]) }
    return s
}

/// inet_pton's reading of `text`: 4 or 16 bytes (IPv4-mapped IPv6 as 4), or nil.
func systemParse(_ text: String) -> [UInt8]? {
    if text.utf8.contains(0) { return nil }
    var v4 = in_addr()
    if inet_pton(AF_INET, text, &v4) == 1 {
        return withUnsafeBytes(of: &v4) { Array($0) }
    }
    var v6 = in6_addr()
    if inet_pton(AF_INET6, text, &v6) == 1 {
        let b = withUnsafeBytes(of: &v6) { Array($0) }
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xFF, b[11] == 0xFF { return Array(b[12..<16]) }
        return b
    }
    return nil
}

func checkAddress(_ text: String) {
    let ours = IPAddress(text)
    if let sys = systemParse(text) {
        invariant(ours?.bytes == sys, "inet_pton reads \(escaped(text)) as \(sys), IPAddress as \(String(describing: ours?.bytes))")
    }
    guard let ip = ours else { return }
    // What IPAddress reads, once its own bracket and zone stripping is undone, is exactly
    // what inet_pton reads: no leading zeros, signs or misplaced dotted quads.
    var bare = Substring(text)
    if bare.hasPrefix("["), bare.hasSuffix("]") { bare = bare.dropFirst().dropLast() }
    if let zone = bare.firstIndex(of: "%") { bare = bare[..<zone] }
    invariant(systemParse(String(bare)) == ip.bytes, "IPAddress reads \(escaped(text)) as \(ip), inet_pton reads \(escaped(String(bare))) as \(String(describing: systemParse(String(bare))))")
    invariant(ip.bytes.count == 4 || ip.bytes.count == 16, "address of \(ip.bytes.count) bytes")
    let printed = ip.description
    invariant(systemParse(printed) == ip.bytes, "\(escaped(text)) prints as \(escaped(printed)), which inet_pton reads as \(String(describing: systemParse(printed)))")
    invariant(IPAddress(printed) == ip && IPAddress(printed)?.description == printed, "\(escaped(printed)) does not read back")
    let key = ClientAddressResolver.rateLimitKey(printed)
    if ip.isIPv4 {
        invariant(key == printed, "IPv4 rate-limit key \(key)")
    } else {
        invariant(CIDR(key)?.contains(ip) == true && CIDR(key)?.prefixLength == 64, "rate-limit key \(key) does not cover \(printed)")
    }
}

/// The program's entry point (SwiftPM links `main` to `<module>_main`).
@_cdecl("fuzz_ip_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzz)
}
