#!/usr/bin/env python3
"""A live case conference in real browsers (Debian's chromium, driven by Playwright): a host and
two participants join a session's page; the host turns the camera and both participants follow;
the host adds a 100 mm distance and every page lists it; a participant's camera is refused and
nobody moves; a fourth page joining late gets the camera and the annotation from its snapshot;
a participant's pointer and a headset's head show on the host's page with their names; a raised
hand shows; a participant marks a labelled point by a click and the host removes it; the host hides a structure and cuts the scene and every page follows; once the
session's creator ends it through the API, every page says so in its reader's language.
Run by the Swift test `LiveSessionServiceTests`.

Prints one JSON object with what each page showed; writes screenshots to --shots.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright
from waiting import wait_until

# How long a page may take to show what it was sent: three or four pages draw in software GL on
# two cores (and a CI machine may be busier still).
WAIT_MS = 30_000
# The step under way, named in the error if one fails.
STEP = ["starting"]


def step(name: str) -> None:
    STEP[0] = name


def camera(page) -> dict:
    return json.loads(page.evaluate("document.body.dataset.camera || 'null'") or "null")


def close_to(a: dict, b: dict) -> tuple[float, float]:
    """Largest position/target difference (mm, the scene in metres) and view direction angle (degrees)."""
    mm = 1000 * max(max(abs(x - y) for x, y in zip(a[k], b[k])) for k in ("position", "target"))
    da = [t - p for t, p in zip(a["target"], a["position"])]
    db = [t - p for t, p in zip(b["target"], b["position"])]
    dot = sum(x * y for x, y in zip(da, db)) / (math.dist(da, [0, 0, 0]) * math.dist(db, [0, 0, 0]))
    return mm, math.degrees(math.acos(max(-1.0, min(1.0, dot))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--join", required=True, help="the session's joinUrl (path and share)")
    parser.add_argument("--host-key", required=True)
    parser.add_argument("--owner-token", required=True, help="the session's creator, who ends it at the end")
    parser.add_argument("--shots", required=True, type=Path)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.shots.mkdir(parents=True, exist_ok=True)
    result: dict = {"console": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])

        def open_page(name: str, host: bool = False, lang: str = "en"):
            page = browser.new_page(viewport={"width": 1000, "height": 700})
            page.on("console", lambda m: result["console"].append(f"{name} {m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: result["console"].append(f"{name} pageerror: {e}"))
            url = f"{args.base}{args.join}&name={name}&lang={lang}" + (f"&hostKey={args.host_key}" if host else "")
            # Three pages already hold the session and render with software GL on two cores: a new
            # page may take longer than Playwright's default 30 s to load.
            page.goto(url, timeout=120_000)
            wait_until(page, "document.body.dataset.session === 'joined' && document.body.dataset.scene === 'ready'", timeout=60_000)
            return page

        step("opening the host's and the participants' pages")
        host = open_page("Sato", host=True)
        first = open_page("Lima", lang="pt")
        second = open_page("Reyes", lang="es")
        result["roles"] = [p.evaluate("document.body.dataset.role") for p in (host, first, second)]
        step("following the host's camera")
        # The host turns the camera: both participants follow, within 1 mm and 0.1°, timed.
        start = camera(host)
        position = [start["target"][0] + 0.3, start["target"][1] + 0.1, start["target"][2] + 0.2]
        moved_at = time.monotonic()
        host.evaluate(f"window.vrprepSession.moveCamera({json.dumps(position)}, {json.dumps(start['target'])})")
        wanted = camera(host)
        followed = []
        for page in (first, second):
            while True:
                got = camera(page)
                if got and close_to(got, wanted)[0] <= 1 and close_to(got, wanted)[1] <= 0.1:
                    followed.append(time.monotonic() - moved_at)
                    break
                if time.monotonic() - moved_at > 10:
                    followed.append(None)
                    break
                time.sleep(0.01)
        result["followSeconds"] = followed
        # The same, measured inside the pages (one clock): from the host's send to each participant's view.
        sent = int(host.evaluate("document.body.dataset.cameraSentAt"))
        result["followMilliseconds"] = [int(p.evaluate("document.body.dataset.cameraAppliedAt")) - sent for p in (first, second)]
        result["hostCamera"] = wanted
        host.screenshot(path=str(args.shots / "01-host.png"))
        first.screenshot(path=str(args.shots / "02-participant-pt.png"))
        step("listing the 100 mm distance")
        # A distance of 100 mm (the scene is in metres): every page lists it.
        target = start["target"]
        host.evaluate(f"window.vrprepSession.addDistance({json.dumps(target)}, {json.dumps([target[0] + 0.06, target[1] + 0.08, target[2]])}, 'margin')")
        for page in (host, first, second):
            wait_until(page, "document.getElementById('annotations').textContent.includes('100 mm')", timeout=WAIT_MS)
        result["annotationTexts"] = [p.inner_text("#annotations") for p in (host, first, second)]
        second.screenshot(path=str(args.shots / "03-participant-es-annotation.png"))
        step("refusing a participant's camera")
        # A participant tries to move everyone: refused, and nobody moves.
        first.evaluate("window.vrprepSession.send({type: 'camera', position: [1, 1, 1], target: [0, 0, 0], up: [0, 1, 0], fov: 40})")
        wait_until(first, "document.body.dataset.refused !== undefined", timeout=WAIT_MS)
        time.sleep(0.5)
        result["refused"] = first.evaluate("document.body.dataset.refused")
        result["refusedText"] = first.inner_text("#sessionMessage")
        result["afterRefusal"] = [close_to(camera(p), wanted) for p in (host, second)]
        step("the late joiner's snapshot")
        # A late joiner: the camera and the annotation from its snapshot.
        late = open_page("Tanaka", lang="ja")
        wait_until(late, "document.getElementById('annotations').textContent.includes('100 mm')", timeout=WAIT_MS)
        time.sleep(0.3)
        result["late"] = {"camera": close_to(camera(late), wanted), "annotations": late.inner_text("#annotations"),
                          "participants": late.inner_text("#participants")}
        late.screenshot(path=str(args.shots / "04-late-joiner-ja.png"))
        step("showing a participant's pointer")
        # A participant points at the model: the others see the ray end on it, with the name.
        # (From above the head, straight down: seen from the host's side view, it ends on the scalp.)
        first.evaluate(f"document.getElementById('pointing').checked = true; window.vrprepSession.showPointer({json.dumps([target[0], target[1] + 0.4, target[2]])}, [0, -1, 0])")
        wait_until(host, "(JSON.parse(document.body.dataset.pointers || '[]')).some(p => p.name === 'Lima')", timeout=WAIT_MS)
        # (Read at once: a pointer not moved for 5 s fades, and software GL draws few frames a second.)
        seen = wait_until(host, """() => {
            const tags = [...document.querySelectorAll('.tag')].filter(t => t.style.display === 'block').map(t => t.textContent);
            return tags.includes('Lima') ? { tags: tags, pointers: JSON.parse(document.body.dataset.pointers) } : null; }""", timeout=WAIT_MS)
        pointer = next(p for p in seen["pointers"] if p["name"] == "Lima")
        result["pointer"] = {"name": pointer["name"], "endFromOriginMM": 1000 * (target[1] + 0.4 - pointer["end"][1]), "tag": seen["tags"]}
        step("showing a headset's head")
        # A headset's head pose (as its page sends it in VR): the others show a head with the name.
        # (Beside the model as the host sees it, a little behind: a head at its true size in the view.)
        view = [t - p for p, t in zip(wanted["position"], wanted["target"])]
        norm = math.dist(view, [0, 0, 0])
        view = [v / norm for v in view]
        up = wanted["up"]
        right = [view[1] * up[2] - view[2] * up[1], view[2] * up[0] - view[0] * up[2], view[0] * up[1] - view[1] * up[0]]
        norm = math.dist(right, [0, 0, 0])
        head = [t + 0.2 * r / norm + 0.15 * v for t, r, v in zip(wanted["target"], right, view)]
        second.evaluate(f"window.vrprepSession.send({{type: 'avatar', position: {json.dumps(head)}, orientation: [0, 0.38268343, 0, 0.92387953]}})")
        wait_until(host, "(JSON.parse(document.body.dataset.avatars || '[]')).some(p => p.name === 'Reyes')", timeout=WAIT_MS)
        result["avatars"] = [a["name"] for a in json.loads(host.evaluate("document.body.dataset.avatars"))]
        host.screenshot(path=str(args.shots / "05-host-sees-pointer-and-head.png"))
        step("showing a raised hand")
        # A participant raises a hand: the host's list shows it.
        second.click("#hand")
        wait_until(host, "document.getElementById('participants').textContent.includes('hand raised')", timeout=WAIT_MS)
        result["hand"] = [line for line in host.inner_text("#participants").splitlines() if "hand raised" in line]
        step("marking and removing a point")
        # A participant marks a labelled point by a click on the model: every page lists it; the
        # host removes it and it is gone everywhere.
        second.fill("#annotationText", "sutura")
        second.click("#markPoint")
        box = second.locator("#scene").bounding_box()
        second.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        for page in (host, first, second, late):
            wait_until(page, "document.getElementById('annotations').textContent.includes('sutura')", timeout=WAIT_MS)
        result["pointAnnotation"] = [a for a in json.loads(host.evaluate("document.body.dataset.annotations")) if a["text"] == "sutura"]
        host.click("#annotations li:has-text('sutura') button.remove")
        for page in (host, first, second, late):
            wait_until(page, "!document.getElementById('annotations').textContent.includes('sutura')", timeout=WAIT_MS)
        result["afterRemoval"] = [p.inner_text("#annotations") for p in (host, first, second, late)]
        step("hiding a structure and clipping")
        # The host hides a structure and cuts across its view: every page does the same.
        # (The last structure, the skin, is hidden; the cut runs through the skull at the target.)
        structure = host.evaluate("[...document.querySelectorAll('#structures input[type=checkbox]')].pop().dataset.structure")
        host.click(f"#structures input[type=checkbox][data-structure='{structure}']")
        for page in (first, second, late):
            wait_until(page, f"!document.querySelector('#structures input[data-structure=\"{structure}\"]').checked", timeout=WAIT_MS)
        time.sleep(0.5)
        first.screenshot(path=str(args.shots / "06-participant-pt-hidden.png"))
        host.evaluate("window.vrprepSession.clip(true, 0)")
        for page in (first, second, late):
            wait_until(page, "document.body.dataset.clip && document.body.dataset.clip !== 'null'", timeout=WAIT_MS)
            wait_until(page, f"!document.querySelector('#structures input[data-structure=\"{structure}\"]').checked", timeout=WAIT_MS)
        result["clip"] = [json.loads(p.evaluate("document.body.dataset.clip")) for p in (host, first, second, late)]
        result["hidden"] = {"structure": structure, "checked": [p.evaluate(f"document.querySelector('#structures input[data-structure=\"{structure}\"]').checked") for p in (first, second, late)]}
        time.sleep(0.5)
        first.screenshot(path=str(args.shots / "07-participant-pt-clip.png"))
        # The clip controls are the presenter's alone.
        result["clipControls"] = [p.evaluate("getComputedStyle(document.getElementById('clipControls')).display") for p in (host, first)]
        step("ending the session")
        # The host ends the session through the API: every page says so in its language.
        result["endedTexts"] = []
        session_id = args.join.split("/session/")[1].split("?")[0]
        ending = urllib.request.Request(f"{args.base}/v1/sessions/{session_id}", method="DELETE",
                                        headers={"Authorization": f"Bearer {args.owner_token}"})
        result["endStatus"] = urllib.request.urlopen(ending).status
        for page in (host, first, second, late):
            wait_until(page, "document.body.dataset.session === 'ended'", timeout=WAIT_MS)
            result["endedTexts"].append(page.inner_text("#sessionMessage"))
        late.screenshot(path=str(args.shots / "08-ended-ja.png"))
        browser.close()
    print(json.dumps(result))


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 (the Swift test shows why)
        print(f"session_scenario.py: while {STEP[0]}: {error}", file=sys.stderr)
        sys.exit(1)
