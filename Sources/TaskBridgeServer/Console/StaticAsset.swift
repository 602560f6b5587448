import Foundation
import Crypto
import Hummingbird
import NIOCore
import TaskBridgeCore

/// A file shipped inside the binary (SwiftPM `embedInCode` resources), served with an
/// ETag so browsers revalidate it cheaply: `If-None-Match` with the current tag is a 304.
struct StaticAsset: Sendable {
    let bytes: [UInt8]
    let contentType: String
    /// A strong tag of the content: the first 16 bytes of its SHA-256, hex, quoted.
    let etag: String

    init(_ bytes: [UInt8], contentType: String) {
        self.bytes = bytes
        self.contentType = contentType
        self.etag = "\"" + Hex.lowercase(SHA256.hash(data: bytes).prefix(16)) + "\""
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }

    func response(_ request: Request, cacheControl: String, headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.eTag] = etag
        headers[.cacheControl] = cacheControl
        headers[.xContentTypeOptions] = "nosniff"
        if let given = request.headers[.ifNoneMatch],
           given.split(separator: ",").contains(where: { tag in
               let t = tag.trimmingCharacters(in: .whitespaces)
               return t == etag || t == "W/" + etag || t == "*"
           }) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
