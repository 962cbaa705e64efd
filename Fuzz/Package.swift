// swift-tools-version:6.1
//
// libFuzzer targets for the parts that read attacker-controlled bytes: the gzip decoder (streaming
// against the whole-object fast path), the JSON parser and record splitter (against Foundation's
// parser), the pattern compiler and both matchers (against each other), input transformers, and the
// configuration file. A separate package, so the product and its tests never link libFuzzer.
//
//   cd Fuzz && swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
//   ASAN_OPTIONS=detect_leaks=0 TRAILSCAN_FUZZ=gzip .build/debug/trailscan-fuzz -detect_leaks=0 -rss_limit_mb=16000 \
//       -max_total_time=600 Corpus/gzip
//
// TRAILSCAN_FUZZ names the target: gzip, json, pattern, template, config or s3 (see Sources/TrailFuzz).
import PackageDescription

let package = Package(
    name: "trailscan-fuzz",
    dependencies: [.package(name: "trailscan", path: "..")],
    targets: [
        .executableTarget(
            name: "trailscan-fuzz",
            dependencies: [.product(name: "TrailScanCore", package: "trailscan")],
            path: "Sources/TrailFuzz"
        )
    ],
    swiftLanguageModes: [.v6]
)
