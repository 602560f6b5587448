import Testing
@testable import TaskBridgeCore

/// Inputs the libFuzzer harnesses in `Fuzz/` found (FUZZING.md lists each finding), kept
/// here so the fixes stay fixed without a fuzz build.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    /// A `matches` pattern and a text it matches: the RequiredLiteral pre-filter must not
    /// hide the match (fuzz-regex).
    @Test(arguments: [
        (#"\x41BC"#, "ABC"),                       // an escape that spells a character is not "x41BC"
        ("a:{0\u{FFFD}\u{FFFD}x|bc", "bc"),        // a `{` that starts no count hid a top-level `|`
        ("\r\n??", ""),                            // CR LF is one character: `??` makes both optional
        ("1{\r\u{0B}0,}", ""),                     // a count may hold whitespace: {\r\v0,} is {0,}
        (#"[a[b]]x"#, "bx"),                       // nested classes: the first `]` does not end it
        ("(?^i)abc", "ABC"),                       // (?^i) turns case-insensitivity on mid-pattern
        ("(?i)kelvin", "\u{212A}elvin"),           // (?i)k matches KELVIN SIGN
        ("(?Wi)kelvin", "\u{212A}elvin"),          // capital flags (W: ASCII word) hid the `i` after them
        ("caf\u{E9}", "cafe\u{301}"),              // é matches e + COMBINING ACUTE ACCENT
        ("cafe\u{301}", "caf\u{E9}"),
    ])
    func requiredLiteralNeverHidesAMatch(pattern: String, text: String) throws {
        let regex = try Regex(pattern)
        #expect(try regex.firstMatch(in: text) != nil, "the regex itself matches")
        if let literal = RequiredLiteral(pattern: pattern) {
            #expect(literal.occurs(in: text), "required literal \(String(decoding: literal.bytes, as: UTF8.self)) of \(pattern)")
        }
        #expect(try PatternMatcher(pattern).match(text) != nil)
    }

    /// What the stricter scan still extracts from the example rules' patterns.
    @Test func requiredLiteralStillFiltersTheExamplePatterns() throws {
        let found = try #require(RequiredLiteral(pattern: #"(?i)\b(?:fixes|closes|resolves|refs?)\s+gc-(?<task>[a-z0-9_]+)"#))
        #expect(String(decoding: found.bytes, as: UTF8.self) == "gc-")
        #expect(String(decoding: try #require(RequiredLiteral(pattern: "x{ 2 }yz")).bytes, as: UTF8.self) == "yz")
        #expect(RequiredLiteral(pattern: "a{b") == nil)
    }

    /// `(?<name>` inside a character class is no group: rules must not be allowed to read
    /// `captures.<name>` for it, since no match ever fills it (fuzz-regex).
    @Test func groupNamesAreTheRegexsOwn() throws {
        let pattern = "(?i)\\bgc-(?<task>[a-z0-9(?<tas\u{FFFD}>_]+)"
        #expect(try PatternMatcher(pattern).groupNames == ["task"])
        #expect(PatternMatcher.namedGroups(in: #"[(?<inClass>x)](?<real>y)"#) == ["real"])
        #expect(PatternMatcher.namedGroups(in: #"(?'quoted'a)"#) == ["quoted"])

        let diagnostics = Fixtures.ruleDiagnostics(#"""
        {"rules": [{"id": "r", "sources": ["github"], "events": ["push"],
          "when": {"path": "body.ref", "matches": "x[(?<ghost>y)]"},
          "do": [{"action": "task.create", "title": "{{ captures.ghost }}"}]}]}
        """#)
        #expect(diagnostics.contains { $0.contains("no matches condition in this rule defines a named group \"ghost\"") })
    }

    /// IPAddress reads exactly what inet_pton reads (fuzz-ip): no signed or non-hex IPv6
    /// groups, a dotted quad only at the very end, no IPv4 leading zeros (`010` is 8 to
    /// inet_aton and 10 to others, which matters in a trusted-proxy list).
    @Test(arguments: ["::+2", "+1::", "1:2:3:4:5:6:7:+8", "1.2.3.4::", "1.2.3.4::5", "010.0.0.1", "1.2.3.04", "00.0.0.0",
                      "::ffff:01.2.3.4", "::0x1"])
    func addressesInetPtonRefuses(text: String) {
        #expect(IPAddress(text) == nil)
        #expect(CIDR(text + "/8") == nil)
    }

    @Test(arguments: [("0.0.0.0", "0.0.0.0"), ("10.0.0.1", "10.0.0.1"), ("::1.2.3.4", "::102:304"), ("::ffff:1.2.3.4", "1.2.3.4"),
                      ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"), ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"), ("[::1]", "::1"),
                      ("fe80::1%eth0", "fe80::1"), ("ABCD::EF", "abcd::ef")])
    func addressesStillRead(text: String, printed: String) throws {
        #expect(try #require(IPAddress(text)).description == printed)
    }

    /// `1e999` parses as infinity and canonical JSON writes infinity as `null`: a rule
    /// holding one passed the check, and then no job could re-read its stored version
    /// (fuzz-json, then fuzz-rules). The rule parser refuses it where it is written.
    @Test func rulesRefuseNumbersBeyondDouble() throws {
        func rule(_ number: String) -> String {
            #"""
            {"rules": [{"id": "big", "sources": ["github"], "events": ["pull_request.opened"],
              "when": {"path": "body.number", "lt": \#(number)},
              "do": [{"action": "task.create", "title": "PR {{ body.number }}", "estimate": 2}]}]}
            """#
        }
        #expect(Fixtures.ruleDiagnostics(rule("1e999"))
            == ["rules/test.json: rules[0].when.lt: number out of range: beyond ±1.8e308, a 64-bit float cannot hold it"])
        #expect(Fixtures.ruleDiagnostics(rule("-1e400")).count == 1)

        // The largest finite Double survives the stored-rule round trip.
        let set = try Fixtures.parseRules(rule("1.7976931348623157e308"))
        let parsed = try #require(set.rules.first)
        let stored = try RuleParser(config: Fixtures.shippedConfig()).parseStoredRule(parsed.canonicalJSON, file: "stored")
        #expect(stored.versionHash == parsed.versionHash)
    }
}
