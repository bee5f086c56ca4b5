/// Which neighbours of a voxel touch it: faces (6), faces and edges (18), or also corners (26).
public enum Connectivity: Int, Sendable, CaseIterable, Codable {
    case six = 6
    case eighteen = 18
    case twentySix = 26

    /// Rows of the previous row and slice that can touch a run in row (y, z), as (dy, dz), and
    /// whether runs touch when they only meet at their ends' diagonal (x ± 1).
    var earlierRows: [(dy: Int, dz: Int, diagonal: Bool)] {
        switch self {
        case .six: return [(-1, 0, false), (0, -1, false)]
        case .eighteen: return [(-1, 0, true), (0, -1, true), (-1, -1, false), (1, -1, false)]
        case .twentySix: return [(-1, 0, true), (0, -1, true), (-1, -1, true), (1, -1, true)]
        }
    }

    /// Every neighbouring row, before and after (for breadth-first walks).
    var allRows: [(dy: Int, dz: Int, diagonal: Bool)] {
        earlierRows + earlierRows.map { (-$0.dy, -$0.dz, $0.diagonal) }
    }

    /// The neighbours' offsets (dx, dy, dz), for voxel-by-voxel walks.
    var offsets: [(Int, Int, Int)] {
        var out: [(Int, Int, Int)] = []
        for dz in -1...1 {
            for dy in -1...1 {
                for dx in -1...1 {
                    let order = abs(dx) + abs(dy) + abs(dz)
                    if order == 0 || (self == .six && order > 1) || (self == .eighteen && order > 2) { continue }
                    out.append((dx, dy, dz))
                }
            }
        }
        return out
    }
}
