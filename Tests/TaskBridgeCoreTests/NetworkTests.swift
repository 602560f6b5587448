import Testing
@testable import TaskBridgeCore

@Suite("IP addresses, CIDR blocks and client addresses")
struct NetworkTests {
    @Test(arguments: [
        ("192.168.1.1", [UInt8]([192, 168, 1, 1]), "192.168.1.1"),
        ("0.0.0.0", [0, 0, 0, 0], "0.0.0.0"),
        ("255.255.255.255", [255, 255, 255, 255], "255.255.255.255"),
        ("::1", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "::1"),
        ("[::1]", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "::1"),
        ("::", [UInt8](repeating: 0, count: 16), "::"),
        ("::ffff:10.0.0.1", [10, 0, 0, 1], "10.0.0.1"),
        ("::FFFF:127.0.0.1", [127, 0, 0, 1], "127.0.0.1"),
        ("fe80::1%eth0", [0xFE, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "fe80::1"),
        ("2001:DB8::1", [0x20, 0x01, 0x0D, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], "2001:db8::1"),
    ])
    func parsesAddresses(text: String, bytes: [UInt8], description: String) throws {
        let ip = try #require(IPAddress(text))
        #expect(ip.bytes == bytes)
        #expect(ip.description == description)
        #expect(ip.isIPv4 == (bytes.count == 4))
    }

    @Test(arguments: [
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),   // first of two equal zero runs
        ("2001:0db8:0000:0000:0000:0000:0002:0001", "2001:db8::2:1"),
        ("1:0:0:2:0:0:0:3", "1:0:0:2::3"),                // the longest run
        ("1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"),           // a single zero group stays
        ("1::", "1::"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::1.2.3.4", "::102:304"),
    ])
    func formatsIPv6PerRFC5952(text: String, description: String) throws {
        #expect(try #require(IPAddress(text)).description == description)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-4", "1.2.3.4 ", " 1.2.3.4", "a.b.c.d", "1.2.3.٤",
                      "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "12345::", "g::1", "localhost", "1.2.3.4:80"])
    func rejectsNonAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("192.0.2.1", "192.0.2.1/32"),
        ("::1", "::1/128"),
        ("fd00::/8", "fd00::/8"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:192.0.2.7", "192.0.2.7/32"),
        ("::ffff:0.0.0.0/96", "0.0.0.0/0"),
    ])
    func parsesCIDRs(text: String, description: String) throws {
        #expect(try #require(CIDR(text)).description == description)
    }

    @Test(arguments: ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/x", "10.0.0.0/", "10.0.0.0/8/9", "::1/129", "nope/8", "::ffff:10.0.0.0/129"])
    func rejectsBadCIDRs(text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true),
        ("10.0.0.0/8", "11.0.0.1", false),
        ("192.168.1.0/23", "192.168.0.5", true),
        ("192.168.1.0/23", "192.168.2.5", false),
        ("192.0.2.1", "192.0.2.1", true),
        ("192.0.2.1", "192.0.2.2", false),
        ("0.0.0.0/0", "203.0.113.9", true),
        ("0.0.0.0/0", "::1", false),
        ("::1/128", "::1", true),
        ("::1/128", "::2", false),
        ("fd00::/8", "fd12:3456::1", true),
        ("fd00::/8", "fe80::1", false),
        ("2001:db8::/33", "2001:db8:7fff::1", true),
        ("2001:db8::/33", "2001:db8:8000::1", false),
        ("::ffff:10.0.0.0/104", "10.9.8.7", true),
        ("::ffff:10.0.0.0/104", "::ffff:10.9.8.7", true),
        ("127.0.0.1/32", "::ffff:127.0.0.1", true),
        ("::/0", "10.0.0.1", false),
    ])
    func containment(cidr: String, ip: String, contained: Bool) throws {
        #expect(try #require(CIDR(cidr)).contains(try #require(IPAddress(ip))) == contained)
    }

    @Test(arguments: [
        ("203.0.113.9", "203.0.113.9"),
        ("::ffff:203.0.113.9", "203.0.113.9"),                       // IPv4-mapped: the IPv4 address
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::1", "::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("unknown", "unknown"),                                     // not an address: used as is
    ])
    func rateLimitKeysBucketIPv6By64(address: String, key: String) {
        #expect(ClientAddressResolver.rateLimitKey(address) == key)
    }

    // MARK: ClientAddressResolver

    static let trusted = ["127.0.0.1/32", "::1/128", "10.0.0.0/8"].compactMap(CIDR.init)
    static let resolver = ClientAddressResolver(trustedProxies: trusted)

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        var header = ForwardedHeader.xForwardedFor
        let peer: String?
        var forwarded: [String] = []
        var xff: [String] = []
        var realIP: [String] = []
        let expected: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        .init(name: "untrusted peer: headers ignored", peer: "203.0.113.5", xff: ["1.2.3.4"], expected: "203.0.113.5"),
        .init(name: "untrusted peer: Forwarded ignored", header: .forwarded, peer: "203.0.113.5", forwarded: ["for=1.2.3.4"], expected: "203.0.113.5"),
        .init(name: "untrusted peer: X-Real-IP ignored", header: .xRealIP, peer: "203.0.113.5", realIP: ["1.2.3.4"], expected: "203.0.113.5"),
        .init(name: "trusted peer without headers", peer: "127.0.0.1", expected: "127.0.0.1"),
        .init(name: "trusted proxy chain", peer: "127.0.0.1", xff: ["198.51.100.7, 10.0.0.2"], expected: "198.51.100.7"),
        .init(name: "spoofed leftmost entry is not believed", peer: "127.0.0.1", xff: ["6.6.6.6, 198.51.100.7"], expected: "198.51.100.7"),
        .init(name: "several X-Forwarded-For headers", peer: "10.0.0.9", xff: ["6.6.6.6", "198.51.100.7, 10.0.0.3"], expected: "198.51.100.7"),
        .init(name: "every hop trusted", peer: "127.0.0.1", xff: ["10.0.0.3"], expected: "10.0.0.3"),
        .init(name: "garbage hop stops the walk", peer: "127.0.0.1", xff: ["unknown"], expected: "127.0.0.1"),
        .init(name: "garbage further out", peer: "127.0.0.1", xff: ["garbage, 10.0.0.4"], expected: "10.0.0.4"),
        .init(name: "hop with a port", peer: "127.0.0.1", xff: ["198.51.100.7:4711"], expected: "198.51.100.7"),
        // Behind a proxy that appends X-Forwarded-For and passes other headers through,
        // a Forwarded header can only come from the client: it must not count.
        .init(name: "x-forwarded-for: a client's Forwarded is ignored", peer: "127.0.0.1",
              forwarded: ["for=192.0.2.60;proto=http"], xff: ["198.51.100.7"], expected: "198.51.100.7"),
        .init(name: "x-forwarded-for: Forwarded alone is ignored", peer: "127.0.0.1", forwarded: ["for=192.0.2.60"], expected: "127.0.0.1"),
        .init(name: "forwarded: X-Forwarded-For is ignored", header: .forwarded, peer: "127.0.0.1",
              forwarded: ["for=192.0.2.60;proto=http;by=203.0.113.43"], xff: ["6.6.6.6"], expected: "192.0.2.60"),
        .init(name: "forwarded: X-Forwarded-For alone is ignored", header: .forwarded, peer: "127.0.0.1", xff: ["6.6.6.6"], expected: "127.0.0.1"),
        .init(name: "Forwarded with quoted IPv6 and port", header: .forwarded, peer: "::1", forwarded: [#"for="[2001:db8:cafe::17]:4711""#], expected: "2001:db8:cafe::17"),
        .init(name: "Forwarded list", header: .forwarded, peer: "127.0.0.1", forwarded: ["for=198.51.100.9, For=10.0.0.5"], expected: "198.51.100.9"),
        .init(name: "x-real-ip", header: .xRealIP, peer: "127.0.0.1", xff: ["6.6.6.6"], realIP: ["198.51.100.7"], expected: "198.51.100.7"),
        .init(name: "x-real-ip: a trusted address is still the client", header: .xRealIP, peer: "127.0.0.1", realIP: ["10.0.0.8"], expected: "10.0.0.8"),
        .init(name: "x-real-ip: the last value counts", header: .xRealIP, peer: "127.0.0.1", realIP: ["6.6.6.6", "198.51.100.7"], expected: "198.51.100.7"),
        .init(name: "x-real-ip: garbage means the peer", header: .xRealIP, peer: "127.0.0.1", realIP: ["nope"], expected: "127.0.0.1"),
        .init(name: "x-real-ip: X-Forwarded-For alone is ignored", header: .xRealIP, peer: "127.0.0.1", xff: ["6.6.6.6"], expected: "127.0.0.1"),
        .init(name: "IPv4-mapped trusted peer", peer: "::ffff:127.0.0.1", xff: ["198.51.100.7"], expected: "198.51.100.7"),
        .init(name: "IPv4-mapped client", peer: "::ffff:203.0.113.8", expected: "203.0.113.8"),
        .init(name: "bare IPv6 hop", peer: "::1", xff: ["2001:db8::5"], expected: "2001:db8::5"),
        .init(name: "no peer", peer: nil, xff: ["1.2.3.4"], expected: "unknown"),
        .init(name: "unparsable peer", peer: "unix:/tmp/sock", xff: ["1.2.3.4"], expected: "unix:/tmp/sock"),
    ]

    @Test(arguments: cases)
    func resolvesClientAddresses(_ c: Case) {
        let resolver = ClientAddressResolver(trustedProxies: Self.trusted, header: c.header)
        let values = switch c.header {
        case .xForwardedFor: c.xff
        case .forwarded: c.forwarded
        case .xRealIP: c.realIP
        }
        #expect(resolver.clientAddress(peer: c.peer, headerValues: values) == c.expected)
    }

    @Test func withoutTrustedProxiesThePeerIsTheClient() {
        let r = ClientAddressResolver(trustedProxies: [])
        #expect(r.clientAddress(peer: "127.0.0.1", headerValues: ["5.6.7.8"]) == "127.0.0.1")
        #expect(!r.isTrusted(IPAddress("127.0.0.1")!))
        #expect(Self.resolver.isTrusted(IPAddress("10.1.2.3")!))
    }
}
