/// `storage`: the embedded SQLite file (the default) or a shared PostgreSQL database.
extension ConfigParser {
    static func readStorage(_ node: JSONNode) -> StorageSettings {
        var s = StorageSettings()
        guard let o = node.object(allowed: ["kind", "dataDir", "synchronous", "url", "poolSize", "tls", "connectTimeoutSeconds"]) else {
            return s
        }
        if let k = o.node("kind")?.oneOf(StorageSettings.Kind.allCases.map { ($0.rawValue, $0) }) { s.kind = k }
        s.dataDir = o.string("dataDir")
        if let n = o.node("synchronous"), let v = n.oneOf([("full", StorageSettings.Synchronous.full), ("normal", .normal)]) {
            if s.kind == .postgres {
                n.report("synchronous applies to the SQLite store; PostgreSQL's durability is its own synchronous_commit setting")
            }
            s.synchronous = v
        }
        // Keys that only PostgreSQL reads: given for SQLite they would silently do nothing.
        let postgresOnly = ["connectTimeoutSeconds", "poolSize", "tls", "url"]
        if s.kind == .sqlite {
            for key in postgresOnly { o.node(key)?.report("applies to \"kind\": \"postgres\" only (this store is SQLite)") }
            return s
        }
        if let n = o.required("url") { s.url = SecretReference.read(n) }
        if let v = o.int("poolSize", in: 1...500) { s.poolSize = v }
        if let t = o.node("tls")?.oneOf(StorageSettings.TLSMode.allCases.map { ($0.rawValue, $0) }) { s.tls = t }
        if let v = o.double("connectTimeoutSeconds", in: 0.5...300) { s.connectTimeoutSeconds = v }
        return s
    }
}
