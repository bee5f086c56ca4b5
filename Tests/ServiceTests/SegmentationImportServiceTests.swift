import DICOM
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Service
import Testing
import TestSupport
import VolumeCore
import VolumeIO
import ZIPFoundation

/// The service's door to a segmentation made elsewhere: a kept study, a NIfTI sent with its job,
/// the package made from it with the names given; one of another place fails naming its file.
extension ServiceTests {
    /// A two-structure label map on the sample's grid (a ball and a box), and the grid.
    static func sampleLabels() throws -> LabelMap {
        let series = try #require(DicomLoader().load([Fixtures.sampleCT.path]).series.first)
        let g = series.info.geometry
        var volume = Volume<UInt8>(geometry: g, voxels: [UInt8](repeating: 0, count: g.voxelCount))
        let centre = g.patientPosition(ofIndex: SIMD3<Double>(Double(g.dimensions.x) / 2, Double(g.dimensions.y) / 2, Double(g.dimensions.z) / 2))
        for k in 0..<g.dimensions.z {
            for j in 0..<g.dimensions.y {
                for i in 0..<g.dimensions.x {
                    let p = g.patientPosition(ofIndex: SIMD3(i, j, k)) - centre
                    if (p * p).sum() <= 20 * 20 { volume[i, j, k] = 1 } else if abs(p.x) < 30, abs(p.y - 40) < 10, abs(p.z) < 15 { volume[i, j, k] = 2 }
                }
            }
        }
        return LabelMap(storage: .uint8(volume), labels: [LabelInfo(value: 1, name: "label 1", color: RGBA(1, 1, 1)),
                                                          LabelInfo(value: 2, name: "label 2", color: RGBA(1, 1, 1))])
    }

    @Test func aSegmentationSentWithAJobBecomesThePackage() async throws {
        let service = try await Running()
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        let folder = try Fixtures.temporaryFolder("import-service")
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            let study = try await service.keptSample(token: owner)
            let labels = try Self.sampleLabels()
            let file = folder.appendingPathComponent("mine.nii.gz")
            try NIfTI.write(labels, to: file)
            let (accepted, answer, _) = try await service.request("POST", "/v1/studies/\(study)/jobs?labels=mine.nii.gz&labelNames=1=lesion,2=margin",
                                                                  token: owner, body: try Data(contentsOf: file), type: "application/gzip")
            #expect(accepted == 202, "\(String(decoding: answer, as: UTF8.self))")
            let job = try await service.wait(job: try #require(service.json(answer)["jobId"] as? String), token: owner)
            #expect(job["state"] as? String == "done", "\(job)")
            let package = try #require(job["packageId"] as? String)
            let manifest = service.json(try await service.request("GET", "/v1/packages/\(package)", token: owner).1)
            #expect((manifest["structures"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["lesion", "margin"], "\(manifest)")
            // The package's label map is the one sent, voxel for voxel.
            let (_, packaged, _) = try await service.request("GET", "/v1/packages/\(package)/files/labels.nii.gz", token: owner)
            let back = folder.appendingPathComponent("back.nii.gz")
            try packaged.write(to: back)
            guard case .uint8(let got) = try NIfTI.readLabelMap(back).storage, case .uint8(let sent) = labels.storage else {
                Issue.record("not 8-bit labels"); return
            }
            #expect(got.voxels == sent.voxels)
            // Its results as DICOM objects of the (identified) study, for its owner only: a zip of the SEG and the models.
            let jobID = try #require(job["id"] as? String)
            let (got200, zipped, head) = try await service.request("GET", "/v1/jobs/\(jobID)/dicom?formats=seg,stl", token: owner)
            #expect(got200 == 200 && head.value(forHTTPHeaderField: "Content-Type") == "application/zip")
            let archive = try Archive(data: zipped, accessMode: .read)
            #expect(archive.map(\.path).sorted() == ["seg.dcm", "stl-lesion.dcm", "stl-margin.dcm"], "\(archive.map(\.path))")
            var seg = Data()
            _ = try archive.extract(try #require(archive["seg.dcm"])) { seg.append($0) }
            #expect(seg.count > 132 && seg[128..<132] == Data("DICM".utf8))
            let stranger = try service.store.createToken(role: .submitter, name: "someone else")
            #expect(try await service.request("GET", "/v1/jobs/\(jobID)/dicom", token: stranger).0 == 404)
            #expect(try await service.request("GET", "/v1/jobs/\(jobID)/dicom?formats=seg,usdz", token: owner).0 == 400)
            // A share link never opens them.
            let (_, shareBody, _) = try await service.request("POST", "/v1/packages/\(package)/shares", token: owner)
            let share = try #require(service.json(shareBody)["token"] as? String)
            #expect(try await service.request("GET", "/v1/jobs/\(jobID)/dicom?share=\(share)").0 == 401)
            // The file is not kept once its job has ended.
            #expect(!FileManager.default.fileExists(atPath: service.data.appendingPathComponent("segmentations/\(job["id"] as? String ?? "")").path))

            // Another place: the job fails naming the file (not where the service keeps it).
            var moved = labels
            if case .uint8(var volume) = moved.storage { volume.geometry.origin.x += 300; moved.storage = .uint8(volume) }
            let away = folder.appendingPathComponent("away.nii.gz")
            try NIfTI.write(moved, to: away)
            let (_, second, _) = try await service.request("POST", "/v1/studies/\(study)/jobs?labels=away.nii.gz", token: owner,
                                                           body: try Data(contentsOf: away), type: "application/gzip")
            let failed = try await service.wait(job: try #require(service.json(second)["jobId"] as? String), token: owner)
            let error = failed["error"] as? String ?? ""
            #expect(failed["state"] as? String == "failed" && error.contains("away.nii.gz is not of this study"), "\(failed)")
            #expect(!error.contains(service.data.path), "the error shows the server's path: \(error)")
            // Not a segmentation's name, a bad name list, no body: refused at once.
            #expect(try await service.request("POST", "/v1/studies/\(study)/jobs?labels=notes.txt", token: owner, body: Data("x".utf8)).0 == 415)
            #expect(try await service.request("POST", "/v1/studies/\(study)/jobs?labels=a.nii.gz&labelNames=liver", token: owner,
                                              body: Data("x".utf8)).0 == 400)
            #expect(try await service.request("POST", "/v1/studies/\(study)/jobs?labels=a.nii.gz", token: owner, body: Data()).0 == 400)
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }
}
