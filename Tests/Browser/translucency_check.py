#!/usr/bin/env python3
"""The web viewer's translucent structures, in a real browser (Debian's chromium through
Playwright, software WebGL): a translucent structure must look the same whatever the order of
its triangles, which is what drawing its depth first buys. Run by the Swift test
`theViewerLoadsInHeadlessChromium` (through `ServiceTests.checkViewer`).

For the translucent structure (the skin): a screenshot of the canvas, then the same view with
its triangles in reverse order. Then the same two with the depth pass switched off (as the viewer
drew before it had one), to show that the comparison can tell. Prints one JSON object:
{"structure", "withDepthPass": {"meanDifference", "changedPixels"}, "withoutDepthPass": {…},
"modelPixels"}; writes the screenshots to --shots.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright
from waiting import wait_until

REVERSE = """() => {
  let found = null;
  window.viewerScene.traverse(n => { if (n.isMesh && !n.userData.depthPass && n.material.opacity < 1 && !found) found = n; });
  const index = found.geometry.index, a = index.array, copy = a.slice();
  const triangles = a.length / 3;
  for (let t = 0; t < triangles; t++) { for (let k = 0; k < 3; k++) a[3 * t + k] = copy[3 * (triangles - 1 - t) + k]; }
  index.needsUpdate = true;
  return found.name || (found.parent && found.parent.name) || "?";
}"""

WITHOUT_DEPTH_PASS = """() => {
  window.viewerScene.traverse(n => {
    if (n.userData.depthPass) n.visible = false;
    else if (n.isMesh && n.material.opacity < 1) { n.material.depthWrite = true; n.material.needsUpdate = true; }
  });
}"""


def pixels(png: bytes):
    from PIL import Image
    return Image.open(io.BytesIO(png)).convert("RGB")


def compare(a, b, background=(17, 17, 17)) -> tuple[dict, int]:
    import numpy
    x, y = numpy.asarray(a, dtype=numpy.int16), numpy.asarray(b, dtype=numpy.int16)
    model = (numpy.abs(x - numpy.array(background)).max(axis=2) > 24) | (numpy.abs(y - numpy.array(background)).max(axis=2) > 24)
    difference = numpy.abs(x - y).max(axis=2)
    count = int(model.sum())
    return ({"meanDifference": float(difference[model].mean()) if count else 0.0,
             "changedPixels": float((difference[model] > 8).mean()) if count else 0.0}, count)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--shots", type=Path, required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    result = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium,
                                             args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        page = browser.new_page(viewport={"width": 800, "height": 600})
        console = []
        page.on("pageerror", lambda e: console.append(str(e)))
        page.goto(args.url)
        wait_until(page, "document.body.dataset.level === 'full' && document.getElementById('status').textContent.length > 0", timeout=120_000)
        canvas = page.locator("#scene")

        def shot(name: str):
            page.wait_for_timeout(700)  # a few frames drawn
            data = canvas.screenshot()
            (args.shots / f"{name}.png").write_bytes(data)
            return pixels(data)

        before = shot("translucent")
        result["structure"] = page.evaluate(REVERSE)
        after = shot("translucent-reversed")
        result["withDepthPass"], result["modelPixels"] = compare(before, after)
        page.evaluate(WITHOUT_DEPTH_PASS)
        plain = shot("no-depth-pass")
        page.evaluate(REVERSE)
        plain_reversed = shot("no-depth-pass-reversed")
        result["withoutDepthPass"], _ = compare(plain, plain_reversed)
        result["console"] = console
        browser.close()
    print(json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 (the Swift test shows why)
        print(f"translucency_check.py: {error}", file=sys.stderr)
        sys.exit(1)
