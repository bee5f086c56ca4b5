/// What went wrong reading DICOM input. Every case names the file (or input) it concerns.
public enum DicomError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A path given by the user does not exist or cannot be read.
    case inputNotFound(path: String)
    /// The file is not DICOM (or is damaged before the dataset could be parsed).
    case notDicom(path: String, reason: String)
    /// The file is DICOM but cannot be used as an image (no pixel data, bad header, ...).
    case unusable(path: String, reason: String)
    /// The pixel data cannot be decoded (unsupported transfer syntax, corrupt stream, ...).
    case decodeFailed(path: String, reason: String)
    /// A zip archive that cannot be read, or an entry that is refused.
    case archive(path: String, reason: String)
    /// A series that cannot be assembled into a volume.
    case series(uid: String, reason: String)

    public var path: String {
        switch self {
        case .inputNotFound(let path), .notDicom(let path, _), .unusable(let path, _),
             .decodeFailed(let path, _), .archive(let path, _):
            return path
        case .series(let uid, _):
            return uid
        }
    }

    public var reason: String {
        switch self {
        case .inputNotFound: return "no such file or folder"
        case .notDicom(_, let reason), .unusable(_, let reason), .decodeFailed(_, let reason),
             .archive(_, let reason), .series(_, let reason):
            return reason
        }
    }

    public var description: String { "\(path): \(reason)" }
}
