// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "TaskBridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "taskbridge", targets: ["taskbridge"]),
        .library(name: "TaskBridgeCore", targets: ["TaskBridgeCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
    ],
    targets: [
        // Pure logic: no sockets, no database. Everything here is tested without I/O.
        .target(
            name: "TaskBridgeCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .target(
            name: "TaskBridgeStore",
            dependencies: [
                "TaskBridgeCore",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TaskBridgeTargets",
            dependencies: [
                "TaskBridgeCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "TaskBridgeServer",
            dependencies: [
                "TaskBridgeCore", "TaskBridgeStore", "TaskBridgeTargets",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            // The console and the widget are compiled in: a deployment is one binary.
            resources: [
                .embedInCode("Console/Assets/index.html"), .embedInCode("Console/Assets/login.html"),
                .embedInCode("Console/Assets/console.js"), .embedInCode("Console/Assets/console.css"),
                .embedInCode("Widget/Assets/widget.js"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "taskbridge",
            dependencies: [
                "TaskBridgeServer", "TaskBridgeStore", "TaskBridgeCore",
                // `taskbridge demo` runs the GroupChat fake in the process as its target.
                "UpstreamFakes",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            // Copies of Tests/Fixtures payloads for `taskbridge demo` (DemoPayloadTests keeps them identical).
            resources: [
                .embedInCode("Demo/Payloads/sentry-issue.created.json"),
                .embedInCode("Demo/Payloads/github-pull_request.opened.json"),
                .embedInCode("Demo/Payloads/github-pull_request.closed.json"),
            ],
            swiftSettings: strict
        ),
        // Strict in-process fakes of the upstream APIs (GroupChat, PostHog Tasks, Zylon), shared by tests and benchmarks.
        .target(
            name: "UpstreamFakes",
            dependencies: [
                "TaskBridgeCore",
                .product(name: "Hummingbird", package: "hummingbird"),
            ],
            swiftSettings: strict
        ),
        // Benchmark helpers: the bare-Hummingbird floor, a fast fake target, load generators.
        .executableTarget(
            name: "tb-bench",
            dependencies: [
                "UpstreamFakes", "TaskBridgeServer", "TaskBridgeCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        // Helpers shared by the test targets: fixtures, derived variants, signing, waits.
        .target(
            name: "TaskBridgeTestSupport",
            dependencies: ["TaskBridgeCore", .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Tests/TaskBridgeTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "TaskBridgeCoreTests",
            // The target kinds (config keys, actions) the parsers are tested with.
            dependencies: ["TaskBridgeCore", "TaskBridgeTargets", "TaskBridgeTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TaskBridgeStoreTests",
            dependencies: ["TaskBridgeStore", "TaskBridgeTestSupport",
                           .product(name: "SQLiteNIO", package: "sqlite-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TaskBridgeTargetsTests",
            dependencies: ["TaskBridgeTargets", "UpstreamFakes", "TaskBridgeTestSupport",
                           .product(name: "AsyncHTTPClient", package: "async-http-client"),
                           .product(name: "NIOHTTP1", package: "swift-nio")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TaskBridgeServerTests",
            dependencies: [
                "TaskBridgeServer", "UpstreamFakes", "TaskBridgeTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "TaskBridgeEndToEndTests",
            dependencies: ["taskbridge", "UpstreamFakes", "TaskBridgeCore", "TaskBridgeStore", "TaskBridgeTestSupport",
                           .product(name: "AsyncHTTPClient", package: "async-http-client")],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
