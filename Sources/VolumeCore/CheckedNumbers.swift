/// Numbers that come from outside (DICOM tags, NIfTI headers, recipes, options) are checked where
/// they enter; these helpers make the conversions after the checks safe as well, so that a value
/// that slipped through gives a wrong-but-bounded answer, never a trap.

extension Int {
    /// `value` rounded toward zero and saturated at `Int`'s limits; NaN becomes 0.
    /// (`Int(_:)` traps on NaN, infinities and values beyond ±9.2e18.)
    @inlinable
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9.223372036854775e18 {
            self = .max
        } else if value <= -9.223372036854775e18 {
            self = .min
        } else {
            self = Int(value)
        }
    }
}

/// A number's allowed range with its unit, for checks that name what they refuse.
public struct CheckedRange: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    /// Whether the bounds themselves are allowed.
    public var lowerIncluded: Bool
    public var upperIncluded: Bool
    public var unit: String

    public init(_ lower: Double, _ upper: Double, unit: String = "", lowerIncluded: Bool = true, upperIncluded: Bool = true) {
        self.lower = lower
        self.upper = upper
        self.unit = unit
        self.lowerIncluded = lowerIncluded
        self.upperIncluded = upperIncluded
    }

    public func contains(_ value: Double) -> Bool {
        guard value.isFinite else { return false }
        return (lowerIncluded ? value >= lower : value > lower) && (upperIncluded ? value <= upper : value < upper)
    }

    /// "more than 0 and at most 500 mm", "at least -1000000 and at most 1000000", …
    public var description: String {
        let suffix = unit.isEmpty ? "" : " \(unit)"
        let low = (lowerIncluded ? "at least " : "more than ") + Self.text(lower)
        let high = (upperIncluded ? "at most " : "less than ") + Self.text(upper)
        return "\(low) and \(high)\(suffix)"
    }

    /// Nil when `value` lies in the range, else why not ("1e+300 is out of range (expected …)").
    public func problem(_ value: Double) -> String? {
        if contains(value) { return nil }
        let what = value.isFinite ? "is out of range" : "is not a finite number"
        return "\(Self.text(value)) \(what) (expected a number \(description))"
    }

    public static func text(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return "\(value)"
    }
}

extension VolumeGeometry {
    /// Voxel spacing of a real scan, mm: from a micro-CT's micrometre to a scout's metre.
    public static let spacingRange = CheckedRange(0.001, 1000, unit: "mm")
    /// Patient coordinates, mm: a scanner is not a kilometre wide.
    public static let coordinateRange = CheckedRange(-1e6, 1e6, unit: "mm")

    /// Why this grid cannot be a scan's (a spacing, origin or direction out of physical range,
    /// or no voxel at all), or nil when it is plausible. Loaders call it before anything is
    /// computed from the geometry.
    public var problem: String? {
        guard dimensions.x > 0, dimensions.y > 0, dimensions.z > 0 else {
            return "the grid has no voxel (\(dimensions.x)×\(dimensions.y)×\(dimensions.z))"
        }
        for axis in 0..<3 {
            if let problem = Self.spacingRange.problem(spacing[axis]) {
                return "voxel spacing along \(["x", "y", "z"][axis]): \(problem)"
            }
            if let problem = Self.coordinateRange.problem(origin[axis]) { return "origin: \(problem)" }
            let column = direction.column(axis)
            guard column.x.isFinite, column.y.isFinite, column.z.isFinite, abs(column.length - 1) < 1e-3 else {
                return "direction of axis \(["i", "j", "k"][axis]) is not a unit vector"
            }
        }
        let determinant = direction.determinant
        guard determinant.isFinite, abs(determinant) > 1e-3 else { return "the axes are parallel (singular direction)" }
        return nil
    }
}
