// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "metrics-agent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "agent", targets: ["Agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // MARK: C libraries, one thin module each
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "CProtobufC",
            linkerSettings: [.linkedLibrary("protobuf-c")]
        ),
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(
            name: "CRE2Shim",
            linkerSettings: [.linkedLibrary("re2")]
        ),

        // MARK: Safe Swift wrappers over the C libraries
        .target(name: "Snappy", dependencies: ["CSnappy"]),
        .target(name: "PrometheusProto", dependencies: ["CProtobufC", "Model"]),
        .target(name: "Curl", dependencies: ["CCurl"]),
        .target(name: "LibCrypto", dependencies: ["CLibCrypto"]),

        // MARK: The agent
        .target(name: "Model"),
        .target(
            name: "WAL",
            dependencies: [
                "Model",
                "Snappy",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Exposition",
            dependencies: ["Model"]
        ),
        .target(
            name: "Relabel",
            dependencies: ["CRE2Shim", "Model"]
        ),
        .target(
            name: "AgentConfig",
            dependencies: [
                "Model",
                "Relabel",
                "Yams",
            ]
        ),
        .target(
            name: "ConfigConversion",
            dependencies: ["AgentConfig", "Yams"]
        ),
        .target(
            name: "Transport",
            dependencies: ["AgentConfig", "Curl", "LibCrypto", "Model"]
        ),
        .target(
            name: "Discovery",
            dependencies: [
                "AgentConfig",
                "Transport",
                "Curl",
                "Model",
                "WAL",
                "Yams",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "Scraper",
            dependencies: [
                "AgentConfig",
                "Transport",
                "Discovery",
                "Model",
                "Relabel",
                "Curl",
                "Exposition",
                "WAL",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "RemoteWrite",
            dependencies: [
                "AgentConfig",
                "Transport",
                "Model",
                "Relabel",
                "Curl",
                "PrometheusProto",
                "Snappy",
                "WAL",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WALInspect",
            dependencies: ["Relabel", "WAL"]
        ),
        .executableTarget(
            name: "Agent",
            dependencies: [
                "AgentConfig",
                "ConfigConversion",
                "Curl",
                "Model",
                "RemoteWrite",
                "Scraper",
                "WAL",
                "WALInspect",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: Benchmarks (run in release mode; figures in docs/)
        .executableTarget(
            name: "ParserBenchmark",
            dependencies: ["Model", "Exposition"],
            path: "Benchmarks/ParserBenchmark"
        ),
        .target(name: "CHeapStats", path: "Benchmarks/CHeapStats"),
        .executableTarget(
            name: "ScrapeBenchmark",
            dependencies: ["AgentConfig", "CHeapStats", "Exposition", "Model", "Relabel", "Scraper", "WAL"],
            path: "Benchmarks/ScrapeBenchmark",
            exclude: ["Fixtures"]
        ),
        .executableTarget(
            name: "WALBenchmark",
            dependencies: ["Model", "Exposition", "WAL", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/WALBenchmark"
        ),
        .executableTarget(
            name: "EncodeBenchmark",
            dependencies: ["Model", "PrometheusProto", "RemoteWrite", "Snappy", "WAL"],
            path: "Benchmarks/EncodeBenchmark"
        ),
        .executableTarget(
            name: "SendBenchmark",
            dependencies: ["Model", 
                "AgentConfig", "Curl", "RemoteWrite", "WAL",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Benchmarks/SendBenchmark"
        ),

        .executableTarget(
            name: "KubernetesListBenchmark",
            dependencies: ["CHeapStats", "Curl", "Discovery", "TestSupport"],
            path: "Benchmarks/KubernetesListBenchmark"
        ),

        // MARK: Tests
        .target(
            name: "TestSupport",
            dependencies: [
                "Model",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "ModelTests", dependencies: ["Model", "TestSupport"]),
        .testTarget(name: "SnappyTests", dependencies: ["Model", "Snappy"]),
        .testTarget(name: "PrometheusProtoTests", dependencies: ["Model", "PrometheusProto"]),
        .testTarget(
            name: "CurlTests",
            dependencies: ["Model", 
                "Curl",
                "TestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "ExpositionTests", dependencies: ["Model", "Exposition", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "WALTests", dependencies: ["Model", "WAL"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RelabelTests", dependencies: ["Model", "Relabel"]),
        .testTarget(
            name: "WALInspectTests",
            dependencies: ["Model", "WALInspect", "WAL", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "DiscoveryTests",
            dependencies: ["AgentConfig", "Model", "Curl", "Discovery", "TestSupport", "WAL"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "TransportTests",
            dependencies: ["AgentConfig", "Curl", "LibCrypto", "Model", "TestSupport", "Transport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "ScraperTests", dependencies: ["Discovery", "Model", "Scraper", "TestSupport"]),
        .testTarget(name: "AgentConfigTests", dependencies: ["Model", "AgentConfig", "Yams"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ConfigConversionTests", dependencies: ["AgentConfig", "ConfigConversion", "Model", "Relabel"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "RemoteWriteTests",
            dependencies: ["Model", 
                "RemoteWrite", "Transport", "PrometheusProto", "Snappy", "WAL", "AgentConfig", "Relabel", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "Agent",
                "AgentConfig",
                "Model",
                "Scraper",
                "TestSupport",
                "WAL",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Model", 
                "AgentConfig",
                "Curl",
                "PrometheusProto",
                "Snappy",
                "TestSupport",
                "WAL",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Fixtures")]
        ),
    ],
    cxxLanguageStandard: .cxx17
)
