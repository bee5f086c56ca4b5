import Foundation
import Rendering
import ScenePackage

/// The package's turntable video (`process --video`, a recipe's "video": true): its surfaces
/// turning once about the superior axis, framed as the renders are, as an H.264 MP4 that a
/// browser or phone plays (`VideoWriter`). 72 frames at 24 per second: 3 seconds.
enum SceneVideo {
    static let path = "renders/turntable.mp4"
    static let frames = 72
    static let framesPerSecond = 24
    /// Sides of at most 720 pixels (a phone's screen; and 72 frames of the full render size would
    /// cost the job more than the rest of the rendering), even for H.264's 4:2:0.
    static func side(renderSize: Int) -> Int { max(64, min(renderSize, 720)) & ~1 }

    /// Renders the turn and encodes it; the observer hears each frame (and may stop the job).
    static func turntable(_ meshes: UploadedMeshes, renderer: SurfaceRenderer, points: [SIMD3<Double>], size renderSize: Int,
                          observer: (any UseCaseObserver)?, within span: ClosedRange<Double>) throws -> (data: Data, render: Manifest.Render) {
        let side = side(renderSize: renderSize)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vrprep-video-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("turntable.mp4")
        var options = VideoWriter.Options()
        options.framesPerSecond = framesPerSecond
        let writer = try VideoWriter(url: file, width: side, height: side, options: options)
        for frame in 0..<frames {
            try observer.step("rendering the video, frame \(frame + 1) of \(frames)",
                              fraction: span.lowerBound + (span.upperBound - span.lowerBound) * Double(frame) / Double(frames),
                              done: frame, total: frames)
            let azimuth = 360 * Double(frame) / Double(frames)
            guard let camera = Camera.framingOrbit(azimuth: azimuth, elevation: 0, points: points, aspect: 1) else {
                throw RenderingError.invalidParameter(name: path, reason: "no surface to render")
            }
            try writer.append(try renderer.render(meshes, camera: camera, width: side, height: side, eyes: [(0, 0)])[0])
        }
        try writer.finish()
        let data = try Data(contentsOf: file)
        return (data, Manifest.Render(kind: "turntable", file: path, width: side, height: side, view: "turntable",
                                      frames: frames, framesPerSecond: framesPerSecond))
    }
}
