/// One page of a ListObjectsV2 response.
public struct ListObjectsPage: Sendable, Equatable {
    public struct Object: Sendable, Equatable {
        public var key: String
        public var size: Int
        /// The `ETag` (quoted, as S3 writes it), or `nil` when the listing has none.
        public var etag: String?

        public init(key: String, size: Int, etag: String? = nil) {
            self.key = key
            self.size = size
            self.etag = etag
        }
    }

    public var objects: [Object] = []
    /// The `CommonPrefixes` (with a delimiter: the "folders").
    public var prefixes: [String] = []
    /// Set when the listing goes on: pass it to the next request.
    public var continuationToken: String?

    /// Why a body is not a complete ListObjectsV2 result.
    struct Malformed: Error, Equatable {
        var reason: String
    }

    /// Parses the XML of a ListObjectsV2 response, strictly: the document must be valid in the part of
    /// XML AWS writes (`AWSXML`) and complete, its root `ListBucketResult` with `IsTruncated`, every
    /// `Contents` with a `Key` and a numeric `Size`, and a truncated page must say where to continue.
    /// Anything else — an HTML page, an empty body, XML cut short — is not taken for a page (it would
    /// read as a listing with fewer objects).
    static func parse(_ body: [UInt8]) throws(Malformed) -> ListObjectsPage {
        guard !body.isEmpty else { throw Malformed(reason: "the body is empty") }
        let root: AWSXML.Element
        do { root = try AWSXML.parse(body) } catch { throw Malformed(reason: "invalid XML: \(error)") }
        guard root.name == "ListBucketResult" else { throw Malformed(reason: "the root element is <\(root.name)>, not <ListBucketResult>") }
        guard let truncated = root.child("IsTruncated")?.text else { throw Malformed(reason: "IsTruncated is missing") }
        guard truncated == "true" || truncated == "false" else { throw Malformed(reason: "IsTruncated is '\(truncated)'") }
        var page = ListObjectsPage()
        for element in root.children {
            switch element.name {
            case "Contents":
                guard let key = element.child("Key")?.text, !key.isEmpty else { throw Malformed(reason: "a Contents element has no Key") }
                let sizeText = element.child("Size")?.text ?? "0"
                guard let size = Int(sizeText), size >= 0, sizeText.first != "+" else {
                    throw Malformed(reason: "the Size of \(key) is '\(sizeText)'")
                }
                let etag = element.child("ETag")?.text
                page.objects.append(.init(key: key, size: size, etag: etag?.isEmpty == false ? etag : nil))  // some S3-compatible servers list none
            case "CommonPrefixes":
                page.prefixes += element.children.lazy.filter { $0.name == "Prefix" }.map(\.text)
            case "NextContinuationToken":
                page.continuationToken = element.text
            default:
                break
            }
        }
        if truncated == "true" {
            guard let token = page.continuationToken, !token.isEmpty else {
                throw Malformed(reason: "IsTruncated is true but NextContinuationToken is missing")
            }
        } else {
            page.continuationToken = nil
        }
        return page
    }
}

/// The fields of an AWS XML document: an S3 `<Error>` (`Code`, `Message`, `ServerTime`…), an STS or SNS
/// answer (`AccessKeyId`, `MessageId`…): the text of each element that has no child elements, the first
/// of each name in document order. A body that is not a valid document (`AWSXML`) has no fields.
enum ErrorDocument {
    static func parse(_ body: [UInt8]) -> [String: String] {
        guard let root = try? AWSXML.parse(body) else { return [:] }
        var fields: [String: String] = [:]
        var pending = [root]
        while let element = pending.popLast() {
            if element.children.isEmpty {
                if fields[element.name] == nil { fields[element.name] = element.text }
            } else {
                pending += element.children.reversed()
            }
        }
        return fields
    }
}
