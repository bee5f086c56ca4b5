extension Messages {
    static let english: [String: String] = [
        "viewer.title": "VRPrep 3D scene",
        "viewer.structures": "Structures",
        "viewer.loading": "loading…",
        "viewer.ready": "ready",
        "viewer.sceneFailed": "could not load the scene",
        "viewer.packageFailed": "could not load the package",
        "viewer.show": "show",
        "viewer.opacity": "opacity",
        "viewer.sideBySide": "stereo pair (side by side)",
        "viewer.anaglyph": "anaglyph (red-cyan glasses)",
        "vr.enter": "ENTER VR",
        "vr.exit": "EXIT VR",
        "vr.notFound": "NO VR HEADSET FOUND",
        "vr.notSupported": "THIS BROWSER HAS NO VR",
        "structure.bone": "bone",
        "structure.skin": "skin",
        "structure.vessels": "vessels",
        "structure.tumor": "tumor",
        "structure.region": "region",
    ]
}
