import Foundation
import Testing
import TrailTestSupport
@testable import TrailS3

@Suite struct AWSXMLTests {
    /// The example response of the ListObjectsV2 reference, as S3 writes it (pretty-printed here),
    /// with keys that need references.
    @Test func anS3ListingReadsAsS3WroteIt() throws {
        let body = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
                <Name>bucket</Name>
                <Prefix/>
                <KeyCount>2</KeyCount>
                <MaxKeys>1000</MaxKeys>
                <IsTruncated>true</IsTruncated>
                <Contents>
                    <Key>my-image.jpg</Key>
                    <LastModified>2009-10-12T17:50:30.000Z</LastModified>
                    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>
                    <Size>434234</Size>
                    <StorageClass>STANDARD</StorageClass>
                </Contents>
                <Contents>
                    <Key>a&amp;b &lt;c&gt; &#13;&#x10348;</Key>
                    <Size>0</Size>
                </Contents>
                <CommonPrefixes><Prefix>photos/</Prefix></CommonPrefixes>
                <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
            </ListBucketResult>

            """
        let page = try ListObjectsPage.parse(Array(body.utf8))
        #expect(page.objects == [.init(key: "my-image.jpg", size: 434234, etag: "\"fba9dede5f27731c9771645a39863328\""),
                                 .init(key: "a&b <c> \r\u{10348}", size: 0)])
        #expect(page.prefixes == ["photos/"])
        #expect(page.continuationToken == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
        // A literal line end is LF, as XML reads it; only a reference keeps a CR.
        #expect(try AWSXML.parse(Array("<a>x\r\ny\rz</a>".utf8)).text == "x\ny\nz")
    }

    /// Each way out of the subset is refused, with what and where.
    @Test func whatIsNotAValidDocumentIsNamedWithItsOffset() {
        let cases: [(String, String)] = [
            ("<a><b></a>", "the end tag </a> closes <b> at byte 6"),
            ("<a></a><b/>", "content after </a> at byte 7"),
            ("x<a/>", "text outside the root element at byte 0"),
            ("<a>&nbsp;</a>", "an undefined entity &nbsp; at byte 3"),
            ("<a>&#0;</a>", "an invalid character reference &#0; at byte 3"),
            ("<a>&#+5;</a>", "an invalid character reference &#+5; at byte 3"),
            ("<a>&#xD800;</a>", "an invalid character reference &#xD800; at byte 3"),
            ("<a>AT&T</a>", "an '&' that starts no reference at byte 5"),
            ("<a>\u{1}</a>", "a control character (0x1) at byte 3"),
            ("<a b='1' b='2'/>", "<a> repeats the attribute b at byte 9"),
            ("<a b=1/>", "an attribute value that is not quoted at byte 5"),
            ("<a b='<'/>", "a '<' in an attribute value at byte 6"),
            ("<a b='1'c='2'/>", "no space before an attribute of <a> at byte 8"),
            ("<a><?pi x?></a>", "a processing instruction at byte 3"),
            ("<a><!-- c --></a>", "a DOCTYPE, comment or CDATA section at byte 3"),
            ("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a/>", "an encoding other than UTF-8 (ISO-8859-1) at byte 0"),
            ("<ListBucketResult><Contents><Key>AWSLogs/x", "the document ends inside <Key> at byte 42"),
            ("<a", "the document ends inside <a> at byte 2"),
            ("   ", "no root element at byte 3"),
            (String(repeating: "<a>", count: 40), "elements nested deeper than 32 at byte 96"),
        ]
        for (body, expected) in cases {
            #expect(throws: AWSXML.Invalid.self, "\(body)") { try AWSXML.parse(Array(body.utf8)) }
            do { _ = try AWSXML.parse(Array(body.utf8)) } catch { #expect(error.description == expected, "\(body)") }
        }
        do { _ = try AWSXML.parse(Array("<a>é".utf8) + [0xC3]) } catch { #expect(error.description == "the body is not UTF-8 at byte 5") }
    }

    /// Against expat (Python's `xml.parsers.expat`, a reference XML parser): 12,000 mutations of real AWS
    /// answers; every one this reader accepts, expat accepts with the same tree. (Expat accepts more:
    /// processing instructions, comments, DOCTYPEs, other encodings.)
    @Test func whatThisReaderAcceptsExpatReadsTheSameWay() throws {
        let seeds = [
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><IsTruncated>false</IsTruncated><Contents><Key>AWSLogs/1/CloudTrail/x.json.gz</Key><ETag>&quot;e&quot;</ETag><Size>12</Size></Contents></ListBucketResult>",
            "<Error><Code>SlowDown</Code><Message>Please reduce &amp; retry.</Message><RequestId>R1</RequestId></Error>",
            "<AssumeRoleWithWebIdentityResponse xmlns='https://sts.amazonaws.com/doc/2011-06-15/'>\r\n <AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>AKIA</AccessKeyId><SecretAccessKey>s&#x2F;k</SecretAccessKey></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
        ].map { Array($0.utf8) }
        let alphabet = Array("<>/&;#x\"'= \r\n\tab?!-".utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xA9, 0xFF]
        var random = SplitMix(state: 0x584D_4C)
        var documents: [[UInt8]] = []
        for round in 0..<12_000 {
            var document = seeds[round % seeds.count]
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                let at = Int.random(in: 0...document.count, using: &random)
                switch Int.random(in: 0..<4, using: &random) {
                case 0: document.insert(alphabet.randomElement(using: &random)!, at: at)
                case 1 where at < document.count: document.removeSubrange(at..<min(document.count, at + Int.random(in: 1...8, using: &random)))
                case 2: document = Array(document.prefix(at))
                default: if at < document.count { document[at] = alphabet.randomElement(using: &random)! }
                }
            }
            documents.append(document)
        }
        documents += seeds
        let expat = try Self.expatTrees(documents)
        var accepted = 0
        for (document, reference) in zip(documents, expat) {
            guard let tree = try? AWSXML.parse(document) else { continue }
            accepted += 1
            #expect(reference as? NSArray == Self.json(tree), "\(String(decoding: document, as: UTF8.self).debugDescription)")
        }
        #expect(accepted >= 500, "\(accepted)")  // enough of the mutations leave a valid document
    }

    /// `[name, text, [children]]`: the tree as the expat script writes it.
    static func json(_ element: AWSXML.Element) -> NSArray {
        [element.name, element.text, element.children.map(json)] as NSArray
    }

    /// Each document's tree by expat, or `NSNull` where expat refuses it.
    static func expatTrees(_ documents: [[UInt8]]) throws -> [Any] {
        let script = """
            import base64, json, sys, xml.parsers.expat
            def tree(data):
                stack, root = [], []
                def start(name, attrs):
                    node = [name, "", []]
                    (stack[-1][2] if stack else root).append(node)
                    stack.append(node)
                def end(name): stack.pop()
                def text(data):
                    if stack: stack[-1][1] += data
                p = xml.parsers.expat.ParserCreate()
                p.StartElementHandler, p.EndElementHandler, p.CharacterDataHandler = start, end, text
                try:
                    p.Parse(data, True)
                except (xml.parsers.expat.ExpatError, LookupError, ValueError):
                    return None
                return root[0]
            print(json.dumps([tree(base64.b64decode(d)) for d in json.load(sys.stdin)]))
            """
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("awsxml-\(getpid()).json")
        defer { try? FileManager.default.removeItem(at: input) }
        try JSONSerialization.data(withJSONObject: documents.map { Data($0).base64EncodedString() }).write(to: input)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.standardInput = try FileHandle(forReadingFrom: input)
        let output = Pipe()
        process.standardOutput = output
        let errors = input.appendingPathExtension("err")
        defer { try? FileManager.default.removeItem(at: errors) }
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errors)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\((try? String(contentsOf: errors, encoding: .utf8)) ?? "")")
        return try #require(JSONSerialization.jsonObject(with: data) as? [Any])
    }
}
