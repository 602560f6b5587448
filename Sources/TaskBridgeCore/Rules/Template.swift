/// A string with `{{ path | filter arg | … }}` placeholders.
///
/// A placeholder whose value is missing (absent or JSON null) is an error, never an
/// empty or "null" string in a task title: write `| default "…"` where a value is
/// optional. Filters: `lower`, `upper`, `trim`, `truncate N`, `default "text"`, `json`
/// (escape for embedding inside a JSON string), `date` (Unix seconds or ms → ISO 8601
/// UTC), `unixms` (Unix seconds → milliseconds), `join "sep"` (arrays), `first`.
public struct Template: Sendable, Hashable, CustomStringConvertible {
    public enum Part: Sendable, Hashable {
        case literal(String)
        case expression(Expression)
    }

    public struct Expression: Sendable, Hashable {
        public enum Subject: Sendable, Hashable {
            case path(FieldPath)
            case literal(String)
        }

        public var subject: Subject
        public var filters: [TemplateFilter]

        public var path: FieldPath? {
            if case .path(let p) = subject { return p }
            return nil
        }
    }

    public let parts: [Part]
    public let description: String

    /// The text of a template without placeholders (a name written literally in a
    /// rule, which `taskbridge check --live` can look up), else nil.
    public var literalText: String? {
        var out = ""
        for part in parts {
            guard case .literal(let s) = part else { return nil }
            out += s
        }
        return out
    }

    /// Paths read by the template, for validation and for the ingest parse filter.
    public var paths: [FieldPath] {
        parts.compactMap { if case .expression(let e) = $0 { return e.path } else { return nil } }
    }

    public var isConstant: Bool { paths.isEmpty }

    public init(parsing text: String) throws(TemplateError) {
        description = text
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.firstRange(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.literal(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].firstRange(of: "}}") else {
                throw TemplateError(template: text, reason: "\"{{\" is never closed with \"}}\"")
            }
            let inner = rest[open.upperBound..<close.lowerBound]
            parts.append(.expression(try Template.parseExpression(inner, template: text)))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.literal(String(rest))) }
        self.parts = parts
    }

    static func parseExpression(_ inner: Substring, template: String) throws(TemplateError) -> Expression {
        let pieces = splitPipes(inner)
        guard let head = pieces.first?.trimmingSpaces(), !head.isEmpty else {
            throw TemplateError(template: template, reason: "empty placeholder \"{{\(inner)}}\"")
        }
        let subject: Expression.Subject
        if head.hasPrefix("\"") {
            guard let lit = TemplateFilter.unquote(head) else {
                throw TemplateError(template: template, reason: "unterminated string \(head)")
            }
            subject = .literal(lit)
        } else {
            do {
                let path = try FieldPath(parsing: head)
                guard EventContext.roots.contains(path.root) else {
                    throw TemplateError(template: template, reason: "unknown root \"\(path.root)\" in \"\(head)\"; paths start with \(EventContext.roots.joined(separator: ", "))")
                }
                subject = .path(path)
            } catch let e as FieldPathError {
                throw TemplateError(template: template, reason: e.description)
            } catch let e as TemplateError {
                throw e
            } catch {
                throw TemplateError(template: template, reason: "\(error)")
            }
        }
        var filters: [TemplateFilter] = []
        for piece in pieces.dropFirst() {
            do {
                filters.append(try TemplateFilter(parsing: piece.trimmingSpaces()))
            } catch {
                throw TemplateError(template: template, reason: error.reason)
            }
        }
        return Expression(subject: subject, filters: filters)
    }

    /// Splits on `|` outside double-quoted strings.
    static func splitPipes(_ s: Substring) -> [String] {
        var out: [String] = []
        var current = ""
        var inString = false
        var escaped = false
        for c in s {
            if inString {
                current.append(c)
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
                current.append(c)
            } else if c == "|" {
                out.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        out.append(current)
        return out
    }

    public func render(_ context: EventContext) throws(TemplateError) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .expression(let e): out += try evaluate(e, context).textValue
            }
        }
        return out
    }

    /// Renders a template that is exactly one placeholder to its JSON value (so a number
    /// stays a number); anything else renders to a string.
    public func renderValue(_ context: EventContext) throws(TemplateError) -> JSONValue {
        if parts.count == 1, case .expression(let e) = parts[0] { return try evaluate(e, context) }
        return .string(try render(context))
    }

    func evaluate(_ e: Expression, _ context: EventContext) throws(TemplateError) -> JSONValue {
        var value: JSONValue?
        switch e.subject {
        case .literal(let s): value = .string(s)
        case .path(let p):
            value = context.resolve(p)
            if value?.isNull == true { value = nil }
        }
        for filter in e.filters {
            value = try filter.apply(value, template: description)
        }
        guard let value else {
            throw TemplateError(template: description, reason: "no value at \(e.path?.description ?? "placeholder"); add | default \"…\" if it is optional", missingPath: e.path?.description)
        }
        return value
    }
}

public struct TemplateError: Error, Sendable, Hashable, CustomStringConvertible {
    public let template: String
    public let reason: String
    /// Set when rendering failed because a value was missing.
    public var missingPath: String?

    public init(template: String, reason: String, missingPath: String? = nil) {
        self.template = template
        self.reason = reason
        self.missingPath = missingPath
    }

    public var description: String { "template \"\(template)\": \(reason)" }
}
