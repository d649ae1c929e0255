// swift-tools-version:6.1
import PackageDescription

/// A system-library target: a module map and a shim header over a Debian `-dev` package.
func systemLibrary(_ name: String, pkgConfig: String? = nil, apt: String) -> Target {
    .systemLibrary(name: name, pkgConfig: pkgConfig, providers: [.apt([apt])])
}

/// Modules with per-row loops: exclusivity is proven statically where possible; the dynamic checks that remain
/// (class properties touched per CSV field) cost over a tenth of ingest time, so they are off in these modules.
let hotLoop: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "torpor",
    products: [
        .executable(name: "torpor-ingest", targets: ["torpor-ingest"]),
        .executable(name: "torpor-train", targets: ["torpor-train"]),
        .executable(name: "torpor-plan", targets: ["torpor-plan"]),
        .executable(name: "torpor-execute", targets: ["torpor-execute"]),
        .executable(name: "torpor-backtest", targets: ["torpor-backtest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C libraries, each used only through the typed Swift module named beside it.
        systemLibrary("CLibvirt", pkgConfig: "libvirt", apt: "libvirt-dev"),      // TorporVirt
        systemLibrary("CCSV", apt: "libcsv-dev"),                                 // TorporCSV
        systemLibrary("CZlib", pkgConfig: "zlib", apt: "zlib1g-dev"),             // TorporGzip
        systemLibrary("CCrypto", pkgConfig: "libcrypto", apt: "libssl-dev"),      // TorporHash
        systemLibrary("COpenBLAS", pkgConfig: "openblas", apt: "libopenblas-dev"), // TorporForecast
        systemLibrary("CICal", pkgConfig: "libical", apt: "libical-dev"),         // TorporICal

        .target(name: "TorporCore"),
        .target(name: "TorporYAML", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "TorporCSV", dependencies: ["CCSV"], swiftSettings: hotLoop),
        .target(name: "TorporGzip", dependencies: ["CZlib"]),
        .target(name: "TorporHash", dependencies: ["CCrypto"]),
        .target(name: "TorporVirt", dependencies: ["CLibvirt"]),
        .target(name: "TorporICal", dependencies: ["CICal", "TorporCore"]),
        .target(name: "TorporForecast", dependencies: ["COpenBLAS"], swiftSettings: hotLoop),
        .target(name: "TorporTrain", dependencies: ["TorporCore", "TorporStore", "TorporForecast", "TorporHash", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "TorporPlan", dependencies: ["TorporCore", "TorporStore", "TorporHash", "TorporYAML",
                                                  .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Yams", package: "Yams")]),
        .target(name: "TorporPlanInput", dependencies: ["TorporCore", "TorporStore", "TorporPlan", "TorporTrain", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "TorporExecute", dependencies: ["TorporCore", "TorporStore", "TorporPlan", "TorporVirt", "TorporStatePool", "TorporIngest", "TorporHash",
                                                     .product(name: "GRDB", package: "GRDB.swift")]),
        .target(name: "TorporBacktest", dependencies: ["TorporCore", "TorporStore", "TorporPlan", "TorporTrain"]),
        .target(name: "TorporStatePool", dependencies: ["TorporCore", "TorporStore", "TorporHash", "TorporGzip"], swiftSettings: hotLoop),
        .target(name: "TorporStore", dependencies: [
            "TorporCore",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
        ], swiftSettings: hotLoop),
        .target(name: "TorporIngest", dependencies: [
            "TorporCore", "TorporStore", "TorporCSV", "TorporGzip", "TorporHash", "TorporVirt", "TorporICal", "TorporYAML",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: hotLoop),
        .target(name: "TorporCommandLine", dependencies: ["TorporCore", "TorporStore", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "torpor-ingest", dependencies: [
            "TorporIngest", "TorporICal", "TorporStore", "TorporCore", "TorporCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "torpor-train", dependencies: [
            "TorporTrain", "TorporStore", "TorporCore", "TorporForecast", "TorporCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "torpor-plan", dependencies: [
            "TorporPlan", "TorporPlanInput", "TorporTrain", "TorporStore", "TorporCore", "TorporCommandLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "torpor-execute", dependencies: [
            "TorporExecute", "TorporPlan", "TorporStore", "TorporCore", "TorporCommandLine", "TorporStatePool", "TorporIngest", "TorporVirt",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "torpor-backtest", dependencies: [
            "TorporBacktest", "TorporPlan", "TorporCore", "TorporCommandLine", "TorporForecast", "TorporStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "torpor-bench-forecast", dependencies: ["TorporForecast"], path: "Sources/torpor-bench-forecast"),
        .executableTarget(name: "torpor-bench-plan", dependencies: ["TorporIngest", "TorporStore", "TorporTrain", "TorporCore"], path: "Sources/torpor-bench-plan"),
        .executableTarget(name: "torpor-bench-execute", dependencies: ["TorporPlan", "TorporStore", "TorporCore"], path: "Sources/torpor-bench-execute"),
        .executableTarget(name: "torpor-bench-statepool", dependencies: ["TorporStatePool", "TorporStore", "TorporHash"], path: "Sources/torpor-bench-statepool"),

        .target(name: "TorporTestSupport", path: "Tests/TorporTestSupport"),
        .testTarget(name: "TorporCoreTests", dependencies: ["TorporCore", "TorporTestSupport"]),
        .testTarget(name: "TorporCSVTests", dependencies: ["TorporTestSupport", "TorporCSV", "TorporGzip"]),
        .testTarget(name: "TorporHashTests", dependencies: ["TorporHash"]),
        .testTarget(name: "TorporVirtTests", dependencies: ["TorporVirt"]),
        .testTarget(name: "TorporICalTests", dependencies: ["TorporICal", "TorporCore"]),
        .testTarget(name: "TorporForecastTests", dependencies: ["TorporForecast"]),
        .testTarget(name: "TorporTrainTests", dependencies: ["TorporTestSupport", "TorporTrain", "TorporForecast", "TorporIngest", "TorporStore", "TorporCore", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TorporPlanTests", dependencies: ["TorporTestSupport", "TorporPlan", "TorporPlanInput", "TorporTrain", "TorporIngest", "TorporStore", "TorporCore", "torpor-plan",
                                                       .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TorporExecuteTests", dependencies: ["TorporTestSupport", "TorporExecute", "TorporIngest", "TorporPlan", "TorporPlanInput", "TorporTrain", "TorporVirt", "TorporStore", "TorporStatePool", "TorporCore", "torpor-execute",
                                                          .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TorporBacktestTests", dependencies: ["TorporTestSupport", "TorporBacktest", "TorporPlan", "TorporTrain", "TorporStore", "TorporCore", "TorporIngest",
                                                           .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TorporStatePoolTests", dependencies: ["TorporTestSupport", "TorporStatePool", "TorporStore", "TorporHash", "TorporCore"]),
        .testTarget(name: "TorporStoreTests", dependencies: ["TorporTestSupport", "TorporStore", "TorporCore", "TorporHash", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TorporIntegrationTests", dependencies: ["TorporTestSupport", "TorporIngest", "TorporStore", "TorporVirt", "TorporStatePool", "TorporCore",
                                                              "TorporExecute", "TorporPlan", "TorporTrain", "TorporForecast", "torpor-execute", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TorporIngestTests", dependencies: ["TorporTestSupport", "TorporIngest", "TorporStore", "TorporCore", "TorporExecute", "TorporHash", "TorporStatePool", "torpor-ingest",
                                                         .product(name: "GRDB", package: "GRDB.swift")]),
    ]
)
