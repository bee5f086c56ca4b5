import DICOM
import Foundation
@testable import Rendering
import Testing
import TestSupport
import VolumeCore

/// Ray-marched volumes: a phantom whose silhouette is known, and the sample CT's skull.
@Suite(.serialized) struct VolumeRenderingTests {
    @Test func aBallOfBoneFillsItsProjectedDisc() throws {
        // 40³ voxels of 1 mm, a ball of radius 12 mm at the centre with 1000 HU in −1000 HU air.
        let n = 40, radius = 12.0
        var v = Volume<Int16>(geometry: VolumeGeometry(dimensions: SIMD3(n, n, n), origin: SIMD3(-20, -20, -20)), filledWith: -1000)
        for k in 0..<n { for j in 0..<n { for i in 0..<n {
            let p = v.geometry.patientPosition(ofIndex: SIMD3(i, j, k))
            if p.length <= radius { v[i, j, k] = 1000 }
        } } }
        let renderer = try VolumeRenderer(context: RenderingTests.context, shaders: RenderingTests.shaders)
        try renderer.upload(.int16(v), modality: "CT")
        var camera = Camera.fitted(.anterior, box: (SIMD3(-20, -20, -20), SIMD3(19, 19, 19)), fieldOfView: 0)
        camera.orthographicHeight = 60
        let size = 120
        let image = try renderer.render(camera: camera, width: size, height: size, transfer: .ctBone)
        // Orthographic 60 mm over 120 px: the ball's disc has a radius of 24 px around the centre.
        var wrong = 0
        for y in 0..<size {
            for x in 0..<size {
                let r = ((Double(x) + 0.5 - 60) * (Double(x) + 0.5 - 60) + (Double(y) + 0.5 - 60) * (Double(y) + 0.5 - 60)).squareRoot()
                let lit = image.pixel(x, y).x > 30
                // A band of 3 px (1.5 mm, 1.5 voxels) for the voxelised rim.
                if (r < 24 - 3 && !lit) || (r > 24 + 3 && lit) { wrong += 1 }
            }
        }
        #expect(wrong == 0, "\(wrong) pixels disagree with the ball's projected disc")
        #expect(throws: RenderingError.self) {
            try renderer.render(camera: camera, width: size, height: size,
                                transfer: TransferFunction(name: "mr-test", modality: "MR", points: []))
        }
    }

    @Test func theSampleCTsSkullIsInTheMiddleOfTheAnteriorView() throws {
        let series = DicomLoader().load([Fixtures.sampleCT.path]).series[0]
        let renderer = try VolumeRenderer(context: RenderingTests.context, shaders: RenderingTests.shaders)
        try renderer.upload(series.volume, modality: "CT")
        let g = series.info.geometry
        let box = (g.patientPosition(ofIndex: SIMD3(0, 0, 0)), g.patientPosition(ofIndex: g.dimensions &- 1))
        let camera = Camera.fitted(.anterior, box: (pointwiseMin(box.0, box.1), pointwiseMax(box.0, box.1)))
        let image = try renderer.render(camera: camera, width: 128, height: 128, transfer: .ctBone)
        let centre = (56..<72).flatMap { y in (56..<72).map { x in image.pixel(x, y).x } }
        #expect(centre.filter { $0 > 60 }.count > centre.count * 3 / 4, "the face should fill the centre")
        for (x, y) in [(2, 2), (125, 2), (2, 125), (125, 125)] {
            #expect(image.pixel(x, y).x < 10, "corner (\(x), \(y)) should be background")
        }
    }
}
