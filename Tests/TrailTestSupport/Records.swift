public import TrailEvents
internal import TrailBytes

/// Calls `body` with each record of the CloudTrail log `{"Records":[<records>]}`, as the scanner's
/// zero-copy record view sees it (`records`: one or more record objects, comma-separated).
public func withRecords(_ records: String, _ body: (borrowing CloudTrailRecord) -> Void) throws(CloudTrailFormatError) {
    let document = Array("{\"Records\":[\(records)]}".utf8)
    let window = ByteWindow(initialCapacity: 4096, maximumCapacity: max(1 << 20, 2 * document.count))
    document.withUnsafeBytes { try! window.write($0) }
    try RecordSplitter().drain(window, isFinal: true, body)
}
