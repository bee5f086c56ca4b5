#!/usr/bin/env python3
"""The viewer over HTTPS, as a headset's browser on the hospital network opens it.

Run by the service's TLS test inside a network namespace (an address that is not localhost),
with HOME pointing at an NSS database that trusts the test's certificate authority: no
certificate error is ignored. Prints one JSON object: whether the page is a secure context,
whether WebXR's navigator.xr is there, the viewer's status and level, the page's errors.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright
from waiting import wait_until


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--screenshot", type=Path, required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    result: dict = {"console": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium,
                                             args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
        page = browser.new_page(viewport={"width": 800, "height": 600})
        page.on("console", lambda m: result["console"].append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: result["console"].append(f"pageerror: {e}"))
        response = page.goto(args.url)
        result["httpStatus"] = response.status if response else None
        result["securityHeaders"] = {k: v for k, v in (response.headers if response else {}).items()
                                     if k in ("strict-transport-security", "content-security-policy")}
        wait_until(page, "document.getElementById('status') && document.getElementById('status').textContent === 'ready'", timeout=120_000)
        result["status"] = page.evaluate("document.getElementById('status').textContent")
        result["level"] = page.evaluate("document.body.dataset.level")
        result["secureContext"] = page.evaluate("window.isSecureContext")
        result["xr"] = page.evaluate("'xr' in navigator && typeof navigator.xr.isSessionSupported === 'function'")
        result["origin"] = page.evaluate("location.origin")
        page.screenshot(path=str(args.screenshot))
        browser.close()
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
