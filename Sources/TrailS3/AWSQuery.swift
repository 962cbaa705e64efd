internal import Foundation
public import TrailHTTP
public import TrailSigV4

/// A request of AWS's Query API (STS, SNS): parameters form-encoded in a POST to `endpoint/`, signed
/// with SigV4 for `service` when credentials are given; the answer's XML read as its elements' texts.
public enum AWSQuery {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        /// The XML's elements by name, each with the text of its first occurrence (`MessageId`, `Code`,
        /// `Message`…); empty for a body outside the XML that AWS writes.
        public var fields: [String: String]
    }

    /// - Parameters:
    ///   - endpoint: `https://sns.us-east-1.amazonaws.com` or an override (`AWS_ENDPOINT_URL_SNS`).
    ///   - credentials: `nil` for an unsigned call (STS AssumeRoleWithWebIdentity).
    public static func post(
        endpoint: String, service: String, region: String, credentials: AWSCredentials?, parameters: [SigV4Request.Parameter],
        curl: CurlEasy, timeout: Double? = nil
    ) throws(TransportError) -> Response {
        // application/x-www-form-urlencoded as browsers and botocore write it (a space is `+`): AWS hashes
        // the bytes received, and moto, which rebuilds the body from the parsed form, hashes this form.
        func encode(_ text: String) -> String { SigV4Signer.encode(text).replacingOccurrences(of: "%20", with: "+") }
        let body = Array(parameters.map { encode($0.name) + "=" + encode($0.value) }.joined(separator: "&").utf8)
        let (response, received) = try AWSRequest.post(
            endpoint: endpoint, service: service, region: region, credentials: credentials,
            headers: [.init("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")], body: body, curl: curl, timeout: timeout)
        return Response(status: response.status, headers: response.headers, fields: ErrorDocument.parse(received))
    }
}

/// A SigV4-signed POST to `endpoint/` (when credentials are given), its answer read whole (up to 1 MiB):
/// the transport of AWS's Query (`AWSQuery`) and JSON protocols (CloudTrail's `ListPublicKeys`).
public enum AWSRequest {
    public static func post(
        endpoint: String, service: String, region: String, credentials: AWSCredentials?, headers: [SigV4Request.Header], body: [UInt8],
        curl: CurlEasy, timeout: Double? = nil
    ) throws(TransportError) -> (response: CurlEasy.Response, body: [UInt8]) {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        var headers = headers
        if let credentials {
            let host = base.split(separator: "/", maxSplits: 2).dropFirst().first.map(String.init) ?? base
            let signer = SigV4Signer(credentials: credentials, region: region, service: service)
            headers = signer.signed(SigV4Request(method: "POST", path: "/", headers: [.init("Host", host)] + headers), payload: .bytes(body), date: Date())
                .headers
        }
        var received: [UInt8] = []
        let response = try curl.perform(method: "POST", url: base + "/", headers: headers.map { "\($0.name): \($0.value)" }, upload: body, timeout: timeout) { chunk in
            received += chunk
            return received.count < 1 << 20
        }
        return (response, received)
    }
}
