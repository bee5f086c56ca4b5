/// The names of our presets' structures as a clinician or a patient reads them, in each language
/// we write (English, Japanese, Spanish, Portuguese): the labelled renders draw them, and the
/// service's pages take them into their message catalogues ("structure.bone", …).
public enum StructureWords {
    public static let languages = ["en", "ja", "es", "pt"]

    static let words: [String: [String: String]] = [
        "en": ["bone": "bone", "skin": "skin", "vessels": "vessels", "tumor": "tumor", "region": "region"],
        "ja": ["bone": "骨", "skin": "皮膚", "vessels": "血管", "tumor": "腫瘍", "region": "領域"],
        "es": ["bone": "hueso", "skin": "piel", "vessels": "vasos", "tumor": "tumor", "region": "región"],
        "pt": ["bone": "osso", "skin": "pele", "vessels": "vasos", "tumor": "tumor", "region": "região"],
    ]

    /// A structure's name in `language`; a name that is not one of ours (an imported label map's
    /// "liver") as it is.
    public static func name(_ structure: String, language: String) -> String {
        words[language]?[structure] ?? structure
    }

    /// The catalogue entries of a language: "structure.bone" → its word.
    public static func messages(language: String) -> [String: String] {
        Dictionary(uniqueKeysWithValues: (words[language] ?? [:]).map { ("structure." + $0.key, $0.value) })
    }
}
