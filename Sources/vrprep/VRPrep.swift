import ArgumentParser
import Foundation
import VolumeCore

@main
struct VRPrep: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "vrprep",
        abstract: "Turn a CT or MRI study into a VR-ready 3D scene for surgery.",
        version: version,
        subcommands: [ProcessCommand.self, Inspect.self, Segment.self, MeshCommand.self, RenderCommand.self, PackageCommand.self, ExportDicomCommand.self, DeidentifyCommand.self,
                      ServeCommand.self, WorkerCommand.self, TokenCommand.self, RunJobCommand.self, StudyWorkerCommand.self]
    )

    /// Exit statuses: 0 success, 1 the job found nothing to work on, 2 usage errors.
    static func main() async {
        MemoryPolicy.reuseLargeAllocations()
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// What a command prints with --json: one object, keys sorted, indented, slashes as they are.
protocol PrintedJSON: Encodable {}

extension PrintedJSON {
    func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
