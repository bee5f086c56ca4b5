#!/usr/bin/env python3
"""Checks a scene package's scene.usdz with Pixar's USD (usd-core from PyPI): every validator
USD registers (the usdz package rules among them) runs on the stage and none may report an
error; the stage is Y-up in metres with a default prim; each structure of the level the manifest
names is a Mesh prim with its triangles, bound to a UsdPreviewSurface material of its colour,
and its box (UsdGeom.BBoxCache) within the glTF's quantization error (+ 0.001 mm) of the same
structure's box in that level's glTF (read by trimesh, node transforms applied). Prints a JSON summary; exits 1 naming the first
problem.

Usage: usdz_check.py PACKAGE_FOLDER
"""
import json
import sys
from pathlib import Path

import trimesh
from pxr import Usd, UsdGeom, UsdShade, UsdValidation


def fail(message: str) -> None:
    print(f"usdz_check.py: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    folder = Path(sys.argv[1])
    manifest = json.loads((folder / "manifest.json").read_text())
    usdz = manifest.get("usdz") or fail("the manifest names no usdz")
    level = next((l for l in manifest["levels"] if l["name"] == usdz["level"]), None) or fail(f"no level {usdz['level']}")
    path = folder / usdz["file"]
    stage = Usd.Stage.Open(str(path))
    if stage is None:
        fail(f"USD cannot open {path}")

    registry = UsdValidation.ValidationRegistry()
    validators = registry.GetOrLoadAllValidators()
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    problems = [f"{e.GetValidator().GetMetadata().name if e.GetValidator() else '?'}: {e.GetMessage()}"
                for e in errors if e.GetType() == UsdValidation.ValidationErrorType.Error]
    warnings = [e.GetMessage() for e in errors if e.GetType() == UsdValidation.ValidationErrorType.Warn]
    if problems:
        fail(f"{len(problems)} validator error(s): " + "; ".join(problems[:5]))

    if UsdGeom.GetStageUpAxis(stage) != UsdGeom.Tokens.y or UsdGeom.GetStageMetersPerUnit(stage) != 1.0:
        fail(f"stage is {UsdGeom.GetStageUpAxis(stage)}-up, {UsdGeom.GetStageMetersPerUnit(stage)} m per unit (want Y, 1)")
    if not stage.GetDefaultPrim():
        fail("no default prim")

    gltf = trimesh.load(str(folder / level["file"]), force="scene")
    # The glTF's positions are quantized: its box may lie that far from the exact one; USD's keeps 0.1 µm.
    tolerance = level["quantization_error_mm"] + 0.001
    cache = UsdGeom.BBoxCache(Usd.TimeCode.Default(), [UsdGeom.Tokens.default_])
    meshes = {prim.GetCustomDataByKey("structure"): prim for prim in stage.Traverse() if prim.IsA(UsdGeom.Mesh)}
    summary = {"file": usdz["file"], "level": usdz["level"], "bytes": path.stat().st_size,
               "validators": len(validators), "warnings": len(warnings), "structures": {}}
    for structure in level["structures"]:
        name = structure["name"]
        prim = meshes.get(name) or fail(f"no Mesh prim for structure {name} (has {sorted(meshes)})")
        mesh = UsdGeom.Mesh(prim)
        counts = mesh.GetFaceVertexCountsAttr().Get()
        if len(counts) != structure["triangles"] or set(counts) != {3}:
            fail(f"{name}: {len(counts)} faces, the manifest says {structure['triangles']} triangles")
        material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
        if not material:
            fail(f"{name}: no bound material")
        shader = material.ComputeSurfaceSource()[0]
        colour = shader.GetInput("diffuseColor").Get()
        expected = next(s["color"] for s in manifest["structures"] if s["name"] == name)
        if max(abs(a - b) for a, b in zip(colour, expected[:3])) > 1e-3:
            fail(f"{name}: diffuse colour {tuple(colour)}, the manifest says {expected[:3]}")
        box = cache.ComputeWorldBound(prim).ComputeAlignedRange()
        usd_box = [list(box.GetMin()), list(box.GetMax())]
        geometry = gltf.geometry.get(name) or fail(f"the glTF has no geometry {name}")
        node = next(n for n in gltf.graph.nodes_geometry if gltf.graph[n][1] == name)
        gltf_box = trimesh.transform_points(geometry.vertices, gltf.graph[node][0])
        gltf_box = [gltf_box.min(axis=0).tolist(), gltf_box.max(axis=0).tolist()]
        offset_mm = max(abs(a - b) for u, g in zip(usd_box, gltf_box) for a, b in zip(u, g)) * 1000
        if offset_mm > tolerance:
            fail(f"{name}: USD box {usd_box} and glTF box {gltf_box} differ by {offset_mm:.4f} mm (at most {tolerance:.4f})")
        summary["structures"][name] = {"triangles": len(counts), "box_offset_mm": round(offset_mm, 5)}
    print(json.dumps(summary, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
