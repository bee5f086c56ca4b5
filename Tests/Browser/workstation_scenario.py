#!/usr/bin/env python3
"""The workstation's scenario in a real browser (Debian's chromium, driven by Playwright):
sign in, upload a study, open it, scroll to a lesion, click once inside it, grow, build the
scene. Run by the Swift test `WorkstationPageTests`, which checks the results through the API.

Prints one JSON object: {"study", "preview", "package", "console"}; writes a screenshot of
each step to --shots. Exits non-zero, saying why, when a step does not happen.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright
from waiting import wait_until


def api(base: str, token: str, path: str) -> dict:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    return json.loads(urllib.request.urlopen(request, timeout=120).read())


def plane_pixel(series: dict, voxel: list[int]) -> tuple[int, int]:
    """The axial image's pixel of a voxel (the page's and the service's rule: the closest axes)."""
    d, n = series["direction"], series["dimensions"]

    def axis(p: int) -> tuple[int, bool]:
        best = max(range(3), key=lambda a: abs(d[p * 3 + a]))
        return best, d[p * 3 + best] >= 0

    (cx, px), (cy, py) = axis(0), axis(1)
    column = voxel[cx] if px else n[cx] - 1 - voxel[cx]
    row = voxel[cy] if py else n[cy] - 1 - voxel[cy]
    return column, row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--zip", required=True, type=Path)
    parser.add_argument("--folder", required=True, type=Path, help="the same study as a folder of DICOM files")
    parser.add_argument("--lesion", required=True, help="x,y,z in LPS mm")
    parser.add_argument("--shots", required=True, type=Path)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    console: list[str] = []
    result: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))

        def shot(name: str) -> None:
            page.screenshot(path=str(args.shots / f"{name}.png"))

        page.goto(args.base + "/app?lang=en")
        shot("01-sign-in")
        page.fill("#token", args.token)
        page.click("#signinButton")
        page.wait_for_selector("#home:not(.hidden)")
        # The study as a folder first (sent as a form), then as a zip: two studies, the zip's newest.
        page.set_input_files("#folder", str(args.folder))
        page.wait_for_selector("#studies button.openStudy", timeout=120_000)
        page.set_input_files("#file", str(args.zip))
        wait_until(page, "document.querySelectorAll('#studies button.openStudy').length === 2", timeout=120_000)
        result["studies"] = len(api(args.base, args.token, "/v1/studies")["studies"])
        # Each study is read in the background: the list then says what it holds.
        wait_until(page, "document.getElementById('studies').textContent.split('CT 256×256×108').length === 3", timeout=60_000)
        shot("02-study-uploaded")
        page.click("#studies button.openStudy")
        wait_until(page, "document.getElementById('caption-axial') && document.getElementById('caption-axial').textContent.length > 0",
                               timeout=120_000)
        shot("03-study-open")
        study = api(args.base, args.token, "/v1/studies")["studies"][0]["id"]
        result["study"] = study
        series = max(api(args.base, args.token, f"/v1/studies/{study}")["series"],
                     key=lambda s: s["dimensions"][0] * s["dimensions"][1] * s["dimensions"][2])
        voxel = api(args.base, args.token, f"/v1/studies/{study}/voxel?mm={args.lesion}")["index"]
        axial = page.locator("#view-axial")
        width, height = page.evaluate("[document.getElementById('view-axial').width, document.getElementById('view-axial').height]")
        column, row = plane_pixel(series, voxel)

        def seed_in_lesion(name: str) -> None:
            """Scroll the axial view to the lesion's slice (one wheel step a slice), click once inside it."""
            box = axial.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            steps = voxel[2] - series["dimensions"][2] // 2
            asked: list[str] = []
            listen = lambda r: asked.append(r.url) if "/slices/axial/" in r.url else None  # noqa: E731
            page.on("request", listen)
            for _ in range(abs(steps)):
                page.mouse.wheel(0, 100 if steps > 0 else -100)
                page.wait_for_timeout(60)
            caption = f"{voxel[2] + 1} / {series['dimensions'][2]}"
            wait_until(page, f"document.getElementById('caption-axial').textContent.endsWith({json.dumps(caption)})", timeout=30_000)
            # At rest, the exact image replaces the one shown while scrolling.
            wait_until(page, "document.body.dataset.exactViews === '3'", timeout=30_000)
            page.remove_listener("request", listen)
            result.setdefault("scrollRequests", []).extend(
                {"index": int(u.split("/slices/axial/")[1].split("?")[0]), "webp": "format=webp" in u} for u in asked)
            shot(name)
            box = axial.bounding_box()
            page.mouse.click(box["x"] + (column + 0.5) / width * box["width"], box["y"] + (row + 0.5) / height * box["height"])
            wait_until(page, "document.getElementById('readout').textContent.length > 0")

        seed_in_lesion("04-lesion-slice")
        page.click("#grow")
        wait_until(page, "document.body.dataset.preview !== undefined", timeout=120_000)
        page.wait_for_timeout(500)
        shot("05-preview")
        result["preview"] = page.evaluate("document.body.dataset.preview")
        result["previewText"] = page.inner_text("#result")
        # Measurements on the axial slice: a distance of 20 pixels to the right, the values in a
        # 7 x 7 pixel square around the click.
        def at(dx: int, dy: int) -> tuple[float, float]:
            box = axial.bounding_box()
            return box["x"] + (column + dx + 0.5) / width * box["width"], box["y"] + (row + dy + 0.5) / height * box["height"]
        page.select_option("#tool", "distance")
        page.mouse.click(*at(0, 0))
        page.mouse.click(*at(20, 0))
        wait_until(page, "document.body.dataset.distance !== undefined")
        result["distanceMM"] = float(page.evaluate("document.body.dataset.distance"))
        page.select_option("#tool", "values")
        page.mouse.move(*at(-3, -3))
        page.mouse.down()
        page.mouse.move(*at(0, 0), steps=4)
        page.mouse.move(*at(3, 3), steps=4)
        page.mouse.up()
        wait_until(page, "document.body.dataset.regionMean !== undefined")
        result["regionMean"] = float(page.evaluate("document.body.dataset.regionMean"))
        result["rectangle"] = [int(v) for v in page.evaluate("document.body.dataset.rectangle").split(",")]
        result["aimed"] = [column - 3, row - 3, column + 3, row + 3]
        result["axialIndex"] = voxel[2]
        result["pixelSpacing"] = series["spacing"][:2]
        # Zoom in and pan on the coronal view (looked at in the screenshot).
        coronal = page.locator("#view-coronal").bounding_box()
        page.select_option("#tool", "zoom")
        page.mouse.move(coronal["x"] + coronal["width"] / 2, coronal["y"] + coronal["height"] / 2)
        page.mouse.down(); page.mouse.move(coronal["x"] + coronal["width"] / 2, coronal["y"] + coronal["height"] / 2 - 60, steps=6); page.mouse.up()
        page.select_option("#tool", "pan")
        page.mouse.down(); page.mouse.move(coronal["x"] + coronal["width"] / 2 + 40, coronal["y"] + coronal["height"] / 2 - 20, steps=6); page.mouse.up()
        shot("06-measured-zoomed")
        page.select_option("#tool", "point")
        # Build the scene; the page offers the viewer.
        page.click("#build")
        page.wait_for_selector("#sceneLink", timeout=300_000)
        shot("07-scene-built")
        result["package"] = page.evaluate("document.body.dataset.package")
        # The same page for a reader in Japan.
        page.goto(args.base + "/app?lang=ja")
        page.wait_for_selector("#home:not(.hidden)")
        shot("08-japanese")
        result["japaneseTitle"] = page.inner_text("header h1")
        # A reader in Japan grows the lesion with an expected radius far too small: the preset's
        # note (its leak guard) reads in Japanese.
        page.click("#studies button.openStudy")
        wait_until(page, "document.getElementById('caption-axial') && document.getElementById('caption-axial').textContent.length > 0",
                               timeout=120_000)
        seed_in_lesion("09-japanese-lesion-slice")
        page.evaluate("(() => { const r = document.getElementById('radius'); r.value = '3'; r.oninput(); })()")
        earlier = result["preview"]
        page.click("#grow")
        wait_until(page, f"document.body.dataset.preview !== undefined && document.body.dataset.preview !== {json.dumps(earlier)}",
                               timeout=120_000)
        page.wait_for_timeout(300)
        shot("10-japanese-note")
        result["japanesePreviewText"] = page.inner_text("#result")
        # A seed in the air beside the head: the preset's refusal, in Japanese.
        page.click("#clearSeeds")
        box = axial.bounding_box()
        page.mouse.click(box["x"] + 4, box["y"] + 4)
        page.click("#grow")
        wait_until(page, "document.getElementById('message').textContent.length > 0", timeout=120_000)
        shot("11-japanese-refusal")
        result["japaneseRefusal"] = page.inner_text("#message")
        # Vessels with the window and the volume limit set by their sliders (10…100 HU: brain, 5 mL).
        page.select_option("#structure", "vessels")
        page.click("#clearSeeds")
        box = axial.bounding_box()
        lesion = (box["x"] + (column + 0.5) / width * box["width"], box["y"] + (row + 0.5) / height * box["height"])
        # A seed, a click on it removes it, a click puts it back.
        counts = []
        for _ in range(3):
            before = page.evaluate("document.body.dataset.seeds")
            page.mouse.click(*lesion)
            wait_until(page, f"document.body.dataset.seeds !== {json.dumps(before)}")
            counts.append(page.evaluate("document.body.dataset.seeds"))
        result["seedCounts"] = counts
        page.evaluate("""(() => {
            for (const [id, value] of [["vesselLower", "10"], ["vesselUpper", "100"], ["vesselLimit", "5"]]) {
                const input = document.getElementById(id); input.value = value; input.oninput();
            }
        })()""")
        result["vesselSliders"] = [page.inner_text("#vesselLowerValue"), page.inner_text("#vesselUpperValue"), page.inner_text("#vesselLimitValue")]
        earlier = page.evaluate("document.body.dataset.preview")
        # The recipe as the page sends it.
        with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/previews")) as sent:
            page.click("#grow")
        result["vesselRecipe"] = json.loads(sent.value.post_data)
        wait_until(page, f"document.body.dataset.preview !== {json.dumps(earlier)}", timeout=120_000)
        page.wait_for_timeout(300)
        shot("12-japanese-vessel-sliders")
        result["vesselPreviewText"] = page.inner_text("#result")
        browser.close()
    result["console"] = console
    print(json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 (the Swift test shows why)
        print(f"workstation_scenario.py: {error}", file=sys.stderr)
        sys.exit(1)
