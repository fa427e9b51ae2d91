// swift-tools-version: 6.1
import PackageDescription

// Modules follow the data flow of docs (architecture.md): each one depends
// only on the modules to its left.
//
//   YAML text ─▶ StrataYAML ─▶ StrataSyntax ─▶ StrataChecker ─▶ StrataCompiler
//                (located tree)  (pipeline AST)  (typed pipeline)  (execution graph, cost)
//
// `Strata` re-exports the public API; `StrataCLI` is the thin `strata` executable.
let package = Package(
    name: "Strata",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Strata", targets: ["Strata"]),
        .executable(name: "strata", targets: ["StrataCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .target(name: "StrataDiagnostics"),
        .target(name: "StrataYAML", dependencies: ["CYAML", "StrataDiagnostics"]),
        .target(name: "StrataSyntax", dependencies: ["StrataYAML", "StrataDiagnostics"]),
        .target(name: "StrataChecker", dependencies: ["StrataSyntax", "StrataDiagnostics"]),
        .target(name: "StrataCompiler", dependencies: ["StrataChecker", "StrataSyntax", "StrataDiagnostics"]),
        .target(
            name: "Strata",
            dependencies: ["StrataDiagnostics", "StrataYAML", "StrataSyntax", "StrataChecker", "StrataCompiler"]
        ),
        .executableTarget(
            name: "StrataCLI",
            dependencies: [
                "Strata",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "CompileBenchmark",
            dependencies: ["Strata"],
            path: "Benchmarks/CompileBenchmark"
        ),
        .testTarget(name: "StrataYAMLTests", dependencies: ["StrataYAML"]),
        .testTarget(
            name: "StrataCheckerTests",
            dependencies: [
                "Strata",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(name: "StrataCompilerTests", dependencies: ["Strata"]),
        .testTarget(name: "StrataCLITests", dependencies: ["Strata", "StrataCLI"]),
    ]
)
