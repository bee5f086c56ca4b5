/// A number as messages and the command line write it: binary noise (1e-9) rounded away, whole
/// numbers without a decimal point (0.9570312 as written in a DICOM header, 226 not 226.0).
public func plainNumber(_ value: Double) -> String {
    let rounded = (value * 1e9).rounded() / 1e9
    return rounded == rounded.rounded() && abs(rounded) < 1e15 ? String(Int(rounded)) : String(rounded)
}
