internal import Foundation
internal import Glibc
internal import TrailHTTP
internal import TrailJSON
public import TrailS3
internal import TrailSigV4

extension PublicKeyRing {
    /// Why CloudTrail's keys could not be fetched.
    public struct FetchError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// CloudTrail's `ListPublicKeys` in `region` for the digests of [start, end] (every page), signed
    /// with SigV4 — what `aws cloudtrail list-public-keys` calls. Keys are per region: ask each region
    /// whose digests are checked.
    ///
    /// - Parameter endpoint: `https://cloudtrail.<region>.amazonaws.com` unless overridden (as the AWS
    ///   tools allow, `AWS_ENDPOINT_URL_CLOUDTRAIL`).
    public static func fetch(
        region: String, start: Int64, end: Int64, endpoint: String?, credentials: CredentialProvider
    ) throws(FetchError) -> PublicKeyRing {
        let url = endpoint ?? "https://cloudtrail.\(region).amazonaws.com"
        let resource = "ListPublicKeys in \(region)"
        let curl: CurlEasy
        do { curl = try CurlEasy() } catch { throw FetchError(description: "\(resource): \(error)") }
        var ring = PublicKeyRing()
        var token: String?
        repeat {
            var body = Array(#"{"StartTime":\#(start),"EndTime":\#(end)"#.utf8)
            if let token {
                body += Array(#","NextToken":"#.utf8)
                JSONString.appendQuoted(token, to: &body)
            }
            body += Array("}".utf8)
            let answer = try send(body, url: url, region: region, credentials: credentials, curl: curl, resource: resource)
            do { token = try ring.add(parsing: answer) } catch { throw FetchError(description: "\(resource): the answer is not a key list: \(error.reason)") }
        } while token != nil
        guard ring.count > 0 else { throw FetchError(description: "\(resource): CloudTrail returned no public keys for that time") }
        return ring
    }

    /// One request, tried up to three times while the failure is worth another try (throttling, 5xx,
    /// the network).
    private static func send(
        _ body: [UInt8], url: String, region: String, credentials provider: CredentialProvider, curl: CurlEasy, resource: String
    ) throws(FetchError) -> [UInt8] {
        var attempt = 0
        while true {
            attempt += 1
            let credentials: AWSCredentials
            do { credentials = try provider.credentials() } catch { throw FetchError(description: "\(resource): \(error)") }
            let failure: String
            var retryable: Bool
            do {
                let (response, answer) = try AWSRequest.post(
                    endpoint: url, service: "cloudtrail", region: region, credentials: credentials,
                    headers: [
                        .init("Content-Type", "application/x-amz-json-1.1"),
                        .init("X-Amz-Target", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.ListPublicKeys"),
                    ],
                    body: body, curl: curl, timeout: 60)
                if (200..<300).contains(response.status) { return answer }
                let error = try? JSONValue(parsing: answer)
                var type = ""
                if case .string(let text)? = error?["__type"] { type = String(text.split(separator: "#").last ?? "") }
                var message = ""
                if case .string(let text)? = error?["message"] ?? error?["Message"] { message = text }
                failure = "HTTP \(response.status)" + (type.isEmpty ? "" : " \(type)") + (message.isEmpty ? "" : ": \(message)")
                retryable = response.status >= 500 || response.status == 429 || type.hasPrefix("Throttling")
            } catch {
                failure = "network error: \(error)"
                retryable = error.isRetryable
            }
            guard retryable, attempt < 3 else { throw FetchError(description: "\(resource): \(failure)") }
            usleep(useconds_t(attempt) * 500_000)
        }
    }
}
