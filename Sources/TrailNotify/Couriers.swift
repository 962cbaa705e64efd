internal import Foundation
internal import TrailHTTP
internal import TrailMatch
internal import TrailReport
internal import TrailS3
internal import TrailScan
internal import TrailSigV4
internal import TrailTime

/// Why a message was not delivered: what the receiver said (never a secret), and whether another try
/// can help.
public struct DeliveryError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    /// The receiver refused for good (a 404 webhook, SNS AuthorizationError, SMTP 5xx): retrying the
    /// same message cannot succeed until someone fixes the setup.
    public var isPermanent: Bool
    /// What the receiver asked to wait (`Retry-After`), in seconds.
    public var retryAfter: Double?

    public init(reason: String, isPermanent: Bool, retryAfter: Double? = nil) {
        self.reason = reason
        self.isPermanent = isPermanent
        self.retryAfter = retryAfter
    }

    public var description: String { reason }
}

/// Sends the messages of one destination, one at a time, on one connection kept between them.
final class Courier {
    private let destination: Destination
    private let clock: DisplayClock
    private let curl: CurlEasy
    private let credentials: CredentialProvider?
    /// Seconds a send may take before it is abandoned (and retried).
    static let timeout = 30.0

    init(destination: Destination, clock: DisplayClock, credentials: CredentialProvider?) throws(DeliveryError) {
        self.destination = destination
        self.clock = clock
        self.credentials = credentials
        do { curl = try CurlEasy() } catch { throw DeliveryError(reason: error.message, isPermanent: true) }
    }

    /// Sends one notice; returns the receiver's receipt (`HTTP 200`, the SNS MessageId, `SMTP 250`).
    func send(_ notice: Notice) throws(DeliveryError) -> String {
        do { return try sendResolving(notice) } catch {
            // No secret leaves in a reason, whatever the receiver or libcurl put in it.
            var reason = error.reason
            for secret in resolvedSecrets where secret.count >= 4 { reason = reason.replacingOccurrences(of: secret, with: "***") }
            throw DeliveryError(reason: reason, isPermanent: error.isPermanent, retryAfter: error.retryAfter)
        }
    }

    /// The secret values resolved so far (to keep them out of error messages).
    private var resolvedSecrets: [String] = []

    private func sendResolving(_ notice: Notice) throws(DeliveryError) -> String {
        func resolve(_ secret: Secret) throws(DeliveryError) -> String {
            do {
                let value = try secret.resolve()
                resolvedSecrets.append(value)
                return value
            } catch {
                throw DeliveryError(reason: error.description, isPermanent: true)
            }
        }
        switch destination.kind {
            case .slack(let url):
                let body = Messages.slack(notice, clock: clock, template: destination.template)
                return try post(try resolve(url), body: body, headers: ["Content-Type: application/json"])
            case .webhook(let url, let headers):
                let (body, type) = Messages.webhook(notice, clock: clock, template: destination.template)
                var lines = ["Content-Type: \(type)", "Idempotency-Key: \(notice.key)"]
                for header in headers { lines.append("\(header.name): \(try resolve(header.value))") }
                return try post(try resolve(url), body: body, headers: lines)
            case .sns(let topicArn, let region):
                return try publish(notice, topicArn: topicArn, region: region)
            case .email(let email):
                let message = Messages.email(
                    notice, clock: clock, template: destination.template, from: email.from, to: email.to, now: Int64(Date().timeIntervalSince1970))
                let username = try email.username.map(resolve), password = try email.password.map(resolve)
                let code: Int
                do {
                    code = try curl.sendMail(
                        url: email.url, from: email.from, recipients: email.to, message: message, username: username, password: password,
                        requireTLS: !email.allowPlaintext && email.url.hasPrefix("smtp://"), caFile: email.caFile, timeout: Self.timeout)
                } catch {
                    throw DeliveryError(reason: "SMTP: \(error.message)", isPermanent: (500..<600).contains(error.smtpCode))
                }
                return "SMTP \(code)"
        }
    }

    /// POSTs a body: 2xx is delivered; 429 and 5xx are worth another try (after `Retry-After`); other
    /// answers are refusals, with what the receiver said.
    private func post(_ url: String, body: [UInt8], headers: [String]) throws(DeliveryError) -> String {
        var answer: [UInt8] = []
        let response: CurlEasy.Response
        do {
            response = try curl.perform(method: "POST", url: url, headers: headers, upload: body, timeout: Self.timeout) { chunk in
                answer += chunk.prefix(4096 - min(answer.count, 4096))
                return true
            }
        } catch {
            throw DeliveryError(reason: error.message, isPermanent: !error.isRetryable)
        }
        guard (200..<300).contains(response.status) else {
            let said = TerminalText.escaped(String(decoding: answer.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
            let retryAfter = response.headers["retry-after"].flatMap(Double.init)
            let transient = response.status == 429 || response.status >= 500 || response.status == 408
            throw DeliveryError(reason: "HTTP \(response.status)" + (said.isEmpty ? "" : ": \(said)"), isPermanent: !transient, retryAfter: retryAfter)
        }
        return "HTTP \(response.status)"
    }

    /// SNS `Publish` over the Query API: subject, text message, and `severity` and `rule` attributes that
    /// subscription filter policies can select on.
    private func publish(_ notice: Notice, topicArn: String, region: String) throws(DeliveryError) -> String {
        guard let credentials else { throw DeliveryError(reason: "no AWS credentials for SNS", isPermanent: true) }
        let resolved: AWSCredentials
        do { resolved = try credentials.credentials() } catch { throw DeliveryError(reason: "AWS credentials: \(error)", isPermanent: true) }
        let environment = ProcessInfo.processInfo.environment
        let endpoint = [environment["AWS_ENDPOINT_URL_SNS"], environment["AWS_ENDPOINT_URL"]].compactMap { $0 }.first { !$0.isEmpty }
            ?? "https://sns.\(region).amazonaws.com"
        let first = notice.first
        let parameters: [SigV4Request.Parameter] = [
            .init("Action", "Publish"), .init("Version", "2010-03-31"), .init("TopicArn", topicArn),
            .init("Subject", Messages.snsSubject(notice)), .init("Message", Messages.text(notice, clock: clock, template: destination.template)),
            .init("MessageAttributes.entry.1.Name", "severity"), .init("MessageAttributes.entry.1.Value.DataType", "String"),
            .init("MessageAttributes.entry.1.Value.StringValue", first.severity.name),
            .init("MessageAttributes.entry.2.Name", "rule"), .init("MessageAttributes.entry.2.Value.DataType", "String"),
            .init("MessageAttributes.entry.2.Value.StringValue", first.ruleID),
        ]
        let response: AWSQuery.Response
        do {
            response = try AWSQuery.post(endpoint: endpoint, service: "sns", region: region, credentials: resolved, parameters: parameters,
                                         curl: curl, timeout: Self.timeout)
        } catch {
            throw DeliveryError(reason: "SNS: \(error.message)", isPermanent: !error.isRetryable)
        }
        if (200..<300).contains(response.status), let id = response.fields["MessageId"], !id.isEmpty { return "SNS MessageId \(id)" }
        let code = response.fields["Code"] ?? "HTTP \(response.status)"
        let message = response.fields["Message"].map { ": " + TerminalText.escaped($0) } ?? ""
        let transient = response.status >= 500 || ["Throttling", "ThrottlingException", "InternalError", "KMSThrottling"].contains(code)
        throw DeliveryError(reason: "SNS \(TerminalText.escaped(code))\(message)", isPermanent: !transient,
                            retryAfter: response.headers["retry-after"].flatMap(Double.init))
    }
}

@available(*, unavailable)
extension Courier: Sendable {}
