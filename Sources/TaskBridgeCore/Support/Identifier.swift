/// Time-ordered identifiers (`evt_01JD3…`, `job_01JD3…`): 48 bits of Unix milliseconds
/// and 80 random bits in Crockford base32, so ids sort by creation time and never
/// collide across replicas.
public enum Identifier {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    public static func make(prefix: String, millis: Int64) -> String {
        var rng = SystemRandomNumberGenerator()
        return make(prefix: prefix, millis: millis, using: &rng)
    }

    public static func make(prefix: String, millis: Int64, using rng: inout some RandomNumberGenerator) -> String {
        var out = [UInt8]()
        out.reserveCapacity(26)
        let t = UInt64(max(0, millis)) & 0xFFFF_FFFF_FFFF
        for i in (0..<10).reversed() { out.append(alphabet[Int((t >> UInt64(i * 5)) & 31)]) }
        let r1 = rng.next() as UInt64
        let r2 = rng.next() as UInt64
        for i in 0..<16 {
            let v = i < 12 ? (r1 >> UInt64(i * 5)) & 31 : (r2 >> UInt64((i - 12) * 5)) & 31
            out.append(alphabet[Int(v)])
        }
        return prefix + "_" + String(decoding: out, as: UTF8.self)
    }
}
