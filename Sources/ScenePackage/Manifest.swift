import Foundation
import VolumeCore

/// `manifest.json` of a scene package, format `vrprep.scene/1` (DESIGN.md): what the package
/// holds, where it came from (de-identified), how it was made, and every file's size and
/// SHA-256. The package id is the SHA-256 of the canonical manifest (sorted keys, no spaces,
/// without the id itself).
public struct Manifest: Codable, Sendable, Equatable {
    public static let schemaName = "vrprep.scene/1"

    public var schema: String
    /// Hex SHA-256 of the canonical manifest without this field; nil while it is being made.
    public var packageID: String?
    public var software: Software
    /// The recipe the structures came from, as given (JSON).
    public var recipe: JSONValue
    public var source: Source
    public var structures: [Structure]
    public var renders: [Render]
    /// The scene's levels of detail, coarsest first (preview, headset, full); nil in packages made
    /// before levels existed.
    public var levels: [Level]?
    /// What the scene was made for (`vrprep process --profile`); nil in packages made before
    /// profiles existed (they are desktop scenes with float positions).
    public var profile: Profile?
    /// The scene as USD (`scene.usdz`, for Apple's AR Quick Look) and the level it was made
    /// from; nil where there is none (print scenes, packages made before).
    public var usdz: USDZ?
    /// Whether the study's face was removed before the scene was made; nil in packages made
    /// before defacing existed (they say nothing, and are treated as keeping a face).
    public var defacing: Defacing?
    public var files: [File]

    /// DICOM PS3.15 Annex E "Clean Recognizable Visual Features": how the face was handled.
    public struct Defacing: Codable, Sendable, Equatable {
        /// The mode asked for: auto, on or off.
        public var mode: String
        /// Whether a face was found in the study, and whether it was removed.
        public var faceFound: Bool
        public var removed: Bool
        /// What was done, or why nothing was.
        public var method: String
        public var removedML: Double?
        /// Where nothing may lie once the face is removed (patient LPS mm, as the meshes): in
        /// front of the plane `clearMM` along `anterior`, between `bottomMM` and `topMM` along
        /// `superior`, within `halfWidthMM` of the midline through `midlineMM`.
        public var clearZone: ClearZone?

        public struct ClearZone: Codable, Sendable, Equatable {
            public var anterior: [Double]
            public var superior: [Double]
            public var midlineMM: [Double]
            public var clearMM: Double
            public var bottomMM: Double
            public var topMM: Double
            public var halfWidthMM: Double

            enum CodingKeys: String, CodingKey {
                case anterior, superior, midlineMM = "midline_mm", clearMM = "clear_mm", bottomMM = "bottom_mm", topMM = "top_mm"
                case halfWidthMM = "half_width_mm"
            }

            public init(anterior: [Double], superior: [Double], midlineMM: [Double], clearMM: Double, bottomMM: Double, topMM: Double, halfWidthMM: Double) {
                (self.anterior, self.superior, self.midlineMM, self.clearMM) = (anterior, superior, midlineMM, clearMM)
                (self.bottomMM, self.topMM, self.halfWidthMM) = (bottomMM, topMM, halfWidthMM)
            }

            /// Whether a point (LPS mm) lies in the zone.
            public func contains(_ p: SIMD3<Double>) -> Bool {
                guard anterior.count == 3, superior.count == 3, midlineMM.count == 3 else { return false }
                let a = SIMD3(anterior[0], anterior[1], anterior[2]), s = SIMD3(superior[0], superior[1], superior[2])
                let m = SIMD3(midlineMM[0], midlineMM[1], midlineMM[2])
                let up = p.dot(s)
                return p.dot(a) > clearMM && up >= bottomMM && up <= topMM && abs((p - m).dot(a.cross(s))) <= halfWidthMM
            }
        }

        enum CodingKeys: String, CodingKey {
            case mode, faceFound = "face_found", removed, method, removedML = "removed_ml", clearZone = "clear_zone"
        }

        public init(mode: String, faceFound: Bool, removed: Bool, method: String, removedML: Double? = nil, clearZone: ClearZone? = nil) {
            (self.mode, self.faceFound, self.removed, self.method, self.removedML, self.clearZone) = (mode, faceFound, removed, method, removedML, clearZone)
        }
    }

    public struct USDZ: Codable, Sendable, Equatable {
        public var file: String
        /// The level of detail its surfaces are: headset, or full where there is no headset level.
        public var level: String

        public init(file: String, level: String) {
            self.file = file
            self.level = level
        }
    }

    /// The profile a scene was made with and the budgets it set.
    public struct Profile: Codable, Sendable, Equatable {
        /// desktop, headset, phone or print.
        public var name: String
        /// The most triangles of each structure's full surface.
        public var maxStructureTriangles: Int
        /// The most triangles of the whole full scene; nil: no limit but the structures' own.
        public var maxSceneTriangles: Int?
        /// Whether `scene.glb`'s positions and normals are quantized (KHR_mesh_quantization).
        public var quantized: Bool

        public init(name: String, maxStructureTriangles: Int, maxSceneTriangles: Int?, quantized: Bool) {
            self.name = name
            self.maxStructureTriangles = maxStructureTriangles
            self.maxSceneTriangles = maxSceneTriangles
            self.quantized = quantized
        }

        enum CodingKeys: String, CodingKey {
            case name, maxStructureTriangles = "max_structure_triangles", maxSceneTriangles = "max_scene_triangles", quantized
        }
    }

    /// One level of detail of the whole scene: a glTF binary holding every structure.
    public struct Level: Codable, Sendable, Equatable {
        /// preview, headset or full.
        public var name: String
        public var file: String
        public var triangles: Int
        public var bytes: Int
        /// The largest distance (mm) between this level's surfaces and the full level's, both
        /// ways (each one's vertices to the other's triangles); 0 for the full level.
        public var maxDistanceMM: Double
        /// The largest displacement (mm) its quantized positions add (half a step of the 16-bit
        /// grid over each structure's box); 0 where positions are floats.
        public var quantizationErrorMM: Double
        /// Whether every structure's surface in it is closed and manifold.
        public var watertight: Bool
        public var structures: [LevelStructure]

        enum CodingKeys: String, CodingKey {
            case name, file, triangles, bytes, maxDistanceMM = "max_distance_mm", quantizationErrorMM = "quantization_error_mm"
            case watertight, structures
        }

        public init(name: String, file: String, triangles: Int, bytes: Int, maxDistanceMM: Double, quantizationErrorMM: Double,
                    watertight: Bool, structures: [LevelStructure]) {
            self.name = name
            self.file = file
            self.triangles = triangles
            self.bytes = bytes
            self.maxDistanceMM = maxDistanceMM
            self.quantizationErrorMM = quantizationErrorMM
            self.watertight = watertight
            self.structures = structures
        }
    }

    /// A structure in a level: its triangles there and its distance to its full surface.
    public struct LevelStructure: Codable, Sendable, Equatable {
        public var name: String
        public var triangles: Int
        public var maxDistanceMM: Double

        enum CodingKeys: String, CodingKey {
            case name, triangles, maxDistanceMM = "max_distance_mm"
        }

        public init(name: String, triangles: Int, maxDistanceMM: Double) {
            self.name = name
            self.triangles = triangles
            self.maxDistanceMM = maxDistanceMM
        }
    }

    public struct Software: Codable, Sendable, Equatable {
        public var name: String
        public var version: String

        public init(name: String, version: String) {
            self.name = name
            self.version = version
        }
    }

    /// The study, without identity: UIDs replaced by hashed ones (consistent within a package),
    /// modality and geometry kept (PS3.15 Annex E, Basic Application Level Confidentiality Profile).
    public struct Source: Codable, Sendable, Equatable {
        public var studyUID: String
        public var seriesUID: String
        public var frameOfReferenceUID: String?
        public var modality: String
        public var dimensions: [Int]
        public var spacingMM: [Double]
        public var originMM: [Double]
        public var direction: [Double]
        public var deidentification: String

        enum CodingKeys: String, CodingKey {
            case studyUID = "study_uid", seriesUID = "series_uid", frameOfReferenceUID = "frame_of_reference_uid"
            case modality, dimensions, spacingMM = "spacing_mm", originMM = "origin_mm", direction, deidentification
        }

        public init(studyUID: String, seriesUID: String, frameOfReferenceUID: String?, modality: String, dimensions: [Int],
                    spacingMM: [Double], originMM: [Double], direction: [Double], deidentification: String) {
            self.studyUID = studyUID
            self.seriesUID = seriesUID
            self.frameOfReferenceUID = frameOfReferenceUID
            self.modality = modality
            self.dimensions = dimensions
            self.spacingMM = spacingMM
            self.originMM = originMM
            self.direction = direction
            self.deidentification = deidentification
        }
    }

    public struct Structure: Codable, Sendable, Equatable {
        public var name: String
        public var label: Int
        /// RGBA, 0…1.
        public var color: [Double]
        public var volumeML: Double
        public var areaMM2: Double
        public var triangles: Int
        public var watertight: Bool
        /// The STL file, and the glTF node holding the structure.
        public var file: String
        public var node: String

        enum CodingKeys: String, CodingKey {
            case name, label, color, volumeML = "volume_ml", areaMM2 = "area_mm2", triangles, watertight, file, node
        }

        public init(name: String, label: Int, color: [Double], volumeML: Double, areaMM2: Double, triangles: Int,
                    watertight: Bool, file: String, node: String) {
            self.name = name
            self.label = label
            self.color = color
            self.volumeML = volumeML
            self.areaMM2 = areaMM2
            self.triangles = triangles
            self.watertight = watertight
            self.file = file
            self.node = node
        }
    }

    public struct Render: Codable, Sendable, Equatable {
        /// left, right, side-by-side, anaglyph, thumbnail, or turntable (an H.264 MP4).
        public var kind: String
        public var file: String
        public var width: Int
        public var height: Int
        public var view: String
        /// A video's frames and frames per second (absent for pictures).
        public var frames: Int?
        public var framesPerSecond: Int?

        public init(kind: String, file: String, width: Int, height: Int, view: String, frames: Int? = nil, framesPerSecond: Int? = nil) {
            self.kind = kind
            self.file = file
            self.width = width
            self.height = height
            self.view = view
            self.frames = frames
            self.framesPerSecond = framesPerSecond
        }
    }

    public struct File: Codable, Sendable, Equatable {
        public var path: String
        public var bytes: Int
        public var sha256: String

        public init(path: String, bytes: Int, sha256: String) {
            self.path = path
            self.bytes = bytes
            self.sha256 = sha256
        }
    }

    enum CodingKeys: String, CodingKey {
        case schema, packageID = "package_id", software, recipe, source, structures, renders, levels, profile, usdz, defacing, files
    }

    public init(software: Software, recipe: JSONValue, source: Source, structures: [Structure], renders: [Render],
                levels: [Level]? = nil, profile: Profile? = nil, usdz: USDZ? = nil, defacing: Defacing? = nil, files: [File]) {
        self.schema = Self.schemaName
        self.packageID = nil
        self.software = software
        self.recipe = recipe
        self.source = source
        self.structures = structures
        self.renders = renders
        self.levels = levels
        self.profile = profile
        self.usdz = usdz
        self.defacing = defacing
        self.files = files
    }

    /// The canonical bytes the id is computed from: sorted keys, no whitespace, no id.
    public func canonicalData() throws -> Data {
        var copy = self
        copy.packageID = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(copy)
    }

    /// The manifest as written: pretty, sorted keys, with its id.
    public func fileData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }
}

/// Any JSON value (for the recipe, which the package does not interpret).
public enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// A value from any Encodable (through JSON).
    public static func from<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}
