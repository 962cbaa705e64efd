import Foundation
import TrailBytes
import TrailEvents
import TrailGzip
import TrailJSON
import TrailMatch
@testable import TrailS3

/// One fuzz target: takes the fuzzer's bytes, and traps (a finding) when an invariant breaks.
typealias Target = @Sendable ([UInt8]) -> Void

/// The target `TRAILSCAN_FUZZ` names, chosen once.
let target: Target = {
    let name = ProcessInfo.processInfo.environment["TRAILSCAN_FUZZ"] ?? ""
    switch name {
    case "gzip": return gzipPathsAgree
    case "json": return jsonAgreesWithFoundation
    case "pattern": return matchersAgree
    case "template": return templatesRender
    case "config": return configurationLoads
    case "s3": return awsResponsesParse
    default:
        FileHandle.standardError.write(Data("TRAILSCAN_FUZZ must be gzip, json, pattern, template, config or s3\n".utf8))
        exit(64)
    }
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    target(count == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}

// MARK: - gzip

/// Streams `input` through the decoder in chunks of `chunk` bytes: the output, or the error.
func streamed(_ input: [UInt8], chunk: Int, limit: Int) -> Result<[UInt8], GzipError> {
    let decoder = GzipDecoder(outputLimit: limit)
    let window = ByteWindow(initialCapacity: 4096, maximumCapacity: 1 << 16)
    var output: [UInt8] = []
    let bytes = input
    var offset = 0
    do throws(GzipError) {
        repeat {
            let end = min(offset + chunk, bytes.count)
            var piece = bytes[offset..<end]
            offset = end
            repeat {
                let step: Result<Int, GzipError> = piece.withUnsafeBytes { raw in
                    Result { () throws(GzipError) -> Int in try decoder.decode(raw, into: window) }
                }
                let used = try step.get()
                piece = piece.dropFirst(used)
                window.withReadableBytes { output.append(contentsOf: $0) }
                window.moveReaderIndex(forwardBy: window.readableCount)
            } while !piece.isEmpty || decoder.mayHaveBufferedOutput
        } while offset < bytes.count
        try decoder.finish()
        return .success(output)
    } catch {
        return .failure(error)
    }
}

/// The streaming decoder gives the same output and error whatever the chunking, and the fast path,
/// when it does not decline, gives exactly the streaming output.
func gzipPathsAgree(_ input: [UInt8]) {
    let limit = 1 << 20
    let whole = streamed(input, chunk: max(1, input.count), limit: limit)
    let bytewise = streamed(input, chunk: 7, limit: limit)
    switch (whole, bytewise) {
    case (.success(let a), .success(let b)): precondition(a == b, "chunking changed the output")
    case (.failure(let a), .failure(let b)): precondition(a == b, "chunking changed the error: \(a) / \(b)")
    default: preconditionFailure("chunking changed the outcome: \(whole) / \(bytewise)")
    }
    guard let inflater = WholeGzipInflater() else { return }
    let window = ByteWindow(initialCapacity: 4096, maximumCapacity: 1 << 21)
    let fast = input.withUnsafeBytes { inflater.inflate($0, into: window, outputLimit: limit) }
    if let fast {
        var output: [UInt8] = []
        window.withReadableBytes { output.append(contentsOf: $0) }
        guard case .success(let expected) = whole else { preconditionFailure("the fast path accepted what zlib refuses: \(whole)") }
        precondition(fast == expected.count && output == expected, "the fast path's output differs")
    }
}

// MARK: - JSON

/// A document the strict parser accepts is one Foundation accepts too — except where RFC 8259's grammar
/// allows what Foundation refuses and trailscan takes it on purpose: a lone surrogate escape (`\ude00`,
/// decoded as U+FFFD: refusing it would let one crafted user agent hide a whole log file) and a number
/// beyond a double's range (`4e570`, which compares as infinity). And the record splitter, on
/// `{"Records":[document]}`, agrees with the parser about the record.
func jsonAgreesWithFoundation(_ input: [UInt8]) {
    let ours = try? JSONValue(parsing: input)
    let foundation = try? JSONSerialization.jsonObject(with: Data(input), options: [.fragmentsAllowed])
    if ours != nil && !hasSurrogateEscape(input) && !hasHugeNumber(input) {
        precondition(foundation != nil, "accepted JSON that Foundation refuses")
    }
    guard case .object = ours else { return }
    let document = Array("{\"Records\":[".utf8) + input + Array("]}".utf8)
    let window = ByteWindow(initialCapacity: 4096, maximumCapacity: max(1 << 16, 2 * document.count))
    document.withUnsafeBytes { try! window.write($0) }
    var records = 0
    do {
        try RecordSplitter().drain(window, isFinal: true) { _ in records += 1 }
    } catch {
        preconditionFailure("the splitter refused a record the parser accepts: \(error)")
    }
    precondition(records == 1)
}

/// Whether `input` holds a `\uD800`…`\uDFFF` escape (paired or not).
func hasSurrogateEscape(_ input: [UInt8]) -> Bool {
    guard input.count >= 6 else { return false }
    for i in 0..<(input.count - 5) where input[i] == 0x5C && input[i + 1] == 0x75 && (input[i + 2] | 0x20) == 0x64 {
        if [0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66].contains(input[i + 3] | 0x20) { return true }
    }
    return false
}

/// Whether `input` holds an exponent of three digits or more, or a run of 300 digits: a number a double
/// may not hold.
func hasHugeNumber(_ input: [UInt8]) -> Bool {
    var digits = 0
    for (index, byte) in input.enumerated() {
        digits = byte &- 0x30 < 10 ? digits + 1 : 0
        if digits >= 300 { return true }
        if byte | 0x20 == 0x65, index > 0, input[index - 1] &- 0x30 < 10 || input[index - 1] == 0x2E {
            var next = index + 1
            if next < input.count, input[next] == 0x2B || input[next] == 0x2D { next += 1 }
            var exponentDigits = 0
            while next < input.count, input[next] &- 0x30 < 10 { exponentDigits += 1; next += 1 }
            if exponentDigits >= 3 { return true }
        }
    }
    return false
}

// MARK: - Patterns

/// `pattern NUL record`: the compiled matcher on the record view and the reference evaluator on the
/// record's envelope give the same answer.
func matchersAgree(_ input: [UInt8]) {
    guard let split = input.firstIndex(of: 0),
          let patternText = String(validating: input[..<split], as: UTF8.self),
          let pattern = try? EventPattern(parsing: patternText),
          case .object? = try? JSONValue(parsing: Array(input[(split + 1)...]))
    else { return }
    let record = Array(input[(split + 1)...])
    let expected = pattern.matches(event: Envelope.event(for: try! JSONValue(parsing: record)))
    let rules = RuleSet([Rule(id: "fuzz", severity: .info, title: "fuzz", description: "", pattern: pattern)])
    let matcher = RecordMatcher(rules)
    let document = Array("{\"Records\":[".utf8) + record + Array("]}".utf8)
    let window = ByteWindow(initialCapacity: 4096, maximumCapacity: max(1 << 16, 2 * document.count))
    document.withUnsafeBytes { try! window.write($0) }
    var found: [Int] = []
    try! RecordSplitter().drain(window, isFinal: true) { matcher.evaluate($0, into: &found) }
    precondition((found == [0]) == expected, "compiled \(found == [0]), reference \(expected) for \(patternText)")
}

// MARK: - Templates and configuration

/// `transformer NUL event`: rendering never fails, and a JSON template renders to JSON whenever the
/// template is JSON with every placeholder in a string or in a value's place.
func templatesRender(_ input: [UInt8]) {
    guard let split = input.firstIndex(of: 0),
          let json = try? JSONValue(parsing: Array(input[..<split])),
          let transformer = try? InputTransformer(json),
          let event = try? JSONValue(parsing: Array(input[(split + 1)...]))
    else { return }
    let output = transformer.render(event: event, ruleID: "fuzz")
    guard transformer.isJSONTemplate, (try? JSONValue(parsing: placeholdersAsNull(transformer.template))) != nil else { return }
    precondition((try? JSONValue(parsing: output)) != nil, "a JSON template rendered to invalid JSON: \(output)")
}

/// The template with each `<name>` outside strings replaced by `null`, and kept as text inside them.
func placeholdersAsNull(_ template: String) -> String {
    var output = ""
    var inString = false, escaped = false
    var rest = Substring(template)
    while let character = rest.first {
        if !inString, character == "<", let close = rest.firstIndex(of: ">") {
            output += "null"
            rest = rest[rest.index(after: close)...]
            continue
        }
        if escaped { escaped = false } else if character == "\\" { escaped = inString } else if character == "\"" { inString.toggle() }
        output.append(character)
        rest = rest.dropFirst()
    }
    return output
}

/// A configuration file loads or is refused with an error; it never traps.
func configurationLoads(_ input: [UInt8]) {
    guard let json = try? JSONValue(parsing: input) else { return }
    _ = try? Suppressions(configuration: json)
}

// MARK: - AWS responses

/// The first byte picks a parser of what an AWS endpoint (or an impostor) answers — a ListObjectsV2
/// page, an error document, STS credentials, container or instance credentials — and the rest is the
/// body. None traps; a page that goes on says where, and credentials that parse are never empty.
func awsResponsesParse(_ input: [UInt8]) {
    guard let selector = input.first else { return }
    let body = Array(input.dropFirst())
    switch selector % 4 {
    case 0:
        if let page = try? ListObjectsPage.parse(body) {
            precondition(page.continuationToken.map { !$0.isEmpty } ?? true, "an empty continuation token")
            precondition(page.objects.allSatisfy { !$0.key.isEmpty }, "an object without a key")
        }
    case 1:
        _ = ErrorDocument.parse(body)
    case 2:
        if let credentials = try? CredentialProvider.stsCredentials(ErrorDocument.parse(body), what: "fuzz") {
            precondition(!credentials.accessKeyID.isEmpty && !credentials.secretAccessKey.isEmpty, "empty STS credentials")
        }
    default:
        if let credentials = try? CredentialProvider.jsonCredentials(body, what: "fuzz") {
            precondition(!credentials.accessKeyID.isEmpty && !credentials.secretAccessKey.isEmpty, "empty credentials")
        }
    }
}

// MARK: - Entry point

/// libFuzzer's driver, called from the executable's entry point (SwiftPM links an executable target's
/// `main` to `<module>_main`, so libFuzzer's own `main` is not the one that runs).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

@_cdecl("trailscan_fuzz_main")
func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runFuzzerDriver(&argc, &argv) { data, count in fuzzOne(data, count) }
}
