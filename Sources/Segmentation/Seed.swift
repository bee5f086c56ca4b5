import VolumeCore

/// Where region growing starts: a voxel index (i, j, k) or a patient position (LPS, mm).
public enum Seed: Equatable, Sendable, CustomStringConvertible {
    case voxel(SIMD3<Int>)
    case patient(SIMD3<Double>)

    public var description: String {
        switch self {
        case .voxel(let v): return "voxel (\(v.x), \(v.y), \(v.z))"
        case .patient(let p): return "(\(format(p.x)), \(format(p.y)), \(format(p.z))) mm"
        }
    }
}

/// A seed placed on the grid: both forms, and the value found there.
public struct ResolvedSeed: Equatable, Sendable {
    public var given: Seed
    public var index: SIMD3<Int>
    public var patient: SIMD3<Double>
    public var value: Double
}

extension Seed {
    /// Places the seed on `volume`'s grid (patient positions go to the nearest voxel centre).
    func resolve(in volume: AnyVolume) throws(SegmentationError) -> ResolvedSeed {
        let geometry = volume.geometry
        let index: SIMD3<Int>
        switch self {
        case .voxel(let v): index = v
        case .patient(let p):
            guard let nearest = geometry.nearestIndex(ofPatient: p) else {
                throw .invalidParameter(name: "volume direction", reason: "singular direction matrix")
            }
            index = nearest
        }
        guard geometry.contains(index) else { throw .seedOutsideVolume(seed: description, dimensions: geometry.dimensions) }
        return ResolvedSeed(given: self, index: index, patient: geometry.patientPosition(ofIndex: index),
                            value: volume.value(index.x, index.y, index.z))
    }
}
