import VolumeCore

/// Why frames that share a SeriesInstanceUID were put into different volumes. The tests run
/// in this order, and the first that differs names the split (after dcm2niix's `isSameSet`).
public enum SplitReason: String, Sendable, Codable, CaseIterable {
    case seriesInstanceUID
    case modality
    case frameOfReference
    case dimensions
    case orientation
    case pixelSpacing
    case echo
    case stack
    case temporalPosition
    case acquisitionNumber
}

enum SeriesGrouping {
    /// Tolerance on direction cosines and on relative pixel spacing.
    static let orientationTolerance = 1e-3
    static let spacingTolerance = 1e-3

    /// The first reason why `a` and `b` cannot belong to one volume, or nil when they can.
    static func splitReason(_ a: FrameHeader, _ b: FrameHeader) -> SplitReason? {
        if a.seriesInstanceUID != b.seriesInstanceUID { return .seriesInstanceUID }
        if a.modality != b.modality { return .modality }
        if a.frameOfReferenceUID != b.frameOfReferenceUID { return .frameOfReference }
        if a.rows != b.rows || a.columns != b.columns { return .dimensions }
        if !sameDirection(a.rowDirection, b.rowDirection) || !sameDirection(a.columnDirection, b.columnDirection) {
            return .orientation
        }
        switch (a.pixelSpacing, b.pixelSpacing) {
        case (nil, nil): break
        case let (sa?, sb?):
            let relative = (sa - sb) / sa
            if abs(relative.x) > spacingTolerance || abs(relative.y) > spacingTolerance { return .pixelSpacing }
        default: return .pixelSpacing
        }
        if a.echo != b.echo { return .echo }
        if a.stack != b.stack { return .stack }
        if a.temporal != b.temporal { return .temporalPosition }
        return nil
    }

    private static func sameDirection(_ a: SIMD3<Double>?, _ b: SIMD3<Double>?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (a?, b?):
            let d = a - b
            return max(abs(d.x), abs(d.y), abs(d.z)) <= orientationTolerance
        default: return false
        }
    }

    struct Group {
        var frames: [FrameHeader]
        var splitBy: SplitReason?
    }

    /// Groups frames into candidate volumes, keeping the input order of groups and frames.
    static func group(_ frames: [FrameHeader]) -> [Group] {
        var groups: [Group] = []
        var bySeries: [String: [Int]] = [:]  // SeriesInstanceUID → indices into groups
        for frame in frames {
            let candidates = bySeries[frame.seriesInstanceUID, default: []]
            if let index = candidates.first(where: { splitReason(groups[$0].frames[0], frame) == nil }) {
                groups[index].frames.append(frame)
                continue
            }
            let reason = candidates.first.flatMap { splitReason(groups[$0].frames[0], frame) }
            if let reason, let first = candidates.first, groups[first].splitBy == nil {
                groups[first].splitBy = reason
            }
            bySeries[frame.seriesInstanceUID, default: []].append(groups.count)
            groups.append(Group(frames: [frame], splitBy: reason))
        }
        return groups.flatMap(splitByAcquisition)
    }

    /// Some scanners give every slice its own AcquisitionNumber, others reuse one series UID
    /// for repeated acquisitions over the same positions. Split by acquisition only when the
    /// group repeats positions and the split removes every repeat.
    private static func splitByAcquisition(_ group: Group) -> [Group] {
        guard hasRepeatedPositions(group.frames) else { return [group] }
        var parts: [String: [FrameHeader]] = [:]
        var order: [String] = []
        for frame in group.frames {
            let key = frame.acquisitionNumber ?? ""
            if parts[key] == nil { order.append(key) }
            parts[key, default: []].append(frame)
        }
        guard order.count > 1, order.allSatisfy({ !hasRepeatedPositions(parts[$0]!) }) else { return [group] }
        return order.map { Group(frames: parts[$0]!, splitBy: .acquisitionNumber) }
    }

    static func hasRepeatedPositions(_ frames: [FrameHeader]) -> Bool {
        guard let normal = frames.first?.normal else { return false }
        let distances = frames.compactMap { $0.position?.dot(normal) }.sorted()
        return zip(distances, distances.dropFirst()).contains { $1 - $0 < SeriesPlan.samePositionTolerance }
    }
}
