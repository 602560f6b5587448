import PostgresNIO

/// A statement built piece by piece with `$n` placeholders: the SQL text carries only
/// placeholders and the values travel as typed binds, never spliced into the text.
struct PostgresStatement {
    private(set) var sql = ""
    private(set) var binds = PostgresBindings()

    init(_ sql: String = "") { self.sql = sql }

    /// Binds `value` and returns its placeholder.
    mutating func bind<T: PostgresDynamicTypeEncodable>(_ value: T) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    mutating func bind<T: PostgresDynamicTypeEncodable>(_ value: T?) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    mutating func append(_ text: String) { sql += text }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }
}

/// Reads columns by name without trapping: a column the query did not select reads as
/// missing instead of stopping the process.
struct PostgresColumns {
    let row: PostgresRandomAccessRow

    init(_ row: PostgresRow) { self.row = row.makeRandomAccess() }

    func optional<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) -> T? {
        guard row.contains(name) else { return nil }
        // NULL reads as missing: decoding a NULL cell as `T` throws.
        return try? row[name].decode(T.self)
    }

    func string(_ name: String) -> String? { optional(name, as: String.self) }
    func int(_ name: String) -> Int? { optional(name, as: Int.self) }
    func int64(_ name: String) -> Int64? { optional(name, as: Int64.self) }
    func double(_ name: String) -> Double? { optional(name, as: Double.self) }
    func bytes(_ name: String) -> [UInt8]? { optional(name, as: ByteBuffer.self).map { Array($0.readableBytesView) } }
}

extension PostgresRowSequence {
    /// Every row, read by column name.
    func columns() async throws -> [PostgresColumns] {
        try await collect().map(PostgresColumns.init)
    }
}
