import Crypto

/// One rule: which events it listens to, when it applies, and the steps it plans.
public struct Rule: Sendable {
    public var id: String
    public var description: String?
    public var sources: [String]
    public var events: [Glob]
    public var when: Condition?
    /// Rendered at ingest; jobs sharing a key run strictly in arrival order.
    public var orderingKey: Template?
    public var target: String
    public var enabled: Bool
    public var steps: [StepSpec]
    /// `rules/github.json` and `rules[2]`.
    public var file: String
    public var location: String
    /// The rule as written, canonicalized; jobs store its hash so they run the rule
    /// version they were planned with even after the files change.
    public var canonicalJSON: String
    public var versionHash: String

    static func hash(_ canonical: String) -> String {
        let digest = SHA256.hash(data: Array(canonical.utf8))
        return Hex.lowercase(digest.prefix(12))
    }

    /// The ordering key template: explicit, or else the link key of the first step that
    /// records a link or finds its task by link (so "one task per Sentry issue" is ordered
    /// per issue by default, and a later `issue.resolved` waits for the job that creates
    /// the task instead of racing it).
    public var effectiveOrderingKey: Template? {
        if let orderingKey { return orderingKey }
        for step in steps {
            var keys: [Template] = []
            if let key = step.link?.key { keys.append(key) }
            if case .link(let key)? = step.task { keys.append(key) }
            for key in keys where !key.paths.contains(where: { $0.root == "steps" }) { return key }
        }
        return nil
    }

    /// Payload paths the steps' templates read, so the dispatcher parses only those.
    public var stepPayloadTrie: PathTrie {
        var trie = PathTrie()
        for step in steps {
            for t in step.templates {
                for p in t.paths where p.root == "body" { trie.insert(p.tail) }
            }
        }
        return trie
    }

    /// Ids of steps whose outputs later steps read (`steps.<id>.…` or `task: {"step": …}`):
    /// only those outputs need keeping in full.
    public var stepsReadLater: Set<String> {
        var ids = Set<String>()
        for step in steps {
            for t in step.templates {
                for p in t.paths where p.root == "steps" {
                    if case .key(let id)? = p.tail.first { ids.insert(id) }
                }
            }
            if case .step(let id)? = step.task { ids.insert(id) }
        }
        return ids
    }

    /// Every path the rule reads at ingest time (conditions and ordering key).
    public var ingestPaths: [FieldPath] {
        (when?.paths ?? []) + (effectiveOrderingKey?.paths ?? [])
    }
}

/// A rule that matched an event: it becomes one job.
public struct RuleMatch: Sendable {
    public var rule: Rule
    public var captures: [String: String]
    public var orderingKey: String?
}
