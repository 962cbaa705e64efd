// swift-tools-version:6.1
//
// trailscan: audits AWS CloudTrail logs in bulk.
//
// The targets form one pipeline with one-way dependencies (each arrow: "is imported by"):
//
//     TrailBytes ──┬──────────────────▶ TrailGzip (CZlib, CDeflate) ──────┐
//     TrailJSON ───┼─▶ TrailEvents ─┬─▶ TrailMatch (TrailPolicy) ───────┐ │
//     TrailTime ───┘                │                                   ▼ ▼
//         │                         └─▶ TrailS3 ────────────────────▶ TrailScan ─▶ TrailReport ─▶ TrailNotify ─▶ TrailState ─▶ trailscan
//         ├──────▶ TrailSigV4 (swift-crypto) ──┘  ▲                  (searcher)    (sinks)        (messages,     (CSQLite:      (CLI)
//         │                                       │                                                senders)      the state)
//     TrailHTTP (CCurl) ──────────────────────────┴──────────────────────────────────────────────────▲
//
// TrailDigest (on TrailScan's sources, TrailS3, TrailGzip, swift-crypto's RSA) checks CloudTrail's digest files:
// signatures, chains, and the hashes of the log files they list (`trailscan verify`).
// TrailScan is the searcher: sources, workers, decode, match → owned `Finding`s handed to `ScanSink`s.
// TrailWindow (beside TrailReport, on TrailScan) decides the windowed and correlated rules from the
// `Observation`s the workers hand over with each object, in eventTime order, after the last object.
// TrailReport holds the sinks people read (alerts as text / JSON Lines / templates, the summary);
// TrailNotify sends alerts to Slack, webhooks, SNS and email from an outbox it defines; TrailState keeps
// scheduled scans' state in SQLite and implements the ledger (TrailScan's) and the outbox (TrailNotify's).
// The CLI only wires them. No module imports one to its right. C modules are imported `internal` and
// never leak a C type.
import PackageDescription

let package = Package(
    name: "trailscan",
    products: [
        .executable(name: "trailscan", targets: ["trailscan"]),
        // The pipeline's stages and the S3 client, for the benchmarks and fuzz packages (Benchmarks/, Fuzz/).
        .library(name: "TrailScanCore", targets: ["TrailBytes", "TrailTime", "TrailGzip", "TrailJSON", "TrailEvents", "TrailPolicy", "TrailMatch", "TrailS3"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .systemLibrary(
            name: "CDeflate",
            pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"]), .brew(["libdeflate"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        .target(name: "TrailBytes"),
        .target(name: "TrailTime"),
        .target(name: "TrailGzip", dependencies: ["CZlib", "CDeflate", "TrailBytes"]),
        .target(name: "TrailJSON"),
        .target(name: "TrailEvents", dependencies: ["TrailJSON", "TrailBytes", "TrailTime"]),
        .target(name: "TrailPolicy", dependencies: ["TrailJSON"]),
        .target(name: "TrailMatch", dependencies: ["TrailEvents", "TrailJSON", "TrailPolicy"]),
        .target(name: "TrailSigV4", dependencies: ["TrailTime", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "TrailHTTP", dependencies: ["CCurl"]),
        .target(name: "TrailS3", dependencies: ["TrailHTTP", "TrailSigV4", "TrailBytes", "TrailEvents", "TrailTime"]),
        .target(
            name: "TrailScan",
            dependencies: [
                "TrailBytes", "TrailGzip", "TrailJSON", "TrailEvents", "TrailMatch", "TrailS3", "TrailSigV4", "TrailTime",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "TrailDigest",
            dependencies: [
                "TrailGzip", "TrailBytes", "TrailJSON", "TrailEvents", "TrailTime", "TrailSigV4", "TrailHTTP", "TrailS3", "TrailScan",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .target(name: "TrailWindow", dependencies: ["TrailScan", "TrailMatch", "TrailJSON", "TrailTime"]),
        .target(name: "TrailReport", dependencies: ["TrailScan", "TrailMatch", "TrailJSON", "TrailTime"]),
        .target(
            name: "TrailNotify",
            dependencies: [
                "TrailScan", "TrailMatch", "TrailReport", "TrailJSON", "TrailTime", "TrailHTTP", "TrailSigV4", "TrailS3",
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "TrailState", dependencies: ["CSQLite", "TrailScan", "TrailWindow", "TrailNotify", "TrailReport", "TrailMatch", "TrailS3", "TrailJSON", "TrailTime"]),
        .executableTarget(
            name: "trailscan",
            dependencies: [
                "TrailScan", "TrailWindow", "TrailReport", "TrailState", "TrailDigest", "TrailNotify", "TrailMatch", "TrailEvents", "TrailGzip", "TrailJSON", "TrailS3", "TrailTime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "TrailGzipTests", dependencies: ["TrailGzip", "TrailBytes", "CZlib"]),
        .testTarget(name: "TrailJSONTests", dependencies: ["TrailJSON", "TrailTestSupport"]),
        .testTarget(name: "TrailTimeTests", dependencies: ["TrailTime"]),
        .testTarget(name: "TrailEventsTests", dependencies: ["TrailEvents", "TrailBytes", "TrailJSON"]),
        .testTarget(name: "TrailMatchTests", dependencies: ["TrailMatch", "TrailEvents", "TrailJSON", "TrailPolicy", "TrailTestSupport"]),
        .testTarget(name: "TrailReportTests", dependencies: ["TrailReport", "TrailScan", "TrailGzip", "TrailMatch", "TrailS3", "TrailTime"]),
        .testTarget(name: "TrailNotifyTests", dependencies: ["TrailNotify", "TrailScan", "TrailMatch", "TrailJSON", "TrailReport"]),
        .testTarget(name: "TrailWindowTests", dependencies: ["TrailWindow", "TrailScan", "TrailMatch"]),
        .testTarget(name: "TrailStateTests", dependencies: ["TrailState", "TrailScan", "TrailMatch"]),
        .testTarget(
            name: "TrailDigestTests",
            dependencies: ["TrailDigest", "TrailGzip", "TrailTestSupport", .product(name: "Crypto", package: "swift-crypto"), .product(name: "_CryptoExtras", package: "swift-crypto")]
        ),
        .testTarget(name: "TrailSigV4Tests", dependencies: ["TrailSigV4"], resources: [.copy("Vectors")]),
        .target(name: "TrailTestSupport", dependencies: ["TrailEvents", "TrailBytes"], path: "Tests/TrailTestSupport"),
        .testTarget(name: "TrailS3Tests", dependencies: ["TrailS3", "TrailHTTP", "TrailSigV4", "TrailEvents", "TrailTestSupport"]),
        .testTarget(
            name: "trailscanTests",
            dependencies: ["trailscan", "TrailTestSupport", "TrailS3", "TrailSigV4", "TrailScan", "TrailMatch", "TrailReport", "TrailEvents", "TrailState"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Settings shared by every Swift target.
for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
