/// One problem in a configuration or rule file, located precisely enough to fix it:
/// `rules/github.json: rules[2].when.path: unknown operator "eqauls"`.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    /// Location inside the file in the path syntax users write (`rules[2].when`); empty
    /// for the document itself.
    public let path: String
    public let message: String

    public init(file: String, path: String, message: String) {
        self.file = file
        self.path = path
        self.message = message
    }

    public var description: String {
        "\(file): \(path.isEmpty ? "(top level)" : path): \(message)"
    }
}

/// Thrown when a configuration or rule set is invalid; carries every problem found,
/// not just the first, so one `taskbridge check` run lists them all.
public struct DiagnosticsError: Error, Sendable, CustomStringConvertible {
    public let diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// Collects diagnostics while a file is read. Used by one reader at a time.
public final class DiagnosticSink {
    public let file: String
    public private(set) var diagnostics: [Diagnostic] = []

    public init(file: String) {
        self.file = file
    }

    public func report(_ path: String, _ message: String) {
        diagnostics.append(Diagnostic(file: file, path: path, message: message))
    }

    public var hasErrors: Bool { !diagnostics.isEmpty }
}

enum PathText {
    static func child(_ parent: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.allSatisfy(FieldPath.isIdentifierCharacter)
        if plain { return parent.isEmpty ? key : parent + "." + key }
        return parent + "[\"" + JSONWriter.escape(key) + "\"]"
    }

    static func index(_ parent: String, _ i: Int) -> String {
        parent + "[\(i)]"
    }
}
