/// An image's size in pixels, as `--size WIDTHxHEIGHT` gives it: positive whole numbers (the
/// renderer checks the driver's limit).
public struct ImageSize: Sendable, Equatable {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        (self.width, self.height) = (width, height)
    }

    /// "1024x768" (or "1024X768"); nil for anything else.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let w = parts[0], let h = parts[1], w > 0, h > 0 else { return nil }
        (width, height) = (w, h)
    }

    public var aspect: Double { Double(width) / Double(height) }
}
