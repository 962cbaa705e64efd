import Foundation
import Testing
@testable import TrailSigV4

/// The published AWS SigV4 test vectors (see `Vectors/README.md`), run byte for byte.
enum Vectors {
    static let root = Bundle.module.resourceURL!.appendingPathComponent("Vectors")

    static func text(_ url: URL) -> String? { try? String(contentsOf: url, encoding: .utf8) }

    /// Parses a request file: `METHOD path[?query] HTTP/1.1`, `Name:value` headers (continuation lines
    /// start with whitespace), a blank line, the body.
    static func request(_ text: String) -> (SigV4Request, body: [UInt8]) {
        var lines = text.components(separatedBy: "\n")
        let first = lines.removeFirst()
        let method = String(first.prefix { $0 != " " })
        var target = String(first.dropFirst(method.count + 1))
        if target.hasSuffix(" HTTP/1.1") { target.removeLast(" HTTP/1.1".count) }
        let pathPart = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [SigV4Request.Parameter] = []
        if pathPart.count == 2 {
            for pair in pathPart[1].split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
                let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
                query.append(.init(name, value))
            }
        }
        var headers: [SigV4Request.Header] = []
        var bodyLines: [String]?
        for line in lines {
            if bodyLines != nil {
                bodyLines!.append(line)
            } else if line.isEmpty {
                bodyLines = []
            } else if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += "\n" + line
            } else if let colon = line.firstIndex(of: ":") {
                headers.append(.init(String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
        }
        var path = String(pathPart[0])
        if !path.hasPrefix("/") { path = "/" + path }
        return (SigV4Request(method: method, path: path, query: query, headers: headers),
                Array((bodyLines ?? []).joined(separator: "\n").utf8))
    }

    static func date(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }
}

@Suite struct SigV4ConformanceTests {
    static let suite2015 = Vectors.root.appendingPathComponent("aws-sig-v4-test-suite-2015/aws-sig-v4-test-suite")

    /// Every case folder of the 2015 suite (nested ones included).
    static let cases2015: [String] = {
        let manager = FileManager.default
        var cases: [String] = []
        for case let url as URL in manager.enumerator(at: suite2015, includingPropertiesForKeys: nil)!
        where url.pathExtension == "req" {
            cases.append(url.deletingPathExtension().path.replacingOccurrences(of: suite2015.path + "/", with: ""))
        }
        return cases.sorted()
    }()

    @Test func theSuitesAreAllThere() {
        #expect(Self.cases2015.count == 31)
        #expect(Self.casesCAuth.count == 38)
    }

    @Test(arguments: cases2015)
    func awsTestSuite2015(_ name: String) throws {
        let base = Self.suite2015.appendingPathComponent(name)
        let (request, body) = Vectors.request(try #require(Vectors.text(base.appendingPathExtension("req"))))
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            region: "us-east-1", service: "service")
        let date = Vectors.date("2015-08-30T12:36:00Z")
        let canonical = signer.canonicalRequest(request, payloadHash: SigV4Signer.Payload.bytes(body).hash)
        let expectedCanonical = try #require(Vectors.text(base.appendingPathExtension("creq")))
        let expectedStringToSign = try #require(Vectors.text(base.appendingPathExtension("sts")))
        if name.hasSuffix("get-header-value-multiline") {
            // This suite joins folded lines with commas; the maintained aws-c-auth suite, and the SDKs,
            // with spaces (its case of the same name passes). trailscan follows aws-c-auth.
            #expect(expectedCanonical.contains("my-header1:value1,value2,value3\n"))
            #expect(canonical == expectedCanonical.replacingOccurrences(of: "value1,value2,value3", with: "value1 value2 value3"))
            return
        }
        #expect(canonical == expectedCanonical)
        // Two republished cases added Content-Length to .req/.creq but kept the old .sts/.authz: there the
        // vector's string to sign does not hash its own canonical request. Their aws-c-auth twins pass.
        let vectorIsConsistent = signer.stringToSign(canonicalRequest: expectedCanonical, date: date) == expectedStringToSign
        #expect(vectorIsConsistent == !Self.inconsistent2015.contains(name), "\(name)")
        guard vectorIsConsistent else { return }
        #expect(signer.stringToSign(canonicalRequest: canonical, date: date) == expectedStringToSign)
        let signed = signer.signed(request, payload: .bytes(body), date: date)
        #expect(signed.header("Authorization") == Vectors.text(base.appendingPathExtension("authz")))
    }

    static let inconsistent2015: Set<String> = [
        "post-x-www-form-urlencoded/post-x-www-form-urlencoded",
        "post-x-www-form-urlencoded-parameters/post-x-www-form-urlencoded-parameters",
    ]

    static let cAuthRoot = Vectors.root.appendingPathComponent("aws-c-auth-aws-signing-test-suite/v4")
    static let casesCAuth: [String] = (try? FileManager.default.contentsOfDirectory(atPath: cAuthRoot.path).sorted()) ?? []

    @Test(arguments: casesCAuth)
    func awsCAuthSuite(_ name: String) throws {
        let base = Self.cAuthRoot.appendingPathComponent(name)
        let context = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: base.appendingPathComponent("context.json"))) as? [String: Any])
        let credentials = try #require(context["credentials"] as? [String: String])
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: credentials["access_key_id"]!, secretAccessKey: credentials["secret_access_key"]!,
                                        sessionToken: credentials["token"]),
            region: context["region"] as! String, service: context["service"] as! String,
            pathStyle: context["normalize"] as? Bool == false ? .s3 : .normalized)
        let date = Vectors.date(context["timestamp"] as! String)
        let (request, body) = Vectors.request(try #require(Vectors.text(base.appendingPathComponent("request.txt"))))
        let signBody = context["sign_body"] as? Bool == true
        let payload: SigV4Signer.Payload = signBody ? .bytes(body) : .empty

        // Header signing.
        let placement: SigV4Signer.SessionTokenPlacement = context["omit_session_token"] as? Bool == true ? .appendedAfterSigning : .signed
        let signed = signer.signed(request, payload: payload, date: date, contentHashHeader: signBody, sessionToken: placement)
        var beforeAuthorization = signed
        beforeAuthorization.headers.removeAll { $0.name == "Authorization" }
        if placement == .appendedAfterSigning { beforeAuthorization.headers.removeAll { $0.name == "X-Amz-Security-Token" } }
        let canonical = signer.canonicalRequest(beforeAuthorization, payloadHash: payload.hash)
        #expect(canonical == Vectors.text(base.appendingPathComponent("header-canonical-request.txt")))
        let stringToSign = signer.stringToSign(canonicalRequest: canonical, date: date)
        #expect(stringToSign == Vectors.text(base.appendingPathComponent("header-string-to-sign.txt")))
        let signature = try #require(Vectors.text(base.appendingPathComponent("header-signature.txt")))
        #expect(signed.header("Authorization")?.hasSuffix("Signature=\(signature)") == true)

        // Query signing (presigned URLs), where the suite has it.
        if let expectedQuerySignature = Vectors.text(base.appendingPathComponent("query-signature.txt")) {
            let expires = context["expiration_in_seconds"] as? Int ?? 3600
            let presigned = signer.presigned(request, expires: expires, date: date, payload: payload, sessionToken: placement)
            var unsigned = presigned
            unsigned.query.removeAll { $0.name == "X-Amz-Signature" }
            if placement == .appendedAfterSigning { unsigned.query.removeAll { $0.name == "X-Amz-Security-Token" } }
            let queryCanonical = signer.canonicalRequest(unsigned, payloadHash: payload.hash)
            #expect(queryCanonical == Vectors.text(base.appendingPathComponent("query-canonical-request.txt")))
            #expect(presigned.query.contains(.init("X-Amz-Signature", expectedQuerySignature)))
        }
    }

    @Test func s3DocumentationExamples() throws {
        let url = Vectors.root.appendingPathComponent("s3-docs-examples/s3-sigv4-examples.json")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let credentials = document["credentials"] as! [String: String]
        let signer = SigV4Signer(
            credentials: AWSCredentials(accessKeyID: credentials["access_key_id"]!, secretAccessKey: credentials["secret_access_key"]!),
            region: "us-east-1", service: "s3")
        let date = Vectors.date("2013-05-24T00:00:00Z")
        #expect(SigV4Signer.hex(signer.signingKey(date: date)) == document["derived_signing_key_hex"] as? String)
        let vectors = document["vectors"] as! [[String: Any]]
        #expect(vectors.count >= 5)
        for vector in vectors {
            let name = vector["name"] as! String
            let published = try #require(vector["published_expected_signature"] as? String)
            let text = vector["request"] as! String
            if text.hasPrefix("https://") {
                // The presigned GET: sign the same request (host header only) for 86,400 seconds.
                let request = SigV4Request(method: "GET", path: "/test.txt", headers: [.init("Host", "examplebucket.s3.amazonaws.com")])
                let presigned = signer.presigned(request, expires: 86_400, date: date)
                #expect(presigned.query.last == .init("X-Amz-Signature", published), "\(name)")
                #expect(text.hasSuffix("X-Amz-Signature=\(published)"))
            } else {
                let (request, body) = Vectors.request(text)
                let payload: SigV4Signer.Payload = body.isEmpty ? .empty : .bytes(body)
                let signed = signer.signed(request, payload: payload, date: date)
                #expect(signed.header("Authorization")?.hasSuffix("Signature=\(published)") == true, "\(name)")
            }
        }
    }

    @Test func secretsNeverAppearInDescriptions() {
        let credentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "s3cr3t", sessionToken: "t0k3n")
        #expect("\(credentials)" == "AWSCredentials(accessKeyID: AKIDEXAMPLE, secretAccessKey: <redacted>, sessionToken: <redacted>)")
        #expect(!"\(credentials)".contains("s3cr3t") && !"\(credentials)".contains("t0k3n"))
    }

    @Test func encodingAndWireForm() {
        #expect(SigV4Signer.encode("a b/c~d*é") == "a%20b%2Fc~d%2A%C3%A9")
        let request = SigV4Request(method: "GET", path: "/bucket/AWSLogs/o-abc/111/CloudTrail/x y.json.gz",
                                   query: [.init("list-type", "2"), .init("prefix", "AWSLogs/")])
        #expect(request.encodedPath == "/bucket/AWSLogs/o-abc/111/CloudTrail/x%20y.json.gz")
        #expect(request.encodedQuery == "list-type=2&prefix=AWSLogs%2F")
    }

    /// The hand-written UTC timestamp against Foundation's ISO 8601 formatter, on the days where calendar
    /// arithmetic goes wrong (leap days, century years, year ends, the epoch) and on a spread of others.
    @Test func timestampsAreFoundationsISO8601InUTC() {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")!
        formatter.formatOptions = [.withYear, .withMonth, .withDay, .withTime, .withTimeZone]
        var dates = ["1970-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2000-02-29T12:34:56Z", "2000-03-01T00:00:00Z",
                     "1900-02-28T23:59:59Z", "1900-03-01T00:00:00Z", "2100-02-28T23:59:59Z", "2100-03-01T00:00:00Z",
                     "2024-02-29T23:59:59Z", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z", "9999-12-31T23:59:59Z"].map { Vectors.date($0) }
        for step in 0..<2000 { dates.append(Date(timeIntervalSince1970: Double(step) * 1_234_567.891 - 1e9)) }
        for date in dates {
            let expected = formatter.string(from: date).replacingOccurrences(of: "-", with: "").replacingOccurrences(of: ":", with: "")
            #expect(SigV4Signer.timestamp(date) == expected, "\(date.timeIntervalSince1970)")
        }
        #expect(SigV4Signer.timestamp(Date(timeIntervalSince1970: 1_779_444_123.999)) == "20260522T100203Z")
    }

    /// A signer reused for many requests keeps the day's signing key, and forgets it when the day, the
    /// credentials or the region change.
    @Test func aPreparedSigningKeyIsTheDaysKeyForTheCurrentCredentials() {
        let request = SigV4Request(method: "GET", path: "/trail/AWSLogs/", headers: [.init("Host", "example.com")])
        let monday = Vectors.date("2026-03-02T10:00:00Z"), tuesday = Vectors.date("2026-03-03T00:00:01Z")
        let first = AWSCredentials(accessKeyID: "AKID1", secretAccessKey: "secret-1")
        let second = AWSCredentials(accessKeyID: "AKID2", secretAccessKey: "secret-2")
        func fresh(_ credentials: AWSCredentials, _ region: String, _ date: Date) -> String? {
            SigV4Signer(credentials: credentials, region: region, service: "s3").signed(request, date: date).header("Authorization")
        }
        var signer = SigV4Signer(credentials: first, region: "us-east-1", service: "s3")
        signer.prepareSigningKey(for: monday)
        #expect(signer.signed(request, date: monday).header("Authorization") == fresh(first, "us-east-1", monday))
        #expect(signer.signed(request, date: tuesday).header("Authorization") == fresh(first, "us-east-1", tuesday))
        signer.credentials = second
        #expect(signer.signed(request, date: monday).header("Authorization") == fresh(second, "us-east-1", monday))
        signer.prepareSigningKey(for: monday)
        signer.region = "eu-west-1"
        #expect(signer.signed(request, date: monday).header("Authorization") == fresh(second, "eu-west-1", monday))
        #expect(fresh(first, "us-east-1", monday) != fresh(second, "us-east-1", monday))
    }
}
