internal import Crypto
internal import TrailTime
public import Foundation

/// AWS credentials. The secret and the session token never appear in `description`.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?
    /// When temporary credentials stop working, if known.
    public var expiration: Date?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, expiration: Date? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.expiration = expiration
    }

    public var description: String {
        "AWSCredentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>"
            + (sessionToken == nil ? "" : ", sessionToken: <redacted>") + ")"
    }
}

/// An HTTP request as SigV4 sees it. `path` and the query values are *not* percent-encoded: the signer
/// encodes them as the canonical request requires, and `encodedPath`/`encodedQuery` give the wire form.
public struct SigV4Request: Sendable, Equatable {
    public var method: String
    public var path: String
    public var query: [Parameter]
    public var headers: [Header]

    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(method: String, path: String, query: [Parameter] = [], headers: [Header] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }

    /// The first value of a header (names compare ignoring case).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The path as sent: each segment percent-encoded once.
    public var encodedPath: String { SigV4Signer.encode(path, keepSlash: true) }

    /// The query string as sent, in the given order.
    public var encodedQuery: String {
        query.map { SigV4Signer.encode($0.name) + "=" + SigV4Signer.encode($0.value) }.joined(separator: "&")
    }
}

/// Signs requests with AWS Signature Version 4, stage by stage as the AWS documentation names them:
/// 1. the canonical request, 2. the string to sign, 3. the signing key and the signature.
///
/// Time is always a parameter, so tests are exact. S3 differs from other services in one way that
/// matters here: its paths are neither normalized nor encoded twice (`PathStyle.s3`).
public struct SigV4Signer: Sendable {
    public enum PathStyle: Sendable {
        /// Remove `.` and `..` segments and empty segments (every service but S3).
        case normalized
        /// Sign the path exactly as given (S3: object keys may contain `//`, `.`, `..`).
        case s3
    }

    /// What the body hash in the canonical request is.
    public enum Payload: Sendable, Equatable {
        case empty
        /// `UNSIGNED-PAYLOAD`, allowed by S3 (over TLS, or for bodies not worth hashing).
        case unsigned
        case bytes([UInt8])

        public var hash: String {
            switch self {
            case .empty: SigV4Signer.emptyHash
            case .unsigned: "UNSIGNED-PAYLOAD"
            case .bytes(let body): SigV4Signer.hex(SHA256.hash(data: body))
            }
        }
    }

    /// Where the session token of temporary credentials goes.
    public enum SessionTokenPlacement: Sendable {
        /// As `x-amz-security-token`, included in the signature (what S3 and STS expect).
        case signed
        /// Added after signing, not covered by the signature (some services require this).
        case appendedAfterSigning
    }

    public static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public var credentials: AWSCredentials { didSet { keyOfTheDay = nil } }
    public var region: String { didSet { keyOfTheDay = nil } }
    public var service: String { didSet { keyOfTheDay = nil } }
    public var pathStyle: PathStyle
    /// The signing key of one day (`YYYYMMDD`) for the credentials, region and service above; cleared
    /// when any of them changes.
    private var keyOfTheDay: (day: String, key: [UInt8])?

    public init(credentials: AWSCredentials, region: String, service: String, pathStyle: PathStyle? = nil) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.pathStyle = pathStyle ?? (service == "s3" ? .s3 : .normalized)
    }

    // MARK: - Signing

    /// The request with `x-amz-date`, the session token and `Authorization` added.
    ///
    /// - Parameter contentHashHeader: also send the body hash as `x-amz-content-sha256` (S3 requires it).
    public func signed(
        _ request: SigV4Request, payload: Payload = .empty, date: Date, contentHashHeader: Bool = false,
        sessionToken placement: SessionTokenPlacement = .signed
    ) -> SigV4Request {
        var request = request
        let timestamp = Self.timestamp(date)
        request.headers.removeAll { ["authorization", "x-amz-date"].contains($0.name.lowercased()) }
        request.headers.append(.init("X-Amz-Date", timestamp))
        if contentHashHeader && request.header("x-amz-content-sha256") == nil {
            request.headers.append(.init("x-amz-content-sha256", payload.hash))
        }
        if let token = credentials.sessionToken, placement == .signed {
            request.headers.append(.init("X-Amz-Security-Token", token))
        }
        let canonical = canonicalRequest(request, payloadHash: payload.hash)
        let signature = signature(stringToSign: stringToSign(canonicalRequest: canonical, date: date), date: date)
        request.headers.append(.init(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(date)), "
                + "SignedHeaders=\(signedHeaders(request)), Signature=\(signature)"))
        if let token = credentials.sessionToken, placement == .appendedAfterSigning {
            request.headers.append(.init("X-Amz-Security-Token", token))
        }
        return request
    }

    /// The request with query authentication (a presigned URL's parameters), valid for `expires` seconds.
    func presigned(
        _ request: SigV4Request, expires: Int, date: Date, payload: Payload = .unsigned,
        sessionToken placement: SessionTokenPlacement = .signed
    ) -> SigV4Request {
        var request = request
        request.query += [
            .init("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            .init("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(date))"),
            .init("X-Amz-Date", Self.timestamp(date)),
            .init("X-Amz-Expires", String(expires)),
        ]
        if let token = credentials.sessionToken, placement == .signed {
            request.query.append(.init("X-Amz-Security-Token", token))
        }
        request.query.append(.init("X-Amz-SignedHeaders", signedHeaders(request)))
        let canonical = canonicalRequest(request, payloadHash: payload.hash)
        let signature = signature(stringToSign: stringToSign(canonicalRequest: canonical, date: date), date: date)
        request.query.append(.init("X-Amz-Signature", signature))
        if let token = credentials.sessionToken, placement == .appendedAfterSigning {
            request.query.append(.init("X-Amz-Security-Token", token))
        }
        return request
    }

    // MARK: - Stage 1: the canonical request

    /// `METHOD \n canonical URI \n canonical query \n canonical headers \n \n signed headers \n payload hash`
    func canonicalRequest(_ request: SigV4Request, payloadHash: String) -> String {
        let headers = canonicalHeaders(request)
        return [
            request.method,
            canonicalURI(request.path),
            canonicalQuery(request.query),
            headers.map { "\($0.name):\($0.value)\n" }.joined(),
            headers.map(\.name).joined(separator: ";"),
            payloadHash,
        ].joined(separator: "\n")
    }

    func canonicalURI(_ path: String) -> String {
        guard pathStyle == .normalized else { return path.isEmpty ? "/" : Self.encode(path, keepSlash: true) }
        var segments: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch segment {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(segment)
            }
        }
        let trailingSlash = path.hasSuffix("/") && !segments.isEmpty
        return "/" + segments.map { Self.encode(String($0)) }.joined(separator: "/") + (trailingSlash ? "/" : "")
    }

    func canonicalQuery(_ parameters: [SigV4Request.Parameter]) -> String {
        parameters.map { (Self.encode($0.name), Self.encode($0.value)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }  // byte order of the encoded names, then values
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Lowercased names, sorted; values trimmed with inner runs of whitespace (and folded lines) collapsed
    /// to one space; repeated headers joined with commas in the order given.
    func canonicalHeaders(_ request: SigV4Request) -> [(name: String, value: String)] {
        var merged: [String: [String]] = [:]
        for header in request.headers {
            let value = header.value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" })
                .joined(separator: " ")
            merged[header.name.lowercased(), default: []].append(value)
        }
        return merged.keys.sorted().map { ($0, merged[$0]!.joined(separator: ",")) }
    }

    func signedHeaders(_ request: SigV4Request) -> String {
        Set(request.headers.map { $0.name.lowercased() }).sorted().joined(separator: ";")
    }

    // MARK: - Stage 2: the string to sign

    /// `AWS4-HMAC-SHA256 \n timestamp \n scope \n hex(SHA-256(canonical request))`
    func stringToSign(canonicalRequest: String, date: Date) -> String {
        "AWS4-HMAC-SHA256\n\(Self.timestamp(date))\n\(scope(date))\n"
            + Self.hex(SHA256.hash(data: Array(canonicalRequest.utf8)))
    }

    /// `YYYYMMDD/region/service/aws4_request`
    public func scope(_ date: Date) -> String {
        "\(Self.timestamp(date).prefix(8))/\(region)/\(service)/aws4_request"
    }

    // MARK: - Stage 3: the signing key and the signature

    /// HMAC chain: `"AWS4" + secret` → date → region → service → `"aws4_request"`.
    func signingKey(date: Date) -> [UInt8] {
        let day = String(Self.timestamp(date).prefix(8))
        if let keyOfTheDay, keyOfTheDay.day == day { return keyOfTheDay.key }
        return deriveSigningKey(day: day)
    }

    /// Derives the signing key of `date`'s day once and keeps it: a signer reused for many requests
    /// (one per region in `S3Client`) then skips the four HMACs until the day changes.
    public mutating func prepareSigningKey(for date: Date) {
        let day = String(Self.timestamp(date).prefix(8))
        if keyOfTheDay?.day != day { keyOfTheDay = (day, deriveSigningKey(day: day)) }
    }

    private func deriveSigningKey(day: String) -> [UInt8] {
        var key = Array(("AWS4" + credentials.secretAccessKey).utf8)
        for part in [day, region, service, "aws4_request"] {
            key = Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: SymmetricKey(data: key)))
        }
        return key
    }

    public func signature(stringToSign: String, date: Date) -> String {
        Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: SymmetricKey(data: signingKey(date: date))))
    }

    // MARK: - Encoding

    /// `YYYYMMDDTHHMMSSZ` in UTC (whole seconds, rounded down).
    public static func timestamp(_ date: Date) -> String {
        UTC.basic(Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    /// RFC 3986 percent-encoding of everything but the unreserved characters `A-Z a-z 0-9 - . _ ~`
    /// (and `/` when `keepSlash`), with uppercase hex, as SigV4 requires.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, 0x2D, 0x2E, 0x5F, 0x7E:
                output.append(byte)
            case 0x2F where keepSlash:
                output.append(byte)
            default:
                output.append(UInt8(ascii: "%"))
                output.append(upperHexDigits[Int(byte >> 4)])
                output.append(upperHexDigits[Int(byte & 0xF)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Lowercase hex, as SigV4 writes hashes and signatures.
    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        for byte in digest {
            output.append(lowerHexDigits[Int(byte >> 4)])
            output.append(lowerHexDigits[Int(byte & 0xF)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)
    private static let lowerHexDigits = Array("0123456789abcdef".utf8)
}
