public import Foundation
internal import Synchronization
internal import TrailHTTP
public import TrailSigV4
internal import TrailTime

/// Why credentials could not be found or fetched. Never contains a secret.
public struct CredentialsError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Resolves credentials once, caches temporary ones, and refreshes them five minutes before they expire:
/// a long scan never signs with expired credentials. Shared by all workers.
///
/// Where credentials come from, in the AWS CLI's order (first match wins):
/// 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`;
/// 2. web identity: `AWS_WEB_IDENTITY_TOKEN_FILE` + `AWS_ROLE_ARN` (EKS), via STS
///    AssumeRoleWithWebIdentity;
/// 3. the profile `--profile` / `AWS_PROFILE` / `default` of `~/.aws/credentials` and `~/.aws/config`
///    (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`): static keys, `credential_process`, or
///    `role_arn` with `source_profile` or `credential_source` (via STS AssumeRole);
/// 4. container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` / `_FULL_URI`, with
///    `AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)` (ECS, EKS Pod Identity);
/// 5. EC2 instance metadata with an IMDSv2 session token (unless `AWS_EC2_METADATA_DISABLED=true`).
public final class CredentialProvider: Sendable {
    private let environment: [String: String]
    private let profileName: String?
    private let region: String
    private let cache = Mutex<AWSCredentials?>(nil)
    /// Held by the one caller resolving credentials (see `credentials(now:)`).
    private let resolving = Mutex(())
    /// How early temporary credentials are renewed.
    static let refreshMargin: TimeInterval = 300

    public init(profile: String? = nil, region: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
        self.profileName = profile
        self.region = region
    }

    /// The region the profile names (`region` in `~/.aws/config`), if any.
    public static func configuredRegion(profile: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        let name = profile ?? nonEmpty(environment["AWS_PROFILE"]) ?? "default"
        return (try? Profiles(environment: environment))?.profile(name)?["region"]
    }

    /// Credentials valid for at least a few more minutes.
    ///
    /// Single-flight: when they need renewing, one caller resolves them while the others wait for its
    /// answer, so sixty-odd workers whose credentials expire together make one STS or metadata request,
    /// not sixty.
    public func credentials(now: Date = Date()) throws(CredentialsError) -> AWSCredentials {
        if let valid = cached(now: now) { return valid }
        return try resolving.withLock { _ throws(CredentialsError) in
            if let valid = cached(now: now) { return valid }  // renewed while this caller waited
            let fresh = try resolve()
            cache.withLock { $0 = fresh }
            return fresh
        }
    }

    /// Forgets `rejected` when it is still the cached answer (a server refused it as expired), so that
    /// the next `credentials(now:)` resolves fresh ones. Callers refused the same credentials at the same
    /// time forget them once and share the one renewal.
    public func expire(_ rejected: AWSCredentials) {
        cache.withLock { if $0 == rejected { $0 = nil } }
    }

    private func cached(now: Date) -> AWSCredentials? {
        guard let cached = cache.withLock({ $0 }),
              cached.expiration.map({ $0.timeIntervalSince(now) > Self.refreshMargin }) ?? true
        else { return nil }
        return cached
    }

    // MARK: - The chain

    private func resolve() throws(CredentialsError) -> AWSCredentials {
        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty, profileName == nil {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw CredentialsError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"]))
        }
        if profileName == nil, let tokenFile = nonEmpty(environment["AWS_WEB_IDENTITY_TOKEN_FILE"]),
           let role = nonEmpty(environment["AWS_ROLE_ARN"]) {
            return try assumeRoleWithWebIdentity(role: role, tokenFile: tokenFile, sessionName: environment["AWS_ROLE_SESSION_NAME"])
        }
        let name = profileName ?? nonEmpty(environment["AWS_PROFILE"]) ?? "default"
        let profiles = try Profiles(environment: environment)
        if let profile = profiles.profile(name) {
            return try fromProfile(profile, named: name, profiles: profiles, depth: 0)
        }
        if profileName != nil || environment["AWS_PROFILE"] != nil {
            throw CredentialsError("profile '\(name)' is in neither \(profiles.credentialsPath) nor \(profiles.configPath)")
        }
        if nonEmpty(environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]) != nil
            || nonEmpty(environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]) != nil {
            return try containerCredentials()
        }
        if environment["AWS_EC2_METADATA_DISABLED"]?.lowercased() != "true" {
            if let credentials = try? instanceMetadataCredentials() { return credentials }
        }
        throw CredentialsError(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, use --profile or AWS_PROFILE, "
                + "or run with a role (web identity, container or instance credentials)")
    }

    private func fromProfile(_ profile: [String: String], named name: String, profiles: Profiles, depth: Int) throws(CredentialsError) -> AWSCredentials {
        guard depth < 5 else { throw CredentialsError("profile '\(name)': source_profile chain is too long or loops") }
        if let role = profile["role_arn"] {
            let source: AWSCredentials
            if let sourceName = profile["source_profile"] {
                guard let sourceProfile = profiles.profile(sourceName) else {
                    throw CredentialsError("profile '\(name)': source_profile '\(sourceName)' does not exist")
                }
                // A profile that names itself as its source uses its own keys; others may chain roles.
                source = sourceName == name
                    ? try staticKeys(sourceProfile, name: sourceName)
                    : try fromProfile(sourceProfile, named: sourceName, profiles: profiles, depth: depth + 1)
            } else if let credentialSource = profile["credential_source"] {
                switch credentialSource {
                case "Environment":
                    guard let key = nonEmpty(environment["AWS_ACCESS_KEY_ID"]), let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"]) else {
                        throw CredentialsError("profile '\(name)': credential_source Environment but AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set")
                    }
                    source = AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"]))
                case "EcsContainer": source = try containerCredentials()
                case "Ec2InstanceMetadata": source = try instanceMetadataCredentials()
                default: throw CredentialsError("profile '\(name)': unknown credential_source '\(credentialSource)'")
                }
            } else {
                throw CredentialsError("profile '\(name)': role_arn needs source_profile or credential_source")
            }
            return try assumeRole(role: role, source: source, sessionName: profile["role_session_name"],
                                  externalID: profile["external_id"], region: profile["region"] ?? region)
        }
        if let command = profile["credential_process"] {
            return try credentialProcess(command, profile: name)
        }
        return try staticKeys(profile, name: name)
    }

    private func staticKeys(_ profile: [String: String], name: String) throws(CredentialsError) -> AWSCredentials {
        guard let key = profile["aws_access_key_id"], let secret = profile["aws_secret_access_key"] else {
            throw CredentialsError("profile '\(name)' has no aws_access_key_id/aws_secret_access_key, credential_process or role_arn")
        }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: profile["aws_session_token"])
    }

    // MARK: - credential_process

    /// Runs the command (through `/bin/sh -c`, as the CLI does) and reads its JSON:
    /// `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?}`.
    private func credentialProcess(_ command: String, profile: String) throws(CredentialsError) -> AWSCredentials {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch { throw CredentialsError("profile '\(profile)': credential_process could not start: \(error)") }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CredentialsError("profile '\(profile)': credential_process exited with status \(process.terminationStatus)")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any], json["Version"] as? Int == 1,
              let key = json["AccessKeyId"] as? String, let secret = json["SecretAccessKey"] as? String
        else { throw CredentialsError("profile '\(profile)': credential_process did not print Version 1 credentials JSON") }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: json["SessionToken"] as? String,
                              expiration: (json["Expiration"] as? String).flatMap(Self.parseDate))
    }

    // MARK: - STS

    private var stsEndpoint: String {
        nonEmpty(environment["AWS_ENDPOINT_URL_STS"]) ?? nonEmpty(environment["AWS_ENDPOINT_URL"]) ?? "https://sts.\(region).amazonaws.com"
    }

    private func assumeRole(role: String, source: AWSCredentials, sessionName: String?, externalID: String?, region: String) throws(CredentialsError) -> AWSCredentials {
        var form: [SigV4Request.Parameter] = [
            .init("Action", "AssumeRole"), .init("Version", "2011-06-15"), .init("RoleArn", role),
            .init("RoleSessionName", sessionName ?? "trailscan-\(Int(Date().timeIntervalSince1970))"),
        ]
        if let externalID { form.append(.init("ExternalId", externalID)) }
        return try sts(form, credentials: source, region: region, what: "STS AssumeRole for \(role)")
    }

    private func assumeRoleWithWebIdentity(role: String, tokenFile: String, sessionName: String?) throws(CredentialsError) -> AWSCredentials {
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8) else {
            throw CredentialsError("cannot read the web identity token file \(tokenFile)")
        }
        let form: [SigV4Request.Parameter] = [
            .init("Action", "AssumeRoleWithWebIdentity"), .init("Version", "2011-06-15"), .init("RoleArn", role),
            .init("RoleSessionName", sessionName ?? "trailscan-\(Int(Date().timeIntervalSince1970))"),
            .init("WebIdentityToken", token.trimmingCharacters(in: .whitespacesAndNewlines)),
        ]
        return try sts(form, credentials: nil, region: region, what: "STS AssumeRoleWithWebIdentity for \(role)")
    }

    /// One STS call; its `<Credentials>`.
    private func sts(_ form: [SigV4Request.Parameter], credentials: AWSCredentials?, region: String, what: String) throws(CredentialsError) -> AWSCredentials {
        let response: AWSQuery.Response
        do {
            response = try AWSQuery.post(endpoint: stsEndpoint, service: "sts", region: region, credentials: credentials, parameters: form, curl: try CurlEasy())
        } catch {
            throw CredentialsError("\(what): \(error.message)")
        }
        guard (200..<300).contains(response.status) else {
            throw CredentialsError("\(what): HTTP \(response.status)\(response.fields["Code"].map { " \($0)" } ?? "")")
        }
        return try Self.stsCredentials(response.fields, what: what)
    }

    /// `<Credentials><AccessKeyId/><SecretAccessKey/><SessionToken/><Expiration/></Credentials>`
    static func stsCredentials(_ fields: [String: String], what: String) throws(CredentialsError) -> AWSCredentials {
        guard let key = fields["AccessKeyId"], let secret = fields["SecretAccessKey"], !key.isEmpty, !secret.isEmpty else {
            throw CredentialsError("\(what): no credentials in the response")
        }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: fields["SessionToken"],
                              expiration: fields["Expiration"].flatMap(parseDate))
    }

    // MARK: - Container and instance metadata

    private func containerCredentials() throws(CredentialsError) -> AWSCredentials {
        let url: String
        if let relative = nonEmpty(environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]) {
            url = "http://169.254.170.2" + relative
        } else {
            url = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]!
        }
        var headers: [String] = []
        if let file = nonEmpty(environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]) {
            guard let token = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CredentialsError("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file)")
            }
            headers.append("Authorization: " + token.trimmingCharacters(in: .whitespacesAndNewlines))
        } else if let token = nonEmpty(environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"]) {
            headers.append("Authorization: \(token)")
        }
        return try Self.jsonCredentials(try get(url, headers: headers, what: "container credentials"), what: "container credentials")
    }

    /// IMDSv2: a session token from `PUT /latest/api/token`, then the role's credentials.
    private func instanceMetadataCredentials() throws(CredentialsError) -> AWSCredentials {
        let base = nonEmpty(environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"]).map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
            ?? "http://169.254.169.254"
        let token = String(decoding: try request("PUT", base + "/latest/api/token", headers: ["X-aws-ec2-metadata-token-ttl-seconds: 21600"],
                                                 body: [], what: "instance metadata token"), as: UTF8.self)
        let auth = ["X-aws-ec2-metadata-token: \(token)"]
        let path = base + "/latest/meta-data/iam/security-credentials/"
        let role = String(decoding: try get(path, headers: auth, what: "instance role"), as: UTF8.self)
            .split(separator: "\n").first.map(String.init) ?? ""
        guard !role.isEmpty else { throw CredentialsError("the instance has no IAM role") }
        return try Self.jsonCredentials(try get(path + role, headers: auth, what: "instance credentials"), what: "instance credentials")
    }

    /// `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (container and instance metadata).
    static func jsonCredentials(_ body: [UInt8], what: String) throws(CredentialsError) -> AWSCredentials {
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
              let key = json["AccessKeyId"] as? String, let secret = json["SecretAccessKey"] as? String, !key.isEmpty, !secret.isEmpty
        else { throw CredentialsError("\(what): unreadable response") }
        return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: json["Token"] as? String,
                              expiration: (json["Expiration"] as? String).flatMap(parseDate))
    }

    // MARK: - HTTP

    private func get(_ url: String, headers: [String], what: String) throws(CredentialsError) -> [UInt8] {
        try request("GET", url, headers: headers, body: nil, what: what)
    }

    private func request(_ method: String, _ url: String, headers: [String], body: [UInt8]?, what: String) throws(CredentialsError) -> [UInt8] {
        var received: [UInt8] = []
        let response: CurlEasy.Response
        do {
            let curl = try CurlEasy()
            response = try curl.perform(method: method, url: url, headers: headers, upload: body) { chunk in
                received += chunk
                return received.count < 1 << 20
            }
        } catch {
            throw CredentialsError("\(what): \(error.message)")
        }
        guard (200..<300).contains(response.status) else {
            let code = ErrorDocument.parse(received)["Code"].map { " \($0)" } ?? ""
            throw CredentialsError("\(what): HTTP \(response.status)\(code)")
        }
        return received
    }

    static func parseDate(_ text: String) -> Date? {
        UTC.seconds(rfc3339: text).map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }
}

private func nonEmpty(_ value: String?) -> String? {
    guard let value, !value.isEmpty else { return nil }
    return value
}

/// `~/.aws/credentials` (sections `[name]`) and `~/.aws/config` (`[profile name]`, `[default]`), merged:
/// the credentials file wins for the same key.
struct Profiles {
    let credentialsPath: String
    let configPath: String
    private let credentials: [String: [String: String]]
    private let config: [String: [String: String]]

    init(environment: [String: String]) throws(CredentialsError) {
        let home = environment["HOME"] ?? NSHomeDirectory()
        credentialsPath = nonEmpty(environment["AWS_SHARED_CREDENTIALS_FILE"]) ?? home + "/.aws/credentials"
        configPath = nonEmpty(environment["AWS_CONFIG_FILE"]) ?? home + "/.aws/config"
        credentials = Self.parse(credentialsPath, sectionPrefix: nil)
        config = Self.parse(configPath, sectionPrefix: "profile ")
    }

    func profile(_ name: String) -> [String: String]? {
        let fromConfig = config[name]
        let fromCredentials = credentials[name]
        guard fromConfig != nil || fromCredentials != nil else { return nil }
        return (fromConfig ?? [:]).merging(fromCredentials ?? [:]) { $1 }
    }

    /// An INI file: `[section]`, `key = value`, `#`/`;` comments. In the config file, sections other
    /// than `default` are `[profile name]`.
    private static func parse(_ path: String, sectionPrefix: String?) -> [String: [String: String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var sections: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(whereSeparator: \.isNewline) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                var name = line.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                if let sectionPrefix, name.hasPrefix(sectionPrefix) {
                    name = String(name.dropFirst(sectionPrefix.count)).trimmingCharacters(in: .whitespaces)
                }
                current = name
                sections[name, default: [:]] = sections[name] ?? [:]
            } else if let current, let equals = line.firstIndex(of: "=") {
                let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
                let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
                sections[current]![key] = value
            }
        }
        return sections
    }
}
