"""Waiting for a condition in a page that has a strict Content-Security-Policy.

Playwright's `wait_for_function` evaluates its predicate with `eval` inside the page, which a
policy without 'unsafe-eval' refuses (the service's pages have none). `page.evaluate` goes through
the DevTools protocol, which the page's policy does not govern: polling it waits for the same
condition without weakening the page under test.
"""
from __future__ import annotations

import time

from playwright.sync_api import Error as PlaywrightError


def wait_until(page, expression: str, timeout: float = 30_000, interval: float = 0.05):
    """Polls `expression` (a JavaScript expression or function) until it is truthy; returns its
    value. Raises TimeoutError naming the expression after `timeout` milliseconds."""
    deadline = time.monotonic() + timeout / 1000
    while True:
        try:
            value = page.evaluate(expression)
        except PlaywrightError as error:
            # A navigation replaced the page's context: ask the new one.
            if "context was destroyed" not in str(error) and "navigat" not in str(error):
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout / 1000:.0f} s for: {expression}")
        time.sleep(interval)
