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

/// What makes volume frames fast must not change them: stored gradients, and rays jumping over
/// cubes of empty bricks.
@Suite(.serialized) struct VolumeSpeedTests {
    @Test func storedGradientsShadeTheSampleAsGradientsComputedByTheRays() throws {
        let series = DicomLoader().load([Fixtures.sampleCT.path]).series[0]
        let camera = Camera.fitted(.left, box: series.info.geometry.boundingBox)
        var images: [RGBAImage] = []
        for limit in [Int.max, 0] {
            let renderer = try VolumeRenderer(context: RenderingTests.context, shaders: RenderingTests.shaders)
            renderer.gradientVoxelLimit = limit
            try renderer.upload(series.volume, modality: "CT")
            images.append(try renderer.render(camera: camera, width: 256, height: 256, transfer: .ctBone))
        }
        var (total, counted, far) = (0, 0, 0)
        for (a, b) in zip(images[0].pixels, images[1].pixels) where a > 0 || b > 0 {
            let d = abs(Int(a) - Int(b))
            (total, counted) = (total + d, counted + 1)
            if d > 40 { far += 1 }
        }
        #expect(counted > 10_000, "the skull should cover the picture's middle")
        // Measured: 1.0 grey levels over the picture's anatomy (lighting from 8-bit directions).
        #expect(Double(total) / Double(max(counted, 1)) <= 3, "mean difference \(Double(total) / Double(max(counted, 1)))")
        #expect(far <= counted / 200, "\(far) of \(counted) channel values differ by more than 40")
    }

    @Test func emptyRadiusIsTheChessboardDistanceToTheNearestVisibleBrick() {
        let bricks = SIMD3(9, 7, 5)
        var state: UInt64 = 7
        func next() -> UInt64 {  // a linear congruential generator: the same grids every run
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        for density in [0, 1, 3, 20] {
            let occupancy = (0..<(bricks.x * bricks.y * bricks.z)).map { _ in next() % 100 < UInt64(density) ? UInt8(255) : 0 }
            let radius = VolumeRenderer.emptyRadius(occupancy, bricks: bricks)
            let visible = occupancy.indices.filter { occupancy[$0] != 0 }.map {
                SIMD3($0 % bricks.x, ($0 / bricks.x) % bricks.y, $0 / (bricks.x * bricks.y))
            }
            for index in occupancy.indices {
                let p = SIMD3(index % bricks.x, (index / bricks.x) % bricks.y, index / (bricks.x * bricks.y))
                let nearest = visible.map { q in max(abs(q.x - p.x), abs(q.y - p.y), abs(q.z - p.z)) }.min() ?? 255
                #expect(Int(radius[index]) == min(nearest, 255), "brick \(p), density \(density)")
            }
        }
    }

    @Test func raysJumpingOverEmptySpaceStillFindSmallSpecks() throws {
        // 160³ voxels of air with eight bone specks of 2³ voxels far apart: the rays cross long
        // runs of empty bricks and must land on every speck.
        let n = 160
        var v = Volume<Int16>(geometry: VolumeGeometry(dimensions: SIMD3(n, n, n), origin: SIMD3(-80, -80, -80)), filledWith: -1000)
        let specks = [SIMD3(20, 30, 40), SIMD3(137, 25, 81), SIMD3(70, 90, 150), SIMD3(121, 140, 11),
                      SIMD3(45, 151, 99), SIMD3(99, 60, 60), SIMD3(12, 110, 133), SIMD3(150, 77, 23)]
        for s in specks { for k in 0..<2 { for j in 0..<2 { for i in 0..<2 { v[s.x + i, s.y + j, s.z + k] = 1500 } } } }
        let renderer = try VolumeRenderer(context: RenderingTests.context, shaders: RenderingTests.shaders)
        try renderer.upload(.int16(v), modality: "CT")
        var camera = Camera.fitted(.anterior, box: v.geometry.boundingBox, fieldOfView: 0)
        camera.orthographicHeight = 170
        let size = 340
        let image = try renderer.render(camera: camera, width: size, height: size, transfer: .ctBone)
        for s in specks {
            // Its centre in the picture, projected the camera's way.
            let centre = v.geometry.patientPosition(ofIndex: s) + SIMD3(repeating: 0.5)
            let clip = (camera.projectionMatrix(aspect: 1) * camera.viewMatrix).transform(centre)
            let (x, y) = (Int((clip.x / clip.w * 0.5 + 0.5) * Double(size)), Int((0.5 - clip.y / clip.w * 0.5) * Double(size)))
            let lit = (-3...3).flatMap { dy in (-3...3).map { dx in image.pixel(min(max(x + dx, 0), size - 1), min(max(y + dy, 0), size - 1)).x } }
            #expect(lit.contains { $0 > 40 }, "the speck at voxel \(s) is missing near pixel (\(x), \(y))")
        }
    }
}
