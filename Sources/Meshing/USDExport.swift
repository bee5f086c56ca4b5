import Foundation
import VolumeCore

/// A scene as a USD layer in its text form (`.usda`), the root layer of the package's
/// `scene.usdz` (issue "Scenes for slow links and headsets"): what Apple's AR Quick Look and
/// Vision Pro open. The same axes as the glTF (metres, +Y up: X = patient left, Y = superior,
/// Z = anterior, the patient upright), so each structure's box is the glTF's. One `Mesh` prim per
/// structure, named as in the glTF, with its normals, a `UsdPreviewSurface` material of its
/// colour (bound through `MaterialBindingAPI`) and its colour as `primvars:displayColor`; the
/// stage declares `upAxis`, `metersPerUnit` and its default prim, as USD's validators ask.
public enum USDExport {
    /// The bytes of the `.usda` layer. Positions in metres with 7 decimals (0.1 µm), normals with 4.
    public static func usda(_ meshes: [Mesh], root: String = "Patient", documentation: String = "VRPrep scene") -> Data {
        var out = TextBuffer()
        out.line("#usda 1.0")
        out.line("(")
        out.line("    defaultPrim = \"\(root)\"")
        out.line("    doc = \"\(escaped(documentation))\"")
        out.line("    metersPerUnit = 1")
        out.line("    upAxis = \"Y\"")
        out.line(")")
        out.line("")
        out.line("def Xform \"\(root)\" (")
        out.line("    kind = \"component\"")
        out.line(")")
        out.line("{")
        out.line("    def Scope \"Materials\"")
        out.line("    {")
        let names = primNames(meshes.map(\.name))
        for (mesh, name) in zip(meshes, names) {
            let c = mesh.color
            out.line("        def Material \"\(name)\"")
            out.line("        {")
            out.line("            token outputs:surface.connect = </\(root)/Materials/\(name)/Surface.outputs:surface>")
            out.line("")
            out.line("            def Shader \"Surface\"")
            out.line("            {")
            out.line("                uniform token info:id = \"UsdPreviewSurface\"")
            out.line("                color3f inputs:diffuseColor = (\(c.r), \(c.g), \(c.b))")
            out.line("                float inputs:metallic = 0")
            out.line("                float inputs:opacity = \(c.a)")
            out.line("                float inputs:roughness = 0.6")
            out.line("                token outputs:surface")
            out.line("            }")
            out.line("        }")
        }
        out.line("    }")
        for (source, name) in zip(meshes, names) {
            let mesh = source.normals.count == source.vertexCount ? source : source.withNormals()
            let points = mesh.positions.map { SIMD3<Double>(Double($0.x), Double($0.z), -Double($0.y)) * 0.001 }
            var lo = points.first ?? .zero, hi = lo
            for p in points {
                lo = pointwiseMin(lo, p)
                hi = pointwiseMax(hi, p)
            }
            out.line("")
            out.line("    def Mesh \"\(name)\" (")
            out.line("        prepend apiSchemas = [\"MaterialBindingAPI\"]")
            out.line("        customData = {")
            out.line("            string structure = \"\(escaped(mesh.name))\"")
            out.line("        }")
            out.line("    )")
            out.line("    {")
            out.text("        float3[] extent = [")
            out.vector(lo, decimals: 7)
            out.text(", ")
            out.vector(hi, decimals: 7)
            out.line("]")
            out.text("        int[] faceVertexCounts = [")
            for t in 0..<mesh.triangleCount {
                if t > 0 { out.text(", ") }
                out.byte(UInt8(ascii: "3"))
            }
            out.line("]")
            out.text("        int[] faceVertexIndices = [")
            for (n, index) in mesh.indices.enumerated() {
                if n > 0 { out.text(", ") }
                out.integer(Int(index))
            }
            out.line("]")
            out.line("        rel material:binding = </\(root)/Materials/\(name)>")
            out.text("        normal3f[] normals = [")
            for (n, normal) in mesh.normals.enumerated() {
                if n > 0 { out.text(", ") }
                out.vector(SIMD3<Double>(Double(normal.x), Double(normal.z), -Double(normal.y)), decimals: 4)
            }
            out.line("] (")
            out.line("            interpolation = \"vertex\"")
            out.line("        )")
            out.line("        uniform token orientation = \"rightHanded\"")
            out.text("        point3f[] points = [")
            for (n, p) in points.enumerated() {
                if n > 0 { out.text(", ") }
                out.vector(p, decimals: 7)
            }
            out.line("]")
            out.line("        color3f[] primvars:displayColor = [(\(mesh.color.r), \(mesh.color.g), \(mesh.color.b))] (")
            out.line("            interpolation = \"constant\"")
            out.line("        )")
            out.line("        uniform token subdivisionScheme = \"none\"")
            out.line("    }")
        }
        out.line("}")
        return Data(out.bytes)
    }

    /// Valid, distinct USD prim names for the structures (letters, digits and `_`, not starting
    /// with a digit), as close to their names as that allows.
    public static func primNames(_ names: [String]) -> [String] {
        var used = Set<String>(["Materials"]), out: [String] = []
        for name in names {
            var base = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
            if base.isEmpty || base.first!.isNumber { base = "_" + base }
            var candidate = base, n = 2
            while used.contains(candidate) {
                candidate = "\(base)_\(n)"
                n += 1
            }
            used.insert(candidate)
            out.append(candidate)
        }
        return out
    }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: " ")
    }
}

/// ASCII text built byte by byte: a scene's arrays hold millions of numbers, and formatting
/// them through `String(format:)` would take seconds.
struct TextBuffer {
    var bytes: [UInt8] = []

    mutating func text(_ s: String) { bytes.append(contentsOf: s.utf8) }
    mutating func line(_ s: String) {
        text(s)
        bytes.append(0x0A)
    }
    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func integer(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        let v = value.magnitude
        var divisor: UInt = 1
        while divisor <= v / 10 { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(v / divisor % 10))
            divisor /= 10
        }
    }

    /// A number with a fixed count of decimals (rounded), as `-0.0123450`.
    mutating func fixed(_ value: Double, decimals: Int) {
        var scale = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((abs(value) * Double(scale)).rounded())
        if value < 0 && scaled != 0 { bytes.append(UInt8(ascii: "-")) }
        integer(scaled / scale)
        guard decimals > 0 else { return }
        bytes.append(UInt8(ascii: "."))
        var fraction = scaled % scale, divisor = scale / 10
        for _ in 0..<decimals {
            bytes.append(UInt8(ascii: "0") + UInt8(fraction / divisor))
            fraction %= divisor
            divisor = max(divisor / 10, 1)
        }
    }

    mutating func vector(_ v: SIMD3<Double>, decimals: Int) {
        bytes.append(UInt8(ascii: "("))
        fixed(v.x, decimals: decimals)
        text(", ")
        fixed(v.y, decimals: decimals)
        text(", ")
        fixed(v.z, decimals: decimals)
        bytes.append(UInt8(ascii: ")"))
    }
}
