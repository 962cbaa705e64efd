import Foundation
import TrailTestSupport
import Testing
import TrailSigV4
import Synchronization
@testable import TrailS3
import TrailHTTP

func server() throws -> S3TestServer { try S3TestServer.shared.get() }

func client(secret: String = S3TestServer.secretKey, now: @escaping @Sendable () -> Date = Date.init) throws -> S3Client {
    try S3Client(
        endpoint: S3Endpoint(region: "us-east-1", customURL: try server().endpoint),
        credentials: AWSCredentials(accessKeyID: S3TestServer.accessKey, secretAccessKey: secret), now: now)
}

@Suite(.serialized) struct S3ClientTests {
    let bucket = S3TestServer.bucket

    @Test func putListAndGetRoundTripThroughARealServer() throws {
        let s3 = try client()
        let keys = (0..<7).map { "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/0\($0 % 3 + 1)/object-\($0).json.gz" }
        for (index, key) in keys.enumerated() {
            try s3.putObject(bucket: bucket, key: key, bytes: Array("payload \(index) ".utf8) + [UInt8](repeating: UInt8(index), count: 100_000))
        }
        // Delimiter listing gives the day "folders".
        let days = try s3.listObjects(bucket: bucket, prefix: "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/", delimiter: "/")
        #expect(days.prefixes == ["01", "02", "03"].map { "AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/\($0)/" })
        #expect(days.objects.isEmpty)
        // Continuation tokens page through everything.
        var listed: [ListObjectsPage.Object] = []
        var token: String?
        var pages = 0
        repeat {
            let page = try s3.listObjects(bucket: bucket, prefix: "AWSLogs/111122223333/", continuationToken: token, maxKeys: 3)
            listed += page.objects
            token = page.continuationToken
            pages += 1
        } while token != nil
        #expect(pages == 3)
        #expect(listed.map(\.key) == keys.sorted())
        #expect(listed.allSatisfy { $0.size == 100_000 + 10 })
        // The body arrives in chunks, streamed.
        var received: [UInt8] = []
        var chunks = 0
        let count = try s3.getObject(bucket: bucket, key: keys[4]) { chunk in
            received += chunk
            chunks += 1
            return true
        }
        #expect(count.bytes == 100_010 && received == Array("payload 4 ".utf8) + [UInt8](repeating: 4, count: 100_000))
        #expect(chunks > 1)
    }

    @Test func keysThatNeedEncodingAreSignedAndSentCorrectly() throws {
        let s3 = try client()
        let key = "odd/a b+c=d&e%f/é日本~(1).json"
        try s3.putObject(bucket: bucket, key: key, bytes: Array("x".utf8))
        let page = try s3.listObjects(bucket: bucket, prefix: "odd/a b+c")
        #expect(page.objects.map(\.key) == [key])
        var body: [UInt8] = []
        try s3.getObject(bucket: bucket, key: key) { body += $0; return true }
        #expect(body == Array("x".utf8))
    }

    @Test func aWrongSecretIsASignatureMismatch() throws {
        let error = #expect(throws: S3Error.self) { _ = try client(secret: "not-the-secret").listObjects(bucket: bucket, prefix: "") }
        #expect(error?.kind == .signatureMismatch)
        #expect(error?.description == "the request signature does not match (SignatureDoesNotMatch): check the secret access key")
        #expect(error?.isRetryable == false)
    }

    @Test func missingBucketsAndKeysAreNamed() throws {
        let s3 = try client()
        let bucketError = #expect(throws: S3Error.self) { _ = try s3.listObjects(bucket: "no-such-bucket", prefix: "") }
        #expect(bucketError?.kind == .noSuchBucket)
        let keyError = #expect(throws: S3Error.self) { try s3.getObject(bucket: bucket, key: "missing.json.gz") { _ in true } }
        #expect(keyError?.kind == .noSuchKey)
        #expect(keyError?.resource == "s3://trail/missing.json.gz")
    }

    @Test func aSkewedClockIsReportedWithTheDifference() throws {
        let s3 = try client(now: { Date().addingTimeInterval(3600) })
        let error = #expect(throws: S3Error.self) { _ = try s3.listObjects(bucket: bucket, prefix: "") }
        guard case .clockSkew(let skew)? = error?.kind else {
            Issue.record("expected a clock skew error, got \(String(describing: error))")
            return
        }
        #expect(skew.map { abs($0 - 3600) < 120 } == true)
        #expect(error?.description.hasPrefix("the local clock is too far from S3's (RequestTimeTooSkewed): it is ahead by ") == true)
    }

    @Test func aRefusedConnectionIsARetryableTransportError() throws {
        let s3 = try S3Client(endpoint: S3Endpoint(region: "us-east-1", customURL: "http://127.0.0.1:9"),
                              credentials: AWSCredentials(accessKeyID: "a", secretAccessKey: "b"))
        let error = #expect(throws: S3Error.self) { _ = try s3.listObjects(bucket: "x", prefix: "") }
        guard case .transport(let transport)? = error?.kind else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(transport.isRetryable)
        #expect(error?.description.hasPrefix("network error: Couldn't connect to server") == true)
    }

    @Test func aBucketInAnotherRegionIsReSignedForIt() throws {
        let recorded = Recorded()
        let server = LoopbackHTTPServer { request, connection in
            recorded.requests.withLock { $0.append(request) }
            if request.headers["authorization"]?.contains("/eu-west-3/s3/aws4_request") == true {
                connection.respond("200 OK", body: Array("<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k.json.gz</Key><Size>1</Size></Contents></ListBucketResult>".utf8))
            } else {
                connection.respond("301 Moved Permanently", headers: ["x-amz-bucket-region: eu-west-3"],
                                   body: Array("<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting to access must be addressed using the specified endpoint.</Message></Error>".utf8))
            }
        }
        defer { server.stop() }
        let s3 = try S3Client(endpoint: S3Endpoint(region: "us-east-1", customURL: server.endpoint),
                              credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "s"))
        #expect(try s3.listObjects(bucket: "b", prefix: "").objects.map(\.key) == ["k.json.gz"])
        #expect(try s3.listObjects(bucket: "b", prefix: "").objects.count == 1)  // remembered: no second redirect
        let scopes = recorded.requests.withLock { $0.map { $0.headers["authorization"]!.contains("/us-east-1/") ? "us-east-1" : "eu-west-3" } }
        #expect(scopes == ["us-east-1", "eu-west-3", "eu-west-3"])
        #expect(S3Endpoint(region: "us-east-1").address(bucket: "b", key: "k", bucketRegion: "eu-west-3").host == "b.s3.eu-west-3.amazonaws.com")
    }

    /// Found by the s3 fuzz target when Foundation's XMLParser read these bodies (it trapped on an element
    /// name that is not UTF-8, and dereferenced NULL on a processing instruction without data); and
    /// credentials with an empty key are no credentials.
    @Test func responsesThatAreNotUTF8OrEmptyCredentialsAreRefused() {
        let body = Array("<Error><Code>SlowDown</Code><Messag".utf8) + [0xFD, 0xFD] + Array(">x</Messag".utf8) + [0xFD, 0xFD] + Array("></Error>".utf8)
        #expect(ErrorDocument.parse(body) == [:])
        #expect(throws: ListObjectsPage.Malformed(reason: "invalid XML: the body is not UTF-8 at byte 22")) {
            try ListObjectsPage.parse(Array("<ListBucketResult><Key".utf8) + [0xFF] + Array("/></ListBucketResult>".utf8))
        }
        // DOCTYPEs carry entity declarations.
        #expect(ErrorDocument.parse(Array("<Error><?t?><Code>SlowDown</Code></Error>".utf8)) == [:])
        #expect(ErrorDocument.parse(Array("<?xml (><?e?>sg".utf8)) == [:])  // a "declaration" hiding a PI
        #expect(throws: ListObjectsPage.Malformed(reason: "invalid XML: a DOCTYPE, comment or CDATA section at byte 21")) {
            try ListObjectsPage.parse(Array("<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"b\">]><ListBucketResult/>".utf8))
        }
        #expect(ErrorDocument.parse(Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code></Error>".utf8)) == ["Code": "SlowDown"])
        #expect(throws: CredentialsError("STS: no credentials in the response")) {
            try CredentialProvider.stsCredentials(ErrorDocument.parse(Array("<Credentials><AccessKeyId></AccessKeyId><SecretAccessKey>s</SecretAccessKey></Credentials>".utf8)), what: "STS")
        }
        #expect(throws: CredentialsError("IMDS: unreadable response")) {
            try CredentialProvider.jsonCredentials(Array(#"{"AccessKeyId":"AKID","SecretAccessKey":""}"#.utf8), what: "IMDS")
        }
    }

    @Test func errorDocumentsAreClassified() {
        let body = Array("<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>".utf8)
        let slow = S3Error.from(status: 503, headers: ["retry-after": "2"], body: body, resource: "s3://b/k", now: Date())
        #expect(slow.kind == .unavailable(retryAfter: 2) && slow.isRetryable)
        let denied = S3Error.from(status: 403, headers: [:], body: Array("<Error><Code>AccessDenied</Code></Error>".utf8), resource: "s3://b/k", now: Date())
        #expect(denied.kind == .accessDenied && denied.description.contains("kms:Decrypt"))
        #expect(S3Error.from(status: 400, headers: [:], body: Array("<Error><Code>ExpiredToken</Code></Error>".utf8), resource: "", now: Date()).kind == .expiredToken)
    }

    @Test func headerLinesAreSplitTrimmedAndLowercased() {
        func parse(_ line: String) -> [String]? {
            Array(line.utf8).withUnsafeBytes { CurlEasy.header($0) }.map { [$0.name, $0.value] }
        }
        #expect(parse("Content-Length: 1234\r\n") == ["content-length", "1234"])
        #expect(parse("X-Amz-Request-Id:\tABC DEF \t\r\n") == ["x-amz-request-id", "ABC DEF"])
        #expect(parse("ETag: \"a:b\"\r\n") == ["etag", "\"a:b\""])
        #expect(parse("Empty:\r\n") == ["empty", ""])
        #expect(parse("Retry-After:   \r\n") == ["retry-after", ""])
        #expect(parse("\r\n") == nil)
        #expect(parse("no colon here\r\n") == nil)
    }
}
