extension Messages {
    static let portuguese: [String: String] = [
        "viewer.title": "Cena 3D do VRPrep",
        "viewer.structures": "Estruturas",
        "viewer.loading": "carregando…",
        "viewer.ready": "pronta",
        "viewer.sceneFailed": "não foi possível carregar a cena",
        "viewer.packageFailed": "não foi possível carregar o pacote",
        "viewer.show": "mostrar",
        "viewer.opacity": "opacidade",
        "viewer.sideBySide": "par estéreo (lado a lado)",
        "viewer.anaglyph": "anáglifo (óculos vermelho-ciano)",
        "vr.enter": "ENTRAR EM RV",
        "vr.exit": "SAIR DA RV",
        "vr.notFound": "NENHUM ÓCULOS DE RV ENCONTRADO",
        "vr.notSupported": "ESTE NAVEGADOR NÃO SUPORTA RV",
        "structure.bone": "osso",
        "structure.skin": "pele",
        "structure.vessels": "vasos",
        "structure.tumor": "tumor",
        "structure.region": "região",
    ]
}
