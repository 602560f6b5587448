import Foundation
import TaskBridgeCore

/// Looks up secrets named by the config. Values never appear in errors or logs; a
/// problem names the variable or file only.
public struct SecretResolver: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public enum Resolution: Sendable {
        case value(Secret)
        /// Not set; the message says where it was looked for.
        case missing(String)
    }

    public func resolve(_ ref: SecretReference) -> Resolution {
        switch ref {
        case .env(let name):
            guard let v = environment[name], !v.isEmpty else { return .missing("environment variable \(name) is not set") }
            return .value(Secret(v))
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                return .missing("secret file \(path) cannot be read")
            }
            var bytes = [UInt8](data)
            while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
            guard !bytes.isEmpty else { return .missing("secret file \(path) is empty") }
            return .value(Secret(bytes))
        }
    }
}
