import ArgumentParser
import Pipeline
import VolumeCore

/// The ranges of the commands' numeric options, checked in `validate()` with the option and the
/// range named: NaN, infinities and absurd sizes never reach a kernel.
enum OptionRange {
    static let threads = 1...1024
    static let smoothingPasses = 0...1000
    static let triangles = 1...100_000_000
    static let label = 0...65535
    static let framesPerSecond = 1...240
    /// Intensities: HU for CT, stored values for MR.
    static let value = CheckedRange(-1e6, 1e6)
    static let angle = CheckedRange(-1e6, 1e6, unit: "degrees")
    static let distanceMM = CheckedRange(0, 1e5, unit: "mm", lowerIncluded: false)

    /// A recipe key's range (the same check as a recipe file's).
    static func recipe(_ key: String) -> CheckedRange {
        Recipe.ranges.first { $0.key == key }!.range
    }
}

func checkOption(_ value: Double?, _ name: String, _ range: CheckedRange) throws {
    guard let value, let problem = range.problem(value) else { return }
    throw ValidationError("\(name): \(problem)")
}

func checkOption(_ value: Int?, _ name: String, _ range: ClosedRange<Int>) throws {
    guard let value, !range.contains(value) else { return }
    throw ValidationError("\(name): \(value) is out of range (expected \(range.lowerBound)…\(range.upperBound))")
}

/// `--preset bone|skin|vessels|tumor`: parsed (and listed in the help) by swift-argument-parser.
extension Preset: ExpressibleByArgument {}

/// `--method threshold|connected|confidence`: an expert region (a recipe of one region).
extension Recipe.Region.Method: ExpressibleByArgument {}

/// `--deface auto|on|off`: whether a head's face is removed first (`DefaceStudy`).
extension DefaceStudy.Mode: ExpressibleByArgument {}

/// The help of `--deface`, the same for every command that has it.
func defaceHelp(_ auto: String) -> ArgumentHelp {
    ArgumentHelp("Remove a head's face before anything is made: auto (\(auto)), on (and fail when no face is found) or off.",
                 valueName: "auto|on|off")
}
