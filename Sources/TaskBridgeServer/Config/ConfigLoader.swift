import Foundation
import TaskBridgeCore
import TaskBridgeTargets

/// Reads the config file and the rule files it names, and validates both. Everything
/// wrong is reported at once as `file: json.path: reason`.
public enum ConfigLoader {
    public struct Loaded: Sendable {
        public var config: TaskBridgeConfig
        public var configPath: String
        public var rules: RuleSet
        /// The rule files that were read, for change detection.
        public var ruleFiles: [String]
    }

    public static func load(configPath: String) throws(DiagnosticsError) -> Loaded {
        let bytes = try read(configPath)
        let config = try ConfigParser.parse(bytes, file: configPath, kinds: TargetKinds.all)
        let (rules, files) = try loadRules(config: config, configPath: configPath)
        return Loaded(config: config, configPath: configPath, rules: rules, ruleFiles: files)
    }

    public static func loadRules(config: TaskBridgeConfig, configPath: String) throws(DiagnosticsError) -> (RuleSet, [String]) {
        let files = try expand(config.rules, relativeTo: directory(of: configPath), configPath: configPath)
        var ruleFiles: [RuleParser.RuleFile] = []
        var problems: [Diagnostic] = []
        for f in files {
            do {
                ruleFiles.append(RuleParser.RuleFile(path: f, bytes: try read(f)))
            } catch {
                problems += error.diagnostics
            }
        }
        if !problems.isEmpty { throw DiagnosticsError(problems) }
        return (try RuleParser(config: config).parse(ruleFiles), files)
    }

    static func read(_ path: String) throws(DiagnosticsError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let exists = FileManager.default.fileExists(atPath: path)
            throw DiagnosticsError([Diagnostic(file: path, path: "", message: exists ? "cannot read the file" : "no such file")])
        }
        return [UInt8](data)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return path[..<slash].isEmpty ? "/" : String(path[..<slash])
    }

    /// Expands `rules/*.json`-style entries; `*` and `?` may appear in any path
    /// component (not `**`). A plain path must exist; a pattern may match nothing.
    static func expand(_ patterns: [String], relativeTo base: String, configPath: String) throws(DiagnosticsError) -> [String] {
        var out: [String] = []
        var problems: [Diagnostic] = []
        for (i, pattern) in patterns.enumerated() {
            let full = pattern.hasPrefix("/") ? pattern : base + "/" + pattern
            if Glob(full).isLiteral {
                if FileManager.default.fileExists(atPath: full) {
                    out.append(full)
                } else {
                    problems.append(Diagnostic(file: configPath, path: "rules[\(i)]", message: "rule file \(full) does not exist"))
                }
                continue
            }
            if pattern.contains("**") {
                problems.append(Diagnostic(file: configPath, path: "rules[\(i)]", message: "\"**\" is not supported; use one \"*\" per directory level"))
                continue
            }
            var candidates = [full.hasPrefix("/") ? "" : "."]
            let parts = full.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            for (n, part) in parts.enumerated() {
                let last = n == parts.count - 1
                let glob = Glob(part)
                var next: [String] = []
                for dir in candidates {
                    let prefix = dir.isEmpty ? "" : dir + "/"
                    if glob.isLiteral {
                        next.append(dir.isEmpty ? "/" + part : prefix + part)
                        continue
                    }
                    let listing = (try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "/" : dir)) ?? []
                    for entry in listing.sorted() where !entry.hasPrefix(".") && glob.matches(entry) {
                        let path = dir.isEmpty ? "/" + entry : prefix + entry
                        var isDir: ObjCBool = false
                        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
                        if last ? !isDir.boolValue : isDir.boolValue { next.append(path) }
                    }
                }
                candidates = next
            }
            out += candidates.filter { FileManager.default.fileExists(atPath: $0) }.map { $0.hasPrefix("./") && !full.hasPrefix("./") ? String($0.dropFirst(2)) : $0 }
        }
        if !problems.isEmpty { throw DiagnosticsError(problems) }
        var seen = Set<String>()
        return out.filter { seen.insert($0).inserted }
    }
}

