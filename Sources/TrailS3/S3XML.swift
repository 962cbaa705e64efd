internal import Foundation
internal import FoundationXML

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

    /// Parses the XML of a ListObjectsV2 response, strictly: the document must be in the subset AWS
    /// writes (`XMLSubset`), well formed and complete, its root `ListBucketResult` with `IsTruncated`, every `Contents` with a `Key`, and a
    /// truncated page must say where to continue. Anything else — an HTML page, an empty body, XML cut
    /// short — is not taken for a page (it would read as a listing with fewer objects).
    static func parse(_ body: [UInt8]) throws(Malformed) -> ListObjectsPage {
        guard !body.isEmpty else { throw Malformed(reason: "the body is empty") }
        if let problem = XMLSubset.problem(in: body) { throw Malformed(reason: problem) }
        let reader = ListReader()
        let parser = XMLParser(data: Data(body))
        parser.delegate = reader
        let parsed = parser.parse()
        if let problem = reader.problem { throw Malformed(reason: problem) }
        guard parsed else {
            throw Malformed(reason: "invalid XML (\(parser.parserError.map { "\($0.localizedDescription)" } ?? "unknown error"))")
        }
        guard reader.complete else { throw Malformed(reason: "no complete ListBucketResult element") }
        guard let truncated = reader.truncated else { throw Malformed(reason: "IsTruncated is missing") }
        var page = reader.page
        if truncated {
            guard let token = page.continuationToken, !token.isEmpty else {
                throw Malformed(reason: "IsTruncated is true but NextContinuationToken is missing")
            }
        } else {
            page.continuationToken = nil
        }
        return page
    }
}

/// SAX reader of `ListBucketResult`: keys and sizes of `Contents`, `CommonPrefixes`, the continuation.
private final class ListReader: NSObject, XMLParserDelegate {
    var page = ListObjectsPage()
    /// `IsTruncated`, once read.
    var truncated: Bool?
    /// The root element was `ListBucketResult` and it ended.
    var complete = false
    /// What made the document unusable, if anything.
    var problem: String?
    private var path: [String] = []
    private var text = ""
    private var key: String?
    private var size = 0
    private var etag: String?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if path.isEmpty && name != "ListBucketResult" { fail("the root element is <\(name)>, not <ListBucketResult>", parser) }
        if complete { fail("content after </ListBucketResult>", parser) }
        if name == "Contents" { (key, etag) = (nil, nil) }
        path.append(name)
        text = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        text += string
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        let parent = path.count >= 2 ? path[path.count - 2] : ""
        switch (parent, name) {
        case ("Contents", "Key"): key = text
        case ("Contents", "Size"): size = Int(text) ?? 0
        case ("Contents", "ETag"): etag = text.isEmpty ? nil : text  // some S3-compatible servers list none
        case ("ListBucketResult", "Contents"):
            guard let key, !key.isEmpty else { return fail("a Contents element has no Key", parser) }
            page.objects.append(.init(key: key, size: size, etag: etag))
        case ("CommonPrefixes", "Prefix"): page.prefixes.append(text)
        case ("ListBucketResult", "IsTruncated"):
            guard text == "true" || text == "false" else { return fail("IsTruncated is '\(text)'", parser) }
            truncated = text == "true"
        case ("ListBucketResult", "NextContinuationToken"): page.continuationToken = text
        case ("", "ListBucketResult"): complete = true
        default: break
        }
        path.removeLast()
        text = ""
    }

    private func fail(_ reason: String, _ parser: XMLParser) {
        if problem == nil { problem = reason }
        parser.abortParsing()
    }
}

/// The fields of an AWS XML document: an S3 `<Error>` (`Code`, `Message`, `ServerTime`…), an STS or SNS
/// answer (`AccessKeyId`, `MessageId`…): each element's text, first occurrence of each name.
enum ErrorDocument {
    ///
    /// A body outside the XML that AWS writes (`XMLSubset`) has no fields.
    static func parse(_ body: [UInt8]) -> [String: String] {
        guard !body.isEmpty, XMLSubset.problem(in: body) == nil else { return [:] }
        let reader = FieldReader()
        let parser = XMLParser(data: Data(body))
        parser.delegate = reader
        _ = parser.parse()
        return reader.fields
    }

    private final class FieldReader: NSObject, XMLParserDelegate {
        var fields: [String: String] = [:]
        private var text = ""

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                    attributes: [String: String] = [:]) {
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            text += string
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if name != "Error" && fields[name] == nil { fields[name] = text }
            text = ""
        }
    }
}

/// The XML that S3 and STS write: UTF-8, at most one declaration (`<?xml …?>`) at the start, then
/// elements, text and character references — no other processing instruction, no DOCTYPE, no entity
/// declaration, no CDATA. Anything else is refused before Foundation's `XMLParser` sees it: on Linux it
/// traps on an element name that is not UTF-8 and dereferences NULL on a processing instruction without
/// data (both found by fuzzing), and a DOCTYPE is where entity expansion attacks live.
enum XMLSubset {
    /// Why `body` is outside the subset, or `nil`.
    static func problem(in body: [UInt8]) -> String? {
        guard String(validating: body, as: UTF8.self) != nil else { return "the body is not UTF-8" }
        var index = 0
        if body.starts(with: Array("<?xml ".utf8)) {
            // The declaration ends at its first `>`, which must close `?>`, with no `<` inside.
            guard let close = body.firstIndex(of: 0x3E), body[close - 1] == 0x3F, !body[2..<close].contains(0x3C)
            else { return "a malformed XML declaration" }
            index = close + 1
        }
        while let open = body[index...].firstIndex(of: 0x3C) {
            guard open + 1 < body.count else { break }
            switch body[open + 1] {
            case 0x3F: return "a processing instruction"  // <?
            case 0x21: return "a DOCTYPE, comment or CDATA section"  // <!
            default: index = open + 1
            }
        }
        return nil
    }
}
