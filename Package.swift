// swift-tools-version: 6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// Kernels (decoding, region growing, surfaces, distances) are optimised in debug builds too:
/// unoptimised SIMD and generic code is 50–100× slower, which would make the tests on real
/// volumes take minutes. Testability is kept (-enable-testing comes with debug builds).
let kernelSettings = swiftSettings + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "VRPrep",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vrprep", targets: ["vrprep"]),
        .library(name: "VolumeCore", targets: ["VolumeCore"]),
        .library(name: "DICOM", targets: ["DICOM"]),
        .library(name: "Segmentation", targets: ["Segmentation"]),
        .library(name: "VolumeIO", targets: ["VolumeIO"]),
        .library(name: "Meshing", targets: ["Meshing"]),
        .library(name: "Rendering", targets: ["Rendering"]),
        .library(name: "ScenePackage", targets: ["ScenePackage"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Service", targets: ["Service"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // C door over DCMTK (libdcmtk-dev) and OpenJPEG (libopenjp2-7-dev) for JPEG 2000.
        // Linked explicitly: Debian's dcmtk.pc is broken.
        .target(
            name: "CDCMTK",
            linkerSettings: [
                .linkedLibrary("dcmseg"), .linkedLibrary("dcmfg"), .linkedLibrary("dcmiod"),
                .linkedLibrary("dcmnet"), .linkedLibrary("dcmtls"), .linkedLibrary("dcmjpls"), .linkedLibrary("dcmjpeg"), .linkedLibrary("dcmimgle"),
                .linkedLibrary("dcmdata"), .linkedLibrary("oflog"), .linkedLibrary("ofstd"),
                .linkedLibrary("openjp2"), .linkedLibrary("stdc++"),
            ]
        ),
        .target(name: "VolumeCore", swiftSettings: kernelSettings),
        .target(
            name: "DICOM",
            dependencies: [
                "VolumeCore", "CDCMTK",
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            swiftSettings: kernelSettings
        ),
        .target(name: "Segmentation", dependencies: ["VolumeCore"], swiftSettings: kernelSettings),
        // Ground-truth phantoms (lesions, vessel trees in a real CT) for tests and benchmarks.
        .target(name: "Phantoms", dependencies: ["VolumeCore"], swiftSettings: kernelSettings),
        // zlib, for .nii.gz (zlib1g-dev comes with libpng-dev).
        .systemLibrary(name: "CZLibShim", path: "Sources/CZLibShim"),
        .target(name: "VolumeIO", dependencies: ["VolumeCore", "CZLibShim"], swiftSettings: kernelSettings),
        // meshoptimizer (libmeshoptimizer-dev), for decimation and GPU cache/fetch order.
        .systemLibrary(name: "CMeshOptimizer", path: "Sources/CMeshOptimizer"),
        .target(name: "Meshing", dependencies: ["VolumeCore", "CMeshOptimizer"], swiftSettings: kernelSettings),
        // EGL + OpenGL ES 3 (libegl-dev, libgles-dev; Mesa for the CPU), libpng and libwebp.
        .systemLibrary(name: "CEGL", path: "Sources/CEGL"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        // libwebp (libwebp-dev), for the workstation's slices while the clinician scrolls.
        .systemLibrary(name: "CWebP", path: "Sources/CWebP"),
        // H.264 MP4 through Debian's FFmpeg libraries (libavcodec-dev, libavformat-dev, libswscale-dev).
        .target(name: "CVideo", linkerSettings: [.linkedLibrary("avformat"), .linkedLibrary("avcodec"),
                                                 .linkedLibrary("swscale"), .linkedLibrary("avutil")]),
        // FreeType (libfreetype-dev), for the labelled renders' text.
        .systemLibrary(name: "CFreeType", path: "Sources/CFreeType", pkgConfig: "freetype2"),
        .target(name: "Rendering", dependencies: ["VolumeCore", "CEGL", "CPNG", "CWebP", "CVideo", "CFreeType"], swiftSettings: kernelSettings),
        // Scene packages: manifest, files and hashes, archive, verification, de-identification.
        .target(name: "ScenePackage",
                dependencies: ["VolumeCore", .product(name: "Crypto", package: "swift-crypto"),
                               .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                swiftSettings: swiftSettings),
        // Study → scene package in one call.
        .target(name: "Pipeline",
                dependencies: ["VolumeCore", "DICOM", "Segmentation", "VolumeIO", "Meshing", "Rendering", "ScenePackage"],
                swiftSettings: swiftSettings),
        // Live case conferences: a session's shared state, its checked messages, fan-out and recording.
        .target(name: "LiveSessions", swiftSettings: swiftSettings),
        // libpq (libpq-dev), PostgreSQL's client library: records shared by several nodes.
        .systemLibrary(name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq"),
        // The HTTP service: uploads, jobs, packages, shares (Hummingbird; SQLite through GRDB, or PostgreSQL).
        .target(name: "Service",
                dependencies: ["Pipeline", "ScenePackage", "VolumeCore", "DICOM", "LiveSessions", "CPostgres",
                               .product(name: "Hummingbird", package: "hummingbird"),
                               .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                               // HTTPS and WebSocket over TLS; certificate keys checked (RSA size).
                               .product(name: "HummingbirdTLS", package: "hummingbird"),
                               .product(name: "NIOSSL", package: "swift-nio-ssl"),
                               .product(name: "_CryptoExtras", package: "swift-crypto"),
                               .product(name: "GRDB", package: "GRDB.swift"),
                               .product(name: "Logging", package: "swift-log"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                               .product(name: "Crypto", package: "swift-crypto"),
                               .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                swiftSettings: swiftSettings),
        .executableTarget(
            name: "vrprep",
            dependencies: [
                "VolumeCore", "DICOM", "VolumeIO", "ScenePackage", "Pipeline", "Service",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The kernels timed for the scripts in Benchmarks/ (not part of the product).
        .executableTarget(
            name: "vrprep-bench",
            dependencies: [
                "VolumeCore", "DICOM", "Segmentation", "Pipeline", "VolumeIO", "Meshing", "Rendering", "Phantoms",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/Sources/vrprep-bench",
            swiftSettings: swiftSettings
        ),
        .target(name: "TestSupport",
                dependencies: ["VolumeCore", "DICOM", "Phantoms", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                path: "Tests/TestSupport",
                swiftSettings: kernelSettings),
        .testTarget(name: "VolumeCoreTests", dependencies: ["VolumeCore"], swiftSettings: swiftSettings),
        .testTarget(name: "ServiceTests", dependencies: ["Service", "LiveSessions", "Pipeline", "ScenePackage", "Rendering", "CWebP", "DICOM", "TestSupport", "vrprep", "Segmentation", "VolumeIO", "VolumeCore", "Phantoms",
                                                        .product(name: "HummingbirdTesting", package: "hummingbird"),
                                                        .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                                                        .product(name: "ZIPFoundation", package: "ZIPFoundation")],
                    swiftSettings: swiftSettings),
        .testTarget(name: "PipelineTests",
                    dependencies: ["Pipeline", "ScenePackage", "Segmentation", "DICOM", "VolumeCore", "VolumeIO", "Meshing", "Rendering", "Phantoms", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "DICOMTests", dependencies: ["DICOM", "VolumeCore", "Phantoms", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "SegmentationTests",
                    dependencies: ["Segmentation", "VolumeCore", "VolumeIO", "DICOM", "Phantoms", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "MeshingTests",
                    dependencies: ["Meshing", "Segmentation", "VolumeCore", "VolumeIO", "DICOM", "TestSupport"],
                    swiftSettings: swiftSettings),
        .testTarget(name: "RenderingTests",
                    dependencies: ["Rendering", "Meshing", "VolumeCore", "TestSupport"], swiftSettings: swiftSettings),
        .testTarget(name: "LiveSessionsTests", dependencies: ["LiveSessions"], swiftSettings: swiftSettings),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "vrprep", "Rendering", "VolumeCore", "VolumeIO"], swiftSettings: swiftSettings),
    ],
    cxxLanguageStandard: .cxx17
)
