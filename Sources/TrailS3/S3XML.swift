internal import Foundation
internal import FoundationXML

/// One page of a ListObjectsV2 response.
public struct ListObjectsPage: Sendable, Equatable {
    public struct Object: Sendable, Equatable {
        public var key: String
        public var size: Int
    }

    public var objects: [Object] = []
    /// The `CommonPrefixes` (with a delimiter: the "folders").
    public var prefixes: [String] = []
    /// Set when the listing goes on: pass it to the next request.
    public var continuationToken: String?

    /// Parses the XML of a ListObjectsV2 response.
    static func parse(_ body: [UInt8]) -> ListObjectsPage? {
        let reader = ListReader()
        let parser = XMLParser(data: Data(body))
        parser.delegate = reader
        guard parser.parse() else { return nil }
        var page = reader.page
        if !reader.truncated { page.continuationToken = nil }
        return page
    }
}

/// SAX reader of `ListBucketResult`: keys and sizes of `Contents`, `CommonPrefixes`, the continuation.
private final class ListReader: NSObject, XMLParserDelegate {
    var page = ListObjectsPage()
    var truncated = false
    private var path: [String] = []
    private var text = ""
    private var key = ""
    private var size = 0

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
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
        case (_, "Contents"): page.objects.append(.init(key: key, size: size))
        case ("CommonPrefixes", "Prefix"): page.prefixes.append(text)
        case ("ListBucketResult", "IsTruncated"): truncated = text == "true"
        case ("ListBucketResult", "NextContinuationToken"): page.continuationToken = text
        default: break
        }
        path.removeLast()
        text = ""
    }
}

/// The fields of an S3 `<Error>` document (`Code`, `Message`, `ServerTime`…).
enum ErrorDocument {
    static func parse(_ body: [UInt8]) -> [String: String] {
        guard !body.isEmpty else { return [:] }
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
