import _CryptoExtras
import Crypto
import Foundation
import Testing
@testable import TrailDigest
import TrailGzip
import TrailTestSupport

/// The digest file format as AWS documents it, the key list `aws cloudtrail list-public-keys` prints,
/// the string CloudTrail signs, and the content hash of log files.
@Suite struct DigestTests {
    /// The example digest of the AWS CloudTrail User Guide ("CloudTrail digest file structure").
    static let documentedDigest = """
        {
          "awsAccountId": "111122223333",
          "digestStartTime": "2015-08-17T14:01:31Z",
          "digestEndTime": "2015-08-17T15:01:31Z",
          "digestS3Bucket": "S3-bucket-name",
          "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz",
          "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
          "digestSignatureAlgorithm": "SHA256withRSA",
          "newestEventTime": "2015-08-17T14:52:27Z",
          "oldestEventTime": "2015-08-17T14:42:27Z",
          "previousDigestS3Bucket": "S3-bucket-name",
          "previousDigestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T140131Z.json.gz",
          "previousDigestHashValue": "97fb791cf91ffc440d274f8190dbdd9aa09c34432aba82739df18b6d3c13df2d",
          "previousDigestHashAlgorithm": "SHA-256",
          "previousDigestSignature": "50887ccffad4c002b97caa37cc9dc626e3c680207d41d27fa5835458e066e0d3652fc4dfc30937e4d5f4cc7f796e7a258fb50a43ac427f2237f6e505d4efaf373d156e15e3b68dea9f58111d395b62628d6bd367a9024d2183b5c5f6e19466d3a996b92df705bc997b8a0e13430f241d733cf95df4e41bb6c304c3f58363043572ea57a27085639ce187e679c0d81c7519b1184fa77fb7ab0b0e40a32dace6e1eefc3995c5ae182da49b62b26398cebb52a2201a6387b75b89c83e5570bcb9bba6c34a80f2f00a1c6ebe07d1ff149eccd812dc805bb3eeff6657db32a6cb48d2d096404eb76181877bc6ebb8cd0b23f823200155b2fd8848d428e46e8456328a",
          "logFiles": [
            {
              "s3Bucket": "S3-bucket-name",
              "s3Object": "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
              "hashValue": "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6",
              "hashAlgorithm": "SHA-256",
              "newestEventTime": "2015-08-17T14:52:27Z",
              "oldestEventTime": "2015-08-17T14:42:27Z"
            }
          ]
        }
        """

    @Test func theDocumentedDigestParses() throws {
        let bytes = Array(Self.documentedDigest.utf8)
        let digest = try CloudTrailDigest(parsing: bytes)
        #expect(digest.account == "111122223333")
        #expect(digest.endTime - digest.startTime == 3600)
        #expect(digest.fingerprint == "31e8b5433410dfb61a9dc45cc65b22ff")
        #expect(digest.previous?.key.hasSuffix("_20150817T140131Z.json.gz") == true)
        #expect(digest.logFiles == [CloudTrailDigest.LogFile(
            bucket: "S3-bucket-name",
            key: "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz",
            hash: "9bb6196fc6b84d6f075a56548feca262bd99ba3c2de41b618e5b6e22c1fc71f6")])
        // What CloudTrail signs: end time, bucket/key, the content's SHA-256, the previous signature.
        let contentHash = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        #expect(digest.signedText == "2015-08-17T15:01:31Z\nS3-bucket-name/\(digest.key)\n\(contentHash)\n\(digest.previous!.signature)")
    }

    @Test func aStartingDigestSignsNullAndMissingFieldsAreNamed() throws {
        var starting = Self.documentedDigest
        for field in ["previousDigestS3Bucket", "previousDigestS3Object", "previousDigestHashValue", "previousDigestHashAlgorithm", "previousDigestSignature"] {
            starting = starting.replacingOccurrences(of: #""\#(field)": "#, with: #""\#(field)": null, "x\#(field)": "#)
        }
        let digest = try CloudTrailDigest(parsing: Array(starting.utf8))
        #expect(digest.previous == nil && digest.signedText.hasSuffix("\nnull"))
        let cases = [
            ("digestEndTime", "\"digestEndTime\": 12,", "digestEndTime is missing or not a string"),
            ("hashAlgorithm", "\"hashAlgorithm\": \"MD5\",", "hashAlgorithm MD5 is not SHA-256"),
            ("digestSignatureAlgorithm", "\"digestSignatureAlgorithm\": \"SHA1withRSA\",", "digestSignatureAlgorithm SHA1withRSA is not SHA256withRSA"),
        ]
        for (field, replacement, message) in cases {
            let line = Self.documentedDigest.split(separator: "\n").first { $0.contains("\"\(field)\"") }!
            let broken = Self.documentedDigest.replacingOccurrences(of: line, with: "  " + replacement)
            #expect(throws: InvalidDocument(reason: message)) { try CloudTrailDigest(parsing: Array(broken.utf8)) }
        }
        #expect(throws: InvalidDocument.self) { try CloudTrailDigest(parsing: Array("[]".utf8)) }
    }

    /// The AWS documentation's example key list holds PKCS #1 keys and a SubjectPublicKeyInfo one.
    @Test func theDocumentedKeyListLoads() throws {
        let list = """
            {"publicKeyList": [
              {"ValidityStartTime": "1436317441.0", "ValidityEndTime": "1438909441.0", "Fingerprint": "8eba5db5bea9b640d1c96a77256fe7f2",
               "Value": "MIIBCgKCAQEAn11L2YZ9h7onug2ILi1MWyHiMRsTQjfWE+pHVRLk1QjfWhirG+lpOa8NrwQ/r7Ah5bNL6HepznOU9XTDSfmmnP97mqyc7z/upfZdS/AHhYcGaz7n6Wc/RRBU6VmiPCrAUojuSk6/GjvA8iOPFsYDuBtviXarvuLPlrT9kAd4Lb+rFfR5peEgBEkhlzc5HuWO7S0y+KunqxX6jQBnXGMtxmPBPP0FylgWGNdFtks/4YSKcgqwH0YDcawP9GGGDAeCIqPWIXDLG1jOjRRzWfCmD0iJUkz8vTsn4hq/5ZxRFE7UBAUiVcGbdnDdvVfhF9C3dQiDq3k7adQIziLT0cShgQIDAQAB"},
              {"ValidityStartTime": "1434589370.0", "ValidityEndTime": "1437181370.0", "Fingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
               "Value": "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqlzPJbvZJ42UdcmLfPUqXYNfOs6I8lCfao/tOs8CmzPOEdtLWugB9xoIUz78qVHdKIqxbaG4jWHfJBiOSSFBM0lt8cdVo4TnRa7oG9io5pysS6DJhBBAeXsicufsiFJR+wrUNh8RSLxL4k6G1+BhLX20tJkZ/erT97tDGBujAelqseGg3vPZbTx9SMfOLN65PdLFudLP7Gat0Z9p5jw/rjpclKfo9Bfc3heeBxWGKwBBOKnFAaN9V57pOaosCvPKmHd9bg7jsQkI9Xp22IzGLsTFJZYVA3KiTAElDMu80iFXPHEq9hKNbt9e4URFam+1utKVEiLkR2disdCmPTK0VQIDAQAB"}
            ]}
            """
        let ring = try PublicKeyRing(parsing: Array(list.utf8))
        #expect(ring.count == 2)
        // The documented digest names the second key; its documented signature is not published, and
        // any other fails.
        let digest = try CloudTrailDigest(parsing: Array(Self.documentedDigest.utf8))
        #expect(ring.verify(digest, signature: String(repeating: "00", count: 256)) == .invalid)
        #expect(throws: InvalidDocument(reason: "PublicKeyList[0].Value is not base64")) {
            try PublicKeyRing(parsing: Array(#"{"PublicKeyList":[{"Value":"@@","Fingerprint":"aa"}]}"#.utf8))
        }
        #expect(throws: InvalidDocument(reason: "PublicKeyList[0].Value is not an RSA public key of 2048 bits or more")) {
            try PublicKeyRing(parsing: Array(#"{"PublicKeyList":[{"Value":"AAAA","Fingerprint":"aa"}]}"#.utf8))
        }
    }

    /// Signed here with a fresh key: valid; any change to what is signed, or another key, is not.
    @Test func aSignatureCoversEveryPartOfTheSignedText() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let list = #"{"PublicKeyList":[{"Value":"\#(key.publicKey.pkcs1DERRepresentation.base64EncodedString())","Fingerprint":"31e8b5433410dfb61a9dc45cc65b22ff"}]}"#
        let ring = try PublicKeyRing(parsing: Array(list.utf8))
        func sign(_ digest: CloudTrailDigest) throws -> String {
            try key.signature(for: SHA256.hash(data: Array(digest.signedText.utf8)), padding: .insecurePKCS1v1_5)
                .rawRepresentation.map { String(format: "%02x", $0) }.joined()
        }
        let digest = try CloudTrailDigest(parsing: Array(Self.documentedDigest.utf8))
        let signature = try sign(digest)
        #expect(ring.verify(digest, signature: signature) == .valid)
        #expect(ring.verify(digest, signature: signature.uppercased()) == .valid)
        for (original, changed) in [("15:01:31Z\",", "15:01:32Z\","), ("\"S3-bucket-name\",\n  \"digestS3Object", "\"S3-bucket-nam\",\n  \"digestS3Object"),
                                    ("14:52:27Z\",\n  \"oldest", "14:52:28Z\",\n  \"oldest"), ("50887ccf", "50887ccd")] {
            let altered = try CloudTrailDigest(parsing: Array(Self.documentedDigest.replacingOccurrences(of: original, with: changed).utf8))
            #expect(altered != digest)
            #expect(ring.verify(altered, signature: signature) == .invalid, "\(changed)")
        }
        var unknown = digest
        unknown.fingerprint = "0000"
        #expect(ring.verify(unknown, signature: signature) == .unknownKey)
        #expect(ring.verify(digest, signature: "not hex") == .invalid)
    }

    /// The hash of a log file is of its uncompressed content, however the bytes arrive, gzip or not.
    @Test func theContentHashIsOfTheUncompressedBytesInAnyChunks() throws {
        var content: [UInt8] = []
        for index in 0..<40_000 { content += Array("{\"eventID\":\"\(index)\"},".utf8) }
        let expected = SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
        let gzip = [UInt8](try Shell.filter(Data(content), through: "gzip -n -c"))
        let hasher = ContentHasher(outputLimit: 1 << 30)
        for input in [gzip, content] {
            for chunk in [1, 7, 4096, 1 << 20] where chunk > 1 || input.count < 200_000 {
                hasher.reset()
                var offset = 0
                while offset < input.count {
                    let end = min(input.count, offset + chunk)
                    try input[offset..<end].withUnsafeBytes { try hasher.update($0) }
                    offset = end
                }
                #expect(try hasher.finish() == expected)
            }
        }
        // Held whole, on libdeflate's fast path (gzip) or streamed when it declines (plain): the same hash.
        for input in [gzip, content] {
            #expect(try input.withUnsafeBytes { try hasher.hash(whole: $0) } == expected)
        }
        // Two members hash as their concatenated content, as zlib reads them.
        let twice = SHA256.hash(data: content + content).map { String(format: "%02x", $0) }.joined()
        #expect(try (gzip + gzip).withUnsafeBytes { try hasher.hash(whole: $0) } == twice)
        // A cut or corrupted file gives the streaming decoder's exact error either way.
        for broken in [Array(gzip.dropLast(3)), { var b = gzip; b[b.count / 2] ^= 1; return b }()] {
            hasher.reset()
            var streamed: GzipError?
            do {
                try broken.withUnsafeBytes { try hasher.update($0) }
                _ = try hasher.finish()
            } catch let error as GzipError { streamed = error }
            #expect(streamed != nil)
            #expect(throws: streamed!) { try broken.withUnsafeBytes { try hasher.hash(whole: $0) } }
        }
    }
}
