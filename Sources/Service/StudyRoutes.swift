import Foundation
import Hummingbird
import Logging

/// Studies submitted for a scene package: upload checks, then a job.
func addStudyRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings) {
    let submitters = router.group("/v1/studies", for: [.submitter, .admin], store)

    submitters.post { request, context -> Response in
        let caller = try context.requireCaller()
        let contentType = request.headers[.contentType] ?? ""
        let boundary = Multipart.boundary(contentType)
        guard mediaType(contentType) == "application/zip" || boundary != nil else {
            throw HTTPError(.unsupportedMediaType, message: "send the study as one zip archive (Content-Type: application/zip) " +
                            "or as files in multipart/form-data")
        }
        if let length = request.headers[.contentLength].flatMap(Int64.init), length > settings.maxUploadBytes {
            throw HTTPError(.contentTooLarge, message: "the upload is \(length) bytes; the limit is \(settings.maxUploadBytes)")
        }
        if let free = store.folders.freeBytes(), free < settings.minFreeBytes {
            throw HTTPError(.init(code: 507, reasonPhrase: "Insufficient Storage"), message: "the service's disk is nearly full (\(free >> 20) MiB free): " +
                            "try again later, or ask its administrator")
        }
        let id = UUID().uuidString.lowercased()
        let target = store.folders.upload(id)
        let partial = target.appendingPathExtension("partial")
        _ = FileManager.default.createFile(atPath: partial.path, contents: nil)
        guard let handle = try? FileHandle(forWritingTo: partial) else { throw HTTPError(.internalServerError, message: "cannot store the upload") }
        var written: Int64 = 0
        do {
            for try await buffer in request.body {
                written += Int64(buffer.readableBytes)
                if written > settings.maxUploadBytes {
                    throw HTTPError(.contentTooLarge, message: "the upload passed the limit of \(settings.maxUploadBytes) bytes")
                }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
            try handle.close()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: partial)
            throw error
        }
        // Unpacking and checking read the whole upload: off the event loops.
        if let boundary {
            // The form's files, unpacked into a folder for the same checks and job.
            let unpacked = store.folders.uploads.appendingPathComponent("\(id).partial-form")
            let maxParts = settings.maxFormParts
            let outcome = await offLoop { Multipart.unpack(partial, boundary: boundary, to: unpacked, maxParts: maxParts) }
            try? FileManager.default.removeItem(at: partial)
            if case .failure(let problem) = outcome {
                try? FileManager.default.removeItem(at: unpacked)
                throw HTTPError(.badRequest, message: "the multipart upload cannot be read: \(problem.message)")
            }
            if let problem = await offLoop({ UploadCheck.check(folder: unpacked) }) {
                try? FileManager.default.removeItem(at: unpacked)
                throw HTTPError(.unprocessableContent, message: "the upload is not a usable study: \(problem)")
            }
            try FileManager.default.moveItem(at: unpacked, to: store.folders.uploads.appendingPathComponent(id))
        } else {
            let (limit, ratio) = (settings.maxUncompressedBytes, settings.maxExpansionRatio)
            if let problem = await offLoop({ UploadCheck.check(partial, maxUncompressed: limit, maxRatio: ratio) }) {
                try? FileManager.default.removeItem(at: partial)
                throw HTTPError(.unprocessableContent, message: "the upload is not a usable study: \(problem)")
            }
            try FileManager.default.moveItem(at: partial, to: target)
        }
        try store.createJob(id: id, owner: caller.id)
        context.logger.info("job \(id) queued")
        return try encodedJSON(StudyAccepted(jobId: id), status: .accepted)
    }
}

/// The answer to a study submitted: the job that makes its package.
struct StudyAccepted: Encodable {
    var jobId: String
}
