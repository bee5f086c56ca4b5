import DICOM
import Foundation
import Meshing
@testable import Rendering
import Testing
import TestSupport
import VolumeCore

/// Surfaces and volume in one image, slices with labels, orbits, and a golden image of the sample CT.
@Suite(.serialized) struct SceneRenderingTests {
    /// A ball of bone (radius 12 mm, 1000 HU in −1000 HU air, 40³ voxels of 1 mm at the origin).
    static func ball() -> Volume<Int16> {
        var v = Volume<Int16>(geometry: VolumeGeometry(dimensions: SIMD3(40, 40, 40), origin: SIMD3(-20, -20, -20)), filledWith: -1000)
        for k in 0..<40 { for j in 0..<40 { for i in 0..<40 where v.geometry.patientPosition(ofIndex: SIMD3(i, j, k)).length <= 12 {
            v[i, j, k] = 1000
        } } }
        return v
    }

    /// An axis-aligned box mesh (outward triangles) of one colour.
    static func box(_ low: SIMD3<Float>, _ high: SIMD3<Float>, colour: RGBA) -> Mesh {
        let corners = (0..<8).map { c in SIMD3<Float>(c & 1 == 0 ? low.x : high.x, c & 2 == 0 ? low.y : high.y, c & 4 == 0 ? low.z : high.z) }
        let quads: [[UInt32]] = [[0, 2, 3, 1], [4, 5, 7, 6], [0, 1, 5, 4], [2, 6, 7, 3], [0, 4, 6, 2], [1, 3, 7, 5]]
        var mesh = Mesh(positions: corners, indices: quads.flatMap { [$0[0], $0[1], $0[2], $0[0], $0[2], $0[3]] })
        mesh.color = colour
        return mesh
    }

    @Test func surfacesInFrontHideTheVolumeAndTheVolumeHidesSurfacesBehindIt() throws {
        let context = RenderingTests.context
        let volume = try VolumeRenderer(context: context, shaders: RenderingTests.shaders)
        try volume.upload(.int16(Self.ball()), modality: "CT")
        let surfaces = try SurfaceRenderer(context: context, shaders: RenderingTests.shaders)
        // Anterior view looks along +y: a red slab in front of the ball (y −30…−25) covering the
        // image's left half (patient right, x < 0); a blue slab behind it (y 25…30) covering all.
        let front = Self.box(SIMD3(-30, -30, -30), SIMD3(0, -25, 30), colour: RGBA(1, 0, 0))
        let back = Self.box(SIMD3(-30, 25, -30), SIMD3(30, 30, 30), colour: RGBA(0, 0, 1))
        let uploaded = try surfaces.upload([front, back])
        var camera = Camera.fitted(.anterior, box: (SIMD3(-30, -30, -30), SIMD3(30, 30, 30)), fieldOfView: 0)
        camera.orthographicHeight = 60
        let image = try volume.render(camera: camera, width: 120, height: 120, transfer: .ctBone, eyes: [(0, 0)], surfaces: uploaded)[0]
        // 2 px per mm, centre at (60, 60): the ball's disc has a radius of 24 px.
        let leftOfCentre = image.pixel(45, 60), rightOfCentre = image.pixel(75, 60), corner = image.pixel(110, 10)
        #expect(leftOfCentre.x > 150 && leftOfCentre.y < 100 && leftOfCentre.z < 100, "the front slab hides the ball: \(leftOfCentre)")
        #expect(rightOfCentre.x > 100 && rightOfCentre.y > 100 && rightOfCentre.z < rightOfCentre.x,
                "the ball hides the back slab: \(rightOfCentre)")
        #expect(corner.z > 150 && corner.x < 60, "the back slab shows where nothing is in front: \(corner)")
        // A translucent surface in front of the ball tints it; behind the ball it does not show.
        var veil = Self.box(SIMD3(-30, -30, -30), SIMD3(30, -26, 30), colour: RGBA(0, 1, 0, 0.4))
        let tinted = try volume.render(camera: camera, width: 120, height: 120, transfer: .ctBone, eyes: [(0, 0)],
                                       surfaces: try surfaces.upload([veil]))[0]
        #expect(tinted.pixel(60, 60).y > tinted.pixel(60, 60).z + 30)
        veil = Self.box(SIMD3(-30, 26, -30), SIMD3(30, 30, 30), colour: RGBA(0, 1, 0, 0.4))
        let hidden = try volume.render(camera: camera, width: 120, height: 120, transfer: .ctBone, eyes: [(0, 0)],
                                       surfaces: try surfaces.upload([veil]))[0]
        let plain = try volume.render(camera: camera, width: 120, height: 120, transfer: .ctBone)
        #expect(abs(Int(hidden.pixel(60, 60).y) - Int(plain.pixel(60, 60).y)) <= 2)
        #expect(hidden.pixel(110, 10).y > 50, "the veil shows where the ball is not")
    }

    @Test func aSliceShowsTheLabelWhereItIsAndGreyValuesThroughTheWindow() throws {
        // 40³ voxels of 1 mm; left half (x ≥ 0) 100 HU, right half −100 HU; label 3 (green) in a
        // box x −10…9, y −5…4 on slices z −20…−1 only.
        var volume = Volume<Int16>(geometry: VolumeGeometry(dimensions: SIMD3(40, 40, 40), origin: SIMD3(-20, -20, -20)), filledWith: -100)
        var labels = Volume<UInt8>(geometry: volume.geometry, filledWith: 0)
        for k in 0..<40 { for j in 0..<40 { for i in 0..<40 {
            if i >= 20 { volume[i, j, k] = 100 }
            if (10..<30).contains(i), (15..<25).contains(j), k < 20 { labels[i, j, k] = 3 }
        } } }
        let map = LabelMap(storage: .uint8(labels), labels: [LabelInfo(value: 3, name: "lesion", color: RGBA(0, 1, 0))])
        let renderer = try SliceRenderer(context: RenderingTests.context, shaders: RenderingTests.shaders)
        try renderer.upload(.int16(volume), modality: "CT")
        try renderer.upload(map)
        #expect(renderer.defaultPosition(.axial)! < 0, "slices go through the labels by default")
        // 80 × 80 pixels over 40 mm (+1): about 0.51 mm per pixel, centre (−0.5, −0.5) mm.
        let image = try renderer.render(.axial, position: -10, width: 80, height: 80, window: -200...200, overlayOpacity: 0.5)
        func pixel(_ x: Double, _ y: Double) -> SIMD4<UInt8> {
            let mm = 41.0 / 80
            return image.pixel(Int(40 + (x + 0.5) / mm), Int(40 + (y + 0.5) / mm))  // axial: image down = posterior (+y)
        }
        let right = pixel(-15, 12), left = pixel(15, 12)
        #expect(right.x == right.y && right.y == right.z && abs(Int(right.x) - 64) <= 3, "−100 HU in [−200, 200]: \(right)")
        #expect(left.x == left.y && abs(Int(left.x) - 191) <= 3, "100 HU: \(left)")
        let inside = pixel(-4, 0)
        #expect(inside.y > inside.x + 60, "the label's green over grey: \(inside)")
        // Above the labelled slices there is no green.
        let above = try renderer.render(.axial, position: 10, width: 80, height: 80, window: -200...200)
        #expect(above.pixel(36, 40).y == above.pixel(36, 40).x)
        #expect(throws: RenderingError.self) { try renderer.render(.axial, position: 500, width: 80, height: 80) }
    }

    @Test func orbitAnglesMatchTheNamedViews() {
        let box = (SIMD3<Double>(-50, -60, -70), SIMD3<Double>(50, 60, 70))
        for (view, azimuth, elevation) in [(Camera.View.anterior, 0.0, 0.0), (.left, 90, 0), (.posterior, 180, 0), (.right, 270, 0)] {
            let named = Camera.fitted(view, box: box), orbit = Camera.orbit(azimuth: azimuth, elevation: elevation, box: box)
            #expect((named.eye - orbit.eye).length < 1e-9 && (named.up - orbit.up).length < 1e-9, "\(view)")
        }
        let above = Camera.orbit(azimuth: 0, elevation: 90, box: box)
        #expect(above.eye.z > 100 && abs(above.eye.x) < 1e-9 && (above.up - SIMD3(0, 1, 0)).length < 1e-9)
    }

    /// The sample CT's bone rendering against a stored image (made by this renderer on Mesa's
    /// llvmpipe): mean error ≤ 2 grey levels, at most 1 % of pixels off by more than 40.
    @Test func theSampleCTMatchesItsGoldenImage() throws {
        let series = DicomLoader().load([Fixtures.sampleCT.path]).series[0]
        let renderer = try VolumeRenderer(context: RenderingTests.context, shaders: RenderingTests.shaders)
        try renderer.upload(series.volume, modality: "CT")
        let camera = Camera.fitted(.anterior, box: series.info.geometry.boundingBox)
        let image = try renderer.render(camera: camera, width: 160, height: 160, transfer: .ctBone)
        let golden = Fixtures.root.appendingPathComponent("Tests/Fixtures/golden/sample-ct-bone-anterior-160.png")
        if ProcessInfo.processInfo.environment["VRPREP_UPDATE_GOLDEN"] != nil { try image.writePNG(to: golden) }
        let reference = try RGBAImage.readPNG(from: golden)
        #expect(reference.width == image.width && reference.height == image.height)
        var total = 0, off = 0
        for (a, b) in zip(image.pixels, reference.pixels) {
            let d = abs(Int(a) - Int(b))
            total += d
            if d > 40 { off += 1 }
        }
        let mean = Double(total) / Double(image.pixels.count)
        #expect(mean <= 2, "mean error \(mean)")
        #expect(off <= image.pixels.count / 100, "\(off) channel values off by more than 40")
    }

    @Test func theMRPresetFollowsTheSeriesOwnValueRange() throws {
        // An MR-like float volume: a bright ball (900, arbitrary units) in dim tissue (100) in air (0).
        var v = Volume<Float>(geometry: VolumeGeometry(dimensions: SIMD3(40, 40, 40), origin: SIMD3(-20, -20, -20)), filledWith: 0)
        for k in 0..<40 { for j in 0..<40 { for i in 0..<40 {
            let r = v.geometry.patientPosition(ofIndex: SIMD3(i, j, k)).length
            v[i, j, k] = r <= 8 ? 900 : r <= 18 ? 100 : 0
        } } }
        let renderer = try VolumeRenderer(context: RenderingTests.context, shaders: RenderingTests.shaders)
        try renderer.upload(.float32(v), modality: "MR")
        var camera = Camera.fitted(.anterior, box: (SIMD3(-20, -20, -20), SIMD3(19, 19, 19)), fieldOfView: 0)
        camera.orthographicHeight = 60
        let image = try renderer.render(camera: camera, width: 120, height: 120, transfer: .mr)
        // 2 px per mm: the ball (radius 16 px) is bright, the dim shell around it nearly clear.
        #expect(image.pixel(60, 60).x > 150, "\(image.pixel(60, 60))")
        #expect(image.pixel(60, 60 + 28).x < 60, "\(image.pixel(60, 88))")
        #expect(image.pixel(2, 2).x < 10)
        #expect(throws: RenderingError.self) { try renderer.render(camera: camera, width: 120, height: 120, transfer: .ctBone) }
    }
}
