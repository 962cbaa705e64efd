import Foundation
import Glibc

/// A minimal HTTP/1.1 server on a free port of 127.0.0.1 for tests: one request per connection
/// (`Connection: close`), handled in turn on one thread by a handler that writes whatever it likes —
/// a normal response, or a broken one. Stops when `stop()` closes its socket.
public final class LoopbackHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        /// The target as sent (path and query, percent-encoded).
        public var target: String
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: [UInt8]

        /// The decoded path, without the query.
        public var path: String {
            let raw = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
            return raw.removingPercentEncoding ?? raw
        }
    }

    /// The accepted connection a handler answers on.
    public struct Connection: Sendable {
        let fd: Int32

        public func respond(_ status: String, headers: [String] = [], body: [UInt8]) {
            head(status, headers: headers, length: body.count)
            send(body)
            close()
        }

        public func head(_ status: String, headers: [String] = [], length: Int) {
            let text = (["HTTP/1.1 \(status)", "Content-Length: \(length)", "Connection: close"] + headers)
                .joined(separator: "\r\n") + "\r\n\r\n"
            send(Array(text.utf8))
        }

        public func send(_ bytes: [UInt8]) {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                guard written > 0 else { return }
                offset += written
            }
        }

        public func close() { _ = Glibc.close(fd) }

        /// Closes with a TCP reset (SO_LINGER 0): the peer sees "connection reset".
        public func reset() {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
            close()
        }
    }

    public let port: Int
    private let socket: Int32

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    public init(handler: @escaping @Sendable (Request, Connection) -> Void) {
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        port = Loopback.bind(fd)
        listen(fd, 16)
        socket = fd
        Thread {
            // The accept thread owns the listening socket and closes it when `stop()` has shut it
            // down: closing it from another thread could let a new socket reuse the descriptor while
            // this loop still accepts on it.
            defer { _ = Glibc.close(fd) }
            while true {
                let connection = accept(fd, nil, nil)
                guard connection >= 0 else { return }
                if let request = Self.read(connection) {
                    handler(request, Connection(fd: connection))
                } else {
                    _ = Glibc.close(connection)
                }
            }
        }.start()
    }

    /// Stops accepting: `accept` fails on the shut-down socket and the accept thread closes it.
    public func stop() {
        shutdown(socket, Int32(SHUT_RDWR))
    }

    /// Reads one request: head up to the blank line, then `Content-Length` bytes of body.
    private static func read(_ connection: Int32) -> Request? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var headEnd: Int?
        while headEnd == nil {
            let count = Glibc.read(connection, &buffer, buffer.count)
            guard count > 0 else { return nil }
            data += buffer[..<count]
            headEnd = data.indices.dropLast(3).first { data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10 }
        }
        let head = String(decoding: data[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let line = head[0].split(separator: " ")
        var headers: [String: String] = [:]
        for field in head.dropFirst() {
            guard let colon = field.firstIndex(of: ":") else { continue }
            headers[field[..<colon].lowercased()] = field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(data[(headEnd! + 4)...])
        let length = Int(headers["content-length"] ?? "") ?? 0
        while body.count < length {
            let count = Glibc.read(connection, &buffer, buffer.count)
            guard count > 0 else { break }
            body += buffer[..<count]
        }
        return Request(method: line.first.map(String.init) ?? "", target: line.count > 1 ? String(line[1]) : "/",
                       headers: headers, body: body)
    }
}
