import Foundation

/// The languages every word a clinician or a patient reads exists in: English, Japanese, Spanish
/// and Portuguese. One message catalogue per language (`Messages+<code>.swift`), the same keys in
/// each (a test checks); a page takes its catalogue whole and formats numbers and dates with the
/// reader's locale (`Intl` in the browser).
enum Language: String, CaseIterable, Sendable {
    case en, ja, es, pt

    /// `?lang=` when it names one of ours, else the first of the browser's Accept-Language that
    /// does (by its primary tag: "pt-BR" is Portuguese), else English.
    static func chosen(query: String?, acceptLanguage: String?) -> Language {
        if let query, let language = Language(tag: query) { return language }
        let ranked = (acceptLanguage ?? "").split(separator: ",").enumerated().compactMap { position, item -> (Double, Int, Language)? in
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let tag = parts.first, let language = Language(tag: tag) else { return nil }
            let weight = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return weight > 0 ? (weight, position, language) : nil
        }
        return ranked.sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }.first?.2 ?? .en
    }

    init?(tag: String) {
        let primary = tag.lowercased().split(separator: "-").first.map(String.init) ?? ""
        self.init(rawValue: primary)
    }

    /// The catalogue: every key the pages use.
    var messages: [String: String] {
        switch self {
        case .en: Messages.english
        case .ja: Messages.japanese
        case .es: Messages.spanish
        case .pt: Messages.portuguese
        }
    }
}

/// The message catalogues (one file each).
enum Messages {}
