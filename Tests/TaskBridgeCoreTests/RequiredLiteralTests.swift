import Testing
@testable import TaskBridgeCore

@Suite struct RequiredLiteralTests {
    @Test(arguments: [
        (#"(?i)\bgc-(?<task>[a-z0-9_]+)"#, "gc-", true),
        (#"(?i)\b(?:fixes|closes)\s+gc-(?<task>[a-z0-9_]+)"#, "gc-", true),
        (#"^release-\d+$"#, "release-", false),
        ("colou?r", "colo", false),
        ("[abc]def", "def", false),
        ("Fix(es)?", "Fix", false),
        ("ab*cd", "cd", false),
        ("x{2}yz", "yz", false),
        ("wip+", "wip", false),
    ])
    func extractsAConservativeLiteral(pattern: String, literal: String, ignoreCase: Bool) throws {
        let found = try #require(RequiredLiteral(pattern: pattern))
        #expect(String(decoding: found.bytes, as: UTF8.self) == literal)
        #expect(found.ignoreCase == ignoreCase)
    }

    @Test(arguments: ["a|b", "(?x) a b", "(?s).*", #"\d+"#, "(foo)", "[a-z]+", "(?i)É"])
    func givesUpWhenUnsure(pattern: String) {
        #expect(RequiredLiteral(pattern: pattern) == nil)
    }

    /// With or without the prefilter, a pattern matches the same texts.
    @Test(arguments: [#"(?i)\bgc-(?<task>[a-z0-9_]+)"#, "^release-\\d+$", "colou?r", "Fix(es)?", "ab*cd", "wip+"])
    func prefilterNeverChangesTheAnswer(pattern: String) throws {
        let texts = ["GC-task_7 login", "fix/gc-abc", "no reference", "release-12", "prerelease-1", "color", "colour", "colr",
                     "Fixes", "fixes", "acd", "abbbcd", "wi", "wippp", "", "Update the README with new information."]
        let matcher = try PatternMatcher(pattern)
        let regex = try Regex(pattern)
        for text in texts {
            #expect((matcher.match(text) != nil) == ((try? regex.firstMatch(in: text)) != nil), "\(pattern) on \(text)")
        }
    }
}
