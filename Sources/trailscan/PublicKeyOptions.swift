import ArgumentParser
import Foundation
import TrailDigest
import TrailReport
import TrailS3

/// Where the public keys of CloudTrail's digest signatures come from, for `verify` and `scan --verify`.
struct PublicKeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The public keys, as 'aws cloudtrail list-public-keys --start-time … --output json' prints them (default: ask CloudTrail's ListPublicKeys in each digest's region).", valueName: "file"))
    var publicKeys: String?

    @Option(help: ArgumentHelp("CloudTrail endpoint for ListPublicKeys (default: $AWS_ENDPOINT_URL_CLOUDTRAIL, $AWS_ENDPOINT_URL, else AWS).", valueName: "url"))
    var cloudtrailEndpointURL: String?

    func validate() throws {
        if let url = cloudtrailEndpointURL, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--cloudtrail-endpoint-url: '\(url)' must start with http:// or https://.")
        }
    }

    /// The keys of the `--public-keys` file, read now (a bad file is a usage error before any work).
    func fileKeys() throws -> PublicKeyRing? {
        try publicKeys.map { path in
            do {
                return try PublicKeyRing(parsing: [UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
            } catch let error as InvalidDocument {
                throw ValidationError("--public-keys: \(TerminalText.escaped(path)): \(error.reason).")
            } catch {
                throw ValidationError("--public-keys: cannot read \(TerminalText.escaped(path)): \(error.localizedDescription)")
            }
        }
    }

    /// The file's keys, or CloudTrail's for the digests found, from `ListPublicKeys` in each of their
    /// regions. Exits 2 with one line when they cannot be had, or when there are no digests.
    func keys(file: PublicKeyRing?, for digests: [DigestObject], profile: String?) throws -> PublicKeyRing {
        if let file { return file }
        var spans: [String: (start: Int64, end: Int64)] = [:]
        for object in digests {
            guard case .success(let digest) = object.content, let region = object.layoutKey.components(separatedBy: "/CloudTrail-Digest/").last?
                .split(separator: "/").first.map(String.init) else { continue }
            let span = spans[region] ?? (digest.startTime, digest.endTime)
            spans[region] = (min(span.start, digest.startTime), max(span.end, digest.endTime))
        }
        let environment = ProcessInfo.processInfo.environment
        let endpoint = cloudtrailEndpointURL ?? environment["AWS_ENDPOINT_URL_CLOUDTRAIL"] ?? environment["AWS_ENDPOINT_URL"]
        var ring: PublicKeyRing?
        for (region, span) in spans.sorted(by: { $0.key < $1.key }) {
            do {
                let found = try PublicKeyRing.fetch(
                    region: region, start: span.start - 3600, end: span.end + 3600, endpoint: endpoint,
                    credentials: CredentialProvider(profile: profile, region: region))
                if ring == nil { ring = found } else { ring!.merge(found) }
            } catch {
                OutputWriter.standardError.write("trailscan: \(TerminalText.escaped(error.description)) (or give --public-keys FILE)\n")
                throw ExitCode(2)
            }
        }
        guard let ring else {
            // Digest files, but none that parses: say so, not that there are none.
            if let object = digests.first, case .failure(let problem) = object.content {
                let reason = switch problem { case .invalid(let text), .unreadable(let text): text }
                OutputWriter.standardError.write(
                    "trailscan: \(digests.count == 1 ? "the one digest file found is not" : "none of the \(digests.count) digest files found is") a valid digest, so no key can be looked up (or give --public-keys FILE): \(TerminalText.escaped(object.location)): \(TerminalText.escaped(reason))\n")
                throw ExitCode(2)
            }
            throw Self.noDigests()
        }
        return ring
    }

    /// Nothing to verify is no proof: one line, exit 2.
    static func noDigests() -> ExitCode {
        OutputWriter.standardError.write("trailscan: no digest files found in the sources and window: nothing is proven (is log file validation on for the trail?)\n")
        return ExitCode(2)
    }
}
