// swift-tools-version:6.0
import PackageDescription

// Dependencies are kept lean: every package costs CI build minutes on 2 cores.
// - swift-nio: ByteBuffer for the pure codecs (NIOCore) and the network shell (NIOPosix).
// - swift-collections: persistent TreeDictionary for the znode tree (O(1) copies for snapshots), Deque.
// - swift-log: structured logging in the shell.
// - swift-argument-parser: the `swiftkeeper` command line.
// SHA-1 (digest ACLs) and base64 are small enough to live in ZKModel rather than pull in swift-crypto.
let package = Package(
    name: "swiftkeeper",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "swiftkeeper", targets: ["swiftkeeper"]),
        .library(name: "ZKServer", targets: ["ZKServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(name: "ZKModel"),
        .target(name: "ZKWire", dependencies: [
            "ZKModel",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .target(name: "ZKDataTree", dependencies: [
            "ZKModel",
            .product(name: "HashTreeCollections", package: "swift-collections"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "ZKClientCore", dependencies: [
            "ZKModel", "ZKWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "ZKBench", dependencies: [
            "ZKClientCore", "ZKModel",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "ZKReplica", dependencies: [
            "ZKModel", "ZKWire", "ZKDataTree", "ZKConsensus",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "HashTreeCollections", package: "swift-collections"),
        ]),
        .target(name: "ZKPersistence", dependencies: [
            "ZKModel", "ZKWire", "ZKDataTree",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .target(name: "ZKConsensus", dependencies: [
            "ZKModel", "ZKDataTree",
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "ZKQuorum", dependencies: [
            "ZKConsensus", "ZKPersistence", "ZKWire", "ZKModel", "ZKDataTree",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "ZKSimulation", dependencies: [
            "ZKConsensus", "ZKReplica", "ZKPersistence", "ZKWire", "ZKModel", "ZKDataTree",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .target(name: "ZKServer", dependencies: [
            "ZKModel", "ZKWire", "ZKDataTree", "ZKReplica", "ZKPersistence", "ZKConsensus", "ZKQuorum",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "swiftkeeper", dependencies: [
            "ZKServer", "ZKSimulation", "ZKConsensus", "ZKBench",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ZKModelTests", dependencies: ["ZKModel"]),
        .testTarget(name: "ZKClientCoreTests", dependencies: [
            "ZKClientCore", "ZKBench", "ZKWire", "ZKModel",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "ZKWireTests", dependencies: [
            "ZKWire", "ZKModel",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        .testTarget(name: "ZKDataTreeTests", dependencies: ["ZKDataTree", "ZKModel"]),
        .testTarget(name: "ZKPersistenceTests", dependencies: [
            "ZKPersistence", "ZKDataTree", "ZKWire", "ZKModel",
            .product(name: "NIOCore", package: "swift-nio"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZKConsensusTests", dependencies: ["ZKConsensus", "ZKSimulation", "ZKReplica", "ZKModel", "ZKDataTree"]),
        .testTarget(name: "ZKServerTests", dependencies: [
            "ZKServer", "ZKReplica", "ZKWire", "ZKModel",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "ZKQuorumTests", dependencies: [
            "ZKQuorum", "ZKConsensus", "ZKPersistence", "ZKDataTree", "ZKWire", "ZKModel",
            .product(name: "NIOCore", package: "swift-nio"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "ZKReplicaTests", dependencies: [
            "ZKReplica", "ZKConsensus", "ZKWire", "ZKModel", "ZKDataTree",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
