internal import Crypto
internal import TrailJSON
internal import TrailSigV4
internal import TrailTime

/// One CloudTrail digest file: the hour of deliveries it covers, where it says it lives, the key that
/// signed it, its link to the previous digest, and the SHA-256 of every log file delivered in that hour.
///
/// Parsed from the digest's *uncompressed* bytes, whose SHA-256 (`contentHash`) is part of what its
/// signature covers.
public struct CloudTrailDigest: Sendable, Equatable {
    public struct LogFile: Sendable, Equatable {
        public var bucket: String
        public var key: String
        /// Lowercase hex SHA-256 of the log file's uncompressed content.
        public var hash: String
    }

    /// The previous digest of the same trail, region and account; `nil` in a starting digest (the first
    /// after validation or logging was turned on).
    public struct Link: Sendable, Equatable {
        public var bucket: String
        public var key: String
        /// Hex SHA-256 of the previous digest's uncompressed content.
        public var hash: String
        /// The previous digest's hex signature, which also signs this digest.
        public var signature: String
    }

    public var account: String
    /// As written (`2015-08-17T15:01:31Z`): the string to sign holds it verbatim.
    public var endTimeText: String
    public var startTime: Int64
    public var endTime: Int64
    public var bucket: String
    public var key: String
    public var fingerprint: String
    public var previous: Link?
    public var logFiles: [LogFile]
    /// Lowercase hex SHA-256 of the bytes this digest was parsed from.
    public var contentHash: String

    public init(parsing bytes: [UInt8]) throws(InvalidDocument) {
        let document: JSONValue
        do { document = try JSONValue(parsing: bytes) } catch { throw InvalidDocument(reason: "not JSON: \(error)") }
        guard case .object = document else { throw InvalidDocument(reason: "not a JSON object") }
        func string(_ name: String, in value: JSONValue = document) throws(InvalidDocument) -> String {
            guard case .string(let text)? = value[name] else { throw InvalidDocument(reason: "\(name) is missing or not a string") }
            return text
        }
        func time(_ name: String) throws(InvalidDocument) -> Int64 {
            let text = try string(name)
            guard let seconds = UTC.seconds(rfc3339: text) else { throw InvalidDocument(reason: "\(name) is not a time: \(text)") }
            return seconds
        }
        func hash(_ name: String, algorithm: String, in value: JSONValue) throws(InvalidDocument) -> String {
            let algorithmName = try string(algorithm, in: value)
            guard algorithmName == "SHA-256" else { throw InvalidDocument(reason: "\(algorithm) \(algorithmName) is not SHA-256") }
            let hex = try string(name, in: value)
            guard Hex.isDigest(hex) else { throw InvalidDocument(reason: "\(name) is not a hex SHA-256: \(hex)") }
            return hex.lowercased()
        }
        account = try string("awsAccountId")
        endTimeText = try string("digestEndTime")
        startTime = try time("digestStartTime")
        endTime = try time("digestEndTime")
        bucket = try string("digestS3Bucket")
        key = try string("digestS3Object")
        fingerprint = try string("digestPublicKeyFingerprint")
        let algorithm = try string("digestSignatureAlgorithm")
        guard algorithm == "SHA256withRSA" else { throw InvalidDocument(reason: "digestSignatureAlgorithm \(algorithm) is not SHA256withRSA") }
        switch document["previousDigestSignature"] {
        case .null?, nil:
            previous = nil
        case .string(let signature)?:
            guard Hex.decode(signature) != nil else { throw InvalidDocument(reason: "previousDigestSignature is not hex") }
            previous = Link(
                bucket: try string("previousDigestS3Bucket"), key: try string("previousDigestS3Object"),
                hash: try hash("previousDigestHashValue", algorithm: "previousDigestHashAlgorithm", in: document),
                signature: signature)
        default:
            throw InvalidDocument(reason: "previousDigestSignature is not a string")
        }
        guard case .array(let files)? = document["logFiles"] else { throw InvalidDocument(reason: "logFiles is missing or not an array") }
        var logFiles: [LogFile] = []
        logFiles.reserveCapacity(files.count)
        for file in files {
            guard case .object = file else { throw InvalidDocument(reason: "logFiles holds a value that is not an object") }
            logFiles.append(LogFile(
                bucket: try string("s3Bucket", in: file), key: try string("s3Object", in: file),
                hash: try hash("hashValue", algorithm: "hashAlgorithm", in: file)))
        }
        self.logFiles = logFiles
        contentHash = SigV4Signer.hex(SHA256.hash(data: bytes))
    }

    /// What CloudTrail signed (SHA256withRSA): the digest's end time, its `bucket/key`, the SHA-256 of its
    /// content, and the previous digest's signature (`null` in a starting digest), one per line.
    public var signedText: String {
        "\(endTimeText)\n\(bucket)/\(key)\n\(contentHash)\n\(previous?.signature ?? "null")"
    }
}

/// Why a digest file or a key list cannot be read as one.
public struct InvalidDocument: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public var description: String { reason }
}
