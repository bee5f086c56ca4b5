import Foundation
import Meshing
@testable import Rendering
import Testing
import TestSupport
import VolumeCore

/// The headless renderer on a real EGL context (Mesa on the CPU here).
@Suite(.serialized) struct RenderingTests {
    static let context: GLContext = try! GLContext()
    static let shaders = try! ShaderLibrary(directory: Fixtures.root.appendingPathComponent("Shaders"))

    @Test func everyProgramCompilesAndLinks() throws {
        #expect(Self.context.version.contains("OpenGL ES 3"))
        for (vertex, fragment) in ShaderLibrary.programs {
            let program = try Self.context.perform { () throws(RenderingError) -> UInt32 in
                try Self.shaders.program(vertex: vertex, fragment: fragment)
            }
            #expect(program != 0)
        }
    }

    @Test func aBrokenShaderNamesItsFileAndLine() throws {
        let folder = try Fixtures.temporaryFolder("shaders")
        defer { try? FileManager.default.removeItem(at: folder) }
        try "#version 300 es\nvoid main() {\n  gl_Position = vec4(1.0)\n}\n".write(to: folder.appendingPathComponent("broken.vert"),
                                                                            atomically: true, encoding: .utf8)
        try String(contentsOf: Fixtures.root.appendingPathComponent("Shaders/mesh.frag"), encoding: .utf8)
            .write(to: folder.appendingPathComponent("mesh.frag"), atomically: true, encoding: .utf8)
        let library = try ShaderLibrary(directory: folder)
        do {
            _ = try Self.context.perform { () throws(RenderingError) -> UInt32 in
                try library.program(vertex: "broken.vert", fragment: "mesh.frag")
            }
            Issue.record("a broken shader compiled")
        } catch {
            #expect(error.description.contains("broken.vert: shader does not compile"))
            #expect(error.description.contains("0:4"), "\(error)")  // the driver's line number
        }
        #expect(throws: RenderingError.shaderDirectoryMissing(path: "/nonexistent/shaders")) {
            try ShaderLibrary(directory: URL(fileURLWithPath: "/nonexistent/shaders"))
        }
    }

    @Test func aCubeLandsOnThePixelsItsProjectionPredicts() throws {
        var mask = Volume<UInt8>(geometry: VolumeGeometry(dimensions: SIMD3(20, 20, 20), spacing: SIMD3(2, 2, 2)), filledWith: 0)
        for k in 5..<15 { for j in 5..<15 { for i in 3..<17 { mask[i, j, k] = 1 } } }
        var cube = Surfaces.surface(of: mask)
        cube.color = RGBA(1, 1, 1)
        let m = MeshMeasurements(cube, topology: false)
        var camera = Camera.fitted(.anterior, box: (m.minimum, m.maximum), fieldOfView: 0)
        camera.orthographicHeight = 60
        let renderer = try SurfaceRenderer(context: Self.context, shaders: Self.shaders)
        let (width, height) = (160, 120)
        let image = try renderer.render([cube], camera: camera, width: width, height: height)
        // CPU projection of the cube's extent in x (patient left) and z (superior).
        let mvp = camera.projectionMatrix(aspect: Double(width) / Double(height)) * camera.viewMatrix
        func pixel(_ p: SIMD3<Double>) -> SIMD2<Double> {
            let c = mvp.transform(p)
            return SIMD2((c.x / c.w + 1) / 2 * Double(width), (1 - (c.y / c.w + 1) / 2) * Double(height))
        }
        let a = pixel(SIMD3(m.minimum.x, m.minimum.y, m.maximum.z)), b = pixel(SIMD3(m.maximum.x, m.minimum.y, m.minimum.z))
        var wrong = 0, inside = 0
        for y in 0..<height {
            for x in 0..<width {
                let (px, py) = (Double(x) + 0.5, Double(y) + 0.5)
                let lit = image.pixel(x, y).x > 20
                let deepInside = px > a.x + 1.5 && px < b.x - 1.5 && py > a.y + 1.5 && py < b.y - 1.5
                let farOutside = px < a.x - 1.5 || px > b.x + 1.5 || py < a.y - 1.5 || py > b.y + 1.5
                if deepInside { inside += 1 }
                if (deepInside && !lit) || (farOutside && lit) { wrong += 1 }
            }
        }
        #expect(inside > 1000)
        #expect(wrong == 0, "\(wrong) pixels disagree with the projected silhouette")
        // The patient's left (+x) is on the image's right in an anterior view.
        #expect(a.x < b.x)
    }

    @Test func absurdSizesAreRefused() throws {
        let renderer = try SurfaceRenderer(context: Self.context, shaders: Self.shaders)
        let camera = Camera.fitted(.anterior, box: (SIMD3(0, 0, 0), SIMD3(1, 1, 1)))
        #expect(throws: RenderingError.self) { try renderer.render([], camera: camera, width: 0, height: 0) }
        #expect(throws: RenderingError.self) { try renderer.render([], camera: camera, width: 100_000, height: 100_000) }
    }
}

/// The render thread lets go of a job's captures before its caller goes on, so that the caller's
/// references are the last ones: a renderer (and its context) released on the render thread made
/// that thread end itself detached, racing the process's exit (a heap corrupted at exit, 1 in 15
/// runs of `vrprep-bench render` under load).
@Suite struct RenderThreadTests {
    final class Witness: @unchecked Sendable {}

    @Test func aJobsCapturesAreReleasedBeforeItsCallerGoesOn() {
        let thread = RenderThread()
        defer { thread.stop() }
        var held = 0
        for _ in 0..<200 {
            var witness = Witness()
            let captured = witness
            _ = thread.run { _ = captured; return 0 }
            _ = consume captured
            if !isKnownUniquelyReferenced(&witness) { held += 1 }
        }
        #expect(held == 0, "the render thread still held a job's captures \(held) times of 200 after the job returned")
    }
}
