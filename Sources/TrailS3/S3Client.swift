public import Foundation
internal import TrailHTTP
public import TrailSigV4

/// Where requests go: AWS (virtual-hosted addressing, `https://<bucket>.s3.<region>.amazonaws.com/<key>`)
/// or an S3-compatible server (`--endpoint-url`, path-style addressing: `<endpoint>/<bucket>/<key>`).
public struct S3Endpoint: Sendable, Equatable {
    public var region: String
    /// `scheme://host[:port]` of a custom endpoint; `nil` for AWS.
    public var customURL: String?

    public init(region: String, customURL: String? = nil) {
        self.region = region
        self.customURL = customURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// The URL (without query) and `Host` header of a request for `key` (empty for the bucket itself),
    /// for a bucket in `bucketRegion`.
    func address(bucket: String, key: String, bucketRegion: String) -> (base: String, host: String, path: String) {
        if let customURL {
            let host = customURL.split(separator: "/", maxSplits: 2).dropFirst().first.map(String.init) ?? customURL
            return (customURL, host, "/\(bucket)/\(key)")
        }
        let host = "\(bucket).s3.\(bucketRegion).amazonaws.com"
        return ("https://\(host)", host, "/\(key)")
    }
}

/// An S3 client for one worker: signed ListObjectsV2, GET with the body streamed as it arrives, and PUT.
/// It owns a libcurl handle (connections are reused) and is not `Sendable`.
public final class S3Client {
    public let endpoint: S3Endpoint
    private var credentials: AWSCredentials
    /// One signer per region, reused so that each derives its signing key once a day.
    private var signers: [String: SigV4Signer] = [:]
    /// Renews temporary credentials during long scans, when given.
    private let provider: CredentialProvider?
    private let curl: CurlEasy
    private let now: @Sendable () -> Date
    /// Buckets found to live in another region than the endpoint's (S3 said so in a redirect or an
    /// error): their requests are signed, and on AWS addressed, for that region.
    private var bucketRegions: [String: String] = [:]

    /// - Parameter now: the clock requests are signed with (injected by tests).
    public init(endpoint: S3Endpoint, credentials: AWSCredentials, now: @escaping @Sendable () -> Date = Date.init) throws(S3Error) {
        self.endpoint = endpoint
        self.credentials = credentials
        self.provider = nil
        self.now = now
        do { curl = try CurlEasy() } catch { throw S3Error(kind: .transport(error), resource: "libcurl") }
    }

    /// A client that asks `provider` for credentials before each request (it caches and refreshes them).
    ///
    /// - Parameter stallSeconds: how long a request may receive less than a byte a second.
    public init(endpoint: S3Endpoint, provider: CredentialProvider, stallSeconds: Int = 60) throws(S3Error) {
        self.endpoint = endpoint
        self.provider = provider
        do { credentials = try provider.credentials() } catch { throw S3Error(kind: .credentials(error.description), resource: "credentials") }
        now = Date.init
        do { curl = try CurlEasy() } catch { throw S3Error(kind: .transport(error), resource: "libcurl") }
        curl.stallSeconds = stallSeconds
    }

    /// One page of `ListObjectsV2`.
    public func listObjects(
        bucket: String, prefix: String, delimiter: String? = nil, continuationToken: String? = nil, startAfter: String? = nil,
        maxKeys: Int? = nil
    ) throws(S3Error) -> ListObjectsPage {
        var query: [SigV4Request.Parameter] = [.init("list-type", "2"), .init("prefix", prefix)]
        if let startAfter, continuationToken == nil { query.append(.init("start-after", startAfter)) }
        if let delimiter { query.append(.init("delimiter", delimiter)) }
        if let continuationToken { query.append(.init("continuation-token", continuationToken)) }
        if let maxKeys { query.append(.init("max-keys", String(maxKeys))) }
        var body: [UInt8] = []
        let resource = "s3://\(bucket)/\(prefix)"
        try send(method: "GET", bucket: bucket, key: "", query: query, resource: resource) { chunk in
            body.append(contentsOf: chunk)
            return true
        }
        do {
            return try ListObjectsPage.parse(body)
        } catch {
            throw S3Error(kind: .badResponse("not a complete ListObjectsV2 result: \(error.reason)"), status: 200, resource: resource)
        }
    }

    /// What a GET found besides the body.
    public struct ObjectRead: Sendable {
        /// Bytes received.
        public var bytes: Int
        /// The object's `ETag` (the version read).
        public var etag: String?
        /// User metadata (`x-amz-meta-NAME` headers), by lowercased `NAME`: a CloudTrail digest's
        /// signature is `signature`.
        public var metadata: [String: String]
    }

    /// Streams an object's bytes, as they arrive, to `body`; returning `false` stops the transfer.
    ///
    /// - Throws: `S3Error`; `.truncated` when fewer bytes arrived than `Content-Length` announced.
    @discardableResult
    public func getObject(bucket: String, key: String, body: (UnsafeRawBufferPointer) -> Bool) throws(S3Error) -> ObjectRead {
        var received = 0
        var stopped = false
        let response = try send(method: "GET", bucket: bucket, key: key, query: [], resource: "s3://\(bucket)/\(key)") { chunk in
            received += chunk.count
            if !body(chunk) { stopped = true }
            return !stopped
        }
        if !stopped, let length = response.headers["content-length"].flatMap(Int.init), length != received {
            throw S3Error(kind: .truncated(received: received, expected: length), status: response.status, resource: "s3://\(bucket)/\(key)")
        }
        var metadata: [String: String] = [:]
        for (name, value) in response.headers where name.hasPrefix("x-amz-meta-") { metadata[String(name.dropFirst(11))] = value }
        return ObjectRead(bytes: received, etag: response.headers["etag"].flatMap { $0.isEmpty ? nil : $0 }, metadata: metadata)
    }

    /// Uploads an object (test fixtures and corpora), with user metadata (`x-amz-meta-NAME: value`).
    public func putObject(bucket: String, key: String, bytes: [UInt8], metadata: [String: String] = [:]) throws(S3Error) {
        let headers = metadata.sorted { $0.key < $1.key }.map { SigV4Request.Header("x-amz-meta-\($0.key)", $0.value) }
        try send(method: "PUT", bucket: bucket, key: key, query: [], upload: bytes, headers: headers, resource: "s3://\(bucket)/\(key)") { _ in true }
    }

    /// Signs and sends one request; the body goes to `onBody` only for a 2xx response, an error
    /// response is read whole and classified.
    @discardableResult
    private func send(
        method: String, bucket: String, key: String, query: [SigV4Request.Parameter], upload: [UInt8]? = nil,
        headers extra: [SigV4Request.Header] = [], resource: String, onBody: (UnsafeRawBufferPointer) -> Bool
    ) throws(S3Error) -> CurlEasy.Response {
        do {
            return try sendOnce(method: method, bucket: bucket, key: key, query: query, upload: upload, headers: extra, resource: resource, onBody: onBody)
        } catch {
            switch error.kind {
            case .wrongRegion(let region) where bucketRegions[bucket] != region:
                // The bucket is in another region: re-sign for it (a signature never follows a redirect).
                bucketRegions[bucket] = region
            case .expiredToken where provider != nil:
                // The credentials expired before the time they gave (revoked, or a clock off): renew them
                // once — every worker that was refused the same ones shares one renewal — and sign again.
                provider!.expire(credentials)
            default:
                throw error
            }
            return try sendOnce(method: method, bucket: bucket, key: key, query: query, upload: upload, headers: extra, resource: resource, onBody: onBody)
        }
    }

    private func sendOnce(
        method: String, bucket: String, key: String, query: [SigV4Request.Parameter], upload: [UInt8]?,
        headers extra: [SigV4Request.Header], resource: String, onBody: (UnsafeRawBufferPointer) -> Bool
    ) throws(S3Error) -> CurlEasy.Response {
        let region = bucketRegions[bucket] ?? endpoint.region
        let (base, host, path) = endpoint.address(bucket: bucket, key: key, bucketRegion: region)
        let date = now()
        if let provider {
            do { credentials = try provider.credentials(now: date) } catch {
                throw S3Error(kind: .credentials(error.description), resource: resource)
            }
        }
        var signer = signers[region] ?? SigV4Signer(credentials: credentials, region: region, service: "s3")
        if signer.credentials != credentials { signer.credentials = credentials }
        signer.prepareSigningKey(for: date)
        signers[region] = signer
        let unsigned = SigV4Request(method: method, path: path, query: query, headers: [.init("Host", host)] + extra)
        let payload: SigV4Signer.Payload = upload.map { .bytes($0) } ?? .empty
        let signed = signer.signed(unsigned, payload: payload, date: date, contentHashHeader: true)
        let url = base + signed.encodedPath + (query.isEmpty ? "" : "?" + signed.encodedQuery)
        var status = 0
        var errorBody: [UInt8] = []
        var statusKnown = false
        let headers = signed.headers.map { "\($0.name): \($0.value)" }
        let response: CurlEasy.Response
        do {
            response = try curl.perform(method: method, url: url, headers: headers, upload: upload) { chunk in
                if !statusKnown {
                    status = curl.responseCode ?? 0  // unknown: kept as an error body; perform() then fails
                    statusKnown = true
                }
                if (200..<300).contains(status) { return onBody(chunk) }
                errorBody.append(contentsOf: chunk)
                return errorBody.count < 1 << 20  // an error document is small
            }
        } catch {
            throw S3Error(kind: .transport(error), resource: resource)
        }
        guard (200..<300).contains(response.status) else {
            throw S3Error.from(status: response.status, headers: response.headers, body: errorBody, resource: resource, now: date)
        }
        return response
    }
}

@available(*, unavailable)
extension S3Client: Sendable {}
