import ArgumentParser
import Foundation
import TrailReport
import TrailS3

/// How `scan` and `verify` reach S3 for `s3://` paths.
struct S3Options: ParsableArguments {
    @Option(help: ArgumentHelp("S3-compatible endpoint for s3:// paths, e.g. http://127.0.0.1:9000 (default: $AWS_ENDPOINT_URL_S3, $AWS_ENDPOINT_URL, else AWS).", valueName: "url"))
    var endpointURL: String?

    @Option(help: ArgumentHelp("Seconds an S3 request may receive less than a byte a second before it is abandoned as stalled and retried.", valueName: "seconds"))
    var readTimeout = 60

    @Option(help: ArgumentHelp("AWS profile for s3:// paths (default: $AWS_PROFILE, else the environment's credentials or 'default').", valueName: "name"))
    var profile: String?

    @Option(help: ArgumentHelp("Region of the bucket for s3:// paths (default: $AWS_REGION, $AWS_DEFAULT_REGION, else us-east-1).", valueName: "name"))
    var bucketRegion: String?

    func validate() throws {
        guard (1...3600).contains(readTimeout) else { throw ValidationError("--read-timeout must be between 1 and 3600 seconds.") }
    }

    /// The settings for `paths`, `nil` when none is on S3; a usage error for a bad endpoint, a
    /// `SetupFailure` when there are no credentials.
    func settings(for paths: [String], maxFetches: Int) throws -> S3Settings? {
        guard let first = paths.first(where: { $0.hasPrefix("s3://") }) else { return nil }
        let environment = ProcessInfo.processInfo.environment
        let region = bucketRegion ?? environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"]
            ?? CredentialProvider.configuredRegion(profile: profile) ?? "us-east-1"
        let endpoint = endpointURL ?? environment["AWS_ENDPOINT_URL_S3"] ?? environment["AWS_ENDPOINT_URL"]
        if let endpoint, !(endpoint.hasPrefix("http://") || endpoint.hasPrefix("https://")) {
            throw ValidationError("--endpoint-url: '\(endpoint)' must start with http:// or https://.")
        }
        let provider = CredentialProvider(profile: profile, region: region)
        do { _ = try provider.credentials() } catch {
            throw SetupFailure(message: "\(TerminalText.escaped(first)): \(error)")
        }
        return S3Settings(endpoint: S3Endpoint(region: region, customURL: endpoint), credentials: provider, maxFetches: maxFetches,
                          stallSeconds: readTimeout)
    }
}
