import DICOM
import Foundation
import Meshing
@testable import Pipeline
import Rendering
@testable import ScenePackage
@testable import Segmentation
import Testing
import TestSupport
import VolumeCore

/// Defacing of head studies (issue "Privacy of shared head scans"), on the sample head CT and on
/// an MR made from it, against landmarks read by eye on the sample's images:
///
/// - the nose tip: column 128, row 12, slice 23 (LPS 122.5, −232.6, 34.5 mm);
/// - the orbital roofs and the eyebrows: slice 53 (LPS z 79.5 mm), on sagittal planes through the orbits;
/// - the front of the ears (tragus): row 146 (LPS y −104.3 mm), where the outline widens by 15 mm
///   on both sides in slices 10–30;
/// - the chin is below the series (it ends at the upper lip).
@Suite(.serialized) struct DefacingTests {
    static let noseTip = SIMD3(122.5, -232.6, 34.5)
    static let orbitalRoofsZ = 79.5
    static let earsFrontY = -104.3

    static let series: LoadedSeries = {
        let report = DicomLoader().load([Fixtures.sampleCT.path])
        return report.series[0]
    }()

    static var sample: Volume<Int16> {
        guard case .int16(let hu) = series.volume else { fatalError("the sample is 16-bit") }
        return hu
    }

    static let defaced: Defacing.Result = Defacing().deface(series.volume, modality: "CT")

    /// The body's outer outline: the skin preset's, closed over nostrils and lips (the skin of the
    /// face, not the inside of the nose).
    static func outerSkin(_ volume: AnyVolume, modality: String) throws -> Volume<UInt8> {
        let skin = try SkinPreset().run(volume, modality: modality).mask
        return Morphology.fillHoles(Morphology.close(skin, radius: 6))
    }

    static func skin(_ volume: AnyVolume, modality: String) throws -> Mesh {
        Surfaces.surface(of: try SkinPreset().run(volume, modality: modality).mask)
    }

    /// Distance (mm) from each point to the outline's surface: exact (to its extracted surface)
    /// where a voxel estimate says it may be under `limit`; the estimate, a lower bound, elsewhere.
    static func distances(from points: [SIMD3<Float>], to outline: Volume<UInt8>, limit: Float) -> [Float] {
        let d = outline.dimensions
        // The outline's surface voxels (a face neighbour outside), and the distance to them.
        var surface = Volume<UInt8>(geometry: outline.geometry, filledWith: 0)
        for k in 0..<d.z { for j in 0..<d.y { for i in 0..<d.x where outline[i, j, k] != 0 {
            let edge = i == 0 || j == 0 || k == 0 || i == d.x - 1 || j == d.y - 1 || k == d.z - 1 ||
                outline[i - 1, j, k] == 0 || outline[i + 1, j, k] == 0 || outline[i, j - 1, k] == 0 ||
                outline[i, j + 1, k] == 0 || outline[i, j, k - 1] == 0 || outline[i, j, k + 1] == 0
            if edge { surface.voxels[(k * d.y + j) * d.x + i] = 1 }
        } } }
        let squared = Morphology.squaredDistance(to: surface, inside: true, threads: nil)
        let g = outline.geometry, slack = Float(g.spacing.max())
        var out = points.map { p -> Float in
            guard let n = g.nearestIndex(ofPatient: SIMD3<Double>(Double(p.x), Double(p.y), Double(p.z))), g.contains(n) else { return 0 }
            let c = g.patientPosition(ofIndex: n)
            let offset = Float(((c - SIMD3<Double>(Double(p.x), Double(p.y), Double(p.z))) * (c - SIMD3<Double>(Double(p.x), Double(p.y), Double(p.z)))).sum().squareRoot())
            return squared[(n.z * d.y + n.y) * d.x + n.x].squareRoot() - offset - slack
        }
        let near = out.indices.filter { out[$0] < limit }
        if !near.isEmpty {
            let exact = MeshDistance.distances(from: near.map { points[$0] }, to: Surfaces.surface(of: outline))
            for (n, index) in near.enumerated() { out[index] = exact[n] }
        }
        return out
    }

    /// The face region of the bar: below the eyebrows, in front of the ears, above the chin, and
    /// away from the series' ends (where every surface is cut open by the field of view).
    static func inFace(_ p: SIMD3<Float>, bottom: Double) -> Bool {
        Double(p.z) < orbitalRoofsZ && Double(p.y) < earsFrontY - 5 && Double(p.z) > bottom + 8
    }

    /// The bars on the skin: nothing within 5 mm of the original face, the nose's place 15 mm clear.
    static func checkSkin(original: AnyVolume, defaced: AnyVolume, modality: String) throws {
        let reference = try outerSkin(original, modality: modality)
        let after = try skin(defaced, modality: modality)
        let bottom = original.geometry.boundingBox.0.z
        let points = after.positions.filter { inFace($0, bottom: bottom) }
        #expect(points.count > 1000, "the defaced skin has surface in the face region (the head behind it)")
        let distances = Self.distances(from: points, to: reference, limit: 5)
        let close = zip(points, distances).filter { $0.1 < 5 }
        #expect(close.isEmpty, "\(close.count) defaced skin points lie within 5 mm of the original face, e.g. \(close.prefix(3).map { "\($0.0) at \($0.1) mm" })")
        // Near the midline, every point lies at least 15 mm behind the original nose tip.
        let front = after.positions.filter { abs(Double($0.x) - noseTip.x) <= 20 && Double($0.z) < orbitalRoofsZ }.map { -Double($0.y) }.max() ?? -.infinity
        #expect(-noseTip.y - front >= 15, "the most anterior point near the midline lies \(-noseTip.y - front) mm behind the nose tip")
    }

    @Test func findsTheFaceFromTheAnatomy() throws {
        let face = try #require(Self.defaced.report.face)
        let tip = SIMD3(face.noseTipMM[0], face.noseTipMM[1], face.noseTipMM[2])
        #expect(((tip - Self.noseTip) * (tip - Self.noseTip)).sum().squareRoot() <= 8, "nose tip found at \(tip)")
        #expect(face.anterior[1] <= -0.95, "the face looks anterior (−y): \(face.anterior)")
        #expect(abs(face.topMM - Self.orbitalRoofsZ) <= 8, "the region's top (\(face.topMM) mm) is at the eyebrows")
        #expect(!face.chinFound)
        #expect(Self.defaced.report.removedML > 50)
    }

    @Test func theDefacedSkinKeepsClearOfTheFace() throws {
        try Self.checkSkin(original: Self.series.volume, defaced: Self.defaced.volume, modality: "CT")
    }

    @Test func theSkullAboveTheOrbitsAndTheBrainStay() throws {
        guard case .int16(let after) = Self.defaced.volume else { Issue.record("16-bit"); return }
        let g = after.geometry
        let roofs = Int(((Self.orbitalRoofsZ - g.origin.z) / g.spacing.z).rounded(.up))
        let top = Int(((Self.defaced.report.face!.topMM + 3 - g.origin.z) / g.spacing.z).rounded(.up))
        var boneBefore = 0, boneAfter = 0, changedAbove = 0
        for k in roofs..<g.dimensions.z {
            for j in 0..<g.dimensions.y {
                for i in 0..<g.dimensions.x {
                    let (a, b) = (Self.sample[i, j, k], after[i, j, k])
                    if a >= 226 { boneBefore += 1 }
                    if b >= 226 { boneAfter += 1 }
                    if k >= top && a != b { changedAbove += 1 }
                }
            }
        }
        let change = Double(boneBefore - boneAfter) / Double(boneBefore)
        #expect(abs(change) <= 0.01, "the skull above the orbital roofs changed by \(change * 100) %")
        #expect(changedAbove == 0, "\(changedAbove) voxels changed more than 3 mm above the region")
    }

    /// The anterior render of skin and bone shows no face where the un-defaced one does.
    @Test func theAnteriorRenderShowsNoFace() throws {
        func meshes(_ volume: AnyVolume) throws -> [Mesh] {
            var bone = try BonePreset().run(volume, modality: "CT").mask
            bone = MaskComponents.keepLargest(bone)
            var skin = try Self.skin(volume, modality: "CT").smoothed(passes: 10)
            skin.color = RGBA(0.95, 0.78, 0.67, 1)
            return [skin.withNormals(), Surfaces.surface(of: bone).smoothed(passes: 10).withNormals()]
        }
        let context = try GLContext()
        let renderer = try SurfaceRenderer(context: context, shaders: try ShaderLibrary(directory: nil))
        let before = try meshes(Self.series.volume), after = try meshes(Self.defaced.volume)
        let points = before[0].positions.map { SIMD3<Double>(Double($0.x), Double($0.y), Double($0.z)) }
        let camera = try #require(Camera.framing(.anterior, points: points))
        let size = 256
        let a = try renderer.render(before, camera: camera, width: size, height: size)
        let b = try renderer.render(after, camera: camera, width: size, height: size)
        let folder = Fixtures.artefacts("defacing")
        try a.pngData().write(to: folder.appendingPathComponent("anterior-original.png"))
        try b.pngData().write(to: folder.appendingPathComponent("anterior-defaced.png"))
        // The eyes, nose and mouth: the picture's middle half across, from 40 % of its height down.
        func luminance(_ image: RGBAImage, _ x: Int, _ y: Int) -> Double {
            let o = (y * image.width + x) * 4
            return 0.299 * Double(image.pixels[o]) + 0.587 * Double(image.pixels[o + 1]) + 0.114 * Double(image.pixels[o + 2])
        }
        var differing = 0, total = 0, sum = 0.0
        // Rows are stored bottom-up or top-down alike here: the face's band is symmetric enough
        // to be found either way, so both halves of the band are checked.
        for y in (size * 40 / 100)..<(size * 90 / 100) {
            for x in (size / 4)..<(size * 3 / 4) {
                let d = abs(luminance(a, x, y) - luminance(b, x, y))
                sum += d
                total += 1
                if d > 30 { differing += 1 }
            }
        }
        #expect(Double(differing) / Double(total) >= 0.4, "only \(differing) of \(total) face pixels changed")
        #expect(sum / Double(total) >= 25, "mean change \(sum / Double(total)) grey levels in the face")
    }

    /// The sample re-oriented: stored as a sagittal series (same patient positions), and turned
    /// in the scanner by 90° and 180° about its long axis (a head lying on its side, prone).
    @Test func findsTheFaceInAnyOrientation() throws {
        let hu = Self.sample
        let d = hu.dimensions, g = hu.geometry
        // Stored sagittally: voxel axes (y, z, x) of the original, direction columns to match.
        var sg = g
        sg.dimensions = SIMD3(d.y, d.z, d.x)
        sg.spacing = SIMD3(g.spacing.y, g.spacing.z, g.spacing.x)
        sg.direction = Matrix3(columns: g.direction.column(1), g.direction.column(2), g.direction.column(0))
        var sagittal = Volume<Int16>(geometry: sg, filledWith: 0)
        for k in 0..<d.z { for j in 0..<d.y { for i in 0..<d.x { sagittal.voxels[(i * d.z + k) * d.y + j] = hu[i, j, k] } } }
        let stored = Defacing().deface(.int16(sagittal), modality: "CT")
        guard case .int16(let storedOut) = stored.volume, case .int16(let out) = Self.defaced.volume else { Issue.record("16-bit"); return }
        var mismatches = 0
        for k in 0..<d.z { for j in 0..<d.y { for i in 0..<d.x where storedOut.voxels[(i * d.z + k) * d.y + j] != out[i, j, k] { mismatches += 1 } } }
        #expect(mismatches == 0, "the sagittal copy is defaced differently in \(mismatches) voxels")

        // Turned about the superior axis in the scanner (the same grid, the anatomy rotated).
        for (turn, expected) in [(180, SIMD3(0.0, 1, 0)), (90, SIMD3(1.0, 0, 0))] {
            var turned = Volume<Int16>(geometry: g, filledWith: -1024)
            let (cx, cy) = (Double(d.x - 1) / 2, Double(d.y - 1) / 2)
            for k in 0..<d.z {
                for j in 0..<d.y {
                    for i in 0..<d.x {
                        // The voxel that lands at (i, j): rotated back by `turn` degrees about the centre.
                        let (x, y) = (Double(i) - cx, Double(j) - cy)
                        let (sx, sy) = turn == 180 ? (-x, -y) : (y, -x)
                        let (si, sj) = (Int((sx + cx).rounded()), Int((sy + cy).rounded()))
                        if si >= 0, sj >= 0, si < d.x, sj < d.y { turned.voxels[(k * d.y + j) * d.x + i] = hu[si, sj, k] }
                    }
                }
            }
            let result = Defacing().deface(.int16(turned), modality: "CT")
            let face = try #require(result.report.face, "turned \(turn)°: \(result.report.reason ?? "")")
            let a = SIMD3(face.anterior[0], face.anterior[1], face.anterior[2])
            #expect((a * expected).sum() >= 0.95, "turned \(turn)°: the face found looking \(a), expected \(expected)")
            let ratio = result.report.removedML / Self.defaced.report.removedML
            #expect(abs(ratio - 1) <= 0.1, "turned \(turn)°: \(result.report.removedML) mL removed, upright \(Self.defaced.report.removedML) mL")
        }
    }

    /// Not a head: the head cut above the nose (no face), and a body-like cylinder.
    @Test func leavesStudiesWithoutAFaceAsTheyAre() throws {
        let hu = Self.sample
        var g = hu.geometry
        let from = Int(((Self.orbitalRoofsZ + 5 - g.origin.z) / g.spacing.z).rounded(.up))
        g.dimensions.z -= from
        g.origin.z += Double(from) * g.spacing.z
        let plane = hu.dimensions.x * hu.dimensions.y
        let top = Volume(geometry: g, voxels: Array(hu.voxels[(from * plane)...]))
        var cylinder = Volume<Int16>(geometry: VolumeGeometry(dimensions: SIMD3(200, 160, 80), spacing: SIMD3(2, 2, 2.5)), filledWith: -1000)
        for k in 0..<80 { for j in 0..<160 { for i in 0..<200 {
            let (x, y) = ((Double(i) - 100) / 85, (Double(j) - 80) / 60)
            if x * x + y * y <= 1 { cylinder.voxels[(k * 160 + j) * 200 + i] = 40 }
        } } }
        for (name, volume) in [("head above the nose", top), ("cylinder", cylinder)] {
            let result = Defacing().deface(.int16(volume), modality: "CT")
            #expect(result.report.face == nil, "\(name): a face was found")
            #expect(result.report.reason?.contains("no face found") == true, "\(name): \(result.report.reason ?? "")")
            guard case .int16(let out) = result.volume else { continue }
            let changed = zip(out.voxels, volume.voxels).filter { $0.0 != $0.1 }.count
            #expect(changed == 0, "\(name): \(changed) voxels changed")
        }
    }

    /// An MR made from the sample (T1-like: fat bright, soft tissue mid-grey, bone and air dark).
    @Test func defacesAnMRHead() throws {
        let hu = Self.sample
        // Noise of ±8 from a fixed hash of the voxel's index (the same MR every run).
        let mr = Volume<Float>(geometry: hu.geometry, voxels: hu.voxels.enumerated().map { n, v -> Float in
            let noise = Float((n &* 2_654_435_761) >> 7 & 1023) / 1023 * 16 - 8
            switch v {
            case ..<(-400): return max(0, 6 + noise)
            case ..<(-30): return 900 + noise
            case ..<100: return 520 + Float(v) + noise
            case ..<300: return 250 + noise
            default: return 40 + noise
            }
        })
        let result = Defacing().deface(.float32(mr), modality: "MR")
        let face = try #require(result.report.face, "\(result.report.reason ?? "")")
        let tip = SIMD3(face.noseTipMM[0], face.noseTipMM[1], face.noseTipMM[2])
        #expect(((tip - Self.noseTip) * (tip - Self.noseTip)).sum().squareRoot() <= 8)
        try Self.checkSkin(original: .float32(mr), defaced: result.volume, modality: "MR")
        guard case .float32(let out) = result.volume else { return }
        let g = hu.geometry
        let top = Int(((face.topMM + 3 - g.origin.z) / g.spacing.z).rounded(.up))
        let plane = g.dimensions.x * g.dimensions.y
        let changed = zip(out.voxels[(top * plane)...], mr.voxels[(top * plane)...]).filter { $0.0 != $0.1 }.count
        #expect(changed == 0, "\(changed) MR voxels changed above the region")
    }

    /// A label map made elsewhere on the study's grid (here of 16-bit labels) loses the face too.
    @Test func labelMapsAreClearedWhereTheFaceWas() throws {
        let region = try #require(Self.defaced.region)
        let g = Self.series.info.geometry
        var labels = LabelMap(storage: .uint16(Volume(geometry: g, filledWith: 300)), labels: [LabelInfo(value: 300, name: "everything", color: RGBA(1, 1, 1))])
        let cleared = region.clear(&labels)
        guard case .uint16(let map) = labels.storage else { Issue.record("16-bit labels"); return }
        let tip = try #require(g.nearestIndex(ofPatient: Self.noseTip + SIMD3(0, 3, 0)))
        let brain = try #require(g.nearestIndex(ofPatient: SIMD3(122.5, -120, 100)))
        #expect(cleared > 10_000 && map[tip.x, tip.y, tip.z] == 0 && map[brain.x, brain.y, brain.z] == 300, "\(cleared) cleared")
        #expect(cleared == map.voxels.filter { $0 == 0 }.count)
    }

    // MARK: The use case and the package

    @Test func aSeedInTheFaceIsRefused() throws {
        var series = Self.series
        let tip = Self.noseTip + SIMD3(0, 3, -2)
        do {
            _ = try DefaceStudy.apply(&series, mode: .auto, seeds: [.patient(tip)], threads: nil)
            Issue.record("a seed in the nose was accepted")
        } catch {
            #expect(error.notice?.code == .seedInFace, "\(error)")
            #expect(error.description.contains("seed (122.5, -229.6, 32.5) mm"), "\(error)")
        }
        do {
            _ = try DefaceStudy.apply(&series, mode: .on, seeds: [], threads: nil)
            var top = Self.series
            let g = top.info.geometry
            let volume = Self.sample
            let from = Int(((Self.orbitalRoofsZ + 5 - g.origin.z) / g.spacing.z).rounded(.up))
            var cut = g
            cut.dimensions.z -= from
            cut.origin.z += Double(from) * g.spacing.z
            top.volume = .int16(Volume(geometry: cut, voxels: Array(volume.voxels[(from * g.dimensions.x * g.dimensions.y)...])))
            _ = try DefaceStudy.apply(&top, mode: .on, seeds: [], threads: nil)
            Issue.record("defacing on went on without a face")
        } catch {
            #expect(error.notice?.code == .noFace, "\(error)")
        }
    }

    /// `vrprep process` defaces by default; the manifest says so, and `package verify` checks it.
    @Test func packagesRecordAndVerifyTheDefacing() throws {
        let root = Fixtures.artefacts("defacing-packages")
        var made: [String: Manifest] = [:]
        for mode in [DefaceStudy.Mode.auto, .off] {
            var options = Pipeline.Options()
            options.deface = mode == .auto ? nil : mode
            options.renderSize = 128
            options.maxTriangles = 20_000
            let folder = root.appendingPathComponent(mode.rawValue)
            try? FileManager.default.removeItem(at: folder)
            made[mode.rawValue] = try Pipeline(options: options).run(study: [Fixtures.sampleCT.path], out: folder).manifest
            #expect(Verification.verify(folder).ok, "\(Verification.verify(folder).problems)")
        }
        let defaced = try #require(made["auto"]?.defacing), kept = try #require(made["off"]?.defacing)
        #expect(defaced.removed && defaced.faceFound && defaced.mode == "auto")
        #expect(!kept.removed && kept.faceFound && kept.mode == "off")
        // The check can tell: the kept face's skin lies in the zone the defaced package clears.
        let zone = try #require(defaced.clearZone)
        let skinKept = Verification.stlVertices(try Data(contentsOf: root.appendingPathComponent("off/meshes/skin.stl")))
        let skinRemoved = Verification.stlVertices(try Data(contentsOf: root.appendingPathComponent("auto/meshes/skin.stl")))
        #expect(skinKept.filter(zone.contains).count > 100)
        #expect(skinRemoved.count > 1000 && skinRemoved.filter(zone.contains).isEmpty)
    }
}
