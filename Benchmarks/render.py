#!/usr/bin/env python3
"""Rendering time: VRPrep vs VTK, measured in the same run, on the same series, on Mesa llvmpipe.

Usage (from the repository root):

    swift build -c release --product vrprep
    pip install -r Benchmarks/requirements.txt
    python3 Benchmarks/render.py [--runs 3] [--json results.json] [--images DIR]
    python3 Benchmarks/render.py --series sample --runs 1 --skip-vrprep   # VTK only, quick check

The two input series are the ones of ``load_series.py`` (prepared in --work by
its ``prepare_sample`` / ``prepare_large``, default Benchmarks/work): ``sample/``
(256 x 256 x 108) and ``large-432x512x512/`` (512 x 512 x 432). Every image is
1024 x 1024 (--size), black background, anterior view: the camera looks along
+y in LPS patient coordinates (from the patient's front), head (+z) up, with a
perspective projection of 30 degrees vertical view angle, aimed at the centre of
the scene's box and placed so that the box's bounding sphere times 1.1 fills the
view (distance = 1.1 r / sin 15 deg; near = distance - 1.5 * 1.1 r, far =
distance + 1.5 * 1.1 r), as VRPrep's ``Camera.fitted`` does. The box is the
volume's voxel-centre box (``VolumeGeometry.boundingBox``, VTK's image bounds)
for both scenes, the surface included, as ``vrprep-bench render`` fits it.

Two scenes per series, each timed as a **frame** (one image) and a **stereo
pair** (two images, left and right eye):

* **volume**: direct volume rendering with the bone transfer function
  (``ct-bone``): opacity (150 HU, 0), (300, 0.25), (700, 0.9), (3071, 1.0);
  colour 150: (0.55, 0.25, 0.15), 300: (0.9, 0.8, 0.65), 700: (0.97, 0.94, 0.86),
  3071: (1, 1, 1); shading on (ambient 0.3, diffuse 0.7, specular 0), linear
  interpolation. Opacities are per 0.5 mm, as VRPrep's table
  (``SetScalarOpacityUnitDistance(0.5)``).
* **surface**: the iso-surface 0.5 of the bone mask ``[226, 3071] HU`` (uint8
  0/1, padded by one zero voxel on each side, as in ``mesh.py``), not smoothed
  and not decimated (4,423,728 triangles on the large series).

Tools:

* **VRPrep**: ``vrprep-bench render DIR --preset ct-bone --size 1024x1024 --runs N``
  (volume) and ``vrprep-bench render DIR --surface --lower 226 --upper 3071 --size
  1024x1024 --runs N`` (surface). It prints one JSON object: ``{"tool", "renderer",
  "mode", "dimensions", "triangles" (surface), "width", "height", "uploadSeconds",
  "frame": {"seconds", "median", "best"}, "stereoPair": {...}}``; the script stops
  with a message if the subcommand is missing or a field is. Median and best are
  recomputed here from the per-run seconds (``statistics.median``, as for VTK);
  vrprep's own are kept as ``vrprepMedian`` / ``vrprepBest``.
* **VTK 9.7.2** (pip wheel), on the image that SimpleITK's ``ImageSeriesReader``
  reads from the same files (output type int16, VRPrep's voxel type), wrapped in a
  ``vtkImageData`` with the same dimensions, spacing and origin (identity
  orientation, so VTK's world coordinates are LPS mm):

  - **VTK CPU ray caster**: ``vtkFixedPointVolumeRayCastMapper`` with
    ``SetNumberOfThreads(T)`` (--threads, default: the number of cores),
    ``AutoAdjustSampleDistancesOff()`` (so that every timed frame is a
    full-quality frame), ``ImageSampleDistance`` 1 (one ray per pixel) and VTK's
    default ``SampleDistance`` of **1.0 mm** along the ray (--vtk-sample-distance).
    VRPrep samples once per voxel crossed along the ray's main axis (in the
    anterior view 0.957 mm on the sample, 0.479 mm on the large series), so on
    the large series VTK takes about 2.1x fewer samples per ray than VRPrep at
    the default; ``--vtk-sample-distance 0.479`` gives the matched run.
  - **VTK GPU mapper on llvmpipe**: ``vtkGPUVolumeRayCastMapper`` (the OpenGL
    ray caster, here running on Mesa's llvmpipe), same transfer function and the
    same sample distance, ``AutoAdjustSampleDistancesOff()``. It is slow on
    llvmpipe (about 4 s a frame reported on the large series), so on the large
    series it gets one warm-up plus --vtk-gpu-large-runs timed runs (default 1).
  - **VTK surface**: ``vtkFlyingEdges3D`` (value 0.5) on the padded mask, point
    normals from ``vtkPolyDataNormals`` (splitting and consistency off, so the
    mesh keeps its points and triangles), drawn by ``vtkPolyDataMapper``
    (colour 0.9 grey, ambient 0.25, diffuse 0.75, specular 0.25 with power 32,
    headlight, as VRPrep's surface shader). Extraction and normals are outside
    the timed region.

  One timed VTK frame is ``renderWindow.Render()`` followed by reading the RGBA
  pixels back (``vtkWindowToImageFilter``, ``ShouldRerenderOff``), as VRPrep's
  frame ends with ``glReadPixels``. Per scene: one warm-up frame, not counted
  (it includes the uploads: the 3D texture, the fixed-point mapper's gradient
  tables, the vertex buffers; its time is kept as ``warmUpSeconds``), then N
  timed frames, then N timed stereo pairs on the same warm pipeline. **A VTK
  stereo pair is two real frames**, each Render() + readback: the eye moved
  32 mm left and right of the centre camera (interpupillary distance 64 mm, as
  VRPrep's default) along the camera's right vector, looking parallel, with the
  frustum skewed (``vtkCamera.SetWindowCenter``) so that the plane through the
  box centre has zero disparity: the off-axis stereo of VRPrep's ``StereoRig``.
  The render window has no multisampling (``SetMultiSamples(0)``); VRPrep draws
  into a single-sample framebuffer.

Offscreen VTK without an X server: the VTK 9.7 wheel picks its OpenGL window
class at run time. Without a DISPLAY it first tries ``vtkXOpenGLRenderWindow``
(warning "bad X server connection") and falls back to ``vtkEGLRenderWindow``;
there is no OSMesa library on the test machine (Debian 12). The script
therefore sets ``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` (--vtk-window)
before VTK makes a window, and ``SetOffScreenRendering(1)``. EGL then comes from
libglvnd + Mesa (libegl-mesa0), which without /dev/dri gives Mesa's software
device: "llvmpipe (LLVM 15.0.6, 256 bits)", OpenGL 4.5 core, Mesa 22.3.6. The
script reads GL_RENDERER from ``ReportCapabilities()``, stores it in the JSON
output and warns if it is not llvmpipe. ``LP_NUM_THREADS`` (llvmpipe's
rasteriser threads) is set to --threads for this process and for vrprep, and
recorded.

Output: a summary table (rows: series x scene x frame / stereo pair; columns:
VRPrep median, VTK CPU ray caster, VTK on llvmpipe (GPU mapper for the volume,
vtkPolyDataMapper for the surface), and VTK median / VRPrep median), a detailed
table, one PNG of each VTK render (centre frame and both eyes, --images, default
Benchmarks/work/render-images) to compare with VRPrep's pictures, and --json
with everything (machine, versions, renderer strings, cameras, per-run seconds).
The script checks that VRPrep's surface has VTK's triangle count (+-1 %) and
VRPrep's volume SimpleITK's dimensions, and prints a loud WARNING otherwise.
Before each measurement it waits for an idle machine and repeats a measurement
during which other processes used the CPU (segment.py's CpuWatch).
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_series import (REPO, REQUIREMENTS, SERIES, fail, import_packages, machine_info, parse_series)  # noqa: E402
from segment import (LOWER, UPPER, add_build, add_common_arguments, add_idle_options,  # noqa: E402
                     binary_info, checked_binary, disturbed_warnings, prepared_series, print_warnings,
                     private_binary, summary, watch_from_args)

PRESET = "ct-bone"
# ct-bone, as VRPrep's TransferFunction.ctBone: (HU, (r, g, b), opacity).
BONE = [(150, (0.55, 0.25, 0.15), 0.0), (300, (0.9, 0.8, 0.65), 0.25),
        (700, (0.97, 0.94, 0.86), 0.9), (3071, (1.0, 1.0, 1.0), 1.0)]
VOLUME_SHADING = {"ambient": 0.3, "diffuse": 0.7, "specular": 0.0}
OPACITY_UNIT_DISTANCE = 0.5  # mm: VRPrep's table opacities are per half millimetre
SURFACE_LOOK = {"color": 0.9, "ambient": 0.25, "diffuse": 0.75, "specular": 0.25, "specularPower": 32}
VIEW_ANGLE = 30.0  # degrees, vertical
MARGIN = 1.1  # bounding sphere radius factor (Camera.fitted)
FORWARD, UP = (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)  # anterior view in LPS
IPD = 64.0  # mm, VRPrep's default
TRIANGLE_TOLERANCE = 0.01
SCENES = ("volume", "surface")
MEASURES = ("frame", "stereoPair")
MEASURE_NAMES = {"frame": "frame", "stereoPair": "stereo pair"}
TOOLS = ("vrprep", "vtk-cpu", "vtk-gl")
LABELS = {("vrprep", "volume"): "VRPrep", ("vrprep", "surface"): "VRPrep",
          ("vtk-cpu", "volume"): "VTK vtkFixedPointVolumeRayCastMapper",
          ("vtk-gl", "volume"): "VTK vtkGPUVolumeRayCastMapper (llvmpipe)",
          ("vtk-gl", "surface"): "VTK vtkPolyDataMapper (llvmpipe)"}


def parse_size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}")
    if width < 1 or height < 1:
        raise argparse.ArgumentTypeError("width and height must be at least 1")
    return width, height


def import_vtk():
    try:
        from vtkmodules.vtkCommonCore import vtkVersion
        from vtkmodules.vtkCommonDataModel import vtkImageData, vtkPiecewiseFunction, vtkPolyData
        from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkPolyDataNormals
        from vtkmodules.vtkIOImage import vtkPNGWriter
        from vtkmodules.vtkImagingCore import vtkImageExtractComponents
        from vtkmodules.vtkRenderingCore import (vtkActor, vtkColorTransferFunction, vtkPolyDataMapper,
                                                 vtkRenderer, vtkRenderWindow, vtkVolume, vtkVolumeProperty,
                                                 vtkWindowToImageFilter)
        from vtkmodules.vtkRenderingVolume import vtkFixedPointVolumeRayCastMapper, vtkGPUVolumeRayCastMapper
        import vtkmodules.vtkRenderingOpenGL2  # noqa: F401  (the OpenGL render window and mappers)
        import vtkmodules.vtkRenderingVolumeOpenGL2  # noqa: F401  (the OpenGL volume mappers)
        from vtkmodules.util import numpy_support
    except ImportError:
        fail(f"missing Python package vtk (9.x). Install it with: pip install -r {REQUIREMENTS}")
    version = vtkVersion.GetVTKVersion()
    if not version.startswith("9."):
        print(f"warning: VTK {version} is installed, the benchmark was written for VTK 9.x", file=sys.stderr)
    return argparse.Namespace(**{k: v for k, v in locals().items() if k != "version"}, version=version)


# --------------------------------------------------------------------------- camera


def fitted_camera(bounds, width: int, height: int) -> dict:
    """VRPrep's Camera.fitted(.anterior, box:, fieldOfView: 30, aspect:, margin: 1.1), as numbers."""
    lo, hi = bounds[0::2], bounds[1::2]
    centre = [(a + b) / 2 for a, b in zip(lo, hi)]
    radius = max(1e-3, math.dist(lo, hi) / 2) * MARGIN
    aspect = width / height
    distance = radius / math.sin(math.radians(VIEW_ANGLE / 2)) / min(1.0, aspect)
    eye = [c - f * distance for c, f in zip(centre, FORWARD)]
    return {"box": [list(lo), list(hi)], "focalPoint": centre, "position": eye, "viewUp": list(UP),
            "viewAngle": VIEW_ANGLE, "distance": distance, "radius": radius, "aspect": aspect,
            "clippingRange": [max(1e-3, distance - radius * 1.5), distance + radius * 1.5]}


def eye_cameras(fit: dict) -> list[dict]:
    """Left and right eye: the camera moved -+IPD/2 along its right vector, looking parallel, with the
    frustum shifted so that the plane through the focal point has zero disparity (VRPrep's StereoRig)."""
    right = [FORWARD[1] * UP[2] - FORWARD[2] * UP[1], FORWARD[2] * UP[0] - FORWARD[0] * UP[2],
             FORWARD[0] * UP[1] - FORWARD[1] * UP[0]]
    eyes = []
    for name, offset in (("left", -IPD / 2), ("right", IPD / 2)):
        # VRPrep: near-plane shift = -offset * near / distance; VTK's window centre is that shift in
        # units of the half-width of the near plane (near * tan(angle / 2) * aspect).
        centre_x = -offset / (fit["distance"] * math.tan(math.radians(VIEW_ANGLE / 2)) * fit["aspect"])
        eyes.append({"eye": name, "offset": offset,
                     "position": [p + r * offset for p, r in zip(fit["position"], right)],
                     "focalPoint": [p + r * offset for p, r in zip(fit["focalPoint"], right)],
                     "windowCenter": [centre_x, 0.0]})
    return eyes


def apply_camera(camera, fit: dict, eye: dict | None = None) -> None:
    camera.SetPosition(*(eye or fit)["position"])
    camera.SetFocalPoint(*(eye or fit)["focalPoint"])
    camera.SetViewUp(*fit["viewUp"])
    camera.SetViewAngle(fit["viewAngle"])
    camera.SetWindowCenter(*(eye["windowCenter"] if eye else (0.0, 0.0)))
    camera.SetClippingRange(*fit["clippingRange"])


# --------------------------------------------------------------------------- VTK


class OffscreenView:
    """An offscreen render window of one renderer, a fitted camera and a pixel grabber."""

    def __init__(self, vtk, width: int, height: int, prop, fit: dict):
        self.vtk, self.fit = vtk, fit
        self.window = vtk.vtkRenderWindow()
        self.window.SetOffScreenRendering(1)
        self.window.SetMultiSamples(0)
        self.window.SetSize(width, height)
        self.renderer = vtk.vtkRenderer()
        self.renderer.SetBackground(0.0, 0.0, 0.0)
        self.window.AddRenderer(self.renderer)
        self.renderer.AddViewProp(prop)
        self.camera = self.renderer.GetActiveCamera()
        apply_camera(self.camera, fit)
        self.grabber = vtk.vtkWindowToImageFilter()
        self.grabber.SetInput(self.window)
        self.grabber.SetInputBufferTypeToRGBA()
        self.grabber.ReadFrontBufferOff()
        self.grabber.ShouldRerenderOff()

    def frame(self):
        """One frame: render, then read the pixels back."""
        self.window.Render()
        self.grabber.Modified()
        self.grabber.Update()
        return self.grabber.GetOutput()

    def snapshot(self):
        copy = self.vtk.vtkImageData()
        copy.DeepCopy(self.grabber.GetOutput())
        return copy

    def close(self) -> None:
        self.renderer.RemoveAllViewProps()
        self.window.Finalize()


def renderer_strings(window) -> dict:
    info = {"windowClass": window.GetClassName()}
    keys = {"OpenGL vendor string": "vendor", "OpenGL renderer string": "renderer",
            "OpenGL version string": "version", "EGL vendor string": "eglVendor", "EGL version string": "eglVersion"}
    for line in (window.ReportCapabilities() or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keys:
            info[keys[key.strip()]] = value.strip()
    return info


def volume_image(vtk, np, a, spacing, origin):
    """The int16 array, shape (z, y, x), as vtkImageData (shares the array's memory)."""
    from mesh import array_image  # the same wrapping as mesh.py's masks
    return array_image(vtk, np, a, spacing, origin, "HU")


def bone_volume(vtk, image, mapper_kind: str, sample_distance: float, threads: int):
    if mapper_kind == "vtk-cpu":
        mapper = vtk.vtkFixedPointVolumeRayCastMapper()
        mapper.SetNumberOfThreads(threads)
    else:
        mapper = vtk.vtkGPUVolumeRayCastMapper()
    mapper.SetInputData(image)
    mapper.SetBlendModeToComposite()
    mapper.AutoAdjustSampleDistancesOff()
    mapper.SetSampleDistance(sample_distance)
    mapper.SetImageSampleDistance(1.0)
    opacity = vtk.vtkPiecewiseFunction()
    colour = vtk.vtkColorTransferFunction()
    for value, rgb, alpha in BONE:
        opacity.AddPoint(value, alpha)
        colour.AddRGBPoint(value, *rgb)
    prop = vtk.vtkVolumeProperty()
    prop.SetScalarOpacity(opacity)
    prop.SetColor(colour)
    prop.SetScalarOpacityUnitDistance(OPACITY_UNIT_DISTANCE)
    prop.ShadeOn()
    prop.SetAmbient(VOLUME_SHADING["ambient"])
    prop.SetDiffuse(VOLUME_SHADING["diffuse"])
    prop.SetSpecular(VOLUME_SHADING["specular"])
    prop.SetInterpolationTypeToLinear()
    volume = vtk.vtkVolume()
    volume.SetMapper(mapper)
    volume.SetProperty(prop)
    settings = {"sampleDistance": mapper.GetSampleDistance(), "imageSampleDistance": mapper.GetImageSampleDistance(),
                "autoAdjustSampleDistances": bool(mapper.GetAutoAdjustSampleDistances()),
                "scalarOpacityUnitDistance": prop.GetScalarOpacityUnitDistance(), "mapper": mapper.GetClassName()}
    if mapper_kind == "vtk-cpu":
        settings["threads"] = mapper.GetNumberOfThreads()
    return volume, settings


def bone_surface(vtk, np, a, spacing, origin):
    """vtkFlyingEdges3D of the padded bone mask, with point normals; (polydata, extraction seconds)."""
    from mesh import mask_image  # the same padded mask as mesh.py
    mask = ((a >= LOWER) & (a <= UPPER)).astype(np.uint8)
    image = mask_image(vtk, np, mask, spacing, origin, pad=True)
    del mask
    start = time.perf_counter()
    edges = vtk.vtkFlyingEdges3D()
    edges.SetInputData(image)
    edges.SetValue(0, 0.5)
    edges.ComputeNormalsOff()
    edges.ComputeGradientsOff()
    edges.ComputeScalarsOff()
    normals = vtk.vtkPolyDataNormals()
    normals.SetInputConnection(edges.GetOutputPort())
    normals.SplittingOff()
    normals.ConsistencyOff()
    normals.AutoOrientNormalsOff()
    normals.ComputePointNormalsOn()
    normals.ComputeCellNormalsOff()
    normals.Update()
    seconds = time.perf_counter() - start
    surface = vtk.vtkPolyData()
    surface.ShallowCopy(normals.GetOutput())
    return surface, seconds


def surface_actor(vtk, surface):
    mapper = vtk.vtkPolyDataMapper()
    mapper.SetInputData(surface)
    mapper.ScalarVisibilityOff()
    actor = vtk.vtkActor()
    actor.SetMapper(mapper)
    p = actor.GetProperty()
    p.SetColor(*[SURFACE_LOOK["color"]] * 3)
    p.SetSpecularColor(1.0, 1.0, 1.0)
    p.SetAmbient(SURFACE_LOOK["ambient"])
    p.SetDiffuse(SURFACE_LOOK["diffuse"])
    p.SetSpecular(SURFACE_LOOK["specular"])
    p.SetSpecularPower(SURFACE_LOOK["specularPower"])
    return actor


def time_view(view: OffscreenView, runs: int, pair_runs: int) -> dict:
    """One warm-up frame (kept apart), `runs` timed frames, `pair_runs` timed stereo pairs."""
    start = time.perf_counter()
    view.frame()
    warm_up = time.perf_counter() - start
    frames, pairs = [], []
    eyes = eye_cameras(view.fit)
    gc.disable()
    try:
        for _ in range(runs):
            start = time.perf_counter()
            view.frame()
            frames.append(time.perf_counter() - start)
        images = {"centre": view.snapshot()}
        for _ in range(pair_runs):
            start = time.perf_counter()
            for eye in eyes:
                apply_camera(view.camera, view.fit, eye)
                view.frame()
            pairs.append(time.perf_counter() - start)
        images["right"] = view.snapshot()  # the last pair's right eye
        apply_camera(view.camera, view.fit, eyes[0])  # one more, untimed frame for the left eye's picture
        view.frame()
        images["left"] = view.snapshot()
        apply_camera(view.camera, view.fit)
    finally:
        gc.enable()
    clipping = list(view.camera.GetClippingRange())
    return {"warmUpSeconds": warm_up, "frame": summary(frames), "stereoPair": summary(pairs),
            "images": images, "clippingRangeAfter": clipping}


def save_images(vtk, images: dict, folder: Path, stem: str) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, image in images.items():
        path = folder / (f"{stem}.png" if name == "centre" else f"{stem}-{name}.png")
        rgb = vtk.vtkImageExtractComponents()  # RGB: VTK leaves the background's alpha at 0
        rgb.SetInputData(image)
        rgb.SetComponents(0, 1, 2)
        writer = vtk.vtkPNGWriter()
        writer.SetFileName(str(path))
        writer.SetInputConnection(rgb.GetOutputPort())
        writer.Write()
        written.append(str(path))
    return written


# --------------------------------------------------------------------------- VRPrep


def check_render_subcommand(binary: Path) -> None:
    process = subprocess.run([str(binary), "render", "--help"], capture_output=True, text=True)
    if process.returncode != 0:
        fail(f"`{binary} bench render --help` exited with status {process.returncode}: this vrprep has no "
             f"`bench render` subcommand. Rebuild it with: swift build -c release --product vrprep, or pass "
             f"--skip-vrprep to time VTK only.\n{(process.stderr or process.stdout).strip()}", 1)


VRPREP_FIELDS = ("renderer", "mode", "dimensions", "width", "height", "uploadSeconds", "frame", "stereoPair")


def run_vrprep(binary: Path, folder: Path, scene: str, runs: int, size: tuple[int, int]) -> dict:
    command = [str(binary), "render", str(folder)]
    command += ["--preset", PRESET] if scene == "volume" else ["--surface", "--lower", str(LOWER),
                                                                "--upper", str(UPPER)]
    command += ["--size", f"{size[0]}x{size[1]}", "--runs", str(runs)]
    shown = " ".join(command)
    process = subprocess.run(command, capture_output=True, text=True)
    if process.returncode != 0:
        fail(f"`{shown}` exited with status {process.returncode}:\n{process.stderr.strip()}", 1)
    lines = [line for line in process.stdout.splitlines() if line.startswith("{")]
    if not lines:
        fail(f"`{shown}` printed no JSON line:\n{process.stdout}{process.stderr}", 1)
    try:
        r = json.loads(lines[-1])
    except ValueError as error:
        fail(f"`{shown}` printed a line that is not JSON ({error}):\n{lines[-1]}", 1)
    missing = [k for k in VRPREP_FIELDS + (("triangles",) if scene == "surface" else ()) if k not in r]
    for key in MEASURES:
        if key in r and not (isinstance(r[key], dict) and isinstance(r[key].get("seconds"), list)
                             and r[key]["seconds"]):
            missing.append(f"{key}.seconds")
    if missing:
        fail(f"`{shown}` printed JSON without {', '.join(missing)}; expected {{\"tool\", \"renderer\", \"mode\", "
             f"\"dimensions\", \"triangles\" (surface), \"width\", \"height\", \"uploadSeconds\", \"frame\": "
             f"{{\"seconds\", \"median\", \"best\"}}, \"stereoPair\": {{...}}}}. It printed:\n{lines[-1]}", 1)
    if r["mode"] != scene:
        fail(f"`{shown}` reports mode {r['mode']!r}, expected {scene!r}", 1)
    if (r["width"], r["height"]) != tuple(size):
        fail(f"`{shown}` rendered {r['width']}x{r['height']}, expected {size[0]}x{size[1]}", 1)
    row = {"tool": "vrprep", "scene": scene, "label": LABELS[("vrprep", scene)], "command": shown,
           "renderer": r["renderer"], "dimensions": r["dimensions"], "uploadSeconds": r["uploadSeconds"],
           "raw": r}
    if scene == "surface":
        row["triangles"] = r["triangles"]
    for key in MEASURES:
        row[key] = {**summary(r[key]["seconds"]), "vrprepMedian": r[key].get("median"),
                    "vrprepBest": r[key].get("best")}
    return row


# --------------------------------------------------------------------------- reporting


def find(results, series, scene, tool):
    for r in results:
        if (r["series"], r["scene"], r["tool"]) == (series, scene, tool):
            return r
    return None


def scene_name(results, series, scene) -> str:
    if scene == "volume":
        return "volume"
    triangles = [r.get("triangles") for r in results if r["series"] == series and r["scene"] == scene
                 and r.get("triangles")]
    return f"surface ({triangles[0] / 1e6:.1f} M triangles)" if triangles else "surface"


def summary_table(results: list[dict]) -> str:
    lines = ["| series | scene | measure | VRPrep median s | VTK CPU ray caster median s "
             "| VTK on llvmpipe median s | CPU ray caster / VRPrep | llvmpipe / VRPrep |",
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for series in dict.fromkeys(r["series"] for r in results):
        for scene in SCENES:
            rows = {tool: find(results, series, scene, tool) for tool in TOOLS}
            if not any(rows.values()):
                continue
            for measure in MEASURES:
                cells, medians = [], {}
                for tool in TOOLS:
                    r = rows[tool]
                    if r is None:
                        cells.append("–")
                        continue
                    m = r[measure]
                    medians[tool] = m["median"]
                    cells.append(f"{m['median']:.3f}" + (" ‡" if r.get("disturbed") else "")
                                 + ("¹" if len(m["seconds"]) == 1 else ""))
                ratios = [f"{medians[t] / medians['vrprep']:.2f}" if t in medians and "vrprep" in medians else ""
                          for t in ("vtk-cpu", "vtk-gl")]
                lines.append(f"| {series} | {scene_name(results, series, scene)} | {MEASURE_NAMES[measure]} | "
                             + " | ".join(cells + ratios) + " |")
    lines += [
        "",
        "Seconds per frame or per stereo pair (two eyes), rendering plus reading the RGBA pixels back, median of the "
        "timed runs after one warm-up frame (uploads are in the warm-up, not in these times). Ratio > 1 means "
        "VRPrep is faster. \"VTK on llvmpipe\": vtkGPUVolumeRayCastMapper for the volume, vtkPolyDataMapper for "
        "the surface; the CPU ray caster is vtkFixedPointVolumeRayCastMapper.",
    ]
    if any(len(r[m]["seconds"]) == 1 for r in results for m in MEASURES):
        lines.append("¹ one timed run: median = best = that run.")
    if any(r.get("disturbed") for r in results):
        lines.append("‡ other processes used the CPU during this measurement: not reliable.")
    return "\n".join(lines)


def detail_table(results: list[dict]) -> str:
    lines = ["| series | scene | tool | measure | runs | median s | best s | warm-up / upload s | triangles |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    order = {t: i for i, t in enumerate(TOOLS)}
    for r in sorted(results, key=lambda r: (r["series"] != "sample", SCENES.index(r["scene"]), order[r["tool"]])):
        first = r.get("uploadSeconds") if r["tool"] == "vrprep" else r.get("warmUpSeconds")
        for measure in MEASURES:
            m = r[measure]
            lines.append(f"| {r['series']} | {r['scene']} | {r['label']} | {MEASURE_NAMES[measure]} "
                         f"| {len(m['seconds'])} | {m['median']:.4f}" + (" ‡" if r.get("disturbed") else "")
                         + f" | {m['best']:.4f} | {'' if first is None or measure != 'frame' else f'{first:.3f}'} "
                         f"| {r.get('triangles', '') and format(r['triangles'], ',')} |")
    lines += ["", "warm-up / upload: VRPrep's uploadSeconds; for VTK the untimed first frame (uploads and, for "
              "the CPU ray caster, its gradient tables included)."]
    return "\n".join(lines)


def triangle_problems(results: list[dict]) -> list[str]:
    problems = []
    for v in results:
        if v["tool"] != "vrprep" or v["scene"] != "surface":
            continue
        k = find(results, v["series"], "surface", "vtk-gl")
        if k is None:
            continue
        difference = (v["triangles"] - k["triangles"]) / k["triangles"]
        if abs(difference) > TRIANGLE_TOLERANCE:
            problems.append(f"{v['series']}: VRPrep's surface has {v['triangles']:,} triangles, VTK's "
                            f"vtkFlyingEdges3D (padded) {k['triangles']:,} ({difference:+.2%}, tolerance "
                            f"±{TRIANGLE_TOLERANCE:.0%})")
    return problems


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description="Rendering time: VRPrep vs VTK on Mesa llvmpipe.")
    add_common_arguments(parser, tool="vrprep-bench")
    parser.add_argument("--skip-vrprep", action="store_true", help="time VTK only (no vrprep binary needed)")
    parser.add_argument("--series", type=parse_series, default=["sample", "large"],
                        help="comma-separated: " + ", ".join(SERIES) + " (default: sample,large)")
    parser.add_argument("--runs", type=int, default=3,
                        help="timed frames and timed stereo pairs per measurement, after one warm-up frame "
                             "(default: 3)")
    parser.add_argument("--vtk-gpu-large-runs", type=int, default=1,
                        help="timed frames and pairs of vtkGPUVolumeRayCastMapper on the large series, after one "
                             "warm-up frame (default: 1; about 4 s a frame on llvmpipe)")
    parser.add_argument("--size", type=parse_size, default=(1024, 1024), help="image size WIDTHxHEIGHT (1024x1024)")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="threads of vtkFixedPointVolumeRayCastMapper, and LP_NUM_THREADS (llvmpipe) for VTK "
                             "and vrprep (default: the number of cores)")
    parser.add_argument("--vtk-sample-distance", type=float, default=1.0,
                        help="SampleDistance (mm along the ray) of both VTK volume mappers (default: 1.0, VTK's "
                             "default; VRPrep samples once per voxel along the ray's main axis)")
    parser.add_argument("--vtk-window", default="vtkEGLRenderWindow",
                        help="VTK_DEFAULT_OPENGL_WINDOW for VTK's render window (default: vtkEGLRenderWindow; "
                             "'' lets VTK choose)")
    parser.add_argument("--no-vtk-cpu", action="store_true", help="skip vtkFixedPointVolumeRayCastMapper")
    parser.add_argument("--no-vtk-gpu", action="store_true", help="skip vtkGPUVolumeRayCastMapper")
    parser.add_argument("--no-surface", action="store_true", help="skip the surface scene")
    parser.add_argument("--images", type=Path, default=REPO / "Benchmarks" / "work" / "render-images",
                        help="folder for the PNG of each VTK render (default: Benchmarks/work/render-images)")
    parser.add_argument("--json", type=Path, help="also write the results, with machine info, as JSON to this file")
    add_idle_options(parser)
    args = parser.parse_args()
    if args.runs < 1 or args.vtk_gpu_large_runs < 1:
        parser.error("--runs and --vtk-gpu-large-runs must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    if args.vtk_sample_distance <= 0:
        parser.error("--vtk-sample-distance must be more than 0")

    # Both must be in the environment before the first GL context is made (VTK's and vrprep's).
    os.environ["LP_NUM_THREADS"] = str(args.threads)
    if args.vtk_window:
        os.environ["VTK_DEFAULT_OPENGL_WINDOW"] = args.vtk_window
    else:
        os.environ.pop("VTK_DEFAULT_OPENGL_WINDOW", None)

    original_binary = args.vrprep.resolve()
    if not args.skip_vrprep:
        checked_binary(args.vrprep, ", or --skip-vrprep to time VTK only")
        check_render_subcommand(original_binary)
    modules = import_packages()
    vtk = import_vtk()
    watch = watch_from_args(args)

    work, series = prepared_series(args.work, modules, args.series)

    results, context = [], {"vtkRenderer": None, "cameras": {}, "images": []}
    if args.skip_vrprep:
        for name, folder in series:
            results += time_series(args, modules, vtk, watch, None, name, folder, context)
        build = None
    else:
        with private_binary(original_binary, "vrprep-render-bench-") as binary:
            build = binary_info(binary)
            for name, folder in series:
                results += time_series(args, modules, vtk, watch, binary, name, folder, context)

    gl = context["vtkRenderer"] or {}
    print(summary_table(results))
    print()
    print(detail_table(results))
    print()
    print(f"VTK {vtk.version}: {gl.get('windowClass')} offscreen, OpenGL renderer \"{gl.get('renderer')}\" "
          f"({gl.get('version')}); LP_NUM_THREADS={args.threads}; vtkFixedPointVolumeRayCastMapper "
          f"{args.threads} thread(s); SampleDistance {args.vtk_sample_distance} mm, AutoAdjustSampleDistances off.")
    for r in results:
        if r["tool"] == "vrprep":
            print(f"VRPrep renderer ({r['series']}, {r['scene']}): \"{r['renderer']}\"")
    print(f"VTK images: {args.images}")

    warnings = triangle_problems(results)
    renderers = [("VTK", gl.get("renderer"))] + [(f"VRPrep ({r['series']}, {r['scene']})", r["renderer"])
                                                 for r in results if r["tool"] == "vrprep"]
    for who, renderer in renderers:
        if renderer is not None and "llvmpipe" not in renderer:
            warnings.append(f"{who} rendered with \"{renderer}\", not Mesa llvmpipe: not the comparison this "
                            "benchmark is for")
    for r in results:
        if r["tool"] == "vrprep" and r["scene"] == "volume" and list(r["dimensions"]) != r["sitkDimensions"]:
            warnings.append(f"{r['series']}: VRPrep's volume is {r['dimensions']}, SimpleITK's "
                            f"{r['sitkDimensions']}")
    warnings += disturbed_warnings(results, args)
    print_warnings(warnings)

    if args.json:
        machine = machine_info(original_binary, modules)
        machine["vtk"] = vtk.version
        machine["vtkOpenGL"] = gl
        machine["LP_NUM_THREADS"] = args.threads
        machine["VTK_DEFAULT_OPENGL_WINDOW"] = os.environ.get("VTK_DEFAULT_OPENGL_WINDOW")
        add_build(machine, build)
        document = {
            "benchmark": "render",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "runs": args.runs, "vtkGpuLargeRuns": args.vtk_gpu_large_runs, "width": args.size[0],
            "height": args.size[1], "threads": args.threads, "skipVrprep": args.skip_vrprep,
            "view": "anterior", "viewAngle": VIEW_ANGLE, "margin": MARGIN, "ipd": IPD,
            "transferFunction": {"preset": PRESET, "points": [{"value": v, "rgb": rgb, "opacity": o}
                                                               for v, rgb, o in BONE],
                                 "shading": VOLUME_SHADING, "scalarOpacityUnitDistance": OPACITY_UNIT_DISTANCE},
            "vtkSampleDistance": args.vtk_sample_distance, "surfaceLook": SURFACE_LOOK,
            "lower": LOWER, "upper": UPPER,
            "idleCheck": {"enabled": watch.enabled, "maxOtherCpuShare": args.max_other_cpu,
                          "retries": args.retries},
            "notes": [
                "A frame is Render() + RGBA readback (vtkWindowToImageFilter) for VTK, render + glReadPixels for "
                "VRPrep; one untimed warm-up frame first (uploads), then the timed frames, then the timed stereo "
                "pairs on the same warm pipeline.",
                "A VTK stereo pair is two frames: eyes at -+32 mm along the camera's right vector, parallel, "
                "frustum shifted with vtkCamera.SetWindowCenter so that the focal plane has zero disparity.",
                "VTK volume mappers: AutoAdjustSampleDistances off, ImageSampleDistance 1, SampleDistance "
                f"{args.vtk_sample_distance} mm; VRPrep samples once per voxel along the ray's main axis.",
                "median and best are computed from the per-run seconds (statistics.median) for both tools; "
                "vrprep's own are kept as vrprepMedian / vrprepBest.",
            ],
            "warnings": warnings,
            "cameras": context["cameras"],
            "images": context["images"],
            "machine": machine,
            "results": results,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)


def time_series(args, modules, vtk, watch, binary: Path | None, name: str, folder: Path, context: dict) -> list[dict]:
    np = modules["numpy"]
    sitk = modules["SimpleITK"]
    print(f"{name}: reading with SimpleITK ...", file=sys.stderr)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder)))
    reader.SetOutputPixelType(sitk.sitkInt16)
    image = reader.Execute()
    direction = image.GetDirection()
    if any(abs(a - b) > 1e-6 for a, b in zip(direction, (1, 0, 0, 0, 1, 0, 0, 0, 1))):
        fail(f"{name}: expected identity orientation, SimpleITK reports direction {direction}")
    a = sitk.GetArrayFromImage(image)  # (z, y, x), int16, a copy
    spacing, origin, size = image.GetSpacing(), image.GetOrigin(), list(image.GetSize())
    del image
    print(f"{name}: {size[0]} x {size[1]} x {size[2]} int16, spacing {spacing}", file=sys.stderr)
    large = name != "sample"
    width, height = args.size
    rows = []

    def measure(description: str, function) -> dict:
        print(f"{name}: {description} ...", file=sys.stderr)
        rows.append(watch.measure(f"{name}: {description}", function))
        return rows[-1]

    def vtk_measure(scene: str, tool: str, prop, bounds, runs: int, extra: dict) -> dict:
        fit = fitted_camera(bounds, width, height)
        context["cameras"][f"{name}/{scene}"] = {**fit, "eyes": eye_cameras(fit)}

        def run():
            view = OffscreenView(vtk, width, height, prop, fit)
            try:
                timing = time_view(view, runs, runs)
                if context["vtkRenderer"] is None:
                    context["vtkRenderer"] = renderer_strings(view.window)
            finally:
                view.close()
            images = timing.pop("images")
            written = save_images(vtk, images, args.images, f"{name}-{scene}-{tool}")
            context["images"] += written
            return {"tool": tool, "scene": scene, "label": LABELS[(tool, scene)], **extra, **timing,
                    "renderer": context["vtkRenderer"].get("renderer"), "imageFiles": written}
        return measure(f"{LABELS[(tool, scene)]}, {runs} frame(s) and {runs} pair(s)", run)

    # Volume.
    if binary is not None:
        measure(f"VRPrep volume, {args.runs} run(s)",
                lambda: run_vrprep(binary, folder, "volume", args.runs, args.size))
    vol_image = volume_image(vtk, np, a, spacing, origin)
    bounds = vol_image.GetBounds()  # voxel centres: the camera's box for both scenes, as vrprep's
    for tool, skip in (("vtk-cpu", args.no_vtk_cpu), ("vtk-gl", args.no_vtk_gpu)):
        if skip:
            continue
        volume, settings = bone_volume(vtk, vol_image, tool, args.vtk_sample_distance, args.threads)
        runs = args.vtk_gpu_large_runs if (tool == "vtk-gl" and large) else args.runs
        vtk_measure("volume", tool, volume, bounds, runs, settings)
        del volume
    del vol_image

    # Surface.
    if not args.no_surface:
        if binary is not None:
            measure(f"VRPrep surface, {args.runs} run(s)",
                    lambda: run_vrprep(binary, folder, "surface", args.runs, args.size))
        print(f"{name}: extracting the VTK surface (not timed) ...", file=sys.stderr)
        surface, extract_seconds = bone_surface(vtk, np, a, spacing, origin)
        actor = surface_actor(vtk, surface)
        vtk_measure("surface", "vtk-gl", actor, bounds, args.runs,
                    {"triangles": surface.GetNumberOfPolys(), "points": surface.GetNumberOfPoints(),
                     "surfaceBounds": list(surface.GetBounds()), "extractAndNormalsSeconds": extract_seconds})
        del actor, surface

    for r in rows:
        r["series"] = name
        r["folder"] = str(folder)
        r["voxels"] = int(a.size)
        r["sitkDimensions"] = size
    return rows


if __name__ == "__main__":
    main()
