import Benchmark
import Foundation
import TrailBytes
import TrailEvents
import TrailGzip
import TrailJSON
import TrailMatch

/// The sample logs, gzip and decoded, loaded once (`../sample-logs`, run from `Benchmarks/`).
let objects: [[UInt8]] = {
    let root = URL(fileURLWithPath: "../sample-logs")
    var files: [[UInt8]] = []
    for case let url as URL in FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
    where url.pathExtension == "gz" && !url.path.contains("CloudTrail-Digest") {
        files.append([UInt8](try! Data(contentsOf: url)))
    }
    return files
}()

let decoded: [[UInt8]] = objects.map { object in
    let decoder = GzipDecoder(outputLimit: 1 << 30)
    let window = ByteWindow(initialCapacity: 1 << 20, maximumCapacity: 1 << 28)
    var output: [UInt8] = []
    object.withUnsafeBytes { bytes in
        var rest = bytes
        repeat {
            try! window.reserveWritable(1 << 16)
            let used = try! decoder.decode(rest, into: window)
            rest = UnsafeRawBufferPointer(rebasing: rest[used...])
            window.withReadableBytes { output += $0 }
            window.moveReaderIndex(forwardBy: window.readableCount)
        } while !rest.isEmpty || decoder.mayHaveBufferedOutput
    }
    return output
}

let compressedBytes = objects.reduce(0) { $0 + $1.count }
let decodedBytes = decoded.reduce(0) { $0 + $1.count }

/// Splits every decoded object into records, calling `body` for each.
func splitAll(_ splitter: RecordSplitter, _ window: ByteWindow, _ body: (CloudTrailRecord) -> Void) {
    for object in decoded {
        splitter.reset()
        window.reset()
        object.withUnsafeBytes { try! window.write($0) }
        try! splitter.drain(window, isFinal: true, body)
    }
}

let recordCount: Int = {
    var count = 0
    splitAll(RecordSplitter(), ByteWindow(initialCapacity: 1 << 20, maximumCapacity: 1 << 28)) { _ in count += 1 }
    return count
}()

let userRules: [Rule] = try! RuleFile.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: "rules-100.json"))), file: "rules-100.json").map(\.rule)

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]

    Benchmark("gzip decode, zlib streaming (sample-logs)", configuration: .init(metrics: metrics, scalingFactor: .one)) { benchmark in
        let decoder = GzipDecoder(outputLimit: 1 << 30)
        let window = ByteWindow(initialCapacity: 1 << 20, maximumCapacity: 1 << 28)
        benchmark.startMeasurement()
        for object in objects {
            decoder.reset()
            object.withUnsafeBytes { bytes in
                var rest = bytes
                repeat {
                    try! window.reserveWritable(1 << 16)
                    rest = UnsafeRawBufferPointer(rebasing: rest[(try! decoder.decode(rest, into: window))...])
                    window.moveReaderIndex(forwardBy: window.readableCount)
                } while !rest.isEmpty || decoder.mayHaveBufferedOutput
            }
        }
        blackHole(decoder.bytesOut)
    }

    Benchmark("gzip decode, libdeflate whole objects (sample-logs)", configuration: .init(metrics: metrics, scalingFactor: .one)) { benchmark in
        let inflater = WholeGzipInflater()!
        let window = ByteWindow(initialCapacity: 1 << 20, maximumCapacity: 1 << 28)
        benchmark.startMeasurement()
        for object in objects {
            window.reset()
            blackHole(object.withUnsafeBytes { inflater.inflate($0, into: window, outputLimit: 1 << 28) })
        }
    }

    Benchmark("tokenize and split records", configuration: .init(metrics: metrics, scalingFactor: .one)) { benchmark in
        let splitter = RecordSplitter()
        let window = ByteWindow(initialCapacity: 1 << 20, maximumCapacity: 1 << 28)
        var count = 0
        benchmark.startMeasurement()
        splitAll(splitter, window) { _ in count += 1 }
        blackHole(count)
    }

    for (name, rules) in [("built-in pack", BuiltinRules.all), ("built-in pack + 100 user rules", BuiltinRules.all + userRules)] {
        Benchmark("split and match, \(name)", configuration: .init(metrics: metrics, scalingFactor: .one)) { benchmark in
            let splitter = RecordSplitter()
            let window = ByteWindow(initialCapacity: 1 << 20, maximumCapacity: 1 << 28)
            let matcher = RecordMatcher(RuleSet(rules))
            var matches: [Int] = []
            matches.reserveCapacity(64)
            benchmark.startMeasurement()
            splitAll(splitter, window) { record in
                matches.removeAll(keepingCapacity: true)
                matcher.evaluate(record, into: &matches)
            }
            blackHole(matches)
        }
    }

    print("sample-logs: \(objects.count) objects, \(compressedBytes) bytes gzip, \(decodedBytes) bytes JSON, \(recordCount) records")
}
