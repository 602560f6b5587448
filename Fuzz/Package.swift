// swift-tools-version:6.1
// libFuzzer harnesses for TaskBridgeCore. Not part of the main package: build them with
// `bash scripts/fuzz.sh` (see FUZZING.md), which passes -sanitize=fuzzer,address.
import PackageDescription

// One executable per harness. Each exports LLVMFuzzerTestOneInput and defines
// `<module>_main`, which SwiftPM's link makes the program's `main`, to start libFuzzer's
// driver (-parse-as-library: no top-level code, no @main).
let harnesses = [
    "fuzz-json", "fuzz-json-partial", "fuzz-form", "fuzz-signature", "fuzz-config", "fuzz-rules",
    "fuzz-template", "fuzz-headers", "fuzz-widget", "fuzz-ip", "fuzz-regex",
]

let package = Package(
    name: "TaskBridgeFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named, so the product reference works whatever the checkout's directory is called.
        .package(name: "TaskBridge", path: ".."),
    ],
    targets: [
        .target(name: "CLibFuzzer"),
        .target(
            name: "FuzzSupport",
            dependencies: ["CLibFuzzer", .product(name: "TaskBridgeCore", package: "TaskBridge")]
        ),
    ] + harnesses.map { name in
        .executableTarget(
            name: name,
            dependencies: ["FuzzSupport", .product(name: "TaskBridgeCore", package: "TaskBridge")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    },
    swiftLanguageModes: [.v6]
)
