import Foundation
import Glibc
import Synchronization

/// A small S3 look-alike on 127.0.0.1 that answers with scripted faults, for the retry tests.
///
/// `GET /<bucket>?list-type=2…` lists every object (one page); `GET /<bucket>/<key>` serves the object,
/// or, for the n-th request of a key, the n-th fault of its script. Signatures are not checked (the
/// juicefs tests do that). One connection per request (`Connection: close`), served in turn on one
/// thread; the server stops when `stop()` closes its socket.
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
    }

    public let port: Int
    public let bucket: String
    private let socket: Int32
    private let objects: [String: [UInt8]]
    private let scripts: [String: [Fault]]
    private let requests = Mutex<[String: Int]>([:])

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// How many GETs each key received.
    public var requestCounts: [String: Int] { requests.withLock { $0 } }

    public init(bucket: String, objects: [String: [UInt8]], scripts: [String: [Fault]]) {
        self.bucket = bucket
        self.objects = objects
        self.scripts = scripts
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        listen(fd, 16)
        socket = fd
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in serve() }.start()
    }

    public func stop() {
        shutdown(socket, Int32(SHUT_RDWR))
        close(socket)
    }

    private func serve() {
        while true {
            let connection = accept(socket, nil, nil)
            guard connection >= 0 else { return }
            handle(connection)
        }
    }

    private func handle(_ connection: Int32) {
        var request: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !request.ends(with: [13, 10, 13, 10]) {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { close(connection); return }
            request += buffer[..<count]
        }
        let line = String(decoding: request.prefix { $0 != 13 }, as: UTF8.self).split(separator: " ")
        let target = line.count > 1 ? String(line[1]) : "/"
        let path = (target.split(separator: "?").first.map(String.init) ?? target).removingPercentEncoding ?? target
        if path == "/\(bucket)" || path == "/\(bucket)/" {
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><IsTruncated>false</IsTruncated>"
            for (key, body) in objects.sorted(by: { $0.key < $1.key }) {
                xml += "<Contents><Key>\(key)</Key><Size>\(body.count)</Size></Contents>"
            }
            respond(connection, status: "200 OK", headers: [], body: Array((xml + "</ListBucketResult>").utf8))
            return
        }
        let key = String(path.dropFirst(bucket.count + 2))
        guard let body = objects[key] else {
            respond(connection, status: "404 Not Found", headers: [], body: Array("<Error><Code>NoSuchKey</Code></Error>".utf8))
            return
        }
        let attempt = requests.withLock { counts -> Int in
            counts[key, default: 0] += 1
            return counts[key]!
        }
        let script = scripts[key] ?? []
        guard attempt <= script.count else {
            respond(connection, status: "200 OK", headers: [], body: body)
            return
        }
        switch script[attempt - 1] {
        case .slowDown(let retryAfter):
            respond(connection, status: "503 Slow Down", headers: ["Retry-After: \(retryAfter)"],
                    body: Array("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".utf8))
        case .resetMidBody:
            send(connection, head: "200 OK", headers: [], length: body.count)
            send(connection, Array(body.prefix(body.count / 2)))
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)  // close with RST
            setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close(connection)
        case .truncated:
            send(connection, head: "200 OK", headers: [], length: body.count)
            send(connection, Array(body.prefix(body.count / 2)))
            close(connection)
        case .slow:
            send(connection, head: "200 OK", headers: [], length: body.count)
            let piece = max(1, (body.count + 7) / 8)
            for start in stride(from: 0, to: body.count, by: piece) {
                send(connection, Array(body[start..<min(start + piece, body.count)]))
                usleep(50_000)
            }
            close(connection)
        }
    }

    private func respond(_ connection: Int32, status: String, headers: [String], body: [UInt8]) {
        send(connection, head: status, headers: headers, length: body.count)
        send(connection, body)
        close(connection)
    }

    private func send(_ connection: Int32, head status: String, headers: [String], length: Int) {
        let text = (["HTTP/1.1 \(status)", "Content-Length: \(length)", "Connection: close"] + headers).joined(separator: "\r\n") + "\r\n\r\n"
        send(connection, Array(text.utf8))
    }

    private func send(_ connection: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(connection, $0.baseAddress, $0.count) }
            guard written > 0 else { return }
            offset += written
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
