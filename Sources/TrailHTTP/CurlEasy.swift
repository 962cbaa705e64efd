// TrailHTTP: the libcurl easy handle every request of trailscan goes through — S3 and STS, the
// credential endpoints, notification webhooks and SNS (HTTP), and email (SMTP). It knows transports,
// not services: signing and retry policies live with the services.

internal import CCurl
internal import Foundation
internal import Synchronization

/// A failed transfer: libcurl's code and message (connection refused, timeout, reset, truncated body…).
public struct TransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// libcurl's `CURLcode`, or `notACurlCode` when libcurl could not be set up at all.
    public var code: Int32
    public var message: String
    /// For SMTP: the server's last reply code (a 5xx is a refusal for good), 0 if none.
    public var smtpCode: Int

    public init(code: Int32, message: String, smtpCode: Int = 0) {
        self.code = code
        self.message = message
        self.smtpCode = smtpCode
    }

    public var description: String { message }

    /// Timeouts, resets, refused connections and truncated bodies are worth another attempt.
    public var isRetryable: Bool {
        guard code >= 0 else { return false }
        switch CURLcode(UInt32(code)) {
        case CURLE_OPERATION_TIMEDOUT, CURLE_COULDNT_CONNECT, CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR,
             CURLE_GOT_NOTHING, CURLE_COULDNT_RESOLVE_HOST, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return true
        default:
            return false
        }
    }
}

extension TransportError {
    /// The `code` of a failure that did not come from a transfer (no handle, no global initialisation).
    public static let notACurlCode: Int32 = -1
}

/// libcurl's global initialisation, done once before the first handle: its result, once tried.
private let curlGlobalInit: Mutex<CURLcode?> = Mutex(nil)

/// One libcurl easy handle, owned by one worker and reused for all its requests, so that connections
/// (and TLS sessions) are kept alive between them.
///
/// Redirects are never followed (a SigV4 signature does not survive a change of host or region: S3's
/// redirects are handled by re-signing), and content is never decoded by curl (`Accept-Encoding` is
/// not set: S3 bytes arrive as stored and trailscan's decoder, with its limits, does the inflating).
public final class CurlEasy {
    private let handle: UnsafeMutableRawPointer  // CURL* (`typedef void CURL`)
    /// libcurl writes a message here when a transfer fails (`CURL_ERROR_SIZE` bytes).
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// `AWS_CA_BUNDLE`: the certificates to trust instead of the system's (read once, not per request).
    private let caBundle: String?
    /// A transfer that receives less than a byte a second for this long is stalled, and fails (to be
    /// retried by the caller).
    public var stallSeconds = 60

    public struct Response: Sendable {
        public var status: Int
        /// Headers of the final response, names lowercased.
        public var headers: [String: String]
    }

    public init() throws(TransportError) {
        let initialised = curlGlobalInit.withLock { result in
            if result == nil { result = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }
            return result!
        }
        guard initialised == CURLE_OK else {
            throw TransportError(code: Int32(initialised.rawValue), message: "cannot initialise libcurl: \(String(cString: curl_easy_strerror(initialised)))")
        }
        guard let handle = curl_easy_init() else {
            throw TransportError(code: TransportError.notACurlCode, message: "cannot create a libcurl handle")
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        caBundle = ProcessInfo.processInfo.environment["AWS_CA_BUNDLE"].flatMap { $0.isEmpty ? nil : $0 }
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// The HTTP status of the response being received (valid from the first body byte on); `nil` if
    /// libcurl cannot tell.
    public var responseCode: Int? {
        var status = 0
        guard trailscan_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK else { return nil }
        return status
    }

    /// State shared with the C callbacks for one transfer.
    private final class Transfer {
        var headers: [String: String] = [:]
        let body: (UnsafeRawBufferPointer) -> Bool
        var aborted = false

        init(body: @escaping (UnsafeRawBufferPointer) -> Bool) {
            self.body = body
        }
    }

    /// Performs one request. The response body is handed to `body` as it arrives; returning `false`
    /// aborts the transfer (the call then returns the response as far as it got).
    ///
    /// - Parameter timeout: seconds the whole transfer may take (none by default: a slow S3 body keeps
    ///   going as long as it moves).
    public func perform(
        method: String, url: String, headers: [String], upload: [UInt8]? = nil, timeout: Double? = nil,
        body: (UnsafeRawBufferPointer) -> Bool
    ) throws(TransportError) -> Response {
        try withoutActuallyEscaping(body) { (body) throws(TransportError) -> Response in
            let transfer = Transfer(body: body)
            let context = Unmanaged.passUnretained(transfer).toOpaque()
            curl_easy_reset(handle)  // keeps the connection cache
            errorBuffer[0] = 0
            var list: UnsafeMutablePointer<curl_slist>?
            // "Expect:" stops curl from waiting for 100-continue before an upload.
            for header in headers + ["Expect:"] { list = curl_slist_append(list, header) }
            defer { curl_slist_free_all(list) }

            try set(CURLOPT_URL, url)
            try set(CURLOPT_NOSIGNAL, 1)
            try set(CURLOPT_FOLLOWLOCATION, 0)
            try set(CURLOPT_PROTOCOLS_STR, "http,https")
            try set(CURLOPT_TCP_KEEPALIVE, 1)
            try set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
            // A transfer slower than 1 byte/s for `stallSeconds` is stalled: fail it so it can be retried.
            try set(CURLOPT_LOW_SPEED_LIMIT, 1)
            try set(CURLOPT_LOW_SPEED_TIME, stallSeconds)
            if let caBundle { try set(CURLOPT_CAINFO, caBundle) }
            if let timeout { try set(CURLOPT_TIMEOUT_MS, Int(timeout * 1000)) }
            try check(trailscan_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
            try check(trailscan_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list))
            if method == "HEAD" {
                try set(CURLOPT_NOBODY, 1)
            } else if method != "GET" {
                try set(CURLOPT_CUSTOMREQUEST, method)
            }
            try check(trailscan_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION, { data, size, count, context in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                guard transfer.body(UnsafeRawBufferPointer(start: data, count: length)) else {
                    transfer.aborted = true
                    return 0  // makes curl stop with CURLE_WRITE_ERROR
                }
                return length
            }))
            try check(trailscan_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context))
            try check(trailscan_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION, { data, size, count, context in
                let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                let line = UnsafeRawBufferPointer(start: data, count: length)
                if line.starts(with: "HTTP/".utf8) {
                    transfer.headers = [:]  // a new response (after 100 Continue, say)
                } else if let (name, value) = CurlEasy.header(line) {
                    transfer.headers[name] = value
                }
                return length
            }))
            try check(trailscan_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context))

            let result: CURLcode = try withUpload(upload) { () throws(TransportError) in curl_easy_perform(handle) }
            if result != CURLE_OK && !(result == CURLE_WRITE_ERROR && transfer.aborted) {
                let detail = String(cString: errorBuffer)
                let summary = String(cString: curl_easy_strerror(result))
                throw TransportError(code: Int32(result.rawValue), message: detail.isEmpty ? summary : "\(summary): \(detail)")
            }
            guard let status = responseCode else {
                throw TransportError(code: TransportError.notACurlCode, message: "libcurl did not report the HTTP status")
            }
            return Response(status: status, headers: transfer.headers)
        }
    }

    /// Sends one email over SMTP (`smtp://host[:port]`, upgraded with STARTTLS; `smtps://host[:port]`, TLS
    /// from the start).
    ///
    /// - Parameters:
    ///   - message: the whole RFC 5322 message, CRLF line ends.
    ///   - requireTLS: refuse a `smtp://` server that does not offer STARTTLS (else plain text is used
    ///     when TLS is not offered).
    ///   - caFile: certificates to trust instead of the system's.
    /// - Returns: the server's last reply code (250 when the message was accepted).
    /// - Throws: `TransportError`, with the server's reply in its message; `smtpCode` then says whether
    ///   it refused for good (5xx).
    public func sendMail(
        url: String, from: String, recipients: [String], message: [UInt8], username: String?, password: String?,
        requireTLS: Bool, caFile: String?, timeout: Double
    ) throws(TransportError) -> Int {
        final class Reader {
            let bytes: [UInt8]
            var offset = 0
            init(_ bytes: [UInt8]) { self.bytes = bytes }
        }
        let reader = Reader(message)
        let context = Unmanaged.passUnretained(reader).toOpaque()
        curl_easy_reset(handle)
        errorBuffer[0] = 0
        var list: UnsafeMutablePointer<curl_slist>?
        for recipient in recipients { list = curl_slist_append(list, "<\(recipient)>") }
        defer { curl_slist_free_all(list) }
        try set(CURLOPT_URL, url)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_PROTOCOLS_STR, "smtp,smtps")
        try set(CURLOPT_CONNECTTIMEOUT_MS, 10_000)
        try set(CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        try set(CURLOPT_USE_SSL, Int(requireTLS ? CURLUSESSL_ALL.rawValue : CURLUSESSL_TRY.rawValue))
        if let file = caFile ?? caBundle { try set(CURLOPT_CAINFO, file) }
        if let username { try set(CURLOPT_USERNAME, username) }
        if let password { try set(CURLOPT_PASSWORD, password) }
        try set(CURLOPT_MAIL_FROM, "<\(from)>")
        try check(trailscan_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, list))
        try set(CURLOPT_UPLOAD, 1)
        try check(trailscan_curl_setopt_off_t(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(message.count)))
        try check(trailscan_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        try check(trailscan_curl_setopt_callback(handle, CURLOPT_READFUNCTION, { buffer, size, count, context in
            let reader = Unmanaged<Reader>.fromOpaque(context!).takeUnretainedValue()
            let length = min(size * count, reader.bytes.count - reader.offset)
            reader.bytes.withUnsafeBytes { bytes in
                // Safe: `length` fits both the rest of the message and curl's buffer.
                UnsafeMutableRawPointer(buffer!).copyMemory(from: bytes.baseAddress! + reader.offset, byteCount: length)
            }
            reader.offset += length
            return length
        }))
        try check(trailscan_curl_setopt_pointer(handle, CURLOPT_READDATA, context))
        let result = withExtendedLifetime(reader) { curl_easy_perform(handle) }
        let code = responseCode ?? 0
        guard result == CURLE_OK else {
            let detail = String(cString: errorBuffer)
            let summary = String(cString: curl_easy_strerror(result))
            throw TransportError(code: Int32(result.rawValue), message: detail.isEmpty ? summary : "\(summary): \(detail)", smtpCode: code)
        }
        return code
    }

    /// A header line's name (lowercased) and value (without the surrounding spaces, tabs and line end).
    public static func header(_ line: UnsafeRawBufferPointer) -> (name: String, value: String)? {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var start = colon + 1
        var end = line.count
        while start < end, isSpace(line[start]) { start += 1 }
        while end > start, isSpace(line[end - 1]) { end -= 1 }
        let name = String(decoding: line[..<colon].lazy.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        return (name, String(decoding: line[start..<end], as: UTF8.self))
    }

    /// Sets the upload body (kept alive for the whole call) around `body`.
    private func withUpload(_ upload: [UInt8]?, _ body: () throws(TransportError) -> CURLcode) throws(TransportError) -> CURLcode {
        guard let upload else { return try body() }
        let result: Result<CURLcode, TransportError> = upload.withUnsafeBytes { bytes in
            do throws(TransportError) {
                try check(trailscan_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(bytes.count)))
                try check(trailscan_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: bytes.baseAddress)))
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    private func set(_ option: CURLoption, _ value: Int) throws(TransportError) {
        try check(trailscan_curl_setopt_long(handle, option, value))
    }

    private func set(_ option: CURLoption, _ value: String) throws(TransportError) {
        // libcurl copies string options (CURLOPT_URL etc.) since 7.17.
        try check(value.withCString { trailscan_curl_setopt_string(handle, option, $0) })
    }

    private func check(_ code: CURLcode) throws(TransportError) {
        guard code == CURLE_OK else {
            throw TransportError(code: Int32(code.rawValue), message: String(cString: curl_easy_strerror(code)))
        }
    }
}

@available(*, unavailable)
extension CurlEasy: Sendable {}
