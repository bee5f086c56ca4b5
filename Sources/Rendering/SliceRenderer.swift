import CEGL
import Foundation
import VolumeCore

/// Multiplanar reformatted slices (axial, coronal, sagittal) of a volume, a label map or both,
/// with the labels' colours over the grey values: the pictures of a patient explanation sheet.
public final class SliceRenderer: @unchecked Sendable {
    /// A slice orientation in radiological display: the patient's right on the image's left in
    /// axial and coronal slices, anterior on the left in sagittal ones, head or front up.
    public enum Orientation: String, CaseIterable, Sendable {
        case axial, coronal, sagittal

        /// (image right, image up, normal) in LPS.
        public var axes: (SIMD3<Double>, SIMD3<Double>, SIMD3<Double>) {
            switch self {
            case .axial: return (SIMD3(1, 0, 0), SIMD3(0, -1, 0), SIMD3(0, 0, 1))
            case .coronal: return (SIMD3(1, 0, 0), SIMD3(0, 0, 1), SIMD3(0, 1, 0))
            case .sagittal: return (SIMD3(0, 1, 0), SIMD3(0, 0, 1), SIMD3(1, 0, 0))
            }
        }
    }

    public let context: GLContext
    private var program: GLuint = 0
    private var volumeTexture: GLuint = 0, labelTexture: GLuint = 0
    private var volumeGeometry: VolumeGeometry?, labelGeometry: VolumeGeometry?
    private var valueScale = 1.0
    private var labelInfo: [LabelInfo] = []
    private var labelCentre: SIMD3<Double>?
    private var modality = ""

    public init(context: GLContext, shaders: ShaderLibrary) throws(RenderingError) {
        self.context = context
        program = try context.perform { () throws(RenderingError) -> GLuint in
            try shaders.program(vertex: "volume.vert", fragment: "slice.frag")
        }
    }

    deinit {
        let (program, textures) = (self.program, [volumeTexture, labelTexture].filter { $0 != 0 })
        _ = try? context.perform {
            glDeleteProgram(program)
            glDeleteTextures(GLsizei(textures.count), textures)
        }
    }

    /// The grey values (replacing earlier ones).
    public func upload(_ volume: AnyVolume, modality: String) throws(RenderingError) {
        (volumeTexture, valueScale) = try VolumeTextures.upload(volume, range: volume.valueRange() ?? 0...1, replacing: volumeTexture,
                                                                context: context)
        volumeGeometry = volume.geometry
        valueRange = volume.valueRange() ?? 0...1
        self.modality = modality
    }

    /// The label map drawn over them (replacing an earlier one); its grid may differ from the volume's.
    public func upload(_ labels: LabelMap) throws(RenderingError) {
        labelTexture = try VolumeTextures.upload(labels, replacing: labelTexture, context: context)
        labelGeometry = labels.geometry
        labelInfo = labels.labels
        // Where slices go by default: the centre of the labelled voxels' bounding box.
        var low = SIMD3<Int>(repeating: .max), high = SIMD3<Int>(repeating: .min)
        let d = labels.geometry.dimensions
        for k in 0..<d.z { for j in 0..<d.y { for i in 0..<d.x where labels.label(i, j, k) != 0 {
            low = pointwiseMin(low, SIMD3(i, j, k))
            high = pointwiseMax(high, SIMD3(i, j, k))
        } } }
        labelCentre = low.x <= high.x ? labels.geometry.patientPosition(ofIndex: SIMD3<Double>(
            Double(low.x + high.x) / 2, Double(low.y + high.y) / 2, Double(low.z + high.z) / 2)) : nil
    }

    /// The default window (values shown black to white): W 400 / L 40 for CT, the value range otherwise.
    public var defaultWindow: ClosedRange<Double> { modality == "CT" ? -160...240 : valueRange }
    private var valueRange = 0.0...1.0

    /// The patient box of what was uploaded (voxel centres).
    public var box: (SIMD3<Double>, SIMD3<Double>)? {
        let boxes = [volumeGeometry, labelGeometry].compactMap { $0?.boundingBox }
        guard let first = boxes.first else { return nil }
        return boxes.dropFirst().reduce(first) { (pointwiseMin($0.0, $1.0), pointwiseMax($0.1, $1.1)) }
    }

    /// The default slice position (mm along the orientation's normal): through the centre of the
    /// labelled voxels, else of the box.
    public func defaultPosition(_ orientation: Orientation) -> Double? {
        guard let box else { return nil }
        return (labelCentre ?? (box.0 + box.1) / 2).dot(orientation.axes.2)
    }

    /// One slice at `position` mm along the orientation's normal (LPS coordinate: z for axial,
    /// y for coronal, x for sagittal), fitted to the image with square pixels.
    public func render(_ orientation: Orientation, position: Double? = nil, width: Int, height: Int,
                       window: ClosedRange<Double>? = nil, overlayOpacity: Double = 0.5) throws(RenderingError) -> RGBAImage {
        guard let box else { throw .invalidParameter(name: "slice", reason: "nothing uploaded to slice") }
        try context.checkSize(width: width, height: height)
        let (right, up, normal) = orientation.axes
        let position = position ?? defaultPosition(orientation)!
        let span = (box.0.dot(normal), box.1.dot(normal))
        guard position >= span.0 - 1e-6, position <= span.1 + 1e-6 else {
            throw .invalidParameter(name: "slice position",
                                    reason: "\(position) mm is outside the data, which spans \(span.0)…\(span.1) mm along \(orientation.rawValue == "axial" ? "z" : orientation.rawValue == "coronal" ? "y" : "x")")
        }
        // Fit the box's extent on the plane (plus half a voxel) to the image.
        let extent = box.1 - box.0
        let (w, h) = (abs(extent.dot(right)) + 1, abs(extent.dot(up)) + 1)
        let mmPerPixel = max(w / Double(width), h / Double(height))
        let centre = (box.0 + box.1) / 2
        let onPlane = centre + normal * (position - centre.dot(normal))
        let (halfW, halfH) = (Double(width) * mmPerPixel / 2, Double(height) * mmPerPixel / 2)
        var screenToPatient = Matrix4.identity
        for r in 0..<3 {
            screenToPatient[r, 0] = Float(right[r] * halfW)
            screenToPatient[r, 1] = Float(up[r] * halfH)
            screenToPatient[r, 2] = 0
            screenToPatient[r, 3] = Float(onPlane[r])
        }
        var axes = Matrix4.identity
        for r in 0..<3 {
            axes[r, 0] = Float(right[r])
            axes[r, 1] = Float(up[r])
        }
        let toTexture = try volumeGeometry.map { g throws(RenderingError) in try VolumeTextures.patientToTexture(g) }
        let toLabel = try labelGeometry.map { g throws(RenderingError) in try Self.patientToIndex(g) }
        let shown = window ?? defaultWindow
        let colours = Self.colourTable(labelInfo)
        let (program, volumeTexture, labelTexture, scale) = (self.program, self.volumeTexture, self.labelTexture, valueScale)
        return try context.perform { () throws(RenderingError) -> RGBAImage in
            let target = try Framebuffer(width: width, height: height)
            defer { target.delete() }
            var table: GLuint = 0, array: GLuint = 0
            glGenTextures(1, &table)
            defer { glDeleteTextures(1, &table) }
            VolumeTextures.bind(table, unit: 2, target: GL_TEXTURE_2D, filter: GL_NEAREST)
            glTexImage2D(GLenum(GL_TEXTURE_2D), 0, GL_RGBA8, 256, 256, 0, GLenum(GL_RGBA), GLenum(GL_UNSIGNED_BYTE), colours)
            if toTexture != nil { VolumeTextures.bind(volumeTexture, unit: 0, target: GL_TEXTURE_3D, filter: GL_LINEAR) }
            if toLabel != nil { VolumeTextures.bind(labelTexture, unit: 1, target: GL_TEXTURE_3D, filter: GL_NEAREST) }
            glBindFramebuffer(GLenum(GL_FRAMEBUFFER), target.framebuffer)
            glViewport(0, 0, GLsizei(width), GLsizei(height))
            glDisable(GLenum(GL_DEPTH_TEST))
            glUseProgram(program)
            for (name, unit) in [("volume", 0), ("labels", 1), ("labelColours", 2)] {
                glUniform1i(glGetUniformLocation(program, name), GLint(unit))
            }
            glUniform1i(glGetUniformLocation(program, "hasVolume"), toTexture == nil ? 0 : 1)
            glUniform1i(glGetUniformLocation(program, "hasLabels"), toLabel == nil ? 0 : 1)
            if let toTexture {
                glUniformMatrix4fv(glGetUniformLocation(program, "patientToTexture"), 1, GLboolean(GL_FALSE), toTexture.m)
            }
            if let toLabel {
                glUniformMatrix4fv(glGetUniformLocation(program, "patientToLabel"), 1, GLboolean(GL_FALSE), toLabel.m)
            }
            glUniformMatrix4fv(glGetUniformLocation(program, "screenToPatient"), 1, GLboolean(GL_FALSE), screenToPatient.m)
            glUniformMatrix4fv(glGetUniformLocation(program, "screenAxes"), 1, GLboolean(GL_FALSE), axes.m)
            glUniform2f(glGetUniformLocation(program, "window"), Float(shown.lowerBound / scale), Float(shown.upperBound / scale))
            glUniform1f(glGetUniformLocation(program, "overlayOpacity"), Float(overlayOpacity))
            glUniform2f(glGetUniformLocation(program, "pixelMM"), Float(mmPerPixel), Float(mmPerPixel))
            glGenVertexArrays(1, &array)
            glBindVertexArray(array)
            glDrawArrays(GLenum(GL_TRIANGLES), 0, 3)
            glBindVertexArray(0)
            glDeleteVertexArrays(1, &array)
            return try target.read()
        }
    }

    /// Patient (LPS mm) → continuous voxel index.
    static func patientToIndex(_ g: VolumeGeometry) throws(RenderingError) -> Matrix4 {
        guard let inverse = g.direction.inverse else {
            throw .invalidParameter(name: "label map direction", reason: "singular direction matrix")
        }
        var m = Matrix4.identity
        let rows = [inverse.rows.0, inverse.rows.1, inverse.rows.2]
        for r in 0..<3 {
            for c in 0..<3 { m[r, c] = Float(rows[r][c] / g.spacing[r]) }
            m[r, 3] = Float(-rows[r].dot(g.origin) / g.spacing[r])
        }
        return m
    }

    /// 256 × 256 RGBA8: each label's colour at (l % 256, l / 256); labels without an entry get
    /// a colour of a fixed palette.
    static func colourTable(_ labels: [LabelInfo]) -> [UInt8] {
        var table = [UInt8](repeating: 0, count: 256 * 256 * 4)
        let palette: [RGBA] = [RGBA(0.9, 0.3, 0.2), RGBA(0.2, 0.6, 0.9), RGBA(0.3, 0.8, 0.3), RGBA(0.95, 0.8, 0.2),
                               RGBA(0.7, 0.4, 0.9), RGBA(0.2, 0.8, 0.8)]
        for l in 1..<65536 {
            let c = labels.first { $0.value == l }?.color ?? palette[(l - 1) % palette.count]
            for (k, v) in [c.r, c.g, c.b, 1].enumerated() { table[l * 4 + k] = UInt8(max(0, min(255, (v * 255).rounded()))) }
        }
        return table
    }
}
