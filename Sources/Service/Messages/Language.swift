import Foundation
import Hummingbird

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

extension Language {
    /// The catalogue as a JavaScript object literal, safe inside a <script> element.
    var catalogueScript: String {
        let text = messages
        return "{" + text.keys.sorted().map { "\(Viewer.jsString($0)): \(Viewer.jsString(text[$0]!))" }.joined(separator: ", ") + "}"
    }

    /// The start of a page in this language: doctype, language, character set, viewport, no
    /// favicon request, and its title (escaped).
    func pageStart(title: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="\(rawValue)">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <link rel="icon" href="data:,">
        <title>\(Viewer.escape(title))</title>
        """
    }
}

extension Language {
    /// The reader's language for a request: `?lang=`, else its Accept-Language, else English.
    static func of(_ request: Request) -> Language {
        chosen(query: request.uri.queryParameters["lang"].map(String.init), acceptLanguage: request.headers[.acceptLanguage])
    }

    /// A page in this language, said so in its headers (and that it varies with Accept-Language),
    /// with the policy that allows its own inline scripts and styles and nothing else inline.
    func htmlResponse(_ html: String, cacheControl: String? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8", .contentLanguage: rawValue, .vary: "Accept-Language",
                                   .contentSecurityPolicy: ResponsePolicy.htmlPolicy(for: html)]
        if let cacheControl { headers[.cacheControl] = cacheControl }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
