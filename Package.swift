// swift-tools-version: 6.1
import PackageDescription

// One module per arrow of the data flow, each depending only on those before
// it: the diagram is in Sources/Strata/Strata.docc/Architecture.md.
// `scripts/check-package` (run by scripts/test) checks that every target
// declares exactly what it imports.
let package = Package(
    name: "Strata",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Strata", targets: ["Strata"]),
        // Separate, so embedding the library does not build Hummingbird.
        .library(name: "StrataServe", targets: ["StrataServe"]),
        .executable(name: "strata", targets: ["StrataCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        // `strata serve` only: the `Strata` library product does not depend on them.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        // Stores shared by workers on many machines (`--store postgres://…`): the CLI only.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // OpenTelemetry (`--otel`): spans through swift-distributed-tracing, exported over OTLP/HTTP by swift-otel (no gRPC).
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-otel/swift-otel", from: "1.6.0", traits: ["OTLPHTTP"]),
        // `swift package generate-documentation --target Strata` (CI builds the DocC catalog).
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.5.0"),
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
            name: "StrataProviders",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(
            name: "StrataCache",
            dependencies: [
                "StrataProviders",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(name: "StrataSandbox"),
        .target(
            name: "StrataRuntime",
            dependencies: [
                "StrataDiagnostics", "StrataSyntax", "StrataChecker", "StrataCompiler", "StrataProviders", "StrataCache",
                "StrataSandbox",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .target(
            name: "StrataEval",
            dependencies: [
                "StrataDiagnostics", "StrataSyntax", "StrataChecker", "StrataCompiler", "StrataProviders", "StrataCache", "StrataSandbox",
                "StrataRuntime",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The search-space language: axes, the template, expressions, each configuration compiled.
        .target(
            name: "StrataSpace",
            dependencies: ["StrataDiagnostics", "StrataYAML", "StrataSyntax", "StrataChecker", "StrataCompiler"]
        ),
        // Archon's JSON configurations as checked Strata pipelines.
        .target(
            name: "StrataImport",
            dependencies: [
                "StrataDiagnostics", "StrataYAML", "StrataCompiler", "StrataCache",
            ]
        ),
        .target(
            name: "StrataSearch",
            dependencies: [
                "StrataDiagnostics", "StrataChecker", "StrataCompiler", "StrataProviders", "StrataCache", "StrataRuntime", "StrataEval", "StrataSpace",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "Strata",
            dependencies: [
                "StrataDiagnostics", "StrataYAML", "StrataSyntax", "StrataChecker", "StrataCompiler",
                "StrataProviders", "StrataCache", "StrataSandbox", "StrataRuntime", "StrataEval", "StrataSpace", "StrataSearch", "StrataImport",
            ]
        ),
        // `strata serve`: pipelines as OpenAI-compatible models, over HTTP (Hummingbird).
        .target(
            name: "StrataServe",
            dependencies: [
                "StrataDiagnostics", "StrataChecker", "StrataProviders", "StrataCache", "StrataRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Queries as OpenTelemetry spans and GenAI metrics, through the tracing and metrics APIs only.
        .target(
            name: "StrataTelemetry",
            dependencies: [
                "StrataRuntime",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `strata studio`: a read-only web app over the study and run stores.
        .target(
            name: "StrataStudio",
            dependencies: [
                "StrataChecker", "StrataEval", "StrataPostgres", "StrataProviders", "StrataRuntime", "StrataSearch",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Study and run stores and the response cache's shared level in PostgreSQL, shared by workers on many machines.
        .target(
            name: "StrataPostgres",
            dependencies: [
                "StrataProviders", "StrataCache", "StrataEval", "StrataRuntime", "StrataSearch", "StrataSpace",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // An OpenAI- and Anthropic-compatible HTTP server with scripted replies and
        // fault injection, for tests and benchmarks (never shipped in the product).
        .target(
            name: "StrataTestServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // What the test targets share: the package root, temporary directories removed
        // at exit, the real binary's runner, compiling pipelines for tests.
        .target(name: "StrataTestSupport", dependencies: ["Strata", "StrataSandbox", "StrataTestServer"]),
        .executableTarget(
            name: "StrataCLI",
            dependencies: [
                "Strata", "StrataServe", "StrataStudio", "StrataTelemetry", "StrataPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "CompileBenchmark",
            dependencies: ["Strata"],
            path: "Benchmarks/CompileBenchmark"
        ),
        .executableTarget(
            name: "RuntimeBenchmark",
            dependencies: [
                "Strata", "StrataTelemetry", "StrataTestServer",
            ],
            path: "Benchmarks/RuntimeBenchmark"
        ),
        .executableTarget(
            name: "EvalBenchmark",
            dependencies: ["Strata"],
            path: "Benchmarks/EvalBenchmark"
        ),
        .executableTarget(
            name: "ServeBenchmark",
            dependencies: [
                "Strata", "StrataSandbox", "StrataServe", "StrataTestServer",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/ServeBenchmark"
        ),
        .executableTarget(
            name: "PromptCacheBenchmark",
            dependencies: ["Strata", "StrataSyntax", "StrataTestServer"],
            path: "Benchmarks/PromptCacheBenchmark"
        ),
        .executableTarget(
            name: "StudioBenchmark",
            dependencies: ["Strata", "StrataSandbox", "StrataSearch"],
            path: "Benchmarks/StudioBenchmark",
            exclude: ["open.py"]
        ),
        .executableTarget(
            name: "SearchBenchmark",
            dependencies: ["Strata", "StrataPostgres", "StrataSandbox"],
            path: "Benchmarks/SearchBenchmark"
        ),
        // Fuzz targets under libFuzzer (scripts/fuzz), or replaying saved inputs: the front end,
        // the Archon importer and serve's request decoding.
        .target(name: "FuzzDriver", path: "Fuzz/FuzzDriver"),
        .executableTarget(name: "FrontEndFuzzer", dependencies: ["Strata", "FuzzDriver"], path: "Fuzz/FrontEndFuzzer"),
        .executableTarget(name: "ArchonImportFuzzer", dependencies: ["Strata", "FuzzDriver"], path: "Fuzz/ArchonImportFuzzer"),
        .executableTarget(name: "ServeRequestFuzzer", dependencies: ["StrataServe", "FuzzDriver"], path: "Fuzz/ServeRequestFuzzer"),
        .testTarget(name: "StrataYAMLTests", dependencies: ["StrataDiagnostics", "StrataYAML"]),
        .testTarget(
            name: "StrataCheckerTests",
            dependencies: [
                "Strata", "StrataTestSupport",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            // Read from the source tree by path: the golden files are the test's data, not a bundle's.
            exclude: ["Golden"]
        ),
        .testTarget(name: "StrataCompilerTests", dependencies: ["Strata", "StrataTestSupport"]),
        .testTarget(
            name: "StrataRuntimeTests",
            dependencies: [
                "Strata", "StrataSyntax", "StrataChecker", "StrataCompiler", "StrataRuntime", "StrataSandbox", "StrataProviders", "StrataTestServer",
                "StrataTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(name: "StrataImportTests", dependencies: ["Strata", "StrataTestServer", "StrataTestSupport"]),
        .testTarget(name: "StrataEvalTests", dependencies: ["Strata", "StrataTestServer", "StrataTestSupport"]),
        .testTarget(name: "StrataSearchTests", dependencies: ["Strata", "StrataSearch", "StrataTestServer", "StrataTestSupport"]),
        .testTarget(
            name: "StrataServeTests",
            dependencies: [
                "Strata", "StrataServe", "StrataTestServer", "StrataTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["Clients"]
        ),
        // Against a real PostgreSQL (`scripts/test-postgres start`); skipped, visibly, without STRATA_TEST_POSTGRES_URL.
        .testTarget(
            name: "StrataPostgresTests",
            dependencies: [
                "Strata", "StrataPostgres", "StrataSandbox", "StrataStudio", "StrataTestServer", "StrataTestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // Against the real local model server (`scripts/local-llm start`); skipped, visibly, when it is down.
        .testTarget(
            name: "StrataLiveTests",
            dependencies: [
                "Strata", "StrataServe", "StrataTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // Runs the real `strata` binary, so it depends on the executable to have it built first.
        .testTarget(
            name: "StrataCLITests",
            dependencies: [
                "Strata", "StrataCLI", "StrataEval", "StrataSandbox", "StrataSearch", "StrataStudio", "StrataTestServer", "StrataTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
