#!/usr/bin/env python3
"""Reads every level of detail of a scene package with other tools: pygltflib (the document:
one mesh per structure, named as the manifest says; KHR_mesh_quantization declared where the
positions are integers) and trimesh (the geometry, node transforms applied: each structure's
triangles as the manifest counts them, watertight as it says, and the level's box within 1 mm
of the full level's). Prints a JSON summary (with each file's size gzipped, as it goes on the
wire); exits 1 naming the first problem.

Usage: gltf_check.py PACKAGE_FOLDER
"""
import gzip
import json
import sys
from pathlib import Path

import pygltflib
import trimesh


def fail(message: str) -> None:
    print(f"gltf_check.py: {message}", file=sys.stderr)
    sys.exit(1)


def main() -> None:
    folder = Path(sys.argv[1])
    manifest = json.loads((folder / "manifest.json").read_text())
    levels = manifest.get("levels") or fail("the manifest lists no levels")
    full = next((level for level in levels if level["name"] == "full"), None) or fail("no full level")
    boxes, summary = {}, {}
    for level in levels:
        path = folder / level["file"]
        document = pygltflib.GLTF2().load(str(path))
        names = [mesh.name for mesh in document.meshes]
        expected = [structure["name"] for structure in level["structures"]]
        if names != expected:
            fail(f"{level['file']}: meshes {names}, the manifest says {expected}")
        quantized = "KHR_mesh_quantization" in (document.extensionsRequired or [])
        if quantized != (level["quantization_error_mm"] > 0):
            fail(f"{level['file']}: KHR_mesh_quantization {'required' if quantized else 'absent'}, "
                 f"quantization error {level['quantization_error_mm']} mm")
        scene = trimesh.load(str(path), force="scene")
        geometry = {name: scene.geometry[name] for name in scene.geometry}
        for structure in level["structures"]:
            mesh = geometry.get(structure["name"])
            if mesh is None:
                fail(f"{level['file']}: trimesh finds no geometry '{structure['name']}' (has {sorted(geometry)})")
            if len(mesh.faces) != structure["triangles"]:
                fail(f"{level['file']}: {structure['name']} has {len(mesh.faces)} triangles, the manifest says {structure['triangles']}")
            if level["watertight"] and not mesh.is_watertight:
                fail(f"{level['file']}: {structure['name']} is not watertight for trimesh")
        boxes[level["name"]] = scene.bounds * 1000  # metres -> mm
        summary[level["name"]] = {"file": level["file"], "bytes": path.stat().st_size, "gzip_bytes": len(gzip.compress(path.read_bytes())),
                                  "triangles": level["triangles"],
                                  "quantized": quantized, "max_distance_mm": level["max_distance_mm"]}
    for name, box in boxes.items():
        offset = float(abs(box - boxes["full"]).max())
        summary[name]["box_offset_mm"] = round(offset, 4)
        if offset > 1.0:
            fail(f"the {name} level's box lies {offset:.3f} mm from the full level's (at most 1 mm)")
    print(json.dumps(summary, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
