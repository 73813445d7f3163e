"""The console's colours meet WCAG 2.1 AA contrast (4.5:1 text, 3:1 focus ring), read from its stylesheet."""

from __future__ import annotations

import re

import pytest

from regard.adapters.console.app import STATIC

CSS = (STATIC / "console.css").read_text()
VARIABLES = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))


def colour(name: str) -> str:
    return VARIABLES.get(name, name)


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(colour(a)), luminance(colour(b))), reverse=True)
    return (high + 0.05) / (low + 0.05)


def rule(selector: str) -> str:
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert match, f"no rule for {selector}"
    return match.group(1)


def prop(selector: str, name: str) -> str:
    match = re.search(rf"(?<![-\w]){name}:\s*(?:var\(--([a-z-]+)\)|(#[0-9a-fA-F]{{6}}))", rule(selector))
    assert match, f"{selector} has no {name}"
    return match.group(1) or match.group(2)


PAIRS = [  # (text, background) as the stylesheet sets them
    ("ink", "bg"),
    ("ink", "panel"),
    ("muted", "bg"),
    ("muted", "panel"),
    ("danger", "panel"),
    ("accent", "panel"),  # link-styled buttons
    (prop("button", "color"), prop("button", "background")),
    (prop("button.danger", "color"), prop("button.danger", "background")),
    (prop("nav a", "color"), prop(".top-bar", "background")),
    (prop('nav a[aria-current="page"]', "color"), prop('nav a[aria-current="page"]', "background")),
    (prop(".brand-sub", "color"), prop(".top-bar", "background")),
    (prop(".who", "color"), prop(".top-bar", "background")),
    (prop(".banner.ok", "color"), prop(".banner.ok", "background")),
    (prop(".banner.bad", "color"), prop(".banner.bad", "background")),
    (prop(".status", "color"), prop(".status", "background")),
    ("ink", prop("th", "background")),
]


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_contrast_is_aa(text: str, background: str) -> None:
    assert contrast(text, background) >= 4.5, (text, background, round(contrast(text, background), 2))


FOCUS = [  # the focus ring against what surrounds it (outline-offset puts it on the background)
    ("focus", "bg"),
    ("focus", "panel"),
    ("focus", prop("th", "background")),
    ("focus-dark", prop(".top-bar", "background")),
]


@pytest.mark.parametrize(("ring", "background"), FOCUS)
def test_focus_ring_contrast(ring: str, background: str) -> None:
    assert rule(".top-bar :focus-visible") and "var(--focus)" in rule(":focus-visible")
    assert contrast(ring, background) >= 3.0, (ring, background, round(contrast(ring, background), 2))
