import Foundation
import DICOM
import Hummingbird
import Logging
import Pipeline
import ZIPFoundation

/// Studies: an upload (checked, then kept as a study, with a job making its package unless
/// `?process=false`), the caller's studies, one study's series, removing one. A study carries
/// identity: its owner and admins see it, never a share link.
func addStudyRoutes(_ router: Router<ServiceContext>, _ store: any ServiceRecords, _ settings: ServiceServer.Settings,
                    _ workers: StudyWorkers) {
    let submitters = router.group("/v1/studies", for: [.submitter, .admin], store)

    /// The caller's study of the path, and its files (410 once they are gone).
    @Sendable func kept(_ context: ServiceContext) throws -> (study: ServiceStore.Study, files: URL) {
        let id = try context.parameters.require("id")
        let study = try Access.study(id, for: try context.requireCaller(), store)
        let files = store.folders.study(id)
        guard FileManager.default.fileExists(atPath: files.path) else { throw HTTPError(.gone, message: "the files of study \(id) are gone") }
        return (study, files)
    }

    /// A slice of the path: its orientation and its index (404 when it is neither).
    @Sendable func slice(_ context: ServiceContext) throws -> (OpenStudy.Orientation, Int) {
        let name = try context.parameters.require("orientation")
        guard let orientation = OpenStudy.Orientation(rawValue: name) else {
            throw HTTPError(.notFound, message: "no orientation '\(name)': axial, coronal or sagittal")
        }
        guard let index = Int(try context.parameters.require("index")) else { throw HTTPError(.notFound, message: "the slice is a number") }
        return (orientation, index)
    }

    /// The caller's study, open in its worker: the answer, or the worker's error as an HTTP error.
    @Sendable func ask(_ context: ServiceContext, _ request: WorkerRequest) async throws -> WorkerAnswer {
        let (study, files) = try kept(context)
        let id = study.id
        let answer = await workers.ask(study: id, files: files, request)
        if let error = answer.error {
            let message = JobRunner.scrubbed(error, input: files, folders: store.folders)
            if let notice = answer.notice { throw NoticedError(status: .init(code: answer.status ?? 500), message: message, notice: notice) }
            throw HTTPError(.init(code: answer.status ?? 500), message: message)
        }
        return answer
    }

    // A slice as an image (radiological display), with a preview's labels over it when asked.
    submitters.get(":id/slices/:orientation/:index") { request, context -> Response in
        let (orientation, index) = try slice(context)
        var window: [Double]?
        if let text = request.uri.queryParameters["window"].map(String.init) {
            let parts = text.split(separator: ",").compactMap { Double($0) }
            guard parts.count == 2, parts[0] > 0, parts.allSatisfy({ $0.isFinite && abs($0) < 1e6 }) else {
                throw HTTPError(.badRequest, message: "window must be WIDTH,LEVEL with a width above 0, not '\(text)'")
            }
            window = parts
        }
        var format = OpenStudy.SliceFormat.png
        if let text = request.uri.queryParameters["format"].map(String.init) {
            guard let asked = OpenStudy.SliceFormat(rawValue: text) else {
                throw HTTPError(.badRequest, message: "format must be \(OpenStudy.SliceFormat.allCases.map(\.rawValue).joined(separator: " or ")), not '\(text)'")
            }
            format = asked
        }
        let answer = try await ask(context, WorkerRequest(kind: .slice, orientation: orientation, index: index, window: window,
                                                          preview: request.uri.queryParameters["preview"].map(String.init), format: format))
        guard let image = answer.image else { throw HTTPError(.internalServerError, message: "no image came back") }
        var headers: HTTPFields = [.contentType: format.mediaType, .cacheControl: "private, max-age=300"]
        headers[.init("X-Pixel-Spacing-MM")!] = (answer.spacingMM ?? []).map { plainNumber($0) }.joined(separator: ",")
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: image)))
    }

    // The values in a rectangle of a slice (image pixels x0,y0,x1,y1): mean, σ, min, max, area.
    submitters.get(":id/slices/:orientation/:index/values") { request, context -> Response in
        let (orientation, index) = try slice(context)
        let text = request.uri.queryParameters["rectangle"].map(String.init) ?? ""
        let corners = text.split(separator: ",").compactMap { Int($0) }
        guard corners.count == 4, corners.allSatisfy({ abs($0) < 1 << 20 }) else {
            throw HTTPError(.badRequest, message: "rectangle must be x0,y0,x1,y1 in image pixels, not '\(text)'")
        }
        let answer = try await ask(context, WorkerRequest(kind: .values, orientation: orientation, index: index, rectangle: corners))
        guard let values = answer.values else { throw HTTPError(.internalServerError, message: "no values came back") }
        return try encodedJSON(values)
    }

    // The voxel nearest a point (LPS mm) and its value.
    submitters.get(":id/voxel") { request, context -> Response in
        let text = request.uri.queryParameters["mm"].map(String.init) ?? ""
        let mm = text.split(separator: ",", omittingEmptySubsequences: false).compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard mm.count == 3, mm.allSatisfy({ $0.isFinite && abs($0) < 1e6 }) else {
            throw HTTPError(.badRequest, message: "mm must be x,y,z in LPS millimetres, not '\(text)'")
        }
        let answer = try await ask(context, WorkerRequest(kind: .voxel, mm: mm))
        return try encodedJSON(VoxelView(index: answer.index ?? [], value: answer.value ?? 0))
    }

    // A segmentation preview with a recipe (the JSON of `vrprep segment --recipe`), made at once.
    submitters.post(":id/previews") { request, context -> Response in
        let answer = try await ask(context, WorkerRequest(kind: .preview, recipe: String(decoding: try await recipeBody(request), as: UTF8.self)))
        guard let preview = answer.preview else { throw HTTPError(.internalServerError, message: "no preview came back") }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: preview)))
    }

    submitters.get(":id/previews/:preview/labels.nii.gz") { _, context -> Response in
        let answer = try await ask(context, WorkerRequest(kind: .labels, preview: try context.parameters.require("preview")))
        guard let nifti = answer.nifti else { throw HTTPError(.internalServerError, message: "no label map came back") }
        return Response(status: .ok, headers: [.contentType: "application/gzip"], body: .init(byteBuffer: ByteBuffer(bytes: nifti)))
    }

    submitters.get { _, context -> Response in
        try encodedJSON(StudyList(studies: try store.studies(owner: Access.listedOwner(try context.requireCaller())).map(StudyView.init)))
    }

    // What the study holds, as `vrprep inspect --json` says it (read from its files, off the event loops).
    submitters.get(":id") { _, context -> Response in
        let (study, files) = try kept(context)
        let id = study.id
        let inspection: StudyInspection
        switch await StudyInspector(executable: settings.jobExecutable).inspect(study: id, folders: store.folders) {
        case .success(let read): inspection = read
        case .failure(let failure): throw HTTPError(.unprocessableContent, message: failure.description)
        }
        if study.summary == nil { saveSummary(of: inspection, study: id, store) }
        let rejected = JobRunner.scrubbed(LoadNotes(rejected: inspection.rejected), input: files, folders: store.folders).rejected
        return try encodedJSON(StudyDetail(study: StudyView(study), series: inspection.series, rejected: rejected))
    }

    // A scene package of a kept study, with a recipe (the JSON of `vrprep segment --recipe`; empty: the default).
    submitters.post(":id/jobs") { request, context -> Response in
        let (study, caller) = (try kept(context).study, try context.requireCaller())
        let id = study.id
        // A segmentation made elsewhere (?labels=NAME, the file as the body): the scene is made from it.
        if let name = request.uri.queryParameters["labels"].map(String.init) {
            return try await segmentationJob(request, study: id, owner: caller.id, name: name, store, settings)
        }
        let profile = try requestedProfile(request)
        let body = try await recipeBody(request)
        var recipeText: String?
        if !body.isEmpty {
            do {
                recipeText = String(decoding: try JSONEncoder().encode(try Pipeline.recipe(parsing: body)), as: UTF8.self)
            } catch {
                throw HTTPError(.badRequest, message: "\(error)")
            }
        }
        let job = UUID().uuidString.lowercased()
        try store.createJob(id: job, owner: caller.id, study: id, recipe: recipeText, profile: profile?.rawValue)
        return try encodedJSON(StudyJob(jobId: job), status: .accepted)
    }

    // A de-identified DICOM copy of the study's series (what `vrprep deidentify` writes), as a zip: made
    // in the identified zone, for its owner or an admin, never through a share link.
    submitters.post(":id/deidentified") { request, context -> Response in
        let (study, files) = try kept(context)
        let id = study.id
        var shiftDays: Int?
        if let text = request.uri.queryParameters["keepDatesShifted"].map(String.init) {
            guard let days = Int(text), DeidentifyStudy.shiftRange.contains(days), days != 0 else {
                throw HTTPError(.badRequest, message: "keepDatesShifted must be a whole number of days in \(DeidentifyStudy.shiftRange.lowerBound)…" +
                                "\(DeidentifyStudy.shiftRange.upperBound) other than 0, not '\(text)'")
            }
            shiftDays = days
        }
        // Defacing as for packages: auto (the default) removes a head's face from the pixels.
        let asked = request.uri.queryParameters["deface"].map(String.init) ?? "auto"
        guard let deface = DefaceStudy.mode(named: asked) else {
            throw HTTPError(.badRequest, message: "deface must be \(DefaceStudy.modeNames.joined(separator: ", ")), not '\(asked)'")
        }
        let (folders, version) = (store.folders, settings.pipeline.softwareVersion)
        // Written and zipped off the event loops.
        let outcome = await Task.detached { () -> Result<Data, UseCaseFailure> in
            let out = folders.staging.appendingPathComponent("deidentified-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            let report: DeidentifyStudy.Report
            do throws(UseCaseFailure) {
                report = try DeidentifyStudy.run(study: [files.path], out: out,
                                                 options: DeidentifyStudy.Options(shiftDays: shiftDays, defacer: DeidentifyStudy.defacer(deface, threads: 1),
                                                                                  softwareVersion: version, threads: 1))
            } catch {
                return .failure(error)
            }
            do {
                let archive = try Archive(accessMode: .create)
                for file in report.files {
                    let url = URL(fileURLWithPath: file.path)
                    try archive.addEntry(with: url.lastPathComponent, relativeTo: url.deletingLastPathComponent(), compressionMethod: .deflate)
                }
                return .success(archive.data ?? Data())
            } catch {
                return .failure(UseCaseFailure(description: "cannot zip the de-identified copy: \(error)"))
            }
        }.value
        switch outcome {
        case .success(let zip):
            return Response(status: .ok, headers: [.contentType: "application/zip",
                                                   .contentDisposition: "attachment; filename=\"\(id)-deidentified.zip\""],
                            body: .init(byteBuffer: ByteBuffer(bytes: zip)))
        case .failure(let failure):
            throw HTTPError(.unprocessableContent, message: JobRunner.scrubbed(failure.description, input: files, folders: folders))
        }
    }

    submitters.delete(":id") { _, context -> Response in
        let id = try context.parameters.require("id")
        _ = try Access.study(id, for: try context.requireCaller(), store)
        workers.close(study: id)
        Retention.removeFiles(of: id, folders: store.folders)
        _ = try store.removeStudy(id)
        return Response(status: .noContent)
    }

    submitters.post { request, context -> Response in
        let caller = try context.requireCaller()
        let profile = try requestedProfile(request)
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
        try await receiveBody(request, to: partial, limit: settings.maxUploadBytes, what: "the upload")
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
        try store.createStudy(ServiceStore.Study(id: id, owner: caller.id, created: Date()))
        // What it holds, for the list: read in the background, in a child process of its own.
        let (inspector, folders) = (StudyInspector(executable: settings.jobExecutable), store.folders)
        Task.detached {
            if case .success(let inspection) = await inspector.inspect(study: id, folders: folders) { saveSummary(of: inspection, study: id, store) }
        }
        var answer: Response
        if request.uri.queryParameters["process"].map(String.init) == "false" {
            answer = try encodedJSON(StudyAccepted(studyId: id), status: .created)
        } else {
            let job = UUID().uuidString.lowercased()
            try store.createJob(id: job, owner: caller.id, study: id, recipe: nil, profile: profile?.rawValue)
            context.logger.info("job \(job) queued")
            answer = try encodedJSON(StudyAccepted(jobId: job, studyId: id), status: .accepted)
        }
        // Where the new study is (the audit trail reads it there too).
        answer.headers[.location] = "/v1/studies/\(id)"
        return answer
    }
}

/// The answer to a study submitted: the study kept, and the job that makes its package.
struct StudyAccepted: Encodable {
    var jobId: String?
    var studyId: String
}

/// `?profile=` of a request (what the scene is for): nil when absent, a 400 naming the profiles
/// when unknown, so that a mistyped one fails before the upload is read.
func requestedProfile(_ request: Request) throws -> SceneProfile? {
    guard let text = request.uri.queryParameters["profile"].map(String.init) else { return nil }
    guard let profile = SceneProfile(rawValue: text) else {
        throw HTTPError(.badRequest, message: "unknown profile '\(text)': use \(SceneProfile.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return profile
}

/// A job that makes the study's scene from the segmentation in the request's body (NAME tells
/// its kind: .nii, .nii.gz, .nrrd, .dcm), named by `labelNames=1=a,2=b` if given. The file is
/// kept beside the job; what is wrong with it, the job says (naming the file, never the server's path).
private func segmentationJob(_ request: Request, study: String, owner: String, name: String, _ store: any ServiceRecords,
                             _ settings: ServiceServer.Settings) async throws -> Response {
    let safe = String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }.prefix(128))
    guard !safe.hasPrefix("."), ImportSegmentation.isSegmentationName(safe) else {
        throw HTTPError(.unsupportedMediaType, message: "labels=\(name.prefix(128)): a segmentation is a .nii, .nii.gz, .seg.nrrd or .dcm " +
                        "(DICOM SEG or RT Structure Set) file, named so")
    }
    let profile = try requestedProfile(request)
    var names: String?
    if let text = request.uri.queryParameters["labelNames"].map(String.init) {
        do {
            let parsed = try ImportSegmentation.names(parsing: text)
            names = String(decoding: try JSONEncoder().encode(parsed), as: UTF8.self)
        } catch {
            throw HTTPError(.badRequest, message: "\(error)")
        }
    }
    if let length = request.headers[.contentLength].flatMap(Int64.init), length > settings.maxUploadBytes {
        throw HTTPError(.contentTooLarge, message: "the segmentation is \(length) bytes; the limit is \(settings.maxUploadBytes)")
    }
    let job = UUID().uuidString.lowercased()
    let folder = store.folders.segmentation(job)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let file = folder.appendingPathComponent(safe)
    let written: Int64
    do {
        written = try await receiveBody(request, to: file, limit: settings.maxUploadBytes, what: "the segmentation")
    } catch {
        try? FileManager.default.removeItem(at: folder)
        throw error
    }
    guard written > 0 else {
        try? FileManager.default.removeItem(at: folder)
        throw HTTPError(.badRequest, message: "labels=\(safe): the body (the segmentation file) is empty")
    }
    try store.createJob(id: job, owner: owner, study: study, recipe: nil, labels: safe, labelNames: names, profile: profile?.rawValue)
    return try encodedJSON(StudyJob(jobId: job), status: .accepted)
}

/// Streams a request's body into `file` (removed if it fails or passes `limit` bytes): its size.
@discardableResult
private func receiveBody(_ request: Request, to file: URL, limit: Int64, what: String) async throws -> Int64 {
    _ = FileManager.default.createFile(atPath: file.path, contents: nil)
    guard let handle = try? FileHandle(forWritingTo: file) else { throw HTTPError(.internalServerError, message: "cannot store \(what)") }
    var written: Int64 = 0
    do {
        for try await buffer in request.body {
            written += Int64(buffer.readableBytes)
            if written > limit { throw HTTPError(.contentTooLarge, message: "\(what) passed the limit of \(limit) bytes") }
            try handle.write(contentsOf: Data(buffer.readableBytesView))
        }
        try handle.close()
    } catch {
        try? handle.close()
        try? FileManager.default.removeItem(at: file)
        throw error
    }
    return written
}

/// A recipe sent in a request's body (at most 1 MiB).
private func recipeBody(_ request: Request) async throws -> Data {
    do {
        return Data(try await request.body.collect(upTo: 1 << 20).readableBytesView)
    } catch {
        throw HTTPError(.contentTooLarge, message: "a recipe is at most 1 MiB")
    }
}

/// Keeps what a study holds (its largest series) for the list of studies.
private func saveSummary(of inspection: StudyInspection, study id: String, _ store: any StudyRecords) {
    guard let largest = inspection.series.max(by: { $0.dimensions.reduce(1, *) < $1.dimensions.reduce(1, *) }) else { return }
    try? store.saveSummary(study: id, .init(modality: largest.modality, dimensions: largest.dimensions, spacing: largest.spacing))
}

/// The voxel nearest a point, and its value.
struct VoxelView: Encodable {
    var index: [Int]
    var value: Double
}

/// The answer to a job asked of a kept study.
struct StudyJob: Encodable {
    var jobId: String
}

/// A study as `GET /v1/studies` lists it: what it holds once it was inspected (else null).
struct StudyView: Encodable {
    var id: String
    var createdAt: String
    var source: SourceView
    var modality: Nullable<String>
    var dimensions: Nullable<[Int]>
    var spacing: Nullable<[Double]>

    init(_ study: ServiceStore.Study) {
        (id, createdAt) = (study.id, ISO8601DateFormatter().string(from: study.created))
        source = SourceView(kind: study.sourceKind, callingAE: study.callingAE, peer: study.peer)
        (modality, dimensions, spacing) = (Nullable(study.summary?.modality), Nullable(study.summary?.dimensions), Nullable(study.summary?.spacing))
    }
}

struct StudyList: Encodable {
    var studies: [StudyView]
}

/// One study: its series as `vrprep inspect --json` gives them, and the files not used.
struct StudyDetail: Encodable {
    var study: StudyView
    var series: [StudyInspection.Series]
    var rejected: [Rejection]

    func encode(to encoder: any Encoder) throws {
        try study.encode(to: encoder)
        enum Key: String, CodingKey { case series, rejected }
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(series, forKey: .series)
        try container.encode(rejected, forKey: .rejected)
    }
}
