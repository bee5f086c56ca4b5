import CEGL
import Foundation
import VolumeCore

/// Maps values to colour and opacity: a piecewise-linear table over control points.
public struct TransferFunction: Sendable, Equatable {
    public var name: String
    /// Modality it expects ("CT", "MR"), or nil for any.
    public var modality: String?
    public var points: [Point]
    /// True when the points' values are fractions of the series' robust value range (its 1st to
    /// 99.5th percentile): for MR, whose values have no fixed scale.
    public var relative = false

    public struct Point: Sendable, Equatable {
        public var value: Double
        public var color: RGBA

        public init(_ value: Double, _ color: RGBA) {
            self.value = value
            self.color = color
        }
    }

    public init(name: String, modality: String?, points: [Point]) {
        self.name = name
        self.modality = modality
        self.points = points.sorted { $0.value < $1.value }
    }

    public static let ctBone = TransferFunction(name: "ct-bone", modality: "CT", points: [
        Point(150, RGBA(0.55, 0.25, 0.15, 0)), Point(300, RGBA(0.9, 0.8, 0.65, 0.25)),
        Point(700, RGBA(0.97, 0.94, 0.86, 0.9)), Point(3071, RGBA(1, 1, 1, 1)),
    ])
    public static let ctSoftTissue = TransferFunction(name: "ct-soft-tissue", modality: "CT", points: [
        Point(-500, RGBA(0.6, 0.3, 0.2, 0)), Point(-100, RGBA(0.85, 0.6, 0.5, 0.05)), Point(40, RGBA(0.9, 0.5, 0.45, 0.1)),
        Point(200, RGBA(0.95, 0.9, 0.8, 0.4)), Point(1000, RGBA(1, 1, 1, 0.9)),
    ])
    public static let ctAngiography = TransferFunction(name: "ct-angio", modality: "CT", points: [
        Point(100, RGBA(0.7, 0.1, 0.1, 0)), Point(200, RGBA(0.9, 0.2, 0.15, 0.3)), Point(500, RGBA(1, 0.85, 0.8, 0.8)),
        Point(3071, RGBA(1, 1, 1, 1)),
    ])
    /// MR (any weighting): bright tissue opaque, dark transparent, on the robust value range.
    public static let mr: TransferFunction = {
        var mr = TransferFunction(name: "mr", modality: "MR", points: [
            Point(0.15, RGBA(0.5, 0.3, 0.25, 0)), Point(0.35, RGBA(0.8, 0.6, 0.5, 0.08)),
            Point(0.65, RGBA(0.95, 0.85, 0.75, 0.5)), Point(1.0, RGBA(1, 1, 1, 0.9)),
        ])
        mr.relative = true
        return mr
    }()

    public static let presets = [ctBone, ctSoftTissue, ctAngiography, mr]

    /// The points in the series' values: relative points placed on `robustRange`.
    func resolved(robustRange: ClosedRange<Double>) -> TransferFunction {
        guard relative else { return self }
        let span = robustRange.upperBound - robustRange.lowerBound
        var out = self
        out.points = points.map { Point(robustRange.lowerBound + $0.value * span, $0.color) }
        out.relative = false
        return out
    }

    /// 256 RGBA entries over [low, high].
    func table(low: Double, high: Double) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(1024)
        for i in 0..<256 {
            let v = low + (high - low) * Double(i) / 255
            var c = points.first?.color ?? RGBA(0, 0, 0, 0)
            if v <= (points.first?.value ?? 0) {
                c = RGBA(c.r, c.g, c.b, 0)
            } else if let last = points.last, v >= last.value {
                c = last.color
            } else if let upper = points.firstIndex(where: { $0.value >= v }), upper > 0 {
                let a = points[upper - 1], b = points[upper]
                let t = (v - a.value) / (b.value - a.value)
                c = RGBA(a.color.r + (b.color.r - a.color.r) * t, a.color.g + (b.color.g - a.color.g) * t,
                         a.color.b + (b.color.b - a.color.b) * t, a.color.a + (b.color.a - a.color.a) * t)
            }
            out += [c.r, c.g, c.b, c.a].map { UInt8(clamping: Int(($0 * 255).rounded())) }
        }
        return out
    }
}

/// Ray-marching volume renderer: the volume as a 3D texture (16-bit, linear filtering), its
/// gradients as another (`GradientTexture`), bricks of 4³ voxels whose value ranges tell which
/// ones a transfer function leaves empty (rays jump over cubes of empty bricks at once).
public final class VolumeRenderer: @unchecked Sendable {
    public let context: GLContext
    /// The ray caster shading from the gradient texture, and the one computing gradients itself
    /// (volumes over `GradientTexture.voxelLimit`).
    private var program: GLuint = 0, onTheFlyProgram: GLuint = 0
    private var bricksProgram: GLuint = 0
    private let surfaceRenderer: SurfaceRenderer
    private var texture: GLuint = 0
    /// The volume's gradients (`GradientTexture`); 0 when the volume is too large for one.
    private var gradients: GLuint = 0
    /// Volumes of more voxels are shaded from gradients computed by the rays (tests compare both).
    var gradientVoxelLimit = GradientTexture.voxelLimit
    private var geometry: VolumeGeometry?
    private var range: ClosedRange<Double> = 0...1
    /// The 1st to 99.5th percentile of the values (where relative transfer functions go).
    private var robustRange: ClosedRange<Double> = 0...1
    private var modality = ""
    /// The value a texel of 1 stands for (32767 for Int16 voxels in a 16-bit normalised texture).
    private var valueScale = 1.0
    /// Smallest and largest value of each brick of `brick`³ voxels (for empty-space skipping).
    private var brickLow: [Float] = [], brickHigh: [Float] = []
    private var bricks = SIMD3<Int>(1, 1, 1)
    /// Voxels per brick side: the rays skip empty bricks of `brick`³ (and cubes of them); where they
    /// start, and what the camera frames, is found on bricks of `coarseBrick`³ (2³ bricks each),
    /// whose faces are fewer to draw.
    private let brick = 4, coarseBrick = 8
    private var coarseBricks = SIMD3<Int>(1, 1, 1)
    /// The last transfer table's visible bricks, coarse ones, their empty radius and faces (a
    /// turntable's frames share them).
    private var skipping: (table: [UInt8], coarse: [UInt8], emptiness: [UInt8], faces: [Float])?
    /// GL objects kept from call to call (GL thread only): the render targets of the last size,
    /// and the transfer table, empty radius and faces of the last table uploaded.
    private var renderTargets: (width: Int, height: Int, image: Framebuffer, scene: TextureTarget, entry: TextureTarget)?
    private var skippingGL: (table: [UInt8], textures: [GLuint], buffer: GLuint, array: GLuint)?

    public init(context: GLContext, shaders: ShaderLibrary) throws(RenderingError) {
        self.context = context
        surfaceRenderer = try SurfaceRenderer(context: context, shaders: shaders)
        (program, onTheFlyProgram, bricksProgram) = try context.perform { () throws(RenderingError) -> (GLuint, GLuint, GLuint) in
            (try shaders.program(vertex: "volume.vert", fragment: "volume.frag"),
             try shaders.program(vertex: "volume.vert", fragment: "volume.frag", defines: ["GRADIENTS_ON_THE_FLY"]),
             try shaders.program(vertex: "bricks.vert", fragment: "depth.frag"))
        }
    }

    deinit {
        let (program, onTheFlyProgram, bricksProgram) = (self.program, self.onTheFlyProgram, self.bricksProgram)
        let textures = [texture, gradients].filter { $0 != 0 } + (skippingGL?.textures ?? [])
        let (targets, skippingGL) = (renderTargets, self.skippingGL)
        _ = try? context.perform {
            if let targets { targets.image.delete(); targets.scene.delete(); targets.entry.delete() }
            if var objects = skippingGL {
                glDeleteBuffers(1, &objects.buffer)
                glDeleteVertexArrays(1, &objects.array)
            }
            glDeleteProgram(program)
            glDeleteProgram(onTheFlyProgram)
            glDeleteProgram(bricksProgram)
            if !textures.isEmpty { glDeleteTextures(GLsizei(textures.count), textures) }
        }
    }

    /// Uploads a volume (replacing the previous one); `modality` is checked against presets.
    public func upload(_ volume: AnyVolume, modality: String) throws(RenderingError) {
        let g = volume.geometry
        bricks = SIMD3((g.dimensions.x + brick - 1) / brick, (g.dimensions.y + brick - 1) / brick, (g.dimensions.z + brick - 1) / brick)
        coarseBricks = (bricks &+ 1) / 2
        skipping = nil
        skippingGL?.table = []  // uploaded for the previous volume: upload again at the next call
        switch volume {
        case .int16(let v):
            (brickLow, brickHigh) = Self.brickRanges(v.voxels, geometry: g, bricks: bricks, size: brick)
            // The bricks cover every voxel: their extremes are the volume's (one pass fewer).
            range = brickLow.isEmpty ? 0...1 : Double(brickLow.min()!)...Double(brickHigh.max()!)
        case .float32(let v):
            (brickLow, brickHigh) = Self.brickRanges(v.voxels, geometry: g, bricks: bricks, size: brick)
            range = volume.valueRange() ?? 0...1
        }
        if let p = volume.sampledPercentiles([0.01, 0.995]), p[1] > p[0] {
            robustRange = p[0]...p[1]
        } else {
            robustRange = range
        }
        self.modality = modality
        (texture, valueScale) = try VolumeTextures.upload(volume, range: range, replacing: texture, context: context)
        geometry = g
        // Gradients of 0.3 × the robust range per mm and steeper count fully (see GradientTexture): weaker
        // knees weigh noise and a thin plate's sides too much (1.0 grey levels from the rays' own
        // gradients on the sample at 0.3; 5.2 at 0.02, 2.7 at 1, where weak gradients lose their bits).
        let gradientVoxelLimit = self.gradientVoxelLimit
        let (toPatient, knee, existing) = (Self.gradientToPatient(g), Float(0.3 * (robustRange.upperBound - robustRange.lowerBound)), gradients)
        gradients = 0  // until made (an upload that fails leaves none, not the previous volume's)
        gradients = try context.perform { () throws(RenderingError) -> GLuint in
            guard g.voxelCount <= gradientVoxelLimit else {
                var old = existing
                if old != 0 { glDeleteTextures(1, &old) }
                return 0
            }
            switch volume {
            case .int16(let v): return try GradientTexture.upload(v.voxels, geometry: g, toPatient: toPatient, knee: knee, replacing: existing)
            case .float32(let v): return try GradientTexture.upload(v.voxels, geometry: g, toPatient: toPatient, knee: knee, replacing: existing)
            }
        }
    }

    /// Smallest and largest value of each brick, one voxel of overlap so that linear filtering at
    /// brick borders is covered.
    @_specialize(where T == Int16)
    @_specialize(where T == Float)
    private static func brickRanges<T: TextureVoxel>(_ voxels: [T], geometry g: VolumeGeometry, bricks: SIMD3<Int>,
                                                     size: Int) -> ([Float], [Float]) {
        let count = bricks.x * bricks.y * bricks.z
        var low = [Float](repeating: .infinity, count: count), high = [Float](repeating: -.infinity, count: count)
        let (bx, by, bz) = (bricks.x, bricks.y, bricks.z)
        let (nx, ny, nz) = (g.dimensions.x, g.dimensions.y, g.dimensions.z)
        // Voxel-wise first, over a layer's slices and then a row of bricks' rows (loops the compiler
        // vectorises), then along x for each brick.
        func spanned(_ index: Int, _ extent: Int) -> Range<Int> { max(0, index * size - 1)..<min(extent, (index + 1) * size + 1) }
        low.withUnsafeMutableBufferPointer { lowBuffer in
            high.withUnsafeMutableBufferPointer { highBuffer in
                voxels.withUnsafeBufferPointer { values in
                    let (lo, hi, v) = (UncheckedSendable(lowBuffer), UncheckedSendable(highBuffer), UncheckedSendable(values))
                    parallelFor(0..<bz, threads: nil) { layers in
                        var sliceLow = [T](repeating: T.largest, count: nx * ny), sliceHigh = sliceLow
                        var rowLow = [T](repeating: T.largest, count: nx), rowHigh = rowLow
                        for k in layers {
                            let slices = spanned(k, nz)
                            sliceLow.withUnsafeMutableBufferPointer { sl in
                                sliceHigh.withUnsafeMutableBufferPointer { sh in
                                    let first = v.value.baseAddress! + slices.lowerBound * nx * ny
                                    for index in 0..<(nx * ny) { (sl[index], sh[index]) = (first[index], first[index]) }
                                    for z in slices.dropFirst() {
                                        let slice = v.value.baseAddress! + z * nx * ny
                                        for index in 0..<(nx * ny) {
                                            sl[index] = min(sl[index], slice[index])
                                            sh[index] = max(sh[index], slice[index])
                                        }
                                    }
                                }
                            }
                            for j in 0..<by {
                                let rows = spanned(j, ny)
                                for x in 0..<nx { (rowLow[x], rowHigh[x]) = (sliceLow[rows.lowerBound * nx + x], sliceHigh[rows.lowerBound * nx + x]) }
                                for y in rows.dropFirst() {
                                    for x in 0..<nx {
                                        rowLow[x] = min(rowLow[x], sliceLow[y * nx + x])
                                        rowHigh[x] = max(rowHigh[x], sliceHigh[y * nx + x])
                                    }
                                }
                                for i in 0..<bx {
                                    var a = T.largest, b = T.smallest
                                    for x in spanned(i, nx) { (a, b) = (min(a, rowLow[x]), max(b, rowHigh[x])) }
                                    lo.value[(k * by + j) * bx + i] = a.floatValue
                                    hi.value[(k * by + j) * bx + i] = b.floatValue
                                }
                            }
                        }
                    }
                }
            }
        }
        return (low, high)
    }

    /// One image of the uploaded volume through `transfer`.
    public func render(camera: Camera, width: Int, height: Int, transfer: TransferFunction,
                       background: RGBA = RGBA(0, 0, 0, 1), eyeOffset: Double = 0, shift: Double = 0) throws(RenderingError) -> RGBAImage {
        try render(camera: camera, width: width, height: height, transfer: transfer, background: background,
                   eyes: [(eyeOffset, shift)])[0]
    }

    /// Several images of the uploaded volume (the eyes of a stereo pair, frames of a turntable):
    /// `eyes` lists (eye offset, frustum shift) per image. `surfaces` are drawn in the same
    /// images, depth-correct: rays stop at opaque surfaces, translucent ones are blended over the
    /// volume where they are in front of it (where the rays reached an opacity of one half).
    public func render(camera: Camera, width: Int, height: Int, transfer: TransferFunction, background: RGBA = RGBA(0, 0, 0, 1),
                       eyes: [(offset: Double, shift: Double)], surfaces: UploadedMeshes? = nil) throws(RenderingError) -> [RGBAImage] {
        guard let g = geometry else { throw .invalidParameter(name: "volume", reason: "no volume uploaded") }
        if let expected = transfer.modality, expected != modality {
            throw .invalidParameter(name: "preset \(transfer.name)", reason: "made for \(expected), this series is \(modality.isEmpty ? "of unknown modality" : modality)")
        }
        try context.checkSize(width: width, height: height)
        let aspect = Double(width) / Double(height)
        var matrices: [(view: Matrix4, projection: Matrix4, inverse: Matrix4)] = []
        for eye in eyes {
            let eyeCamera = camera.shifted(by: eye.offset)
            let view = eyeCamera.viewMatrix, projection = eyeCamera.projectionMatrix(aspect: aspect, shift: eye.shift)
            guard let inverse = (projection * view).inverse else { throw .invalidParameter(name: "camera", reason: "singular projection") }
            matrices.append((view, projection, inverse))
        }
        let toTexture = try VolumeTextures.patientToTexture(g)
        guard let toPatient = toTexture.inverse else { throw .invalidParameter(name: "volume direction", reason: "singular direction matrix") }
        let table = transfer.resolved(robustRange: robustRange).table(low: range.lowerBound, high: range.upperBound)
        let (_, emptiness, faces) = skipping(table: table)
        let gradient = Self.gradientToPatient(g)
        let diagonal = Double(g.dimensions.x + g.dimensions.y + g.dimensions.z)
        let meshes = surfaces?.meshes ?? []
        let gradients = self.gradients
        let (programs, texture, range, bricks, brick) = ((gradients != 0 ? program : onTheFlyProgram, bricksProgram), self.texture, self.range,
                                                         self.bricks, self.brick)
        let valueScale = self.valueScale
        let surfaceRenderer = self.surfaceRenderer
        return try context.perform { () throws(RenderingError) -> [RGBAImage] in
            // Targets, tables and the bricks' faces, made or changed only when the size or the
            // transfer table changed since the last call (a turntable's frames share them).
            let (target, scene, entry) = try self.targets(width: width, height: height)
            let array = self.skippingObjects(table: table, emptiness: emptiness, faces: faces, bricks: bricks)
            glActiveTexture(GLenum(GL_TEXTURE0))
            glBindTexture(GLenum(GL_TEXTURE_3D), texture)
            glViewport(0, 0, GLsizei(width), GLsizei(height))
            var images: [RGBAImage] = []
            for (view, projection, inverse) in matrices {
                let viewProjection = projection * view
                // 1. Opaque surfaces over the background: colour and depth the rays stop at.
                glBindFramebuffer(GLenum(GL_FRAMEBUFFER), scene.framebuffer)
                glClearColor(Float(background.r), Float(background.g), Float(background.b), Float(background.a))
                glClear(GLbitfield(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT))
                glEnable(GLenum(GL_DEPTH_TEST))
                glDepthFunc(GLenum(GL_LESS))
                surfaceRenderer.draw(meshes, view: view, projection: projection, translucent: false)
                // 2. The visible bricks' faces: where each ray starts.
                glBindFramebuffer(GLenum(GL_FRAMEBUFFER), entry.framebuffer)
                glClear(GLbitfield(GL_DEPTH_BUFFER_BIT))
                glUseProgram(programs.1)
                glUniformMatrix4fv(glGetUniformLocation(programs.1, "textureToClip"), 1, GLboolean(GL_FALSE), (viewProjection * toPatient).m)
                glBindVertexArray(array)
                glDrawArrays(GLenum(GL_TRIANGLES), 0, GLsizei(faces.count / 3))
                // 3. The rays, over the surfaces; each writes the depth where it became half opaque.
                glBindFramebuffer(GLenum(GL_FRAMEBUFFER), target.framebuffer)
                glClear(GLbitfield(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT))
                glDepthFunc(GLenum(GL_ALWAYS))
                VolumeTextures.bind(entry.depth, unit: 3, target: GL_TEXTURE_2D, filter: GL_NEAREST)
                VolumeTextures.bind(scene.depth, unit: 4, target: GL_TEXTURE_2D, filter: GL_NEAREST)
                VolumeTextures.bind(scene.colour, unit: 5, target: GL_TEXTURE_2D, filter: GL_NEAREST)
                let program = programs.0
                glUseProgram(program)
                for (name, unit) in [("volume", 0), ("transfer", 1), ("occupancy", 2), ("entryDepth", 3), ("surfaceDepth", 4),
                                     ("surfaceColour", 5)] {
                    glUniform1i(glGetUniformLocation(program, name), GLint(unit))
                }
                glUniform3f(glGetUniformLocation(program, "dimensions"), Float(g.dimensions.x), Float(g.dimensions.y),
                            Float(g.dimensions.z))
                glUniform1f(glGetUniformLocation(program, "brickSize"), Float(brick))
                glUniformMatrix4fv(glGetUniformLocation(program, "inverseViewProjection"), 1, GLboolean(GL_FALSE), inverse.m)
                glUniformMatrix4fv(glGetUniformLocation(program, "viewProjection"), 1, GLboolean(GL_FALSE), viewProjection.m)
                glUniformMatrix4fv(glGetUniformLocation(program, "patientToTexture"), 1, GLboolean(GL_FALSE), toTexture.m)
                glUniform2f(glGetUniformLocation(program, "valueRange"), Float(range.lowerBound / valueScale),
                            Float(range.upperBound / valueScale))
                glUniformMatrix3fv(glGetUniformLocation(program, "gradientToPatient"), 1, GLboolean(GL_FALSE), gradient)
                glUniform3f(glGetUniformLocation(program, "textureStep"), 1 / Float(g.dimensions.x), 1 / Float(g.dimensions.y),
                            1 / Float(g.dimensions.z))
                glUniform1i(glGetUniformLocation(program, "maxSteps"), GLint(min(8192, Int(diagonal) + 2)))
                if gradients != 0 {
                    VolumeTextures.bind(gradients, unit: 6, target: GL_TEXTURE_3D, filter: GL_LINEAR)
                    glUniform1i(glGetUniformLocation(program, "gradients"), 6)
                }
                glDrawArrays(GLenum(GL_TRIANGLES), 0, 3)
                // 4. Translucent surfaces, blended where they are in front.
                glDepthFunc(GLenum(GL_LESS))
                surfaceRenderer.draw(meshes, view: view, projection: projection, translucent: true)
                glBindVertexArray(0)
                images.append(try target.read())
            }
            glBindFramebuffer(GLenum(GL_FRAMEBUFFER), 0)
            return images
        }
    }

    /// Points (LPS mm) whose box, in any view, is the anatomy `transfer` shows in `volume` (the
    /// volume uploaded last): for each brick that shows something and touches one that does
    /// not (the inside adds nothing to a picture's extent), the corners of its voxels at least
    /// `minimumOpacity` opaque, where there are at least `minimumVoxels` of them (single bright
    /// voxels, noise or a metal streak, do not show in a picture and must not widen it). What a camera frames (`Camera.framing`) to fill the picture with
    /// the visible anatomy rather than with the scanner's field of view. Empty when nothing shows.
    public func visiblePoints(of volume: AnyVolume, transfer: TransferFunction, minimumOpacity: Double = 0.05,
                              minimumVoxels: Int = 8) -> [SIMD3<Double>] {
        guard let g = geometry, g.dimensions == volume.geometry.dimensions else { return [] }
        let table = transfer.resolved(robustRange: robustRange).table(low: range.lowerBound, high: range.upperBound)
        let occupancy = skipping(table: table).coarse  // what the first image then finds made
        let brick = coarseBrick
        let span = max(range.upperBound - range.lowerBound, 1e-9), low = range.lowerBound
        let threshold = UInt8(clamping: Int((minimumOpacity * 255).rounded(.up)))
        let value: (Int) -> Double
        switch volume {
        case .int16(let v): value = { Double(v.voxels[$0]) }
        case .float32(let v): value = { Double(v.voxels[$0]) }
        }
        func shows(_ index: Int) -> Bool {
            let entry = max(0, min(255, Int(((value(index) - low) / span * 255).rounded())))
            return table[4 * entry + 3] >= threshold
        }
        let (bx, by, bz) = (coarseBricks.x, coarseBricks.y, coarseBricks.z)
        let (nx, ny, nz) = (g.dimensions.x, g.dimensions.y, g.dimensions.z)
        func occupied(_ i: Int, _ j: Int, _ k: Int) -> Bool {
            i >= 0 && j >= 0 && k >= 0 && i < bx && j < by && k < bz && occupancy[(k * by + j) * bx + i] != 0
        }
        var out: [SIMD3<Double>] = []
        for k in 0..<bz {
            for j in 0..<by {
                for i in 0..<bx where occupied(i, j, k) {
                    guard !(occupied(i - 1, j, k) && occupied(i + 1, j, k) && occupied(i, j - 1, k) && occupied(i, j + 1, k)
                            && occupied(i, j, k - 1) && occupied(i, j, k + 1)) else { continue }
                    var lo = SIMD3<Int>(repeating: .max), hi = SIMD3<Int>(repeating: -1), count = 0
                    for z in (k * brick)..<min(nz, (k + 1) * brick) {
                        for y in (j * brick)..<min(ny, (j + 1) * brick) {
                            let row = (z * ny + y) * nx
                            for x in (i * brick)..<min(nx, (i + 1) * brick) where shows(row + x) {
                                lo = pointwiseMin(lo, SIMD3(x, y, z))
                                hi = pointwiseMax(hi, SIMD3(x, y, z))
                                count += 1
                            }
                        }
                    }
                    guard count >= minimumVoxels else { continue }
                    for corner in 0..<8 {
                        let index = SIMD3(corner & 1 == 0 ? lo.x : hi.x, corner & 2 == 0 ? lo.y : hi.y, corner & 4 == 0 ? lo.z : hi.z)
                        out.append(g.patientPosition(ofIndex: index))
                    }
                }
            }
        }
        return out
    }

    /// What the rays skip and where they start for `table`: the empty radius of the bricks and
    /// the faces of the visible coarse bricks (kept for the next call with the same table).
    private func skipping(table: [UInt8]) -> (coarse: [UInt8], emptiness: [UInt8], faces: [Float]) {
        if let kept = skipping, kept.table == table { return (kept.coarse, kept.emptiness, kept.faces) }
        let fine = occupancy(table: table)
        let coarse = coarseOccupancy(fine)
        let made = (table: table, coarse: coarse, emptiness: Self.emptyRadius(fine, bricks: bricks), faces: brickFaces(coarse))
        skipping = made
        return (made.coarse, made.emptiness, made.faces)
    }

    /// The image, surface and entry targets for `width` × `height`, made when the size changed (GL thread).
    private func targets(width: Int, height: Int) throws(RenderingError) -> (Framebuffer, TextureTarget, TextureTarget) {
        if let kept = renderTargets, kept.width == width, kept.height == height { return (kept.image, kept.scene, kept.entry) }
        if let kept = renderTargets {
            kept.image.delete(); kept.scene.delete(); kept.entry.delete()
            renderTargets = nil
        }
        let image = try Framebuffer(width: width, height: height)
        let scene: TextureTarget, entry: TextureTarget
        do {
            scene = try TextureTarget(width: width, height: height, colour: true)
        } catch {
            image.delete()
            throw error
        }
        do {
            entry = try TextureTarget(width: width, height: height, colour: false)
        } catch {
            image.delete(); scene.delete()
            throw error
        }
        renderTargets = (width, height, image, scene, entry)
        return (image, scene, entry)
    }

    /// Binds the transfer table (unit 1) and the bricks' empty radius (unit 2), uploaded with the
    /// bricks' faces when `table` is not the last one uploaded; returns the faces' vertex array (GL thread).
    private func skippingObjects(table: [UInt8], emptiness: [UInt8], faces: [Float], bricks: SIMD3<Int>) -> GLuint {
        var objects = skippingGL ?? {
            var textures = [GLuint](repeating: 0, count: 2)
            var buffer: GLuint = 0, array: GLuint = 0
            glGenTextures(2, &textures)
            glGenBuffers(1, &buffer)
            glGenVertexArrays(1, &array)
            return ([], textures, buffer, array)
        }()
        VolumeTextures.bind(objects.textures[0], unit: 1, target: GL_TEXTURE_2D, filter: GL_LINEAR)
        let changed = skippingGL?.table != table
        if changed {
            glTexImage2D(GLenum(GL_TEXTURE_2D), 0, GL_RGBA8, 256, 1, 0, GLenum(GL_RGBA), GLenum(GL_UNSIGNED_BYTE), table)
        }
        VolumeTextures.bind(objects.textures[1], unit: 2, target: GL_TEXTURE_3D, filter: GL_NEAREST)
        glBindVertexArray(objects.array)
        glBindBuffer(GLenum(GL_ARRAY_BUFFER), objects.buffer)
        if changed {
            glPixelStorei(GLenum(GL_UNPACK_ALIGNMENT), 1)
            glTexImage3D(GLenum(GL_TEXTURE_3D), 0, GL_R8, GLsizei(bricks.x), GLsizei(bricks.y), GLsizei(bricks.z), 0,
                         GLenum(GL_RED), GLenum(GL_UNSIGNED_BYTE), emptiness)
            // The bricks' faces as triangles (corners in texture coordinates).
            glBufferData(GLenum(GL_ARRAY_BUFFER), max(faces.count, 1) * 4, faces, GLenum(GL_STATIC_DRAW))
            glVertexAttribPointer(0, 3, GLenum(GL_FLOAT), GLboolean(GL_FALSE), 12, nil)
            glEnableVertexAttribArray(0)
            objects.table = table
            skippingGL = objects
        }
        return objects.array
    }

    /// Coarse bricks (2³ bricks each) holding a visible brick. As exact as `occupancy` on bricks
    /// of that size: each brick's range covers the voxels its samples are filtered from.
    private func coarseOccupancy(_ fine: [UInt8]) -> [UInt8] {
        let (cx, cy, cz) = (coarseBricks.x, coarseBricks.y, coarseBricks.z)
        var coarse = [UInt8](repeating: 0, count: cx * cy * cz)
        for k in 0..<bricks.z {
            for j in 0..<bricks.y {
                for i in 0..<bricks.x where fine[(k * bricks.y + j) * bricks.x + i] != 0 {
                    coarse[((k / 2) * cy + j / 2) * cx + i / 2] = 255
                }
            }
        }
        return coarse
    }

    /// One byte per brick: 255 where some value of the brick has a visible opacity in `table`.
    private func occupancy(table: [UInt8]) -> [UInt8] {
        var alphaPrefix = [Int](repeating: 0, count: 257)
        for i in 0..<256 { alphaPrefix[i + 1] = alphaPrefix[i] + (table[4 * i + 3] > 0 ? 1 : 0) }
        let span = max(range.upperBound - range.lowerBound, 1e-9)
        return zip(brickLow, brickHigh).map { low, high in
            let a = max(0, min(255, Int(((Double(low) - range.lowerBound) / span * 255).rounded(.down))))
            let b = max(0, min(255, Int(((Double(high) - range.lowerBound) / span * 255).rounded(.up))))
            return alphaPrefix[b + 1] - alphaPrefix[a] > 0 ? 255 : 0
        }
    }

    /// Per brick, 0 where it is visible (`occupancy`), else r (at most 255) such that every brick
    /// less than r bricks away along each axis is empty (the chessboard distance to the nearest
    /// visible brick, or to a brick beyond the grid's edge): a ray in an empty brick jumps out of
    /// that whole cube in one step. Two raster passes over the 26 neighbours give it exactly.
    static func emptyRadius(_ occupancy: [UInt8], bricks: SIMD3<Int>) -> [UInt8] {
        let (nx, ny, nz) = (bricks.x, bricks.y, bricks.z)
        var r = occupancy.map { $0 != 0 ? UInt8(0) : 255 }
        // Neighbours visited before a brick in raster order (z, then y, then x); the backward pass
        // mirrors them.
        var earlier: [SIMD3<Int>] = []
        for dz in -1...0 {
            for dy in -1...1 {
                for dx in -1...1 where dz < 0 || dy < 0 || (dy == 0 && dx < 0) { earlier.append(SIMD3(dx, dy, dz)) }
            }
        }
        func pass(_ sign: Int) {
            let zs = sign > 0 ? Array(0..<nz) : Array((0..<nz).reversed())
            let ys = sign > 0 ? Array(0..<ny) : Array((0..<ny).reversed())
            let xs = sign > 0 ? Array(0..<nx) : Array((0..<nx).reversed())
            for z in zs {
                for y in ys {
                    for x in xs {
                        let index = (z * ny + y) * nx + x
                        guard r[index] != 0 else { continue }
                        var best = Int(r[index])
                        for offset in earlier {
                            let (i, j, k) = (x + sign * offset.x, y + sign * offset.y, z + sign * offset.z)
                            // Outside the grid counts as empty at any distance: rays end at the box.
                            guard i >= 0, j >= 0, k >= 0, i < nx, j < ny, k < nz else { continue }
                            best = min(best, Int(r[(k * ny + j) * nx + i]) + 1)
                        }
                        r[index] = UInt8(min(best, 255))
                    }
                }
            }
        }
        pass(1)
        pass(-1)
        return r
    }

    /// The faces between visible bricks and the rest (two triangles each, corners in texture
    /// coordinates), each brick grown by one voxel so that rasterisation errs on the early side.
    private func brickFaces(_ occupancy: [UInt8]) -> [Float] {
        guard let g = geometry else { return [] }
        let (nx, ny, nz) = (coarseBricks.x, coarseBricks.y, coarseBricks.z)
        func visible(_ i: Int, _ j: Int, _ k: Int) -> Bool {
            i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz && occupancy[(k * ny + j) * nx + i] != 0
        }
        let d = SIMD3<Float>(Float(g.dimensions.x), Float(g.dimensions.y), Float(g.dimensions.z))
        let size = Float(coarseBrick)
        var out: [Float] = []
        for k in 0..<nz {
            for j in 0..<ny {
                for i in 0..<nx where visible(i, j, k) {
                    let cell = SIMD3<Float>(Float(i), Float(j), Float(k))
                    let low = (cell * size - 0.5) / d, high = ((cell + 1) * size + 1.5) / d
                    let corners = (0..<8).map { c in
                        SIMD3<Float>(c & 1 == 0 ? low.x : high.x, c & 2 == 0 ? low.y : high.y, c & 4 == 0 ? low.z : high.z)
                    }
                    // (neighbour offset, the face's corners in order around it)
                    let sides: [((Int, Int, Int), [Int])] = [
                        ((-1, 0, 0), [0, 2, 6, 4]), ((1, 0, 0), [1, 3, 7, 5]), ((0, -1, 0), [0, 1, 5, 4]),
                        ((0, 1, 0), [2, 3, 7, 6]), ((0, 0, -1), [0, 1, 3, 2]), ((0, 0, 1), [4, 5, 7, 6]),
                    ]
                    for (offset, quad) in sides where !visible(i + offset.0, j + offset.1, k + offset.2) {
                        for c in [quad[0], quad[1], quad[2], quad[0], quad[2], quad[3]] {
                            out += [corners[c].x, corners[c].y, corners[c].z]
                        }
                    }
                }
            }
        }
        return out
    }

    /// Voxel-index gradient → patient gradient: D⁻ᵀ · diag(1 / spacing), column-major 3×3 (D is
    /// the direction matrix, not orthogonal for a tilted gantry).
    static func gradientToPatient(_ g: VolumeGeometry) -> [Float] {
        let inverse = g.direction.inverse ?? .identity
        let rows = [inverse.rows.0, inverse.rows.1, inverse.rows.2]
        var m = [Float](repeating: 0, count: 9)
        for r in 0..<3 { for c in 0..<3 { m[c * 3 + r] = Float(rows[c][r] / g.spacing[c]) } }
        return m
    }
}

extension Matrix4 {
    /// The inverse (Gauss–Jordan in double precision), nil when singular.
    public var inverse: Matrix4? {
        var a = (0..<4).map { r in (0..<4).map { c in Double(self[r, c]) } }
        var b = (0..<4).map { r in (0..<4).map { c in r == c ? 1.0 : 0.0 } }
        for column in 0..<4 {
            guard let pivot = (column..<4).max(by: { abs(a[$0][column]) < abs(a[$1][column]) }),
                  abs(a[pivot][column]) > 1e-15 else { return nil }
            a.swapAt(column, pivot)
            b.swapAt(column, pivot)
            let scale = a[column][column]
            for k in 0..<4 {
                a[column][k] /= scale
                b[column][k] /= scale
            }
            for row in 0..<4 where row != column {
                let factor = a[row][column]
                for k in 0..<4 {
                    a[row][k] -= factor * a[column][k]
                    b[row][k] -= factor * b[column][k]
                }
            }
        }
        var out = Matrix4.identity
        for r in 0..<4 { for c in 0..<4 { out[r, c] = Float(b[r][c]) } }
        return out
    }
}

/// Voxel types the volume textures are made from.
protocol TextureVoxel: Comparable {
    var floatValue: Float { get }
    static var smallest: Self { get }
    static var largest: Self { get }
    /// Eight consecutive values from `pointer` (no alignment needed).
    static func load8(_ pointer: UnsafePointer<Self>) -> SIMD8<Float>
}

extension Int16: TextureVoxel {
    var floatValue: Float { Float(self) }
    static var smallest: Int16 { .min }
    static var largest: Int16 { .max }
    static func load8(_ pointer: UnsafePointer<Int16>) -> SIMD8<Float> {
        SIMD8<Float>(UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Int16>.self))
    }
}

extension Float: TextureVoxel {
    var floatValue: Float { self }
    static var smallest: Float { -.infinity }
    static var largest: Float { .infinity }
    static func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
    }
}
