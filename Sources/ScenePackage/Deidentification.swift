import Crypto
import Foundation
import VolumeCore

/// De-identification of what a package says about its study (DICOM PS3.15 Annex E, Basic
/// Application Level Confidentiality Profile): names, IDs, dates, times, institution, device
/// and description attributes are not carried at all; UIDs are replaced by UIDs under the
/// 2.25 root made from a keyed hash (the key is the study's own voxel data, so the same study
/// always gets the same UIDs, within and across runs, while the originals cannot be computed back
/// without the images).
public struct Deidentification: Sendable {
    public static let profile = "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile (113100): " +
        "patient, study, device and institution attributes removed; UIDs replaced (2.25, keyed hash)"

    private let key: Data

    public init(volume: AnyVolume) {
        var hasher = SHA256()
        switch volume {
        case .int16(let v): v.voxels.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        case .float32(let v): v.voxels.withUnsafeBytes { hasher.update(bufferPointer: $0) }
        }
        key = Data(hasher.finalize())
    }

    /// A replacement UID: "2.25." and the decimal value of 128 bits of HMAC-SHA-256(uid).
    public func replace(_ uid: String) -> String {
        let mac = Array(HMAC<SHA256>.authenticationCode(for: Data(uid.utf8), using: SymmetricKey(data: key)))
        return "2.25." + Self.decimal(Array(mac.prefix(16)))
    }

    /// The decimal digits of a big-endian unsigned integer.
    static func decimal(_ bytes: [UInt8]) -> String {
        var number = bytes.map { UInt32($0) }
        var digits: [Character] = []
        while number.contains(where: { $0 != 0 }) {
            var remainder: UInt32 = 0
            for i in number.indices {
                let value = remainder << 8 | number[i]
                number[i] = value / 10
                remainder = value % 10
            }
            digits.append(Character(String(remainder)))
        }
        return digits.isEmpty ? "0" : String(digits.reversed())
    }
}
