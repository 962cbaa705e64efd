internal import _CryptoExtras
internal import Crypto
internal import Foundation
internal import TrailJSON

/// The public keys CloudTrail signs digests with, by fingerprint: what `aws cloudtrail list-public-keys`
/// prints (`{"PublicKeyList": [{"Value": base64 DER, "Fingerprint": hex, …}]}`), for offline checks.
///
/// `Value` is an RSA public key in DER, PKCS #1 as the API documents, or SubjectPublicKeyInfo (the AWS
/// documentation's own example list holds both). A digest is checked with the key its
/// `digestPublicKeyFingerprint` names, as `aws cloudtrail validate-logs` does; the validity times of a
/// key are not what makes a signature genuine, so they are not consulted.
public struct PublicKeyRing: Sendable {
    private var keys: [String: _RSA.Signing.PublicKey] = [:]

    public init(parsing bytes: [UInt8]) throws(InvalidDocument) {
        _ = try add(parsing: bytes)
        guard !keys.isEmpty else { throw InvalidDocument(reason: "PublicKeyList is empty") }
    }

    init() {}

    /// Adds the keys of one key list (a `ListPublicKeys` page); its `NextToken`, if any.
    mutating func add(parsing bytes: [UInt8]) throws(InvalidDocument) -> String? {
        let document: JSONValue
        do { document = try JSONValue(parsing: bytes) } catch { throw InvalidDocument(reason: "not JSON: \(error)") }
        // The CLI prints `PublicKeyList`; the AWS documentation's example writes `publicKeyList`.
        guard case .array(let entries)? = document["PublicKeyList"] ?? document["publicKeyList"] else {
            throw InvalidDocument(reason: "no PublicKeyList array (expected what aws cloudtrail list-public-keys prints)")
        }
        for (index, entry) in entries.enumerated() {
            guard case .string(let value)? = entry["Value"], case .string(let fingerprint)? = entry["Fingerprint"] else {
                throw InvalidDocument(reason: "PublicKeyList[\(index)] has no Value or Fingerprint string")
            }
            guard let der = Data(base64Encoded: value) else { throw InvalidDocument(reason: "PublicKeyList[\(index)].Value is not base64") }
            do {
                keys[fingerprint.lowercased()] = try _RSA.Signing.PublicKey(derRepresentation: der)
            } catch {
                throw InvalidDocument(reason: "PublicKeyList[\(index)].Value is not an RSA public key of 2048 bits or more")
            }
        }
        if case .string(let token)? = document["NextToken"], !token.isEmpty { return token }
        return nil
    }

    /// Both rings' keys (fingerprints name one key each).
    public mutating func merge(_ other: PublicKeyRing) {
        keys.merge(other.keys) { mine, _ in mine }
    }

    public var count: Int { keys.count }

    /// What checking a digest's signature found.
    public enum Verdict: Sendable, Equatable {
        case valid
        /// The signature does not match the digest (its content, location or chain link was changed, or
        /// the signature was).
        case invalid
        /// No key has the digest's fingerprint.
        case unknownKey
    }

    /// Checks `signature` (hex, as S3 metadata and `previousDigestSignature` hold it) over the digest's
    /// signed text with the key its fingerprint names.
    public func verify(_ digest: CloudTrailDigest, signature: String) -> Verdict {
        guard let key = keys[digest.fingerprint.lowercased()] else { return .unknownKey }
        guard let bytes = Hex.decode(signature) else { return .invalid }
        let signed = SHA256.hash(data: Array(digest.signedText.utf8))
        return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: bytes), for: signed, padding: .insecurePKCS1v1_5)
            ? .valid : .invalid
    }
}
