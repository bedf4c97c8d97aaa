"""Phone photos of a whole notebook page: small thin-pen digits among ruled or squared lines.

The hard case of photographed handwriting the webcam renderer does not draw: a portrait phone
frame (1080x1920) of a page, the digit only one or two line spacings tall and written with a pen
as thin as the printed rules, which are slightly tilted and bowed by the page and the lens; and,
at the other extreme, a thick marker digit out of focus.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from digitrec.synthesis import HandwritingSynthesizer
from digitrec.synthesis.render import NUMBER_GAPS, RenderedFrame, ink_alpha, smooth_noise

#: ``(digit, height px, pen px, rng) -> ink coverage in [0, 1]`` cropped to the digit
InkSource = Callable[[int, float, float, np.random.Generator], np.ndarray]

PAGES = ("ruled", "squared", "defocus")


class NotebookRenderer:
    """Renders one digit on a notebook page photographed by a phone.

    ``page``: ``ruled`` (lines across the page), ``squared`` (a grid) or ``defocus`` (plain
    paper, a big thick marker digit, the frame out of focus).
    """

    def __init__(self, width: int = 1080, height: int = 1920, page: str = "ruled") -> None:
        if page not in PAGES:
            raise ValueError(f"page must be one of {PAGES}, got {page!r}")
        self.width, self.height, self.page = int(width), int(height), page

    def render(self, ink: InkSource, digit: int, rng: np.random.Generator) -> RenderedFrame:
        """A frame showing ``digit`` drawn by ``ink``, and the digit's box."""
        return self.render_number(ink, [digit], rng)

    def render_number(
        self,
        ink: InkSource,
        digits: Sequence[int],
        rng: np.random.Generator,
        gap: tuple[float, float] = NUMBER_GAPS["spaced"],
    ) -> RenderedFrame:
        """A frame showing ``digits`` drawn by ``ink`` as one number written on a line,
        ``gap`` (a range, in digit heights) apart, and the digits' boxes (left to right)."""
        w, h = self.width, self.height
        paper = np.full((h, w), rng.uniform(190, 245), np.float32)
        paper *= 1.0 + 0.03 * smooth_noise(rng, (h, w), 16)
        spacing = rng.uniform(0.028, 0.04) * h
        if self.page == "defocus":
            digit_h = rng.uniform(0.2, 0.5) * h
            pen = rng.uniform(0.12, 0.2) * digit_h
        else:
            digit_h = rng.uniform(1.0, 2.0) * spacing
            pen = rng.uniform(1.5, 3.5)
        alpha, boxes = _side_by_side(
            [ink(d, digit_h, pen, rng) for d in digits],
            [int(digit_h * rng.uniform(*gap)) for _ in digits[1:]],
        )
        fit = min(1.0, 0.9 * w / alpha.shape[1], 0.9 * h / alpha.shape[0])
        if fit < 1.0:  # a wide digit or number written big: keep it on the page
            size = (max(1, int(alpha.shape[1] * fit)), max(1, int(alpha.shape[0] * fit)))
            fx, fy = size[0] / alpha.shape[1], size[1] / alpha.shape[0]
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
            boxes = [
                (round(x * fx), round(y * fy), max(1, round(bw * fx)), max(1, round(bh * fy)))
                for x, y, bw, bh in boxes
            ]
        ah, aw = alpha.shape
        x = int(rng.uniform(0.12, 0.88) * (w - aw))
        if self.page == "defocus":
            y = int(rng.uniform(0.2, 0.8) * (h - ah))
        else:  # written on a line: the digits' feet near a rule
            rows = np.arange(spacing * rng.uniform(1, 2), h - ah, spacing)
            y = int(rows[rng.integers(len(rows))] - ah + rng.uniform(-0.1, 0.15) * spacing)
            y = int(np.clip(y, 0, h - ah))
        coverage = np.zeros((h, w), np.float32)
        coverage[y : y + ah, x : x + aw] = alpha

        rules = np.zeros((h, w), np.float32)
        if self.page in ("ruled", "squared"):
            self._draw_rules(rules, spacing, rng, vertical=self.page == "squared")
        rule_strength = rng.uniform(0.15, 0.45)
        tone = paper * (1 - rule_strength * rules)
        ink_colour = rng.uniform(20, 70)
        strength = rng.uniform(0.75, 0.95)
        frame = tone * (1 - strength * coverage) + ink_colour * strength * coverage
        # uneven light over the page
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(angle) * (xx / w - 0.5) + np.sin(angle) * (yy / h - 0.5)) * rng.uniform(
            0.1, 0.4
        )
        frame *= 1.0 + ramp
        colour = np.stack(
            [frame * rng.uniform(0.9, 1.05), frame, frame * rng.uniform(0.9, 1.02)], -1
        )
        if self.page == "defocus":
            colour = cv2.GaussianBlur(colour, (0, 0), rng.uniform(0.01, 0.03) * digit_h + 2)
        else:
            colour = cv2.GaussianBlur(colour, (0, 0), rng.uniform(0.5, 1.2))
        colour += rng.normal(0, rng.uniform(2, 5), colour.shape).astype(np.float32)
        image = np.clip(colour, 0, 255).astype(np.uint8)
        _ok, encoded = cv2.imencode(
            ".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.uniform(70, 95))]
        )
        return RenderedFrame(
            image=cv2.imdecode(encoded, cv2.IMREAD_COLOR),
            labels=tuple(int(d) for d in digits),
            boxes=tuple((x + bx, y + by, bw, bh) for bx, by, bw, bh in boxes),
        )

    def _draw_rules(
        self, rules: np.ndarray, spacing: float, rng: np.random.Generator, vertical: bool
    ) -> None:
        """Printed lines, tilted and bowed a little (the page is not flat, the lens not ideal)."""
        h, w = rules.shape
        tilt = np.tan(np.deg2rad(rng.uniform(-3, 3)))
        bow = rng.uniform(-0.01, 0.01) * h
        thickness = int(rng.integers(1, 4))
        xs = np.linspace(0, w, 24)
        for y0 in np.arange(rng.uniform(0, spacing), h + abs(tilt) * w, spacing):
            ys = y0 + tilt * (xs - w / 2) + bow * ((xs / w - 0.5) * 2) ** 2
            points = np.round(np.stack([xs, ys], axis=1) * 16).astype(np.int32)
            cv2.polylines(rules, [points], False, 1.0, thickness, cv2.LINE_AA, 4)
        if vertical:
            ys = np.linspace(0, h, 32)
            for x0 in np.arange(rng.uniform(0, spacing), w, spacing):
                xs_v = x0 - tilt * (ys - h / 2) + 0.5 * bow * ((ys / h - 0.5) * 2) ** 2
                points = np.round(np.stack([xs_v, ys], axis=1) * 16).astype(np.int32)
                cv2.polylines(rules, [points], False, 1.0, thickness, cv2.LINE_AA, 4)


def _side_by_side(
    alphas: Sequence[np.ndarray], gaps: Sequence[int]
) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
    """The digits' ink ``alphas`` side by side, ``gaps`` px apart (negative: overlapping), their
    feet on one line; and each digit's box in the result."""
    height = max(a.shape[0] for a in alphas)
    xs = np.cumsum([0] + [a.shape[1] + g for a, g in zip(alphas, gaps, strict=False)]).tolist()
    left = min(xs)
    width = max(x + a.shape[1] for x, a in zip(xs, alphas, strict=True)) - left
    strip = np.zeros((height, width), np.float32)
    boxes = []
    for x, a in zip(xs, alphas, strict=True):
        ah, aw = a.shape
        x, y = x - left, height - ah
        strip[y:, x : x + aw] = np.maximum(strip[y:, x : x + aw], a)
        boxes.append((x, y, aw, ah))
    return strip, boxes


def handwriting_ink(synthesizer: HandwritingSynthesizer) -> InkSource:
    """An ink source drawing each digit in one of ``synthesizer``'s styles, at random."""

    def ink(digit: int, height: float, pen: float, rng: np.random.Generator) -> np.ndarray:
        style = str(rng.choice(synthesizer.styles[digit]))
        return synthesizer.draw_ink(digit, style, rng, height=height, pen=pen)

    return ink


def mnist_ink(images: np.ndarray, labels: np.ndarray) -> InkSource:
    """An ink source drawing a random MNIST-form digit (28x28, white on black) of the class,
    scaled to the height, its strokes thinned towards the pen's width."""
    by_digit = [np.flatnonzero(labels == d) for d in range(10)]

    def ink(digit: int, height: float, pen: float, rng: np.random.Generator) -> np.ndarray:
        alpha = ink_alpha(images[int(rng.choice(by_digit[digit]))], max(16, round(height)))
        solid = (alpha > 0.5).astype(np.uint8)
        # MNIST's strokes are about a tenth of the digit's height: erode towards the pen
        width = 2.0 * solid.sum() / max(1, cv2.countNonZero(solid - cv2.erode(solid, None)))
        k = int((width - pen) // 2)
        if k > 0:
            thinned = cv2.erode(
                alpha, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1,) * 2)
            )
            if (thinned > 0.5).any():
                alpha = thinned
        return alpha

    return ink
