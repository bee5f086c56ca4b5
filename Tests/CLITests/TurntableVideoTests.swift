import Foundation
import Rendering
import Testing
import TestSupport

/// `vrprep render --turntable N --video FILE.mp4`: an H.264 MP4 that FFmpeg's own tools read back
/// (ffprobe: codec, size, frame count, duration), whose frames are the turntable's PNG renders of the
/// same angles (decoded by ffmpeg, mean error within 3 grey levels: the bar is for 1024², where it is
/// 1.1–1.6; at the 200-odd pixels used here 1.7–2.1), side by side at full width with
/// --stereo; and the usage errors of the option.
@Suite struct TurntableVideoTests {
    static let shaders = ["--shaders", Fixtures.root.appendingPathComponent("Shaders").path]

    /// ffprobe's view of the first video stream (frames counted by decoding them).
    static func probe(_ video: URL) throws -> [String: Any] {
        let result = try CommandLineTool.run(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                                              "stream=codec_name,profile,width,height,pix_fmt,nb_read_frames,avg_frame_rate,color_space:format=duration,format_name",
                                              "-of", "json", video.path], program: "ffprobe")
        #expect(result.status == 0, "ffprobe: \(result.standardError)")
        let json = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any]
        var fields = ((json?["streams"] as? [[String: Any]])?.first) ?? [:]
        for (key, value) in (json?["format"] as? [String: Any]) ?? [:] { fields[key] = value }
        return fields
    }

    /// Mean absolute difference of the colour channels (alpha ignored).
    static func meanError(_ a: RGBAImage, _ b: RGBAImage) -> Double {
        var sum = 0
        for i in stride(from: 0, to: a.pixels.count, by: 4) {
            for c in 0..<3 { sum += abs(Int(a.pixels[i + c]) - Int(b.pixels[i + c])) }
        }
        return Double(sum) / Double(a.width * a.height * 3)
    }

    /// Renders the sample's turntable as PNGs and as a video, decodes the video and compares frame by frame.
    func check(stereo: Bool, frames: Int, width: Int, height: Int) throws {
        let folder = try Fixtures.temporaryFolder("turntable-video")
        defer { try? FileManager.default.removeItem(at: folder) }
        let video = folder.appendingPathComponent("films/turntable.mp4"), pictures = folder.appendingPathComponent("png")
        let run = try CommandLineTool.run(["render", Fixtures.sampleCT.path, "--turntable", "\(frames)", "--size", "\(width)x\(height)",
                                           "--video", video.path, "--fps", "12", "--out", pictures.path] + (stereo ? ["--stereo"] : []) + Self.shaders)
        #expect(run.status == 0, "\(run.standardError)")
        #expect(run.standardOutput.contains("video: H.264, \(frames) frames at 12 per second"), "\(run.standardOutput)")

        let fields = try Self.probe(video)
        let videoWidth = stereo ? 2 * width : width
        #expect(fields["codec_name"] as? String == "h264")
        #expect(fields["width"] as? Int == videoWidth && fields["height"] as? Int == height, "\(fields)")
        #expect(fields["pix_fmt"] as? String == "yuv420p" && fields["color_space"] as? String == "bt709", "\(fields)")
        #expect(fields["nb_read_frames"] as? String == "\(frames)", "\(fields)")
        #expect((fields["format_name"] as? String)?.contains("mp4") == true)
        let duration = Double(fields["duration"] as? String ?? "") ?? -1
        #expect(abs(duration - Double(frames) / 12) < 0.5 / 12, "duration \(duration) s")

        // Decoded by ffmpeg to raw RGB bytes (a PNG from ffmpeg would carry the video's gamma tags, which
        // libpng's reader then applies).
        let raw = folder.appendingPathComponent("decoded.rgb")
        let decode = try CommandLineTool.run(["-v", "error", "-i", video.path, "-f", "rawvideo", "-pix_fmt", "rgb24", raw.path], program: "ffmpeg")
        #expect(decode.status == 0, "ffmpeg: \(decode.standardError)")
        let bytes = [UInt8](try Data(contentsOf: raw))
        let frameBytes = videoWidth * height * 3
        try #require(bytes.count == frames * frameBytes, "\(bytes.count) bytes decoded, \(frames) frames of \(frameBytes) expected")
        let suffix = stereo ? "-side-by-side.png" : ".png"
        let renders = try (0..<frames).map { try RGBAImage.readPNG(from: pictures.appendingPathComponent(String(format: "turntable-%03d", $0) + suffix)) }
        for frame in 0..<frames {
            var rgba = [UInt8](repeating: 255, count: videoWidth * height * 4)
            for i in 0..<(videoWidth * height) {
                for c in 0..<3 { rgba[4 * i + c] = bytes[frame * frameBytes + 3 * i + c] }
            }
            let picture = RGBAImage(width: videoWidth, height: height, pixels: rgba)
            try #require(renders[frame].width == videoWidth && renders[frame].height == height)
            let error = Self.meanError(picture, renders[frame])
            #expect(error <= 3, "frame \(frame): mean error \(error) grey levels against its PNG")
            // The comparison can tell frames apart: the opposite angle differs far more.
            let other = Self.meanError(picture, renders[(frame + frames / 2) % frames])
            #expect(other > 3 * max(error, 1), "frame \(frame): \(other) against the opposite angle, \(error) against its own")
        }
    }

    @Test func aTurntableVideoHoldsTheRendersOfItsAngles() throws {
        try check(stereo: false, frames: 6, width: 256, height: 224)
    }

    @Test func aStereoTurntableVideoIsSideBySideAtFullWidth() throws {
        try check(stereo: true, frames: 4, width: 224, height: 192)
    }

    @Test func videoOptionsAreChecked() throws {
        let folder = try Fixtures.temporaryFolder("turntable-video-usage")
        defer { try? FileManager.default.removeItem(at: folder) }
        let study = Fixtures.sampleCT.path
        let video = folder.appendingPathComponent("t.mp4").path
        let usage: [([String], String)] = [
            (["render", study, "--video", video], "--turntable"),
            (["render", study, "--turntable", "4", "--video", folder.appendingPathComponent("t.avi").path], ".mp4"),
            (["render", study, "--turntable", "4", "--size", "161x120", "--video", video], "even"),
            (["render", study, "--turntable", "4", "--video", video, "--fps", "0"], "--fps"),
            (["render", study, "--turntable", "4"], "--out"),
            (["render", study, "--slice", "axial", "--turntable", "4", "--video", video], "--slice"),
        ]
        for (arguments, word) in usage {
            let result = try CommandLineTool.run(arguments + Self.shaders)
            #expect(result.status == 2 && result.standardError.contains(word), "\(arguments): \(result.status) \(result.standardError)")
        }
        // A place that cannot be written: exit 1, the path named, no file left behind.
        let blocker = folder.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: blocker)
        let unwritable = blocker.appendingPathComponent("t.mp4").path
        let failed = try CommandLineTool.run(["render", study, "--turntable", "2", "--size", "64x64", "--video", unwritable] + Self.shaders)
        #expect(failed.status == 1 && failed.standardError.contains("plain-file"), "\(failed.standardError)")
        #expect(!FileManager.default.fileExists(atPath: unwritable))
    }
}

/// `vrprep process --video` (and a recipe's "video": true): the package holds a turntable MP4 of its
/// surfaces, listed in the manifest with its frames and checksummed like every file.
@Suite struct PackageVideoTests {
    @Test func processAddsATurntableVideoToThePackage() throws {
        let folder = try Fixtures.temporaryFolder("package-video")
        defer { try? FileManager.default.removeItem(at: folder) }
        let out = folder.appendingPathComponent("scene")
        let made = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--structures", "bone", "--out", out.path,
                                            "--render-size", "128", "--max-triangles", "20000", "--video"] + TurntableVideoTests.shaders)
        #expect(made.status == 0, "\(made.standardError)")
        let manifestData = try Data(contentsOf: out.appendingPathComponent("manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: manifestData) as? [String: Any])
        let renders = try #require(manifest["renders"] as? [[String: Any]])
        let film = try #require(renders.first { $0["kind"] as? String == "turntable" }, "\(renders)")
        #expect(film["file"] as? String == "renders/turntable.mp4" && film["frames"] as? Int == 72 && film["framesPerSecond"] as? Int == 24)
        #expect(film["width"] as? Int == 128 && film["height"] as? Int == 128)
        let fields = try TurntableVideoTests.probe(out.appendingPathComponent("renders/turntable.mp4"))
        #expect(fields["codec_name"] as? String == "h264" && fields["nb_read_frames"] as? String == "72" && fields["width"] as? Int == 128, "\(fields)")
        let verified = try CommandLineTool.run(["package", "verify", out.path])
        #expect(verified.status == 0, "\(verified.standardError)")
        // Without --video, no video; a recipe's "video" must be true or false.
        let plain = folder.appendingPathComponent("plain")
        #expect(try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--structures", "bone", "--out", plain.path, "--render-size", "64",
                                         "--max-triangles", "5000"] + TurntableVideoTests.shaders).status == 0)
        #expect(!FileManager.default.fileExists(atPath: plain.appendingPathComponent("renders/turntable.mp4").path))
        let recipe = folder.appendingPathComponent("recipe.json")
        try Data(#"{"structures": [{"preset": "bone"}], "video": 1}"#.utf8).write(to: recipe)
        let bad = try CommandLineTool.run(["process", Fixtures.sampleCT.path, "--recipe", recipe.path, "--out", folder.appendingPathComponent("bad").path]
                                          + TurntableVideoTests.shaders)
        #expect(bad.status == 2 && bad.standardError.contains("video"), "\(bad.status) \(bad.standardError)")
    }
}
