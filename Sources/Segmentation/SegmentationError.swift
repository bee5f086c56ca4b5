import VolumeCore

/// What is wrong with a segmentation request. Each case names the parameter or seed concerned.
public enum SegmentationError: Error, Equatable, Sendable, CustomStringConvertible {
    case noSeeds
    case seedOutsideVolume(seed: String, dimensions: SIMD3<Int>)
    case seedOutsideInterval(seed: String, value: Double, lower: Double, upper: Double)
    case emptyInterval(lower: Double, upper: Double)
    case gridMismatch(what: String, expected: SIMD3<Int>, found: SIMD3<Int>)
    case wrongModality(structure: String, expected: String, found: String)
    case invalidParameter(name: String, reason: String)
    case nothingFound(reason: String)
    /// A request the preset cannot serve, said as a notice (the reader's language).
    case refused(Notice)

    /// A refusal of `code` with its values; `text` is what it says in English.
    static func refused(_ code: Notice.Code, _ values: [String: String], _ text: String) -> SegmentationError {
        .refused(Notice(code, values, text: text))
    }

    /// What it says as a notice, where a reader can act on it (a seed, an interval, the study's kind).
    public var notice: Notice? {
        switch self {
        case .noSeeds:
            Notice(.noSeeds, text: description)
        case .seedOutsideVolume(let seed, let d):
            Notice(.seedOutsideVolume, ["seed": seed, "dimensions": "\(d.x) × \(d.y) × \(d.z)"], text: description)
        case .seedOutsideInterval(let seed, let value, let lower, let upper):
            Notice(.seedOutsideInterval, ["seed": seed, "value": format(value), "lower": format(lower), "upper": format(upper)], text: description)
        case .emptyInterval(let lower, let upper):
            Notice(.emptyInterval, ["lower": format(lower), "upper": format(upper)], text: description)
        case .wrongModality(let structure, let expected, let found):
            Notice(.wrongModality, ["structure": structure, "expected": expected, "found": found.isEmpty ? "?" : found], text: description)
        case .refused(let notice):
            notice
        case .gridMismatch, .invalidParameter, .nothingFound:
            nil
        }
    }

    public var description: String {
        switch self {
        case .noSeeds:
            return "no seed given: region growing needs at least one seed (--seed i,j,k or --seed-mm x,y,z)"
        case .seedOutsideVolume(let seed, let d):
            return "seed \(seed) lies outside the volume (\(d.x) × \(d.y) × \(d.z) voxels)"
        case .seedOutsideInterval(let seed, let value, let lower, let upper):
            return "seed \(seed) has value \(format(value)), outside the interval [\(format(lower)), \(format(upper))]: " +
                "it cannot start a region"
        case .emptyInterval(let lower, let upper):
            return "empty interval: lower \(format(lower)) is above upper \(format(upper))"
        case .gridMismatch(let what, let expected, let found):
            return "\(what) has \(found.x) × \(found.y) × \(found.z) voxels but the volume has " +
                "\(expected.x) × \(expected.y) × \(expected.z): not the same grid"
        case .wrongModality(let structure, let expected, let found):
            return "the \(structure) preset needs a \(expected) study, this series is \(found.isEmpty ? "of unknown modality" : found)"
        case .invalidParameter(let name, let reason):
            return "\(name): \(reason)"
        case .nothingFound(let reason):
            return reason
        case .refused(let notice):
            return notice.text
        }
    }
}

func format(_ value: Double) -> String {
    if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
    return String((value * 1000).rounded() / 1000)
}
