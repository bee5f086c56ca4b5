import Foundation

/// C strings that live as long as this object: for C calls taking structures of `const char *`.
final class CStrings {
    private var kept: [UnsafeMutablePointer<CChar>] = []

    func callAsFunction(_ text: String) -> UnsafePointer<CChar> {
        let copy = strdup(text)!
        kept.append(copy)
        return UnsafePointer(copy)
    }

    deinit { kept.forEach { free($0) } }
}
