import DICOM
import Foundation
import Pipeline
import ScenePackage
import Segmentation
import Testing
import TestSupport
import VolumeCore

/// The whole pipeline on the sample CT: a verified, de-identified, deterministic scene package.
@Suite(.serialized) struct PipelineTests {
    static func options(threads: Int? = nil) -> Pipeline.Options {
        var options = Pipeline.Options()
        options.renderSize = 256
        options.maxTriangles = 60_000
        options.threads = threads
        options.shaders = Fixtures.root.appendingPathComponent("Shaders")
        options.softwareVersion = "test"
        return options
    }

    /// The sample's identity, read from its files: name, ID and every UID (study, series, frame of
    /// reference, each instance). None of it may be in any byte of a package.
    static let identity: [String] = {
        var values = Set<String>()
        for url in Fixtures.sampleCTFiles {
            guard let file = try? DicomFile(path: url.path) else { continue }
            for tag in [DicomTag.patientName, .patientID, .studyInstanceUID, .seriesInstanceUID, .frameOfReferenceUID, .sopInstanceUID] {
                if let value = file.string(tag), value.count >= 6 { values.insert(value) }
            }
        }
        return values.sorted()
    }()

    @Test func theSampleCTBecomesAVerifiedDeidentifiedPackage() throws {
        let folder = try Fixtures.temporaryFolder("package")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("head")
        var options = Self.options()
        options.zip = true
        let steps = StepRecorder()
        let result = try Pipeline(options: options).run(study: [Fixtures.sampleCT.path], out: out, observer: steps)
        let manifest = result.manifest
        #expect(manifest.schema == "vrprep.scene/1")
        // The observer heard every stage in order, the fraction never going back.
        let heard = steps.steps
        let stages = heard.map(\.stage).reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
        #expect(stages.first == "loading" && stages.last == "done", "\(stages)")
        for stage in ["segmenting bone", "segmenting skin", "meshing bone", "meshing skin", "rendering", "packaging"] {
            #expect(stages.contains { $0.hasPrefix(stage) }, "\(stage) in \(stages)")
        }
        #expect(zip(heard, heard.dropFirst()).allSatisfy { $0.fraction <= $1.fraction } && heard.last?.fraction == 1)
        #expect(manifest.structures.map(\.name) == ["bone", "skin"])
        #expect(manifest.renders.count == 5)
        let check = Verification.verify(out)
        #expect(check.ok, "\(check.problems)")
        #expect(Verification.verify(folder.appendingPathComponent("head.zip")).ok)
        // True size: the skull is 0.15–0.22 m wide in the glTF (metres).
        let bone = try #require(manifest.structures.first { $0.name == "bone" })
        #expect(bone.volumeML > 400 && bone.volumeML < 800)
        let glb = try Data(contentsOf: out.appendingPathComponent("scene.glb"))
        let names = try GLBReader.nodeNames(glb).get()
        #expect(names == ["bone", "skin"])
        // True size: the glTF's bone node (X = patient left, metres) is as wide as the skull in the
        // CT, measured on the voxels (largest component ≥ 226 HU: 139.7 mm in this head).
        let width = try Self.nodeWidth(glb, node: 0)
        let ct = DicomLoader().load([Fixtures.sampleCT.path]).series[0].volume
        let skull = MaskComponents.keepLargest(try Thresholding.mask(ct, lower: 226, upper: 3071))
        var columns = Set<Int>()
        for k in 0..<skull.dimensions.z { for j in 0..<skull.dimensions.y { for i in 0..<skull.dimensions.x where skull[i, j, k] != 0 { columns.insert(i) } } }
        let skullWidth = Double(columns.max()! - columns.min()! + 1) * skull.spacing.x / 1000
        #expect(abs(width - skullWidth) < 0.003 && width > 0.12 && width < 0.22, "glTF \(width) m, CT \(skullWidth) m")
        // No identity in any byte, the zip included.
        for path in Verification.allFiles(in: out) + ["../head.zip"] {
            let data = try Data(contentsOf: out.appendingPathComponent(path))
            for value in Self.identity {
                #expect(data.range(of: Data(value.utf8)) == nil, "\(path) holds '\(value)'")
            }
        }
        #expect(Self.identity.count >= 108 + 3 && Self.identity.contains("PROMED0051"), "\(Self.identity.prefix(5))")
        #expect(manifest.source.studyUID.hasPrefix("2.25."))
    }

    @Test func theSameStudyGivesTheSamePackageIdWhateverTheThreadsAndAChangedByteIsFound() throws {
        let folder = try Fixtures.temporaryFolder("package-twice")
        defer { try? FileManager.default.removeItem(at: folder) }
        let one = try Pipeline(options: Self.options(threads: 1)).run(study: [Fixtures.sampleCT.path], out: folder.appendingPathComponent("a"))
        let two = try Pipeline(options: Self.options(threads: 2)).run(study: [Fixtures.sampleCT.path], out: folder.appendingPathComponent("b"))
        #expect(one.manifest.packageID != nil && one.manifest.packageID == two.manifest.packageID)
        // One byte changed: verify names the file.
        let target = folder.appendingPathComponent("a/meshes/bone.stl")
        var bytes = try Data(contentsOf: target)
        bytes[200] ^= 0xFF
        try bytes.write(to: target)
        let check = Verification.verify(folder.appendingPathComponent("a"))
        #expect(!check.ok && check.problems.contains { $0.contains("meshes/bone.stl") && $0.contains("SHA-256") }, "\(check.problems)")
    }

    @Test func theSceneComesInLevelsOfDetailThatOtherToolsRead() throws {
        let folder = try Fixtures.temporaryFolder("package-levels")
        defer { try? FileManager.default.removeItem(at: folder) }
        var options = Self.options()
        options.maxTriangles = 250_000  // the default: the headset level must then simplify
        let out = folder.appendingPathComponent("head")
        let manifest = try Pipeline(options: options).run(study: [Fixtures.sampleCT.path], out: out).manifest
        let levels = try #require(manifest.levels)
        #expect(levels.map(\.name) == ["preview", "headset", "full"])
        #expect(levels.map(\.file) == ["scene-preview.glb", "scene-headset.glb", "scene.glb"])
        let (preview, headset, full) = (levels[0], levels[1], levels[2])
        #expect(preview.triangles <= 20_000 && headset.triangles <= 250_000 && full.triangles > 250_000, "\(levels.map(\.triangles))")
        #expect(levels.allSatisfy { $0.watertight })
        // Each level's distance to the full surfaces is measured (> 0 where simplified), and grows as it coarsens.
        #expect(full.maxDistanceMM == 0 && headset.maxDistanceMM > 0 && preview.maxDistanceMM >= headset.maxDistanceMM)
        // Every level is quantized (the full one too), each vertex moved at most 0.05 mm.
        #expect(levels.allSatisfy { $0.quantizationErrorMM > 0 && $0.quantizationErrorMM <= 0.05 }, "\(levels.map(\.quantizationErrorMM))")
        #expect(manifest.profile == Manifest.Profile(name: "desktop", maxStructureTriangles: 250_000, maxSceneTriangles: nil, quantized: true))
        let previewData = try Data(contentsOf: out.appendingPathComponent(preview.file))
        #expect(previewData.count == preview.bytes)
        // pygltflib and trimesh read every level: names, triangles, watertight, boxes within 1 mm.
        let checked = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/Interop/gltf_check.py").path, out.path],
                                              program: "python3")
        #expect(checked.status == 0, "\(checked.standardError)")
        // The preview is small on the wire: at most 400 KB compressed (gzip).
        let summary = try JSONSerialization.jsonObject(with: Data(checked.standardOutput.utf8)) as? [String: [String: Any]]
        let gzipped = try #require(summary?["preview"]?["gzip_bytes"] as? Int)
        #expect(gzipped <= 400_000, "the preview is \(gzipped) bytes gzipped")
        // The full scene, quantized: at most 4 MB compressed.
        let fullGzipped = try #require(summary?["full"]?["gzip_bytes"] as? Int)
        #expect(fullGzipped <= 4_000_000, "the full scene is \(fullGzipped) bytes gzipped")
        // The USDZ (the headset level): every USD validator passes, boxes as the glTF's.
        #expect(manifest.usdz == Manifest.USDZ(file: "scene.usdz", level: "headset"))
        let usd = try CommandLineTool.run([Fixtures.root.appendingPathComponent("Tests/Interop/usdz_check.py").path, out.path],
                                          program: "python3")
        #expect(usd.status == 0, "\(usd.standardError)")
        #expect(USDZArchive.problems(try Data(contentsOf: out.appendingPathComponent("scene.usdz"))).isEmpty)
        // package verify checks the levels: a changed byte in one is found.
        let target = out.appendingPathComponent(preview.file)
        var bytes = previewData
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: target)
        let check = Verification.verify(out)
        #expect(!check.ok && check.problems.contains { $0.contains(preview.file) }, "\(check.problems)")
    }

    @Test func profilesSetTheBudgetsAndFilesOfTheScene() throws {
        let folder = try Fixtures.temporaryFolder("package-profiles")
        defer { try? FileManager.default.removeItem(at: folder) }
        // headset: the whole scene within 250,000 triangles, shared by the structures; a preview level.
        var options = Self.options()
        options.maxTriangles = 250_000
        options.profile = .headset
        let headset = try Pipeline(options: options).run(study: [Fixtures.sampleCT.path], out: folder.appendingPathComponent("headset")).manifest
        let levels = try #require(headset.levels)
        #expect(levels.map(\.name) == ["preview", "full"])
        #expect(levels[1].triangles <= 250_000 && levels[1].triangles > 240_000, "\(levels[1].triangles)")
        #expect(headset.structures.reduce(0) { $0 + $1.triangles } == levels[1].triangles)
        #expect(headset.structures.allSatisfy(\.watertight) && levels.allSatisfy(\.watertight))
        #expect(headset.profile?.maxSceneTriangles == 250_000 && headset.usdz?.level == "full")
        #expect(Verification.verify(folder.appendingPathComponent("headset")).ok)
        // print: the full surfaces only, floats, an STL and an OBJ per structure, no USDZ.
        options.profile = .print
        options.maxTriangles = 20_000
        let out = folder.appendingPathComponent("print")
        let printed = try Pipeline(options: options).run(study: [Fixtures.sampleCT.path], out: out).manifest
        #expect(printed.levels?.map(\.name) == ["full"] && printed.levels?.first?.quantizationErrorMM == 0)
        #expect(printed.usdz == nil && printed.profile?.quantized == false)
        let paths = Set(printed.files.map(\.path))
        for structure in printed.structures {
            #expect(paths.isSuperset(of: ["meshes/\(structure.name).stl", "meshes/\(structure.name).obj", "meshes/\(structure.name).mtl"]))
            #expect(structure.watertight)
        }
        let obj = try String(contentsOf: out.appendingPathComponent("meshes/bone.obj"), encoding: .utf8)
        #expect(obj.split(separator: "\n").filter { $0.hasPrefix("f ") }.count == printed.structures[0].triangles)
        #expect(!paths.contains("scene.usdz") && Verification.verify(out).ok)
    }

    @Test func badRequestsFailBeforeWorkAndLeaveNoPackage() throws {
        let folder = try Fixtures.temporaryFolder("package-bad")
        defer { try? FileManager.default.removeItem(at: folder) }
        // An output folder that holds something else.
        let busy = folder.appendingPathComponent("busy")
        try FileManager.default.createDirectory(at: busy, withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: busy.appendingPathComponent("notes.txt"))
        #expect(throws: Pipeline.Failure.self) { try Pipeline(options: Self.options()).run(study: [Fixtures.sampleCT.path], out: busy) }
        // An MR study with a CT-only recipe.
        var options = Self.options()
        options.recipe = Recipe(structures: [.init(preset: .bone)])
        let mr = Fixtures.corpusFile("pydicom-test_files/MR_small.dcm").path
        do {
            _ = try Pipeline(options: options).run(study: [mr], out: folder.appendingPathComponent("mr"))
            Issue.record("a CT recipe ran on MR")
        } catch {
            #expect("\(error)".contains("needs a CT study"), "\(error)")
        }
        // No usable series.
        #expect(throws: Pipeline.Failure.self) {
            try Pipeline(options: Self.options()).run(study: [Fixtures.root.appendingPathComponent("README.md").path],
                                                      out: folder.appendingPathComponent("none"))
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0 != "busy" }
        #expect(left.isEmpty, "left behind: \(left)")
    }

    /// The x extent (metres) of a GLB node's POSITION accessor.
    static func nodeWidth(_ glb: Data, node: Int) throws -> Double {
        let length = Int(glb.subdata(in: 12..<16).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
        let json = try #require(try JSONSerialization.jsonObject(with: glb.subdata(in: 20..<(20 + length))) as? [String: Any])
        let nodes = try #require(json["nodes"] as? [[String: Any]])
        let meshIndex = try #require(nodes[node]["mesh"] as? Int)
        let meshes = try #require(json["meshes"] as? [[String: Any]])
        let primitive = try #require((meshes[meshIndex]["primitives"] as? [[String: Any]])?.first)
        let position = try #require((primitive["attributes"] as? [String: Any])?["POSITION"] as? Int)
        let accessor = try #require((json["accessors"] as? [[String: Any]])?[position])
        let (lo, hi) = (try #require(accessor["min"] as? [Double]), try #require(accessor["max"] as? [Double]))
        // Quantized positions (KHR_mesh_quantization) are integers the node's scale maps to metres.
        let scale = (nodes[node]["scale"] as? [Double])?[0] ?? 1
        return (hi[0] - lo[0]) * scale
    }

    @Test func anExpertRegionRecipeBecomesAPackageToo() throws {
        let folder = try Fixtures.temporaryFolder("region")
        defer { try? FileManager.default.removeItem(at: folder) }
        var region = Recipe.Region(method: .threshold)
        (region.lower, region.upper) = (226, 3071)
        var options = Self.options()
        options.recipe = Recipe(region: region)
        let result = try Pipeline(options: options).run(study: [Fixtures.sampleCT.path], out: folder.appendingPathComponent("p"))
        #expect(result.manifest.structures.map(\.name) == [Recipe.Region.label.name])
        #expect(result.manifest.structures[0].volumeML > 400, "the skull and more: \(result.manifest.structures[0].volumeML) mL")
        #expect(Verification.verify(folder.appendingPathComponent("p")).ok)
    }

    @Test func aUseCaseAskedToStopEndsAtItsNextStepAndWritesNothing() throws {
        let folder = try Fixtures.temporaryFolder("stopped")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("head")
        let steps = StepRecorder(stopAt: "meshing")
        do {
            _ = try Pipeline(options: Self.options()).run(study: [Fixtures.sampleCT.path], out: out, observer: steps)
            Issue.record("the pipeline went on after it was asked to stop")
        } catch {
            #expect(error.stopped && error.description.contains("stopped as asked, before meshing"), "\(error)")
        }
        #expect(!steps.steps.contains { $0.stage == "rendering" || $0.stage == "packaging" })
        #expect(!FileManager.default.fileExists(atPath: out.path), "no package is left")
    }
}

/// Records a use case's steps; asks it to stop once a stage starting with `stopAt` was heard.
final class StepRecorder: UseCaseObserver, @unchecked Sendable {
    private let lock = NSLock()
    private var heard: [UseCaseStep] = []
    let stopAt: String?

    init(stopAt: String? = nil) {
        self.stopAt = stopAt
    }

    var steps: [UseCaseStep] { lock.withLock { heard } }

    func step(_ step: UseCaseStep) {
        lock.withLock { heard.append(step) }
    }

    var stopRequested: Bool {
        guard let stopAt else { return false }
        return lock.withLock { heard.contains { $0.stage.hasPrefix(stopAt) } }
    }
}
