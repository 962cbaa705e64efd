// swift-tools-version:6.1
//
// trailscan: audits AWS CloudTrail logs in bulk.
//
// The targets form one pipeline with one-way dependencies:
//
//     TrailBytes ─┬─▶ TrailGzip ────────────────────────────────┐
//                 │                                              ▼
//     TrailJSON ──┴─▶ TrailEvents ─▶ TrailMatch ─▶ TrailReport ─▶ TrailScan ─▶ trailscan (CLI)
//
//     TrailSigV4 (swift-crypto) ─▶ TrailS3 (CCurl): signed S3 requests over libcurl, for the S3 source.
//
// Only TrailGzip imports the C zlib module; nothing above it sees a C type.
import PackageDescription

let package = Package(
    name: "trailscan",
    products: [
        .executable(name: "trailscan", targets: ["trailscan"]),
        // The pipeline's stages, for the benchmarks package (Benchmarks/Package.swift).
        .library(name: "TrailScanCore", targets: ["TrailBytes", "TrailGzip", "TrailJSON", "TrailEvents", "TrailMatch"]),
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
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),
        .target(name: "TrailBytes"),
        .target(name: "TrailGzip", dependencies: ["CZlib", "CDeflate", "TrailBytes"]),
        .target(name: "TrailJSON"),
        .target(name: "TrailEvents", dependencies: ["TrailJSON", "TrailBytes"]),
        .target(name: "TrailMatch", dependencies: ["TrailEvents", "TrailJSON"]),
        .target(name: "TrailSigV4", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "TrailS3", dependencies: ["CCurl", "TrailSigV4"]),
        .target(name: "TrailReport", dependencies: ["TrailMatch", "TrailEvents", "TrailJSON"]),
        .target(
            name: "TrailScan",
            dependencies: ["TrailBytes", "TrailGzip", "TrailJSON", "TrailEvents", "TrailMatch", "TrailReport", "TrailS3"]
        ),
        .executableTarget(
            name: "trailscan",
            dependencies: [
                "TrailScan", "TrailMatch", "TrailReport", "TrailS3", "TrailSigV4",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .testTarget(name: "TrailGzipTests", dependencies: ["TrailGzip", "TrailBytes", "CZlib"]),
        .testTarget(name: "TrailJSONTests", dependencies: ["TrailJSON", "TrailTestSupport"]),
        .testTarget(name: "TrailEventsTests", dependencies: ["TrailEvents", "TrailBytes", "TrailJSON"]),
        .testTarget(name: "TrailMatchTests", dependencies: ["TrailMatch", "TrailEvents", "TrailBytes"]),
        .testTarget(name: "TrailReportTests", dependencies: ["TrailReport", "TrailMatch", "TrailEvents", "TrailBytes"]),
        .testTarget(name: "TrailSigV4Tests", dependencies: ["TrailSigV4"], resources: [.copy("Vectors")]),
        .target(name: "TrailTestSupport", path: "Tests/TrailTestSupport"),
        .testTarget(name: "TrailS3Tests", dependencies: ["TrailS3", "TrailSigV4", "TrailTestSupport"]),
        .testTarget(
            name: "trailscanTests",
            dependencies: ["trailscan", "TrailTestSupport", "TrailS3", "TrailSigV4", "TrailScan", "TrailMatch", "TrailReport"],
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
