import Foundation
import VolumeCore

/// Decodes the frames of a plan into a volume, in parallel across files (and across frames of
/// a multi-frame file where its frames can be decoded independently).
enum SeriesDecoding {
    enum Output { case int16, float32 }

    struct Result {
        var volume: AnyVolume
        /// Input slices (indices into plan.frames) that could not be decoded.
        var failed: [Int: Rejection]
    }

    /// The voxel type for a plan: Int16 when every rescale is integral (values are then checked),
    /// Float otherwise.
    static func preferredOutput(_ frames: [FrameHeader]) -> Output {
        let integral = frames.allSatisfy {
            $0.slope == $0.slope.rounded() && $0.intercept == $0.intercept.rounded() &&
                abs($0.slope) <= 65536 && abs($0.intercept) <= 65536
        }
        return integral ? .int16 : .float32
    }

    /// One unit of work: frames of one file, each with its input slice index.
    private struct Task {
        var diskPath: String
        var name: String
        var items: [(frame: Int, slice: Int)]
    }

    private static func tasks(for frames: [FrameHeader], threads: Int) -> [Task] {
        var byFile: [String: Task] = [:]
        var order: [String] = []
        for (slice, frame) in frames.enumerated() {
            if byFile[frame.diskPath] == nil {
                order.append(frame.diskPath)
                byFile[frame.diskPath] = Task(diskPath: frame.diskPath, name: frame.path, items: [])
            }
            byFile[frame.diskPath]!.items.append((frame.frame, slice))
        }
        var result: [Task] = []
        for path in order {
            var task = byFile[path]!
            task.items.sort { $0.frame < $1.frame }  // codecs prefer increasing frame order
            let first = frames[task.items[0].slice]
            // Frames of one file decode independently when native or one fragment per frame.
            let splittable = first.fragments == 0 || first.fragments == first.framesInFile
            if splittable && task.items.count >= 8 && threads > 1 {
                let size = (task.items.count + threads * 2 - 1) / (threads * 2)
                for start in stride(from: 0, to: task.items.count, by: size) {
                    result.append(Task(diskPath: task.diskPath, name: task.name,
                                       items: Array(task.items[start..<min(start + size, task.items.count)])))
                }
            } else {
                result.append(task)
            }
        }
        return result
    }

    /// Decodes every input slice of `frames` (in order) into a stack of `frames.count` slices.
    static func decode(_ frames: [FrameHeader], geometry: VolumeGeometry, output: Output, threads: Int,
                       progress: (@Sendable (Int) -> Void)?) -> Result {
        let sliceVoxels = geometry.dimensions.x * geometry.dimensions.y
        let total = sliceVoxels * frames.count
        let work = tasks(for: frames, threads: threads)

        func run<Voxel>(_: Voxel.Type, _ convert: @escaping (UnsafeRawBufferPointer, FrameHeader,
                                                            UnsafeMutablePointer<Voxel>) -> Bool)
            -> ([Voxel], [Int: Rejection], Bool) {
            var voxels = [Voxel](unsafeUninitializedCapacity: total) { _, count in count = total }
            let outcomes = voxels.withUnsafeMutableBufferPointer { buffer in
                let base = UncheckedSendable(buffer.baseAddress!)
                return parallelMap(0..<work.count, grain: 1, threads: threads) { range in
                    var failed: [Int: Rejection] = [:]
                    var fits = true
                    // One scratch frame per worker chunk: a fresh large allocation per file would be
                    // mapped and faulted in again every time.
                    let scratchBytes = range.map { frames[work[$0].items[0].slice].format.frameBytes(pixels: sliceVoxels) }
                        .max() ?? 0
                    let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: max(scratchBytes + 2, 16), alignment: 16)
                    defer { scratch.deallocate() }
                    for taskIndex in range {
                        let task = work[taskIndex]
                        do throws(DicomError) {
                            let file = try DicomFile(path: task.diskPath, name: task.name)
                            for item in task.items {
                                do throws(DicomError) {
                                    try file.decodeFrame(item.frame, into: scratch)
                                    let target = base.value + item.slice * sliceVoxels
                                    if !convert(UnsafeRawBufferPointer(scratch), frames[item.slice], target) {
                                        fits = false
                                    }
                                } catch {
                                    failed[item.slice] = Rejection(path: error.path, reason: error.reason)
                                }
                            }
                        } catch {
                            for item in task.items {
                                failed[item.slice] = Rejection(path: error.path, reason: error.reason)
                            }
                        }
                        progress?(task.items.count)
                    }
                    return (failed, fits)
                }
            }
            var failed: [Int: Rejection] = [:]
            for outcome in outcomes { failed.merge(outcome.0) { a, _ in a } }
            return (voxels, failed, outcomes.allSatisfy { $0.1 })
        }

        if output == .int16 {
            let (voxels, failed, fits) = run(Int16.self) { raw, frame, out in
                FrameConversion.toInt16(raw, count: sliceVoxels, format: frame.format,
                                        slope: Int32(frame.slope), intercept: Int32(frame.intercept), into: out)
            }
            if fits {
                return Result(volume: .int16(Volume(geometry: stackGeometry(geometry, frames.count), voxels: voxels)),
                              failed: failed)
            }
        }
        let (voxels, failed, _) = run(Float.self) { raw, frame, out in
            FrameConversion.toFloat(raw, count: sliceVoxels, format: frame.format,
                                    slope: frame.slope, intercept: frame.intercept, into: out)
            return true
        }
        return Result(volume: .float32(Volume(geometry: stackGeometry(geometry, frames.count), voxels: voxels)),
                      failed: failed)
    }

    private static func stackGeometry(_ geometry: VolumeGeometry, _ slices: Int) -> VolumeGeometry {
        var stack = geometry
        stack.dimensions.z = slices
        return stack
    }

    /// Builds the output grid from the input stack by linear interpolation between slices.
    static func resample(_ stack: AnyVolume, geometry: VolumeGeometry,
                         plan: [(index: Int, weight: Double)], threads: Int) -> AnyVolume {
        func interpolate<Voxel: VoxelValue>(_ input: Volume<Voxel>, _ make: @escaping (Double) -> Voxel) -> Volume<Voxel> {
            let slice = geometry.dimensions.x * geometry.dimensions.y
            var out = [Voxel](unsafeUninitializedCapacity: slice * plan.count) { _, count in count = slice * plan.count }
            input.voxels.withUnsafeBufferPointer { source in
                out.withUnsafeMutableBufferPointer { target in
                    let src = UncheckedSendable(source), dst = UncheckedSendable(target)
                    parallelFor(0..<plan.count, grain: 1, threads: threads) { slices in
                        for k in slices {
                            let (index, w) = plan[k]
                            let a = index * slice, b = min(index + 1, input.dimensions.z - 1) * slice
                            for p in 0..<slice {
                                let value = src.value[a + p].doubleValue * (1 - w) + src.value[b + p].doubleValue * w
                                dst.value[k * slice + p] = make(value)
                            }
                        }
                    }
                }
            }
            return Volume(geometry: geometry, voxels: out)
        }
        switch stack {
        case .int16(let volume): return .int16(interpolate(volume) { Int16(clamping: Int(($0).rounded())) })
        case .float32(let volume): return .float32(interpolate(volume) { Float($0) })
        }
    }
}
