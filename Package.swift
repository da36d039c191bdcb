// swift-tools-version:6.0
// The HRM package: tensor engine (HRMTensor), CUDA backend (HRMCUDA), the model
// (HRMModel), datasets (HRMData), training/evaluation (HRMTrain), the CLI (HRMCLI, hrm).
import PackageDescription

// The CPU kernels rely on AVX2 + FMA. Every x86-64 server of the last decade has them;
// set HRM_PORTABLE=1 to build for the generic x86-64 baseline instead.
#if arch(x86_64)
let portable = Context.environment["HRM_PORTABLE"] != nil
let simdFlags: [SwiftSetting] = portable ? [] : [.unsafeFlags(["-target-cpu", "haswell"])]
#else
let simdFlags: [SwiftSetting] = []
#endif

let common: [SwiftSetting] = simdFlags
// Numeric code is optimised even in debug builds: the tests train small models, and
// unoptimised SIMD loops run about 100x slower.
let hot: [SwiftSetting] = simdFlags + [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
  name: "HRM",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "hrm", targets: ["hrm"]),
    .library(name: "HRMSupport", targets: ["HRMSupport"]),
    .library(name: "HRMTensor", targets: ["HRMTensor"]),
    .library(name: "HRMModel", targets: ["HRMModel"]),
    .library(name: "HRMData", targets: ["HRMData"]),
    .library(name: "HRMTrain", targets: ["HRMTrain"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
  ],
  targets: [
    .target(name: "HRMSupport", swiftSettings: hot),
    .target(name: "HRMTensor", dependencies: ["HRMSupport"], swiftSettings: hot),
    .target(
      name: "HRMCUDA", dependencies: ["HRMTensor", "HRMSupport"], exclude: ["Kernels"],
      swiftSettings: common, plugins: ["EmbedKernels"]),
    // Build-time helper: turns Sources/HRMCUDA/Kernels/*.cu(h) into Swift string literals.
    .executableTarget(name: "EmbedKernelsTool", path: "Sources/EmbedKernelsTool"),
    .plugin(name: "EmbedKernels", capability: .buildTool(), dependencies: ["EmbedKernelsTool"]),
    .target(name: "HRMModel", dependencies: ["HRMTensor"], swiftSettings: hot),
    .target(name: "HRMData", dependencies: ["HRMSupport"], swiftSettings: hot),
    .target(name: "HRMTrain", dependencies: ["HRMTensor", "HRMModel", "HRMData", "HRMCUDA"], swiftSettings: common),
    .target(
      name: "HRMCLI",
      dependencies: [
        "HRMSupport", "HRMTensor", "HRMModel", "HRMData", "HRMTrain", "HRMCUDA",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ],
      swiftSettings: common),
    .executableTarget(name: "hrm", dependencies: ["HRMCLI", "HRMSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: common),
    .target(name: "TestSupport", dependencies: ["HRMTensor", "HRMSupport"], path: "Sources/TestSupport", swiftSettings: common),
    .testTarget(name: "HRMTensorTests", dependencies: ["HRMTensor", "TestSupport"], swiftSettings: common),
    .testTarget(name: "HRMModelTests", dependencies: ["HRMModel", "HRMTensor", "TestSupport"], swiftSettings: common),
    .testTarget(name: "HRMDataTests", dependencies: ["HRMData", "HRMSupport", "TestSupport"], swiftSettings: common),
    .testTarget(name: "HRMTrainTests", dependencies: ["HRMTrain", "HRMModel", "HRMData", "HRMTensor", "TestSupport"], swiftSettings: common),
    .testTarget(name: "HRMCUDATests", dependencies: ["HRMCUDA", "HRMTensor", "HRMSupport"], swiftSettings: common),
    .testTarget(name: "HRMCLITests", dependencies: ["HRMCLI", "HRMData", "HRMSupport", "TestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser")], swiftSettings: common),
  ],
  swiftLanguageModes: [.v5]
)
