extension Messages {
    static let japanese: [String: String] = [
        "viewer.title": "VRPrep 3Dシーン",
        "viewer.structures": "構造",
        "viewer.loading": "読み込み中…",
        "viewer.ready": "準備完了",
        "viewer.sceneFailed": "シーンを読み込めませんでした",
        "viewer.packageFailed": "パッケージを読み込めませんでした",
        "viewer.show": "表示",
        "viewer.opacity": "不透明度",
        "viewer.sideBySide": "ステレオペア（左右並列）",
        "viewer.anaglyph": "アナグリフ（赤青メガネ用）",
        "vr.enter": "VRで見る",
        "vr.exit": "VRを終了",
        "vr.notFound": "VRヘッドセットが見つかりません",
        "vr.notSupported": "このブラウザはVRに対応していません",
        "structure.bone": "骨",
        "structure.skin": "皮膚",
        "structure.vessels": "血管",
        "structure.tumor": "腫瘍",
        "structure.region": "領域",
    ]
}
