import Foundation
import Glibc
import Synchronization

/// A small S3 look-alike that answers with scripted faults, for the retry tests.
///
/// `GET /<bucket>?list-type=2…` lists every object (one page), or for the n-th list request gives the
/// n-th fault of the listing script; `GET /<bucket>/<key>` serves the object, or, for the n-th request
/// of a key, the n-th fault of its script. Signatures are not checked (the
/// juicefs tests do that).
public final class FaultServer: Sendable {
    public enum Fault: Sendable {
        /// `503 SlowDown` with `Retry-After`.
        case slowDown(retryAfter: Int)
        /// Headers announce the whole body; half is sent, then the connection is reset (RST).
        case resetMidBody
        /// Headers announce the whole body; half is sent, then the connection is closed cleanly.
        case truncated
        /// The whole body, in 8 pieces 50 ms apart.
        case slow
        /// `200 OK` with this body instead (an HTML page, XML cut short, a listing that loops).
        case body(String)
        /// Headers announce the whole body; half is sent, then nothing more for 120 s (the connection
        /// stays open), then it is closed.
        case stall
        /// Headers announce half the body (`Content-Length` lies); the whole body is sent.
        case shortLength
    }

    private let server: LoopbackHTTPServer
    private let counts: Counts

    /// GETs per key, shared with the server's thread.
    private final class Counts: Sendable {
        let value = Mutex<[String: Int]>([:])
    }

    public var endpoint: String { server.endpoint }

    /// How many GETs each key received (and the list requests, under `FaultServer.listing`; the requests
    /// signed with each access key id, under `(signed with KEY)`).
    public var requestCounts: [String: Int] { counts.value.withLock { $0 } }

    /// Where `requestCounts` counts the list requests.
    public static let listing = "(list requests)"

    /// - Parameters:
    ///   - scripts: for each key, the answers to its first GETs.
    ///   - listingScript: the answers to the first list requests, whatever their prefix.
    ///   - expiringKeys: access key ids that the server takes for this many requests, then refuses as
    ///     expired (`400 ExpiredToken`), read from each request's `Authorization` credential scope.
    public init(bucket: String, objects: [String: [UInt8]], scripts: [String: [Fault]], listingScript: [Fault] = [],
                expiringKeys: [String: Int] = [:]) {
        let counts = Counts()
        self.counts = counts
        server = LoopbackHTTPServer { request, connection in
            let path = request.path
            if let key = request.headers["authorization"]?.split(separator: "Credential=").last?.split(separator: "/").first.map(String.init) {
                let uses = counts.value.withLock { counts -> Int in
                    counts["(signed with \(key))", default: 0] += 1
                    return counts["(signed with \(key))"]!
                }
                if let allowed = expiringKeys[key], uses > allowed {
                    connection.respond("400 Bad Request", body: Array("<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>".utf8))
                    return
                }
            }
            let body: [UInt8], script: [Fault], counted: String
            if path == "/\(bucket)" || path == "/\(bucket)/" {
                var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><IsTruncated>false</IsTruncated>"
                for (key, body) in objects.sorted(by: { $0.key < $1.key }) {
                    xml += "<Contents><Key>\(key)</Key><Size>\(body.count)</Size></Contents>"
                }
                (body, script, counted) = (Array((xml + "</ListBucketResult>").utf8), listingScript, FaultServer.listing)
            } else {
                let key = String(path.dropFirst(bucket.count + 2))
                guard let object = objects[key] else {
                    connection.respond("404 Not Found", body: Array("<Error><Code>NoSuchKey</Code></Error>".utf8))
                    return
                }
                (body, script, counted) = (object, scripts[key] ?? [], key)
            }
            let attempt = counts.value.withLock { counts -> Int in
                counts[counted, default: 0] += 1
                return counts[counted]!
            }
            guard attempt <= script.count else {
                connection.respond("200 OK", body: body)
                return
            }
            switch script[attempt - 1] {
            case .slowDown(let retryAfter):
                connection.respond("503 Slow Down", headers: ["Retry-After: \(retryAfter)"],
                                   body: Array("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".utf8))
            case .resetMidBody:
                connection.head("200 OK", length: body.count)
                connection.send(Array(body.prefix(body.count / 2)))
                connection.reset()
            case .truncated:
                connection.head("200 OK", length: body.count)
                connection.send(Array(body.prefix(body.count / 2)))
                connection.close()
            case .slow:
                connection.head("200 OK", length: body.count)
                let piece = max(1, (body.count + 7) / 8)
                for start in stride(from: 0, to: body.count, by: piece) {
                    connection.send(Array(body[start..<min(start + piece, body.count)]))
                    usleep(50_000)
                }
                connection.close()
            case .body(let text):
                connection.respond("200 OK", body: Array(text.utf8))
            case .stall:
                connection.head("200 OK", length: body.count)
                connection.send(Array(body.prefix(body.count / 2)))
                Thread {  // held open without blocking the other requests
                    sleep(120)
                    connection.close()
                }.start()
            case .shortLength:
                connection.head("200 OK", length: body.count / 2)
                connection.send(body)
                connection.close()
            }
        }
    }

    public func stop() { server.stop() }
}
