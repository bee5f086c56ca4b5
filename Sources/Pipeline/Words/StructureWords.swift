import VolumeCore

/// The names of our presets' structures as a clinician or a patient reads them, in each language
/// we write (English, Japanese, Spanish, Portuguese): the labelled renders draw them, and the
/// service's pages take them into their message catalogues ("structure.bone", …). Words live in
/// Words/, as the pages' catalogues live in Service/Messages/: a word here is a translation, which may
/// be the same as a preset's name, not a name of a preset (those are `Preset`'s).
public enum StructureWords {
    public static let languages = ["en", "ja", "es", "pt"]

    /// Per language, our labels' names (`Preset.label.name`, the expert region's) → the word.
    static let words: [String: [String: String]] = [
        "en": table(bone: "bone", skin: "skin", vessels: "vessels", tumor: "tumor", region: "region"),
        "ja": table(bone: "骨", skin: "皮膚", vessels: "血管", tumor: "腫瘍", region: "領域"),
        "es": table(bone: "hueso", skin: "piel", vessels: "vasos", tumor: "tumor", region: "región"),
        "pt": table(bone: "osso", skin: "pele", vessels: "vasos", tumor: "tumor", region: "região"),
    ]

    private static func table(bone: String, skin: String, vessels: String, tumor: String, region: String) -> [String: String] {
        [Preset.bone.label.name: bone, Preset.skin.label.name: skin, Preset.vessels.label.name: vessels,
         Preset.tumor.label.name: tumor, Recipe.Region.label.name: region]
    }

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
