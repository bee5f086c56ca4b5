import DICOM
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Pipeline
@testable import Service
import Testing
import TestSupport
import ZIPFoundation

/// `POST /v1/studies/{id}/deidentified`: the study's de-identified DICOM copy as a zip, for its owner
/// (and admins) only, as `vrprep deidentify` writes it.
extension ServiceTests {
    @Test func theOwnerGetsTheDeidentifiedCopyAndNobodyElse() async throws {
        let service = try await Running()
        let owner = try service.store.createToken(role: .submitter, name: "surgeon")
        let other = try service.store.createToken(role: .submitter, name: "another surgeon")
        let trainer = try service.store.createToken(role: .trainer, name: "course")
        do {
            let study = try await service.keptSample(token: owner)
            let path = "/v1/studies/\(study)/deidentified"

            let (ok, zip, response) = try await service.request("POST", path, token: owner)
            #expect(ok == 200, "\(String(decoding: zip.prefix(500), as: UTF8.self))")
            #expect(response.value(forHTTPHeaderField: "Content-Type") == "application/zip")
            let archive = try Archive(data: zip, accessMode: .read)
            let entries = archive.map(\.path).sorted()
            #expect(entries.count == 108 && entries.first == "IM0001.dcm", "\(entries.prefix(3))")
            let entry = try #require(archive["IM0001.dcm"])
            var bytes = Data()
            _ = try archive.extract(entry) { bytes += $0 }
            let file = try DicomFile(data: bytes, name: "IM0001.dcm")
            #expect(file.string(.patientName) == "ANONYMOUS")
            let source = try DicomFile(path: Fixtures.sampleCTFiles[0].path)
            let studyUID = try #require(file.string(.studyInstanceUID))
            #expect(studyUID.hasPrefix("2.25.") && studyUID != source.string(.studyInstanceUID))
            #expect(bytes.range(of: Data("PROMED0051".utf8)) == nil)

            // Dates kept, moved: the option as a query; a bad one said plainly; the face kept when asked.
            #expect(try await service.request("POST", path + "?keepDatesShifted=0", token: owner).0 == 400)
            #expect(try await service.request("POST", path + "?deface=maybe", token: owner).0 == 400)
            #expect(try await service.request("POST", path + "?deface=off", token: owner).0 == 200)
            #expect(try await service.request("POST", path + "?keepDatesShifted=-3", token: owner).0 == 200)

            // Another submitter, another role, no token: as the other study routes answer.
            #expect(try await service.request("POST", path, token: other).0 == 403)
            #expect(try await service.request("POST", path, token: trainer).0 == 403)
            #expect(try await service.request("POST", path).0 == 401)
            #expect(try await service.request("POST", "/v1/studies/no-such-study/deidentified", token: owner).0 == 404)
            #expect(OpenAPI.operations.contains("POST /v1/studies/{id}/deidentified"))
        } catch {
            Issue.record("\(error)")
        }
        await service.stop()
    }
}
