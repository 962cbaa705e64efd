import Foundation
import Synchronization
import Testing
import TrailTestSupport
@testable import TrailS3
import TrailSigV4

/// A folder with `credentials` and `config` files, and an environment pointing at them.
struct AWSFiles {
    let folder: URL
    var environment: [String: String]

    init(credentials: String = "", config: String = "", extra: [String: String] = [:]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("trailscan-aws-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try credentials.write(to: folder.appendingPathComponent("credentials"), atomically: true, encoding: .utf8)
        try config.write(to: folder.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        environment = [
            "HOME": folder.path, "AWS_SHARED_CREDENTIALS_FILE": folder.appendingPathComponent("credentials").path,
            "AWS_CONFIG_FILE": folder.appendingPathComponent("config").path, "AWS_EC2_METADATA_DISABLED": "true",
        ].merging(extra) { $1 }
    }

    func file(_ name: String, _ text: String) throws -> String {
        let url = folder.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }
}

/// Requests a stub server received.
final class Recorded: Sendable {
    let requests = Mutex<[LoopbackHTTPServer.Request]>([])
}

/// A server that answers every request with `body` and records what it got.
func recordingServer(body: [UInt8]) -> (LoopbackHTTPServer, Recorded) {
    let recorded = Recorded()
    let server = LoopbackHTTPServer { request, connection in
        recorded.requests.withLock { $0.append(request) }
        connection.respond("200 OK", body: body)
    }
    return (server, recorded)
}

let stsResponse = Array("""
    <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>\
    <AccessKeyId>ASIAROLEKEY</AccessKeyId><SecretAccessKey>role-secret</SecretAccessKey><SessionToken>role-token</SessionToken>\
    <Expiration>2099-01-01T00:00:00Z</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>
    """.utf8)

@Suite struct CredentialsTests {
    @Test func environmentVariablesComeFirst() throws {
        let files = try AWSFiles(credentials: "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = file-secret\n",
                                 extra: ["AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "env-secret", "AWS_SESSION_TOKEN": "t"])
        let credentials = try CredentialProvider(region: "us-east-1", environment: files.environment).credentials()
        #expect(credentials.accessKeyID == "ENVKEY" && credentials.sessionToken == "t")
    }

    @Test func profilesFromBothFiles() throws {
        let files = try AWSFiles(
            credentials: "# keys\n[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = d\n\n[audit]\naws_access_key_id=AUDITKEY\naws_secret_access_key=a\n",
            config: "[default]\nregion = eu-west-1\n[profile audit]\nregion = ap-northeast-1\n")
        #expect(try CredentialProvider(region: "x", environment: files.environment).credentials().accessKeyID == "DEFAULTKEY")
        var environment = files.environment
        environment["AWS_PROFILE"] = "audit"
        #expect(try CredentialProvider(region: "x", environment: environment).credentials().accessKeyID == "AUDITKEY")
        #expect(try CredentialProvider(profile: "audit", region: "x", environment: files.environment).credentials().accessKeyID == "AUDITKEY")
        #expect(CredentialProvider.configuredRegion(profile: "audit", environment: files.environment) == "ap-northeast-1")
        #expect(CredentialProvider.configuredRegion(profile: nil, environment: files.environment) == "eu-west-1")
        #expect(throws: CredentialsError("profile 'nope' is in neither \(files.folder.path)/credentials nor \(files.folder.path)/config")) {
            try CredentialProvider(profile: "nope", region: "x", environment: files.environment).credentials()
        }
    }

    @Test func credentialProcessIsRunAndRefreshedBeforeItExpires() throws {
        var files = try AWSFiles()
        let counter = files.folder.appendingPathComponent("count").path
        let soon = ISO8601DateFormatter().string(from: Date().addingTimeInterval(120))  // inside the 5-minute margin
        let script = try files.file("creds.sh", """
            n=$(cat \(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \(counter)
            printf '{"Version": 1, "AccessKeyId": "PROC%s", "SecretAccessKey": "s", "SessionToken": "t", "Expiration": "\(soon)"}' $n
            """)
        try "[profile proc]\ncredential_process = sh \(script)\n".write(to: files.folder.appendingPathComponent("config"), atomically: true, encoding: .utf8)
        files.environment["AWS_PROFILE"] = "proc"
        let provider = CredentialProvider(region: "x", environment: files.environment)
        #expect(try provider.credentials().accessKeyID == "PROC1")
        #expect(try provider.credentials().accessKeyID == "PROC2")  // expiring within the margin: renewed
        #expect(try provider.credentials(now: Date().addingTimeInterval(-3600)).accessKeyID == "PROC2")  // still fresh an hour earlier
    }

    @Test func assumeRoleSignsAnSTSRequestWithTheSourceProfile() throws {
        let (sts, recorded) = recordingServer(body: stsResponse)
        defer { sts.stop() }
        let files = try AWSFiles(
            credentials: "[base]\naws_access_key_id = BASEKEY\naws_secret_access_key = base-secret\n",
            config: "[profile admin]\nrole_arn = arn:aws:iam::111122223333:role/audit\nsource_profile = base\nexternal_id = ext-1\n",
            extra: ["AWS_ENDPOINT_URL_STS": sts.endpoint])
        let credentials = try CredentialProvider(profile: "admin", region: "us-east-1", environment: files.environment).credentials()
        #expect(credentials == AWSCredentialsFixture.role)
        let request = try #require(recorded.requests.withLock { $0.first })
        #expect(request.method == "POST")
        #expect(request.headers["authorization"]?.hasPrefix("AWS4-HMAC-SHA256 Credential=BASEKEY/") == true)
        #expect(request.headers["authorization"]?.contains("/us-east-1/sts/aws4_request") == true)
        let form = String(decoding: request.body, as: UTF8.self)
        #expect(form.contains("Action=AssumeRole") && form.contains("RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Faudit"))
        #expect(form.contains("ExternalId=ext-1"))
    }

    @Test func webIdentityExchangesTheTokenUnsigned() throws {
        let (sts, recorded) = recordingServer(body: stsResponse)
        defer { sts.stop() }
        var files = try AWSFiles()
        let token = try files.file("token", "eyJ.web.identity\n")
        files.environment.merge(["AWS_WEB_IDENTITY_TOKEN_FILE": token, "AWS_ROLE_ARN": "arn:aws:iam::1:role/pod",
                                 "AWS_ENDPOINT_URL_STS": sts.endpoint]) { $1 }
        #expect(try CredentialProvider(region: "us-east-1", environment: files.environment).credentials() == AWSCredentialsFixture.role)
        let request = try #require(recorded.requests.withLock { $0.first })
        #expect(request.headers["authorization"] == nil)
        #expect(String(decoding: request.body, as: UTF8.self).contains("WebIdentityToken=eyJ.web.identity"))
    }

    @Test func containerCredentialsSendTheAuthorizationToken() throws {
        let (agent, recorded) = recordingServer(
            body: Array(#"{"AccessKeyId":"ASIACONTAINER","SecretAccessKey":"c","Token":"ct","Expiration":"2099-01-01T00:00:00Z"}"#.utf8))
        defer { agent.stop() }
        var files = try AWSFiles()
        let tokenFile = try files.file("auth", "secret-auth-token\n")
        files.environment.merge(["AWS_CONTAINER_CREDENTIALS_FULL_URI": agent.endpoint + "/v1/credentials",
                                 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": tokenFile]) { $1 }
        let credentials = try CredentialProvider(region: "x", environment: files.environment).credentials()
        #expect(credentials.accessKeyID == "ASIACONTAINER" && credentials.sessionToken == "ct")
        let request = try #require(recorded.requests.withLock { $0.first })
        #expect(request.path == "/v1/credentials" && request.headers["authorization"] == "secret-auth-token")
    }

    @Test func instanceMetadataUsesAnIMDSv2Token() throws {
        let recorded = Recorded()
        let imds = LoopbackHTTPServer { request, connection in
            recorded.requests.withLock { $0.append(request) }
            switch (request.method, request.path) {
            case ("PUT", "/latest/api/token"):
                connection.respond("200 OK", body: Array("imds-session".utf8))
            case (_, _) where request.headers["x-aws-ec2-metadata-token"] != "imds-session":
                connection.respond("401 Unauthorized", body: [])
            case ("GET", "/latest/meta-data/iam/security-credentials/"):
                connection.respond("200 OK", body: Array("trail-reader".utf8))
            case ("GET", "/latest/meta-data/iam/security-credentials/trail-reader"):
                connection.respond("200 OK", body: Array(#"{"Code":"Success","AccessKeyId":"ASIAEC2","SecretAccessKey":"e","Token":"et","Expiration":"2099-01-01T00:00:00Z"}"#.utf8))
            default:
                connection.respond("404 Not Found", body: [])
            }
        }
        defer { imds.stop() }
        var files = try AWSFiles()
        files.environment["AWS_EC2_METADATA_DISABLED"] = nil
        files.environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.endpoint
        let credentials = try CredentialProvider(region: "x", environment: files.environment).credentials()
        #expect(credentials.accessKeyID == "ASIAEC2")
        let first = try #require(recorded.requests.withLock { $0.first })
        #expect(first.headers["x-aws-ec2-metadata-token-ttl-seconds"] == "21600")
    }

    @Test func errorsNeverContainSecrets() throws {
        let sts = LoopbackHTTPServer { _, connection in
            connection.respond("403 Forbidden", body: Array("<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>".utf8))
        }
        defer { sts.stop() }
        let files = try AWSFiles(
            credentials: "[base]\naws_access_key_id = BASEKEY\naws_secret_access_key = very-secret-value\n",
            config: "[profile admin]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\n",
            extra: ["AWS_ENDPOINT_URL_STS": sts.endpoint])
        let error = #expect(throws: CredentialsError.self) {
            try CredentialProvider(profile: "admin", region: "us-east-1", environment: files.environment).credentials()
        }
        #expect(error?.description == "STS AssumeRole for arn:aws:iam::1:role/r: HTTP 403 AccessDenied")
        #expect(error?.description.contains("very-secret-value") == false)
    }
}

enum AWSCredentialsFixture {
    static let role = AWSCredentials(accessKeyID: "ASIAROLEKEY", secretAccessKey: "role-secret", sessionToken: "role-token",
                                     expiration: ISO8601DateFormatter().date(from: "2099-01-01T00:00:00Z"))
}
