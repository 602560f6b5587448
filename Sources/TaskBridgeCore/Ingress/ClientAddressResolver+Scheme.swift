extension ClientAddressResolver {
    /// Whether the client reached a trusted proxy over https, so the console's cookie can
    /// be `Secure`. Only a trusted peer's `X-Forwarded-Proto` or `Forwarded: proto=` counts;
    /// anyone else could claim https to make the cookie disappear on plain http.
    public func isHTTPS(peer: String?, forwardedProto: [String], forwarded: [String]) -> Bool {
        guard let peer, let ip = IPAddress(peer), isTrusted(ip) else { return false }
        if let last = forwardedProto.flatMap({ $0.split(separator: ",") }).last {
            return last.trimmingSpaces().lowercased() == "https"
        }
        // Forwarded: for=…;proto=https, …: the last element is the nearest proxy's.
        guard let element = forwarded.flatMap({ $0.split(separator: ",") }).last else { return false }
        for pair in element.split(separator: ";") {
            let kv = pair.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingSpaces().lowercased() == "proto" {
                var value = Substring(kv[1].trimmingSpaces().lowercased())
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
                return value == "https"
            }
        }
        return false
    }
}
