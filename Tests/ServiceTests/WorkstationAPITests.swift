import CWebP
import DICOM
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Phantoms
import Pipeline
import Rendering
import ScenePackage
import Segmentation
@testable import Service
import Testing
import TestSupport
import VolumeCore
import VolumeIO

/// The workstation's scenario through the API alone: a study with the tests' phantom lesion is
/// kept, looked at slice by slice, probed, previewed from one click in the lesion, and built.
extension ServiceTests {
    /// The sample CT with the 15 mm, +40 HU lesion of the tumor tests (noise 10 HU) as a zipped
    /// DICOM series, and the lesion's exact mask.
    static func phantomStudy(_ folder: URL) throws -> (zip: Data, truth: Volume<UInt8>) {
        guard case .int16(let ct) = DicomLoader().load([Fixtures.sampleCT.path]).series[0].volume else {
            throw ServiceFailureForTests("the sample CT is not 16-bit")
        }
        let (volume, truth) = Phantoms.draw(into: ct, ellipsoids: [Phantoms.headLesion], contrast: 40, noise: 10)
        let url = folder.appendingPathComponent("phantom.zip")
        try ZipMaker.make(url, entries: DicomWriter.series(of: volume, series: "1.2.826.0.1.3680043.8.498.4242").map { ("CT/\($0.name)", $0.data) })
        return (try Data(contentsOf: url), truth)
    }

    @Test func theWorkstationScenarioThroughTheAPI() async throws {
        let service = try await Running()
        let (owner, other) = (try service.store.createToken(role: .submitter, name: "surgeon"), try service.store.createToken(role: .submitter, name: "b"))
        let folder = try Fixtures.temporaryFolder("workstation")
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            let (zip, truth) = try Self.phantomStudy(folder)
            let (created, body, _) = try await service.request("POST", "/v1/studies?process=false", token: owner, body: zip, type: "application/zip")
            #expect(created == 201)
            let study = try #require(service.json(body)["studyId"] as? String)
            // The click: the lesion's centre in LPS mm, its voxel and value.
            let centre = Phantoms.headLesion.centre
            let (probed, probe, _) = try await service.request("GET", "/v1/studies/\(study)/voxel?mm=\(centre.x),\(centre.y),\(centre.z)", token: owner)
            let voxel = service.json(probe)
            let index = try #require(voxel["index"] as? [Int], "\(probed) \(voxel)")
            #expect(index.count == 3 && truth[index[0], index[1], index[2]] == 1, "the voxel under the click is in the lesion: \(index)")
            // Its axial slice, and what is refused.
            let (sliced, png, response) = try await service.request("GET", "/v1/studies/\(study)/slices/axial/\(index[2])?window=80,40", token: owner)
            #expect(sliced == 200 && png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count < 80_000, "\(sliced), \(png.count) bytes")
            #expect(response.value(forHTTPHeaderField: "X-Pixel-Spacing-MM")?.split(separator: ",").count == 2)
            let image = try RGBAImage.readPNG(from: try Self.written(png, folder, "axial.png"))
            #expect(image.width == 256 && image.height == 256)
            // The same slice while scrolling: lossy WebP, smaller, each pixel close to the exact one.
            let (webpStatus, webp, webpResponse) = try await service.request("GET", "/v1/studies/\(study)/slices/axial/\(index[2])?window=80,40&format=webp", token: owner)
            #expect(webpStatus == 200 && webpResponse.value(forHTTPHeaderField: "Content-Type") == "image/webp")
            #expect(webp.count < png.count, "WebP \(webp.count) bytes, PNG \(png.count)")
            let lossy = try #require(Self.decodedWebP(webp), "the WebP decodes")
            #expect(lossy.width == 256 && lossy.height == 256)
            let errors = (0..<(256 * 256)).map { abs(Int(lossy.pixels[4 * $0]) - Int(image.pixels[4 * $0])) }
            let meanError = Double(errors.reduce(0, +)) / Double(errors.count)
            #expect(errors.max()! <= 12 && meanError < 1.5, "largest error \(errors.max()!), mean \(meanError) grey levels")
            #expect(try await service.request("GET", "/v1/studies/\(study)/slices/axial/1?format=gif", token: owner).0 == 400)
            #expect(try await service.request("GET", "/v1/studies/\(study)/slices/axial/108", token: owner).0 == 404)
            #expect(try await service.request("GET", "/v1/studies/\(study)/slices/oblique/1", token: owner).0 == 404)
            #expect(try await service.request("GET", "/v1/studies/\(study)/slices/axial/1?window=0,40", token: owner).0 == 400)
            #expect(try await service.request("GET", "/v1/studies/\(study)/voxel?mm=9000,0,0", token: owner).0 == 404)
            // Grow from the click: the preview's label map against the lesion's truth.
            let recipe = #"{"structures": [{"preset": "tumor", "seedsMM": [[\#(centre.x), \#(centre.y), \#(centre.z)]]}]}"#
            let (previewed, previewBody, _) = try await service.request("POST", "/v1/studies/\(study)/previews", token: owner,
                                                                        body: Data(recipe.utf8), type: "application/json")
            let preview = service.json(previewBody)
            #expect(previewed == 200, "\(String(decoding: previewBody, as: UTF8.self))")
            let previewID = try #require(preview["previewId"] as? String)
            let structures = (preview["structures"] as? [[String: Any]]) ?? []
            #expect(structures.first?["name"] as? String == "tumor" && (structures.first?["volumeML"] as? Double ?? 0) > 1, "\(preview)")
            #expect(((structures.first?["figures"] as? [String: Any])?["maximalDiameterMM"] as? Double ?? 0) > 10)
            let (got, nifti, _) = try await service.request("GET", "/v1/studies/\(study)/previews/\(previewID)/labels.nii.gz", token: owner)
            #expect(got == 200)
            let labels = try NIfTI.readLabelMap(try Self.written(nifti, folder, "preview.nii.gz"))
            let dice = Overlap.dice(labels.mask(of: Preset.tumor.label.value), truth)
            #expect(dice >= 0.90, "Dice \(dice)")
            let (overlaid, overlay, _) = try await service.request("GET", "/v1/studies/\(study)/slices/axial/\(index[2])?preview=\(previewID)", token: owner)
            let overlayImage = try RGBAImage.readPNG(from: try Self.written(overlay, folder, "overlay.png"))
            #expect(overlaid == 200 && overlayImage.width == 256)
            // A study's process that dies (killed here, as the memory killer would) ends no more than that
            // request: the next one opens the study again.
            let killed = Self.killProcesses { $0.contains("study-worker") && $0.contains(service.store.folders.study(study).path) }
            #expect(killed == 1, "one study worker was running")
            let (afterKill, killBody, _) = try await service.request("GET", "/v1/studies/\(study)/slices/axial/\(index[2])", token: owner)
            #expect(afterKill == 500 && String(decoding: killBody, as: UTF8.self).contains("stopped"), "\(afterKill)")
            #expect(try await service.request("GET", "/v1/studies/\(study)/slices/axial/\(index[2])", token: owner).0 == 200)
            #expect(try await service.request("GET", "/healthz").0 == 200)
                        // What a clinician is told when the click or the recipe is wrong, or the study is not theirs.
            let air = #"{"structures": [{"preset": "tumor", "seedsMM": [[0, -240, 105]]}]}"#
            let (inAir, airBody, _) = try await service.request("POST", "/v1/studies/\(study)/previews", token: owner, body: Data(air.utf8))
            #expect((400..<500).contains(inAir) && String(decoding: airBody, as: UTF8.self).contains("seed"), "\(inAir) \(String(decoding: airBody, as: UTF8.self))")
            // With its code and values, for the page to say it in the reader's language.
            let refusal = service.json(airBody)["error"] as? [String: Any] ?? [:]
            #expect(refusal["code"] as? String == "seedInAir" && (refusal["values"] as? [String: String])?["seed"] == "(0, -240, 105) mm", "\(refusal)")
            let wrong = #"{"structures": [{"preset": "tumor", "seedsMM": [[1, 2, 3]], "lower": 5}]}"#
            let (bad, badBody, _) = try await service.request("POST", "/v1/studies/\(study)/previews", token: owner, body: Data(wrong.utf8))
            #expect(bad == 400 && String(decoding: badBody, as: UTF8.self).contains("lower"))
            // Another user's study: forbidden, and saying so.
            let (foreign, foreignBody, _) = try await service.request("POST", "/v1/studies/\(study)/previews", token: other, body: Data(recipe.utf8))
            #expect(foreign == 403 && String(decoding: foreignBody, as: UTF8.self).contains("belongs to someone else"))
            #expect(try await service.request("GET", "/v1/studies/\(study)/previews/\(previewID)/labels.nii.gz", token: other).0 == 403)
            #expect(try await service.request("GET", "/v1/studies/\(study)/slices/axial/1", token: other).0 == 403)
            #expect(try await service.request("DELETE", "/v1/studies/\(study)", token: other).0 == 403)
            #expect(try await service.request("GET", "/v1/studies/no-such-study", token: other).0 == 404)
            // Build the scene with the same recipe: a package with the tumor, that verifies.
            let (queued, jobBody, _) = try await service.request("POST", "/v1/studies/\(study)/jobs", token: owner, body: Data(recipe.utf8),
                                                                 type: "application/json")
            #expect(queued == 202)
            let job = try await service.wait(job: try #require(service.json(jobBody)["jobId"] as? String), token: owner)
            let package = try #require(job["packageId"] as? String, "\(job)")
            let manifest = service.json(try await service.request("GET", "/v1/packages/\(package)", token: owner).1)
            #expect((manifest["structures"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["tumor"])
            #expect(Verification.verify(service.store.folders.package(package)).ok)
            // Deleting the study closes its worker; the service goes on.
            #expect(FileManager.default.fileExists(atPath: service.store.folders.inspection(study).path), "what the study holds is kept")
            #expect(try await service.request("DELETE", "/v1/studies/\(study)", token: owner).0 == 204)
            #expect(!FileManager.default.fileExists(atPath: service.store.folders.inspection(study).path), "and removed with it")
            #expect(try await service.request("GET", "/v1/studies/\(study)/slices/axial/1", token: owner).0 == 404)
            #expect(try await service.request("GET", "/healthz").0 == 200)
        } catch {
            await service.stop()
            throw error
        }
        await service.stop()
    }

    /// Sends SIGKILL to this user's processes whose command line (NUL-separated, from /proc) matches; returns how many.
    static func killProcesses(matching: (String) -> Bool) -> Int {
        var killed = 0
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), pid != getpid(),
                  let raw = FileManager.default.contents(atPath: "/proc/\(name)/cmdline") else { continue }
            let line = String(decoding: raw.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            if matching(line), kill(pid, SIGKILL) == 0 { killed += 1 }
        }
        return killed
    }

    /// A WebP decoded by libwebp, as RGBA.
    static func decodedWebP(_ data: Data) -> RGBAImage? {
        var (width, height): (Int32, Int32) = (0, 0)
        return data.withUnsafeBytes { bytes -> RGBAImage? in
            let base = bytes.bindMemory(to: UInt8.self).baseAddress
            guard let decoded = WebPDecodeRGBA(base, bytes.count, &width, &height) else { return nil }
            defer { WebPFree(decoded) }
            return RGBAImage(width: Int(width), height: Int(height), pixels: Array(UnsafeBufferPointer(start: decoded, count: Int(width * height * 4))))
        }
    }

    static func written(_ data: Data, _ folder: URL, _ name: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }
}

struct ServiceFailureForTests: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
