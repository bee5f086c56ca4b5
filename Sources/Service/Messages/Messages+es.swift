extension Messages {
    static let spanish: [String: String] = [
        "viewer.title": "Escena 3D de VRPrep",
        "viewer.structures": "Estructuras",
        "viewer.loading": "cargando…",
        "viewer.ready": "lista",
        "viewer.sceneFailed": "no se pudo cargar la escena",
        "viewer.packageFailed": "no se pudo cargar el paquete",
        "viewer.show": "mostrar",
        "viewer.opacity": "opacidad",
        "viewer.sideBySide": "par estéreo (lado a lado)",
        "viewer.anaglyph": "anaglifo (gafas rojo-cian)",
        "vr.enter": "ENTRAR EN RV",
        "vr.exit": "SALIR DE RV",
        "vr.notFound": "NO SE ENCONTRÓ UN VISOR DE RV",
        "vr.notSupported": "ESTE NAVEGADOR NO ADMITE RV",
        "structure.bone": "hueso",
        "structure.skin": "piel",
        "structure.vessels": "vasos",
        "structure.tumor": "tumor",
        "structure.region": "región",
    ]
}
