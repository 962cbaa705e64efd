// swift-tools-version:6.1
//
// Micro-benchmarks of the pipeline's stages, with package-benchmark (allocation counts come from its
// MallocInterposer trait). A separate package, so the product and its tests do not depend on it.
//
//   cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "trailscan-benchmarks",
    dependencies: [
        .package(name: "trailscan", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PipelineBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "TrailScanCore", package: "trailscan"),
            ],
            path: "Benchmarks/PipelineBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
