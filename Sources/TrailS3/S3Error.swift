internal import Foundation
public import TrailHTTP
internal import TrailTime

/// Why an S3 request failed, with what a user needs to act on it.
public struct S3Error: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case accessDenied
        case noSuchBucket
        case noSuchKey
        case expiredToken
        case invalidAccessKey
        case signatureMismatch
        /// The local clock differs from the server's by `skewSeconds` (local minus server).
        case clockSkew(skewSeconds: Int?)
        /// Throttling, 5xx or `SlowDown`: worth another attempt (after `retryAfter` seconds if given).
        case unavailable(retryAfter: Double?)
        /// The response ended before its announced length.
        case truncated(received: Int, expected: Int)
        case transport(TransportError)
        /// Credentials could not be obtained or renewed.
        case credentials(String)
        /// The bucket is in `region`, not in the one the request was signed for.
        case wrongRegion(String)
        /// A 2xx response whose body is not what the request returns (a listing that is not a complete
        /// `ListBucketResult`, one that repeats its continuation token): worth another attempt.
        case badResponse(String)
        case other
    }

    public var kind: Kind
    public var status: Int
    /// S3's error code (`AccessDenied`, `SlowDown`…), if the response had one.
    public var code: String?
    public var message: String?
    /// What the request was for: `s3://bucket/key` or `s3://bucket/prefix`.
    public var resource: String

    public init(kind: Kind, status: Int = 0, code: String? = nil, message: String? = nil, resource: String) {
        self.kind = kind
        self.status = status
        self.code = code
        self.message = message
        self.resource = resource
    }

    public var isRetryable: Bool {
        switch kind {
        case .unavailable, .truncated, .badResponse: true
        case .transport(let error): error.isRetryable
        default: false
        }
    }

    public var description: String {
        switch kind {
        case .accessDenied:
            "access denied (AccessDenied): the credentials need s3:ListBucket on the bucket and s3:GetObject on the "
                + "objects, and kms:Decrypt on the trail's KMS key when the logs are encrypted with SSE-KMS"
        case .noSuchBucket: "the bucket does not exist (NoSuchBucket)"
        case .noSuchKey: "the object does not exist (NoSuchKey)"
        case .expiredToken: "the session token has expired (ExpiredToken): get fresh credentials"
        case .invalidAccessKey: "the access key id is not known to S3 (InvalidAccessKeyId)"
        case .signatureMismatch:
            "the request signature does not match (SignatureDoesNotMatch): check the secret access key"
        case .clockSkew(let skew):
            "the local clock is too far from S3's (RequestTimeTooSkewed)"
                + (skew.map { ": it is \($0 > 0 ? "ahead" : "behind") by \(abs($0)) s; fix the system time" } ?? "")
        case .unavailable:
            "S3 is unavailable or throttling (HTTP \(status)\(code.map { ", \($0)" } ?? ""))"
        case .truncated(let received, let expected):
            "the response was cut short after \(received) of \(expected) bytes"
        case .transport(let error):
            "network error: \(error.message)"
        case .credentials(let reason):
            "cannot get AWS credentials: \(reason)"
        case .wrongRegion(let region):
            "the bucket is in \(region) (PermanentRedirect)"
        case .badResponse(let reason):
            "unusable response: \(reason)"
        case .other:
            "HTTP \(status)" + (code.map { " \($0)" } ?? "") + (message.map { ": \($0)" } ?? "")
        }
    }

    /// Classifies an error response from its status, headers and XML body.
    static func from(status: Int, headers: [String: String], body: [UInt8], resource: String, now: Date) -> S3Error {
        let fields = ErrorDocument.parse(body)
        let code = fields["Code"]
        // A bucket in another region: 301 (PermanentRedirect), 307, or 400 with the right region named.
        if let region = headers["x-amz-bucket-region"] ?? fields["Region"], [301, 307, 400].contains(status) {
            return S3Error(kind: .wrongRegion(region), status: status, code: code, message: fields["Message"], resource: resource)
        }
        var kind: Kind
        switch code {
        case "AccessDenied", "AllAccessDisabled", "KMS.AccessDeniedException": kind = .accessDenied
        case "NoSuchBucket": kind = .noSuchBucket
        case "NoSuchKey": kind = .noSuchKey
        case "ExpiredToken", "TokenRefreshRequired": kind = .expiredToken
        case "InvalidAccessKeyId": kind = .invalidAccessKey
        case "SignatureDoesNotMatch": kind = .signatureMismatch
        case "RequestTimeTooSkewed":
            let server = fields["ServerTime"].flatMap { UTC.seconds(rfc3339: $0) } ?? headers["date"].flatMap { UTC.seconds(httpDate: $0) }
            kind = .clockSkew(skewSeconds: server.map { Int((now.timeIntervalSince1970 - Double($0)).rounded()) })
        case "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError", "ServiceUnavailable":
            kind = .unavailable(retryAfter: headers["retry-after"].flatMap(Double.init))
        default:
            switch status {
            case 403: kind = .accessDenied
            case 404: kind = code == nil ? .noSuchKey : .other
            case 429, 500...599: kind = .unavailable(retryAfter: headers["retry-after"].flatMap(Double.init))
            default: kind = .other
            }
        }
        return S3Error(kind: kind, status: status, code: code, message: fields["Message"], resource: resource)
    }
}
