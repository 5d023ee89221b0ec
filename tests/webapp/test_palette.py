"""The map's classes stay clearly different for every reader: each pair of class colours is far
apart in CAM02-UCS (colorspacious) with normal colour vision and with full red-green (deuteranopia,
protanopia) or blue-yellow (tritanopia) colour blindness."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

colorspacious = pytest.importorskip("colorspacious")

#: Smallest colour difference allowed between two classes (CAM02-UCS; about 1 is just noticeable).
MIN_DELTA_E = 12.0


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]) / 255


@pytest.mark.parametrize("cvd", [None, "deuteranomaly", "protanomaly", "tritanomaly"])
def test_map_classes_are_clearly_different(cvd):
    from webapp._compare import CHANGE_CLASSES
    from webapp.presentation import CLASSES

    for palette in (CLASSES, CHANGE_CLASSES):
        colours = {key: _rgb(colour) for key, _label, colour in palette}
        if cvd is not None:
            space = {"name": "sRGB1+CVD", "cvd_type": cvd, "severity": 100}
            colours = {k: np.clip(colorspacious.cspace_convert(v, space, "sRGB1"), 0, 1)
                       for k, v in colours.items()}
        for a, b in itertools.combinations(colours, 2):
            delta = colorspacious.deltaE(colours[a], colours[b], input_space="sRGB1")
            assert delta >= MIN_DELTA_E, f"{a} and {b}: delta E {delta:.1f} ({cvd or 'normal vision'})"


def test_legend_swatches_match_the_map_colours(client):
    from webapp.presentation import CLASSES

    css = client.get("/static/app.css").get_data(as_text=True)
    for key, _label, colour in CLASSES:
        assert f".swatch-{key} {{ background: {colour}; }}" in css
