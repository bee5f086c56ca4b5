import Foundation
import VolumeCore

/// How one group of frames becomes a volume: the frames in spatial order, the output grid,
/// and, where slices are missing or unevenly spaced, how output slices interpolate input ones.
struct SeriesPlan: Sendable {
    /// Frames in spatial order (ascending along the slice normal), duplicates removed.
    var frames: [FrameHeader]
    var geometry: VolumeGeometry
    /// For each output slice: input slice index and weight of the next input slice
    /// (value = (1 − w)·in[i] + w·in[i + 1]). Nil when output slices are the input slices.
    var resampling: [(index: Int, weight: Double)]?
    var warnings: [String]
    var splitBy: SplitReason?
    /// Slices left out because another slice already holds their position.
    var duplicates: [Rejection] = []

    /// Positions closer than this along the normal are the same slice (mm).
    static let samePositionTolerance = 0.01
    /// Largest tilt of the slice axis away from the normal still taken as straight (degrees).
    static let tiltTolerance = 0.05

    /// Plans a volume for `group`, or throws why no volume can be built.
    static func make(_ group: [FrameHeader], splitBy: SplitReason?, limits: DicomLimits) throws(DicomError) -> SeriesPlan {
        precondition(!group.isEmpty)
        let first = group[0]
        var warnings: [String] = []
        let pixel: SIMD2<Double>
        if let spacing = first.pixelSpacing {
            pixel = spacing
        } else {
            pixel = SIMD2(1, 1)
            warnings.append("no PixelSpacing: 1 mm pixels assumed")
        }

        var plan: SeriesPlan
        if let row = first.rowDirection, let column = first.columnDirection,
           group.allSatisfy({ $0.position != nil }) {
            plan = try placed(group, row: row, column: column, pixel: pixel, warnings: warnings)
        } else {
            plan = unplaced(group, pixel: pixel, warnings: warnings)
        }
        plan.splitBy = splitBy
        // The grid as built (slice step from positions, thickness or spacing between slices):
        // nothing downstream may compute from a spacing of 1e-30 mm or a direction of NaN.
        if let problem = plan.geometry.problem {
            throw .series(uid: first.seriesInstanceUID, reason: "impossible geometry: \(problem) (from the PixelSpacing, " +
                "ImagePositionPatient, ImageOrientationPatient, SliceThickness or SpacingBetweenSlices of \(first.path))")
        }
        let bytes = plan.geometry.voxelCount * 4
        guard bytes <= limits.maxVolumeBytes else {
            let d = plan.geometry.dimensions
            throw .series(uid: first.seriesInstanceUID, reason: "a volume of \(d.x)×\(d.y)×\(d.z) voxels " +
                "needs up to \(bytes) bytes, over the limit of \(limits.maxVolumeBytes) bytes")
        }
        return plan
    }

    /// Frames with position and orientation: sort along the normal, check spacing and tilt.
    private static func placed(_ group: [FrameHeader], row: SIMD3<Double>, column: SIMD3<Double>,
                               pixel: SIMD2<Double>, warnings: [String]) throws(DicomError) -> SeriesPlan {
        var warnings = warnings
        let normal = row.cross(column).normalized
        let distance = { (frame: FrameHeader) in frame.position!.dot(normal) }
        let sorted = group.enumerated().sorted { a, b in
            let (da, db) = (distance(a.element), distance(b.element))
            if da != db { return da < db }
            return (a.element.instanceNumber ?? 0, a.offset) < (b.element.instanceNumber ?? 0, b.offset)
        }.map(\.element)

        var frames: [FrameHeader] = []
        var duplicates: [Rejection] = []
        for frame in sorted {
            if let last = frames.last, distance(frame) - distance(last) < samePositionTolerance {
                let what = frame.framesInFile > 1 ? "frame \(frame.frame + 1) duplicates" : "duplicates"
                let kept = last.framesInFile > 1 ? "\(last.path) frame \(last.frame + 1)" : last.path
                duplicates.append(Rejection(path: frame.path, reason: "\(what) the slice at \(format(distance(frame))) mm " +
                    "along the normal already taken from \(kept): not used"))
            } else {
                frames.append(frame)
            }
        }
        if !duplicates.isEmpty {
            warnings.append("\(duplicates.count) duplicate slice(s) at an already used position left out " +
                "(listed with the rejected files)")
        }

        let origin = frames[0].position!
        var geometry = VolumeGeometry(dimensions: SIMD3(frames[0].columns, frames[0].rows, frames.count),
                                      spacing: SIMD3(pixel.x, pixel.y, 1), origin: origin,
                                      direction: Matrix3(columns: row, column, normal))
        if frames.count == 1 {
            geometry.spacing.z = frames[0].spacingBetweenSlices ?? frames[0].sliceThickness ?? 1
            return SeriesPlan(frames: frames, geometry: geometry, resampling: nil, warnings: warnings,
                              duplicates: duplicates)
        }

        // Slice axis: the mean step between slices. Off the normal means a tilted gantry.
        let depths = frames.map(distance)
        let span = depths.last! - depths.first!
        var axis = normal
        let lastPosition = frames.last!.position!
        let lateral = (lastPosition - origin) - span * normal
        let tilt = atan2(lateral.length, span) * 180 / .pi
        if tilt > tiltTolerance {
            axis = (lastPosition - origin).normalized
            let stated = frames[0].gantryTilt.map { " (GantryDetectorTilt \(format($0))°)" } ?? ""
            warnings.append("gantry tilt: slices are sheared by \(format(tilt))°\(stated); the volume keeps " +
                "the sheared slice axis so that patient coordinates stay exact (non-orthogonal direction)")
        }
        let alongAxis = axis.dot(normal)  // normal distance per mm along the slice axis

        let steps = zip(depths, depths.dropFirst()).map { $1 - $0 }
        let median = steps.sorted()[steps.count / 2]
        let tolerance = max(0.01, 0.02 * median)
        let uniform = steps.allSatisfy { abs($0 - median) <= tolerance }
        if uniform {
            geometry.spacing.z = span / Double(frames.count - 1) / alongAxis
            geometry.direction = Matrix3(columns: row, column, axis)
            return SeriesPlan(frames: frames, geometry: geometry, resampling: nil, warnings: warnings,
                              duplicates: duplicates)
        }

        // Missing or unevenly spaced slices: a regular grid at the common step, filled by
        // linear interpolation along the slice axis, and said so.
        let count = Int((span / median).rounded()) + 1
        guard count <= 4 * frames.count + 16 else {
            throw .series(uid: frames[0].seriesInstanceUID, reason: "slice positions are too irregular to form a " +
                "volume (\(frames.count) slices over \(format(span)) mm, steps \(format(steps.min()!))…" +
                "\(format(steps.max()!)) mm)")
        }
        let step = span / Double(count - 1)
        var resampling: [(index: Int, weight: Double)] = []
        var input = 0
        for k in 0..<count {
            let depth = depths[0] + Double(k) * step
            while input + 1 < depths.count - 1 && depths[input + 1] <= depth { input += 1 }
            let lower = min(input, depths.count - 2)
            let weight = min(1, max(0, (depth - depths[lower]) / (depths[lower + 1] - depths[lower])))
            resampling.append((lower, weight))
        }
        let gaps = steps.enumerated().filter { $0.element > median + tolerance }
        let wholeGaps = gaps.filter { abs($0.element / median - ($0.element / median).rounded()) < 0.1 }
        if !gaps.isEmpty, wholeGaps.count == gaps.count, steps.allSatisfy({ $0 >= median - tolerance }) {
            let missing = wholeGaps.map { Int(($0.element / median).rounded()) - 1 }.reduce(0, +)
            let places = wholeGaps.prefix(5).map { "between \(format(depths[$0.offset])) and " +
                "\(format(depths[$0.offset + 1])) mm" }
            warnings.append("missing slices: \(missing) slice(s) absent (\(places.joined(separator: "; "))); " +
                "filled by linear interpolation to keep a regular \(format(step)) mm grid")
        } else {
            warnings.append("non-uniform slice spacing (steps \(format(steps.min()!))…\(format(steps.max()!)) mm); " +
                "resampled by linear interpolation to a regular \(format(step)) mm grid")
        }
        geometry.dimensions.z = count
        geometry.spacing.z = step / alongAxis
        geometry.direction = Matrix3(columns: row, column, axis)
        return SeriesPlan(frames: frames, geometry: geometry, resampling: resampling, warnings: warnings,
                          duplicates: duplicates)
    }

    /// Frames without position or orientation (secondary captures, some multi-frame objects):
    /// ordered by InstanceNumber, stacked 1 mm (or the stated spacing) apart.
    private static func unplaced(_ group: [FrameHeader], pixel: SIMD2<Double>, warnings: [String]) -> SeriesPlan {
        var warnings = warnings
        let frames = group.enumerated().sorted {
            ($0.element.instanceNumber ?? 0, $0.element.frame, $0.offset) <
                ($1.element.instanceNumber ?? 0, $1.element.frame, $1.offset)
        }.map(\.element)
        let first = frames[0]
        let step = first.spacingBetweenSlices ?? first.sliceThickness ?? 1
        let direction: Matrix3
        if let row = first.rowDirection, let column = first.columnDirection {
            direction = Matrix3(columns: row, column, row.cross(column).normalized)
        } else {
            direction = .identity
        }
        if frames.count > 1 {
            warnings.append("no ImagePositionPatient/ImageOrientationPatient for every slice: slices ordered by " +
                "InstanceNumber and frame, \(format(step)) mm apart; patient position unknown")
        } else if first.position == nil || first.rowDirection == nil {
            warnings.append("no ImagePositionPatient/ImageOrientationPatient: patient position unknown")
        }
        let geometry = VolumeGeometry(dimensions: SIMD3(first.columns, first.rows, frames.count),
                                      spacing: SIMD3(pixel.x, pixel.y, step),
                                      origin: first.position ?? .zero, direction: direction)
        return SeriesPlan(frames: frames, geometry: geometry, resampling: nil, warnings: warnings)
    }
}

func format(_ value: Double) -> String {
    let rounded = (value * 1000).rounded() / 1000
    return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
}
