import ArgumentParser
import DICOM
import Foundation
import Meshing
import Phantoms
import Pipeline
import Segmentation
import VolumeCore
import VolumeIO

/// `vrprep-bench`: VRPrep's kernels timed on a study, for the scripts in Benchmarks/. Not part of
/// the product (`vrprep`): it prints JSON for the scripts, which compare it with peers.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vrprep-bench",
        abstract: "Measure VRPrep's kernels on a study (used by the scripts in Benchmarks/).",
        version: "0.1.0 (the kernels of vrprep 0.1.0)",
        subcommands: [Load.self, Segment.self, MeshBench.self, RenderBench.self, DefaceBench.self]
    )

    static func main() {
        MemoryPolicy.reuseLargeAllocations()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time loading a DICOM series (headers, sort, decode, rescale) and print JSON.")

        @Argument(help: "A DICOM folder, files or a zip archive.")
        var paths: [String]

        @Option(help: "Timed runs after one warm-up run.")
        var runs: Int = 5

        @Option(help: "Worker threads (default: all cores).")
        var threads: Int?

        func validate() throws {
            guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        }

        func run() throws {
            let loader = DicomLoader(threads: threads)
            var report = loader.load(paths)  // warm-up: page cache, codec set-up
            guard let first = report.series.first else {
                FileHandle.standardError.write(Data("vrprep-bench load: no series could be loaded\n".utf8))
                throw ExitCode(1)
            }
            var seconds: [Double] = []
            for _ in 0..<runs {
                let start = DispatchTime.now().uptimeNanoseconds
                report = loader.load(paths)
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let inputBytes = report.series.first.map { _ in fileBytes(paths) } ?? 0
            let sorted = seconds.sorted()
            let median = sorted[sorted.count / 2]
            let g = first.info.geometry
            let result: [String: Any] = [
                "tool": "vrprep", "threads": loader.threads,
                "dimensions": [g.dimensions.x, g.dimensions.y, g.dimensions.z],
                "slices": first.info.slices, "inputBytes": inputBytes,
                "voxelBytes": g.voxelCount * (first.volume.voxelTypeName == "int16" ? 2 : 4),
                "seconds": seconds, "best": sorted[0], "median": median,
                "slicesPerSecond": Double(first.info.slices) / median,
                "megabytesPerSecond": Double(inputBytes) / 1e6 / median,
            ]
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }

        private func fileBytes(_ paths: [String]) -> Int {
            var total = 0
            for path in paths {
                if let enumerator = FileManager.default.enumerator(atPath: path) {
                    for case let name as String in enumerator {
                        let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + name)
                        if attributes?[.type] as? FileAttributeType == .typeRegular {
                            total += (attributes?[.size] as? Int) ?? 0
                        }
                    }
                } else {
                    total += ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
                }
            }
            return total
        }
    }
}

extension Bench {
    struct Segment: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Time region growing or a preset on a loaded series and print JSON.",
            discussion: """
                --method connected|confidence grows from --seed i,j,k. --preset tumor|vessels runs the preset; with \
                --phantom, the sample head CT's phantom (a 15 mm lesion at +40 HU, or the vessel tree at +300 HU, \
                noise σ 10 HU) is first drawn into the series (any series of that head in the same patient space, \
                such as the resampled benchmark one), seeded where it is, and the result is compared with its exact \
                mask (Dice, HD95).
                """)

        @Argument(help: "A DICOM folder, files or a zip archive.")
        var paths: [String]

        @Option(help: "Seed voxel i,j,k.")
        var seed: String?

        @Option(help: "Lower bound of the interval.")
        var lower: Double = 226

        @Option(help: "Upper bound of the interval.")
        var upper: Double = 3071

        @Option(help: "6, 18 or 26.")
        var connectivity: Int = 6

        @Option(help: "connected or confidence.")
        var method: String = "connected"

        @Option(help: "tumor or vessels (instead of --method).")
        var preset: Preset?

        @Flag(help: "Draw the sample head's phantom for --preset into the series first.")
        var phantom = false

        @Option(name: .customLong("save-phantom"), help: ArgumentHelp(
            "With --phantom: write the phantom series to PREFIX.nii.gz and its exact mask to PREFIX-truth.nii.gz (for peers).",
            valueName: "PREFIX"))
        var savePhantom: String?

        @Option(help: "Timed runs after one warm-up run.")
        var runs: Int = 5

        @Option(help: "Worker threads (default: all cores).")
        var threads: Int?

        func validate() throws {
            if let preset, !preset.needsSeeds { throw ValidationError("--preset must be tumor or vessels") }
            if preset == nil && seed == nil { throw ValidationError("--method \(method) needs --seed i,j,k") }
            if phantom && preset == nil { throw ValidationError("--phantom goes with --preset") }
            if savePhantom != nil && !phantom { throw ValidationError("--save-phantom goes with --phantom") }
            guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
        }

        func run() throws {
            let report = DicomLoader(threads: threads).load(paths)
            guard let series = report.series.first else { throw ExitCode(1) }
            if let preset { return try runPreset(preset, series: series) }
            let parts = seed!.split(separator: ",").compactMap { Int($0) }
            guard parts.count == 3, let conn = Connectivity(rawValue: connectivity) else {
                throw ValidationError("--seed needs i,j,k and --connectivity 6, 18 or 26")
            }
            let grower = RegionGrowing(connectivity: conn, threads: threads)
            let criterion: InclusionCriterion = method == "confidence"
                ? .confidence() : .interval(lower: lower, upper: upper)
            let seeds = [Seed.voxel(SIMD3(parts[0], parts[1], parts[2]))]
            var result = try grower.grow(series.volume, seeds: seeds, criterion: criterion)
            var seconds: [Double] = []
            for _ in 0..<runs {
                let start = DispatchTime.now().uptimeNanoseconds
                result = try grower.grow(series.volume, seeds: seeds, criterion: criterion)
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let sorted = seconds.sorted()
            let voxels = series.volume.geometry.voxelCount
            let output: [String: Any] = [
                "tool": "vrprep", "method": method, "threads": grower.threads, "connectivity": connectivity,
                "voxels": voxels, "regionVoxels": result.voxelCount, "iterations": result.iterations,
                "lower": result.lower, "upper": result.upper,
                "seconds": seconds, "best": sorted[0], "median": sorted[sorted.count / 2],
                "voxelsPerSecond": Double(voxels) / sorted[sorted.count / 2],
            ]
            let data = try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }

        private func runPreset(_ preset: Preset, series: LoadedSeries) throws {
            var volume = series.volume
            var truth: Volume<UInt8>?
            let seeds: [Seed]
            if preset == .tumor {
                seeds = [.patient(Phantoms.headLesion.centre)]
                if phantom, case .int16(let v) = volume {
                    let drawn = Phantoms.draw(into: v, ellipsoids: [Phantoms.headLesion], contrast: 40, noise: 10)
                    (volume, truth) = (.int16(drawn.0), drawn.1)
                }
            } else {
                seeds = [.patient(SIMD3(125, -110, 50))]
                if phantom, case .int16(let v) = volume {
                    let drawn = Phantoms.draw(into: v, segments: Phantoms.headVesselTree.map(\.segment), contrast: 300, noise: 10)
                    (volume, truth) = (.int16(drawn.0), drawn.1)
                }
            }
            if phantom && truth == nil { throw ValidationError("--phantom needs a CT in Int16 Hounsfield units") }
            if let savePhantom, let truth, case .int16(let drawn) = volume {
                try NIfTI.write(drawn, to: URL(fileURLWithPath: savePhantom + ".nii.gz"), description: "VRPrep \(preset) phantom")
                try NIfTI.write(LabelMap(mask: truth, label: LabelInfo(value: 1, name: "truth", color: RGBA(1, 1, 0))),
                                to: URL(fileURLWithPath: savePhantom + "-truth.nii.gz"))
            }
            let modality = series.info.modality
            func once() throws -> (Volume<UInt8>, Int) {
                if preset == .tumor {
                    var tumor = TumorPreset()
                    tumor.threads = threads
                    let r = try tumor.run(volume, modality: modality, seeds: seeds)
                    return (r.mask, r.voxelCount)
                }
                var vessels = VesselPreset()
                vessels.threads = threads
                let r = try vessels.run(volume, modality: modality, seeds: seeds)
                return (r.mask, r.voxelCount)
            }
            var (mask, count) = try once()
            var seconds: [Double] = []
            for _ in 0..<runs {
                let start = DispatchTime.now().uptimeNanoseconds
                (mask, count) = try once()
                seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            let sorted = seconds.sorted()
            let g = volume.geometry
            var output: [String: Any] = [
                "tool": "vrprep", "preset": preset.rawValue, "threads": threads ?? Parallelism.defaultThreadCount,
                "dimensions": [g.dimensions.x, g.dimensions.y, g.dimensions.z], "regionVoxels": count,
                "seconds": seconds, "best": sorted[0], "median": sorted[sorted.count / 2],
            ]
            if let truth {
                output["dice"] = Overlap.dice(mask, truth)
                output["hausdorff95MM"] = Overlap.hausdorff95(mask, truth) ?? -1
                // Bone: voxels of the series before the phantom at 226 HU or more, not in the truth.
                if case .int16(let original) = series.volume {
                    var bone = 0
                    for i in mask.voxels.indices where mask.voxels[i] != 0 && truth.voxels[i] == 0 && original.voxels[i] >= 226 { bone += 1 }
                    output["boneVoxels"] = bone
                }
            }
            let data = try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

extension Bench {
    struct MeshBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mesh",
            abstract: "Time surface extraction, smoothing and decimation of a thresholded mask and print JSON.")

        @Argument(help: "A DICOM folder, files or a zip archive.")
        var paths: [String]

        @Option(help: "Lower bound of the mask's interval.")
        var lower: Double = 226

        @Option(help: "Upper bound of the mask's interval.")
        var upper: Double = 3071

        @Option(help: "Taubin smoothing passes.")
        var smooth: Int = 20

        @Option(help: "Decimate to this fraction of the triangles.")
        var decimate: Double = 0.1

        @Option(help: "Timed runs after one warm-up run.")
        var runs: Int = 3

        @Option(help: "Worker threads (default: all cores).")
        var threads: Int?

        func run() throws {
            let report = DicomLoader(threads: threads).load(paths)
            guard let series = report.series.first else { throw ExitCode(1) }
            let mask = try Thresholding.mask(series.volume, lower: lower, upper: upper, threads: threads)
            func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
                let start = DispatchTime.now().uptimeNanoseconds
                let value = try body()
                return (value, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            var extract: [Double] = [], smoothing: [Double] = [], decimation: [Double] = []
            var triangles = 0, smoothedVolume = 0.0, rawVolume = 0.0, reducedTriangles = 0, watertight = false
            for run in 0...runs {
                let (mesh, te) = time { Surfaces.surface(of: mask, threads: threads) }
                let (smoothed, ts) = time { mesh.smoothed(passes: smooth, threads: threads) }
                let (reduced, td) = try time { try smoothed.decimated(targetTriangles: Int(Double(smoothed.triangleCount) * decimate), threads: threads) }
                if run == 0 {
                    triangles = mesh.triangleCount
                    rawVolume = MeshMeasurements(mesh, topology: false).volumeML
                    smoothedVolume = MeshMeasurements(smoothed, topology: false).volumeML
                    reducedTriangles = reduced.triangleCount
                    watertight = MeshMeasurements(reduced).watertight
                    continue
                }
                extract.append(te)
                smoothing.append(ts)
                decimation.append(td)
            }
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
            let output: [String: Any] = [
                "tool": "vrprep", "threads": threads ?? Parallelism.defaultThreadCount, "voxels": mask.geometry.voxelCount,
                "triangles": triangles, "extractSeconds": extract, "extractMedian": median(extract),
                "smoothPasses": smooth, "smoothSeconds": smoothing, "smoothMedian": median(smoothing),
                "decimateFraction": decimate, "decimateSeconds": decimation, "decimateMedian": median(decimation),
                "decimatedTriangles": reducedTriangles, "decimatedWatertight": watertight,
                "volumeML": rawVolume, "smoothedVolumeML": smoothedVolume,
            ]
            let data = try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

extension Bench {
    struct DefaceBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "deface",
            abstract: "Time finding and removing a head's face (Defacing) on a loaded series and print JSON.")

        @Argument(help: "A DICOM folder, files or a zip archive.")
        var paths: [String]

        @Option(help: "Timed runs after one warm-up run.")
        var runs: Int = 5

        @Option(help: "Worker threads (default: all cores).")
        var threads: Int?

        func run() throws {
            let report = DicomLoader(threads: threads).load(paths)
            guard let series = report.series.max(by: { $0.info.geometry.voxelCount < $1.info.geometry.voxelCount }) else { throw ExitCode(1) }
            var defacing = Defacing()
            defacing.threads = threads
            var seconds: [Double] = []
            var last: Defacing.Result?
            for run in 0...runs {
                let start = DispatchTime.now().uptimeNanoseconds
                let result = defacing.deface(series.volume, modality: series.info.modality)
                let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if run > 0 { seconds.append(elapsed) }
                last = result
            }
            let g = series.info.geometry
            let output: [String: Any] = [
                "tool": "vrprep", "threads": threads ?? Parallelism.defaultThreadCount, "voxels": g.voxelCount,
                "dimensions": [g.dimensions.x, g.dimensions.y, g.dimensions.z], "seconds": seconds,
                "median": seconds.sorted()[seconds.count / 2], "faceFound": last?.report.face != nil,
                "removedML": last?.report.removedML ?? 0, "reason": last?.report.reason ?? "",
            ]
            let data = try JSONSerialization.data(withJSONObject: output, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        }
    }
}

/// `--preset tumor|vessels`.
extension Preset: ExpressibleByArgument {}
