import DICOM
import Foundation
import Rendering
import VolumeCore
import VolumeIO

/// Use case: a study opened for the workstation. Its series is loaded once; then slices as images
/// (radiological display), the value at a point, and segmentation previews (kept a short while,
/// for their overlays and their label maps). The service keeps one open per study in a process of
/// its own (`vrprep study-worker`), so that whatever a preview meets ends that process alone.
public final class OpenStudy: @unchecked Sendable {
    /// A plane through the volume, as a radiologist looks at it.
    public enum Orientation: String, CaseIterable, Sendable, Codable {
        case axial, coronal, sagittal
    }

    /// A preview: its id, what each structure gave, and how long it took.
    public struct Preview: Sendable, Encodable {
        public var previewId: String
        public var structures: [SegmentStudy.Structure]
        public var warnings: [String]
        public var seconds: Double
    }

    public let series: LoadedSeries
    public let threads: Int?
    /// The latest previews' label maps, newest last (at most `keptPreviews`).
    private var previews: [(id: String, labels: LabelMap)] = []
    private let lock = NSLock()
    public static let keptPreviews = 4

    /// Loads the study's series (`choice`: its number or UID; default the largest).
    public init(_ paths: [String], series choice: String? = nil, threads: Int? = nil) throws(UseCaseFailure) {
        self.threads = threads
        series = try SeriesChoice.choose(DicomLoader(threads: threads).load(paths), from: paths, choice: choice)
    }

    // MARK: Slices

    /// How a plane's pixels map to voxels: for each voxel axis, the patient axis it runs along
    /// (closest) and its sign, so that any acquisition shows the patient's right on the image's
    /// left (axial, coronal), anterior on the left (sagittal) and superior at the top.
    struct Plane {
        /// Voxel axes of the image's columns and rows, and of the slices.
        var columnAxis: Int, rowAxis: Int, sliceAxis: Int
        /// Whether the column and row indices run against the voxel axis.
        var flipColumns: Bool, flipRows: Bool
    }

    func plane(_ orientation: Orientation) -> Plane {
        let d = series.info.geometry.direction
        // The voxel axis that runs most along each patient axis, and whether it runs along it positively.
        func axis(along patient: Int) -> (axis: Int, positive: Bool) {
            let best = (0..<3).max { abs(d.column($0)[patient]) < abs(d.column($1)[patient]) }!
            return (best, d.column(best)[patient] >= 0)
        }
        let (x, y, z) = (axis(along: 0), axis(along: 1), axis(along: 2))
        switch orientation {
        // Columns towards the patient's left (+x), rows towards posterior (+y).
        case .axial: return Plane(columnAxis: x.axis, rowAxis: y.axis, sliceAxis: z.axis, flipColumns: !x.positive, flipRows: !y.positive)
        // Columns towards the patient's left, rows towards inferior (−z).
        case .coronal: return Plane(columnAxis: x.axis, rowAxis: z.axis, sliceAxis: y.axis, flipColumns: !x.positive, flipRows: z.positive)
        // Columns towards posterior, rows towards inferior.
        case .sagittal: return Plane(columnAxis: y.axis, rowAxis: z.axis, sliceAxis: x.axis, flipColumns: !y.positive, flipRows: z.positive)
        }
    }

    /// How many slices a plane has.
    public func sliceCount(_ orientation: Orientation) -> Int {
        series.info.geometry.dimensions[plane(orientation).sliceAxis]
    }

    /// The default window (width, level): soft tissue for CT, the 1st–99th percentiles otherwise.
    public var defaultWindow: (width: Double, level: Double) {
        if series.info.modality == "CT" { return (400, 40) }
        let p = series.volume.sampledPercentiles([0.01, 0.99]) ?? [0, 1]
        return (max(p[1] - p[0], 1), (p[0] + p[1]) / 2)
    }

    /// How a slice comes as an image.
    public enum SliceFormat: String, CaseIterable, Sendable, Codable {
        /// Lossless: every pixel is the windowed value (the view at rest).
        case png
        /// Lossy WebP at quality `SliceFormat.webpQuality`, for scrolling: on the noisy 512 × 432
        /// slices of the workstation benchmark, 40–50 KB instead of 70–93 KB, in 11 ms instead of
        /// 20, each pixel within 8 grey levels of the exact image (root mean square 1.2).
        case webp

        public static let webpQuality: Float = 95
        public var mediaType: String { self == .png ? "image/png" : "image/webp" }
    }

    /// A slice as an image: grey, or with a preview's labels over it (their colours, half opaque).
    /// Pixel spacing (mm) of its columns and rows comes with it, for the page to show it true.
    public func slice(_ orientation: Orientation, index: Int, window: (width: Double, level: Double)? = nil,
                      preview: String? = nil, format: SliceFormat = .png) throws(UseCaseFailure) -> (image: Data, spacingMM: [Double]) {
        let p = plane(orientation), g = series.info.geometry
        guard (0..<g.dimensions[p.sliceAxis]).contains(index) else {
            throw UseCaseFailure(description: "no \(orientation.rawValue) slice \(index): there are \(g.dimensions[p.sliceAxis]) (0…\(g.dimensions[p.sliceAxis] - 1))")
        }
        let labels: LabelMap?
        if let preview {
            guard let found = lock.withLock({ previews.last { $0.id == preview }?.labels }) else {
                throw UseCaseFailure(description: "no preview \(preview) of this study (previews are kept a short while)")
            }
            labels = found
        } else {
            labels = nil
        }
        let (width, height) = (g.dimensions[p.columnAxis], g.dimensions[p.rowAxis])
        let w = window ?? defaultWindow
        let low = w.level - w.width / 2, scale = 255 / max(w.width, 1e-9)
        let channels = labels == nil ? 1 : 3
        var pixels = [UInt8](repeating: 0, count: width * height * channels)
        var colours: [Int: SIMD3<Double>] = [:]
        for info in labels?.labels ?? [] { colours[info.value] = SIMD3(info.color.r, info.color.g, info.color.b) * 255 }
        var index3 = SIMD3<Int>(0, 0, 0)
        index3[p.sliceAxis] = index
        for row in 0..<height {
            index3[p.rowAxis] = p.flipRows ? height - 1 - row : row
            for column in 0..<width {
                index3[p.columnAxis] = p.flipColumns ? width - 1 - column : column
                let value = series.volume.value(index3.x, index3.y, index3.z)
                let grey = min(max((value - low) * scale, 0), 255)
                let at = (row * width + column) * channels
                guard let labels else {
                    pixels[at] = UInt8(grey.rounded())
                    continue
                }
                var rgb = SIMD3(repeating: grey)
                if let colour = colours[labels.label(index3.x, index3.y, index3.z)] { rgb = rgb * 0.5 + colour * 0.5 }
                for c in 0..<3 { pixels[at + c] = UInt8(min(max(rgb[c], 0), 255).rounded()) }
            }
        }
        let image: Data
        do {
            switch format {
            case .png: image = try PNG.encode(pixels, width: width, height: height, channels: channels)
            case .webp: image = try WebP.encode(pixels, width: width, height: height, channels: channels, quality: SliceFormat.webpQuality)
            }
        } catch {
            throw UseCaseFailure(description: "\(error)")
        }
        return (image, [g.spacing[p.columnAxis], g.spacing[p.rowAxis]])
    }

    // MARK: Values

    /// The values in a rectangle of a slice (image pixels, corners included, clamped to the
    /// image): how many, their mean, σ, least and greatest, and the area it covers (mm²).
    public struct RegionValues: Sendable, Codable {
        public var voxels: Int
        public var mean: Double
        public var sigma: Double
        public var min: Double
        public var max: Double
        public var areaMM2: Double
    }

    public func values(_ orientation: Orientation, index: Int, from a: (Int, Int), to b: (Int, Int)) throws(UseCaseFailure) -> RegionValues {
        let p = plane(orientation), g = series.info.geometry
        let (width, height) = (g.dimensions[p.columnAxis], g.dimensions[p.rowAxis])
        guard (0..<g.dimensions[p.sliceAxis]).contains(index) else {
            throw UseCaseFailure(description: "no \(orientation.rawValue) slice \(index): there are \(g.dimensions[p.sliceAxis])")
        }
        // Bounds first: a rectangle wholly outside gives a lower bound above the upper, which a
        // range would trap on (found by schemathesis: rectangle=6,-30,-598556,-890).
        let (left, right) = (Swift.max(0, Swift.min(a.0, b.0)), Swift.min(width - 1, Swift.max(a.0, b.0)))
        let (top, bottom) = (Swift.max(0, Swift.min(a.1, b.1)), Swift.min(height - 1, Swift.max(a.1, b.1)))
        guard left <= right, top <= bottom else {
            throw UseCaseFailure(description: "the rectangle lies outside the image (\(width) × \(height) pixels)")
        }
        let (columns, rows) = (left...right, top...bottom)
        var index3 = SIMD3<Int>(0, 0, 0)
        index3[p.sliceAxis] = index
        var (count, sum, squares, low, high) = (0, 0.0, 0.0, Double.infinity, -Double.infinity)
        for row in rows {
            index3[p.rowAxis] = p.flipRows ? height - 1 - row : row
            for column in columns {
                index3[p.columnAxis] = p.flipColumns ? width - 1 - column : column
                let value = series.volume.value(index3.x, index3.y, index3.z)
                (count, sum, squares) = (count + 1, sum + value, squares + value * value)
                (low, high) = (Swift.min(low, value), Swift.max(high, value))
            }
        }
        let mean = sum / Double(count)
        return RegionValues(voxels: count, mean: mean, sigma: (Swift.max(squares / Double(count) - mean * mean, 0)).squareRoot(),
                            min: low, max: high, areaMM2: Double(count) * g.spacing[p.columnAxis] * g.spacing[p.rowAxis])
    }

    /// The voxel nearest a point (LPS mm) and its value; nil outside the volume.
    public func voxel(mm point: SIMD3<Double>) -> (index: [Int], value: Double)? {
        guard let index = series.info.geometry.nearestIndex(ofPatient: point), series.info.geometry.contains(index) else { return nil }
        return ([index.x, index.y, index.z], series.volume.value(index.x, index.y, index.z))
    }

    // MARK: Previews

    /// Segments the open series with a recipe (checked as a file's is) and keeps the label map.
    public func preview(_ recipe: Recipe) throws(UseCaseFailure) -> Preview {
        var segmentation = SegmentStudy(recipe: recipe)
        segmentation.threads = threads
        let clock = Stopwatch()
        let result = try segmentation.segment(series, observer: nil)
        let id = UUID().uuidString.lowercased()
        lock.withLock {
            previews.append((id, result.labels))
            if previews.count > Self.keptPreviews { previews.removeFirst(previews.count - Self.keptPreviews) }
        }
        return Preview(previewId: id, structures: result.structures, warnings: result.warnings, seconds: clock.lap())
    }

    /// A kept preview's label map as NIfTI (gzip).
    public func previewLabels(_ id: String) throws(UseCaseFailure) -> Data {
        guard let labels = lock.withLock({ previews.last { $0.id == id }?.labels }) else {
            throw UseCaseFailure(description: "no preview \(id) of this study (previews are kept a short while)")
        }
        do {
            return try NIfTI.data(labels, gzip: true)
        } catch {
            throw UseCaseFailure(description: "\(error)")
        }
    }
}
