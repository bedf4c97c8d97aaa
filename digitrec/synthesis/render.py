"""Render handwritten digits as a webcam or phone would photograph them on paper.

The synthetic camera, tests and benchmarks use this to produce realistic frames with known labels:
ink of varying colour and strength on paper of varying tone and texture, uneven light, shadows,
ruled lines, a page edge with the table around it, perspective, blur, noise and JPEG artefacts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

LEVELS = ("clean", "medium", "hard")
#: gaps between a number's digits, in digit heights: as people space them, and touching or
#: overlapping neighbours (the benchmarks' two kinds of number)
NUMBER_GAPS = {"spaced": (0.12, 0.35), "touching": (-0.12, 0.02)}


@dataclass(frozen=True)
class RenderedFrame:
    """A rendered BGR frame, the digits it shows (left to right) and their boxes (x, y, w, h)."""

    image: np.ndarray
    labels: tuple[int, ...]
    boxes: tuple[tuple[int, int, int, int], ...] = field(default=())


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1] of ``shape``."""
    h, w = shape
    grid = rng.uniform(-1, 1, (max(2, cells * h // max(h, w)), max(2, cells * w // max(h, w))))
    return cv2.resize(grid.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)


def ink_alpha(digit: np.ndarray, height: int) -> np.ndarray:
    """A 28x28 white-on-black digit, cropped and scaled to ``height`` px, as alpha in [0, 1]."""
    ys, xs = np.nonzero(digit > 20)
    if len(xs) == 0:
        return np.zeros((height, max(1, height // 2)), np.float32)
    crop = digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255.0
    factor = height / crop.shape[0]
    width = max(1, round(crop.shape[1] * factor))
    alpha = cv2.resize(crop, (width, height), interpolation=cv2.INTER_CUBIC)
    if factor > 2:  # soften the upscaled 28 px staircase into a pen's smooth edge
        alpha = cv2.GaussianBlur(alpha, (0, 0), 0.35 * factor)
        alpha = np.clip((alpha - 0.25) * 2.0, 0.0, 1.0)
    return np.clip(alpha * 1.15, 0.0, 1.0)


class PhotoRenderer:
    """Draws digits on synthetic paper at one of three difficulty ``level``s.

    ``clean``: even light, black or blue ink, the digit near the centre at a medium size.
    ``medium``: uneven light and vignetting, noise, blur, pencil, off-centre, small or large
    digits, slight rotation and perspective, JPEG artefacts.
    ``hard``: ``medium`` plus ruled lines, a page edge with the table visible, and shadows.
    """

    def __init__(self, width: int = 640, height: int = 480, level: str = "medium") -> None:
        if level not in LEVELS:
            raise ValueError(f"camera.level must be one of {LEVELS}, got {level!r}")
        self.width, self.height, self.level = int(width), int(height), level

    def render(
        self,
        digits: Sequence[np.ndarray],
        labels: Sequence[int],
        rng: np.random.Generator,
        gap: tuple[float, float] = NUMBER_GAPS["spaced"],
    ) -> RenderedFrame:
        """Render ``digits`` (28x28 white-on-black arrays) as one written number, ``gap`` (a
        range, in digit heights) apart: a negative gap makes neighbours touch or overlap.

        The steps, in the order they draw from ``rng``: paper, the digits' places, ink, ruled
        lines, the page on a table, light, a shadow, the lens, the sensor."""
        paper = self._paper(rng)
        coverage, boxes = self._write(digits, rng, gap)
        page, ink = self._ink(paper, coverage, rng)
        if self.hard and rng.random() < 0.7:
            self._rule(page, ink, rng)
        frame = self._on_table(page, boxes, rng)
        if self.medium:
            frame = self._light(frame, rng)
        if self.hard and rng.random() < 0.6:
            frame = self._shadow(frame, rng)
        if self.medium:
            frame, boxes = self._lens(frame, boxes, rng)
        image = self._sensor(frame, rng)
        return RenderedFrame(image=image, labels=tuple(int(v) for v in labels), boxes=tuple(boxes))

    @property
    def medium(self) -> bool:
        return self.level in ("medium", "hard")

    @property
    def hard(self) -> bool:
        return self.level == "hard"

    def _paper(self, rng: np.random.Generator) -> np.ndarray:
        """Paper of some tone and tint, a little uneven (float BGR)."""
        w, h = self.width, self.height
        paper_tone = rng.uniform(175, 250) if self.medium else rng.uniform(215, 250)
        tint = rng.uniform(-8, 8, 3) if self.medium else np.zeros(3)
        paper = np.full((h, w, 3), paper_tone, np.float32) + tint
        paper *= 1.0 + 0.04 * smooth_noise(rng, (h, w), 12)[..., None]
        return paper

    def _write(
        self, digits: Sequence[np.ndarray], rng: np.random.Generator, gap: tuple[float, float]
    ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
        """Where the digits go: their ink coverage (0-1) over the frame and their boxes."""
        w, h = self.width, self.height
        coverage = np.zeros((h, w), np.float32)
        n = len(digits)
        if self.medium:
            digit_h = int(rng.uniform(0.08, 0.6) * h) if n == 1 else int(rng.uniform(0.1, 0.3) * h)
        else:
            digit_h = int(rng.uniform(0.2, 0.4) * h)
        digit_h = max(digit_h, 16)
        alphas = [ink_alpha(d, int(digit_h * rng.uniform(0.9, 1.1))) for d in digits]
        gaps = [int(digit_h * rng.uniform(*gap)) for _ in range(n - 1)]
        total_w = sum(a.shape[1] for a in alphas) + sum(gaps)
        max_h = max(a.shape[0] for a in alphas)
        if total_w > 0.9 * w:  # shrink a long number to fit
            factor = 0.9 * w / total_w
            alphas = [
                cv2.resize(a, (max(1, int(a.shape[1] * factor)), max(1, int(a.shape[0] * factor))))
                for a in alphas
            ]
            gaps = [int(g * factor) for g in gaps]
            total_w = sum(a.shape[1] for a in alphas) + sum(gaps)
            max_h = max(a.shape[0] for a in alphas)
        spread = 0.45 if self.medium else 0.12
        x0 = int(
            np.clip(
                w / 2 - total_w / 2 + rng.uniform(-spread, spread) * (w - total_w) / 2,
                4,
                w - total_w - 4,
            )
        )
        y0 = int(
            np.clip(
                h / 2 - max_h / 2 + rng.uniform(-spread, spread) * (h - max_h) / 2, 4, h - max_h - 4
            )
        )
        boxes = []
        x = x0
        for i, a in enumerate(alphas):
            ah, aw = a.shape
            y = y0 + (max_h - ah) // 2 + int(rng.integers(-2, 3))
            y = int(np.clip(y, 0, h - ah))
            x = int(np.clip(x, 0, w - aw))
            coverage[y : y + ah, x : x + aw] = np.maximum(coverage[y : y + ah, x : x + aw], a)
            boxes.append((x, y, aw, ah))
            x += aw + (gaps[i] if i < n - 1 else 0)
        return coverage, boxes

    def _ink(
        self, paper: np.ndarray, coverage: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """The page with the digits in black or blue pen, marker, or grey pencil (lighter, a
        little grainy), and the ink's opacity ``(h, w, 1)``."""
        h, w = coverage.shape
        kind = rng.choice(
            ["pen", "blue", "marker", "pencil"] if self.medium else ["pen", "blue", "marker"]
        )
        if kind == "pencil":
            colour = np.full(3, rng.uniform(60, 110), np.float32)
            strength = rng.uniform(0.55, 0.8)
            coverage = coverage * (1.0 - 0.25 * rng.random((h, w), dtype=np.float32))
        else:
            colour = {
                "pen": np.array([25, 25, 30]),
                "blue": np.array([140, 40, 20]),
                "marker": np.array([10, 10, 10]),
            }[kind].astype(np.float32)
            colour = colour + rng.uniform(-10, 10, 3)
            strength = rng.uniform(0.85, 0.98)
        if kind == "marker":
            coverage = cv2.dilate(coverage, np.ones((3, 3), np.uint8))
        ink = (coverage * strength)[..., None]
        return paper * (1 - ink) + colour * ink, ink

    def _rule(self, page: np.ndarray, ink: np.ndarray, rng: np.random.Generator) -> None:
        """Ruled lines, light blue, printed under the ink (in place)."""
        h = self.height
        spacing = int(rng.uniform(0.06, 0.12) * h)
        offset = int(rng.integers(0, spacing))
        line_colour = np.array([200, 170, 140], np.float32)
        for yy in range(offset, h, spacing):
            thickness = int(rng.integers(1, 3))
            band = page[yy : yy + thickness]
            ink_here = ink[yy : yy + thickness]
            # the printed line shows through where there is no ink on top of it
            printed = band * 0.35 + 0.65 * (line_colour * (1 - ink_here) + band * ink_here)
            band[:] = np.minimum(band, printed)

    def _on_table(
        self, page: np.ndarray, boxes: list[tuple[int, int, int, int]], rng: np.random.Generator
    ) -> np.ndarray:
        """The page on a table: (hard level) a page edge on one side, never across a digit."""
        w, h = self.width, self.height
        page_mask = np.ones((h, w), np.float32)
        if self.hard and rng.random() < 0.6:
            corners = _page_corners(w, h, rng)
            left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
            right, bottom = max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes)
            if (
                corners[[0, 3], 0].max() < left - 8
                and corners[[1, 2], 0].min() > right + 8
                and corners[[0, 1], 1].max() < top - 8
                and corners[[2, 3], 1].min() > bottom + 8
            ):
                page_mask = np.zeros((h, w), np.float32)
                cv2.fillConvexPoly(page_mask, corners.astype(np.int32), 1.0, lineType=cv2.LINE_AA)
        table = np.full((h, w, 3), rng.uniform(40, 120), np.float32) * (
            1 + 0.15 * smooth_noise(rng, (h, w), 20)[..., None]
        )
        table *= np.array([rng.uniform(0.6, 1.0), rng.uniform(0.7, 1.0), 1.0], np.float32)
        return page * page_mask[..., None] + table * (1 - page_mask[..., None])

    def _light(self, frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Uneven light: a gradient and vignetting."""
        w, h = self.width, self.height
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(angle) * (xx / w - 0.5) + np.sin(angle) * (yy / h - 0.5)) * rng.uniform(
            0.2, 0.7
        )
        vignette = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * rng.uniform(0.0, 0.8)
        frame *= np.clip(1.0 + ramp - vignette, 0.35, 1.3)[..., None]
        return frame

    def _shadow(self, frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A soft shadow (a hand, the phone) over part of the frame."""
        w, h = self.width, self.height
        shadow = np.zeros((h, w), np.float32)
        cx, cy = rng.uniform(-0.2, 1.2) * w, rng.uniform(-0.2, 1.2) * h
        pts = np.array(
            [[cx + rng.uniform(-0.6, 0.6) * w, cy + rng.uniform(-0.6, 0.6) * h] for _ in range(5)],
            np.int32,
        )
        cv2.fillConvexPoly(shadow, cv2.convexHull(pts), 1.0)
        shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(8, 30))
        frame *= (1 - rng.uniform(0.25, 0.5) * shadow)[..., None]
        return frame

    def _lens(
        self, frame: np.ndarray, boxes: list[tuple[int, int, int, int]], rng: np.random.Generator
    ) -> tuple[np.ndarray, list[tuple[int, int, int, int]]]:
        """A little rotation and perspective; the digits' boxes follow."""
        w, h = self.width, self.height
        jitter = rng.uniform(-0.03, 0.03, (4, 2)) * [w, h]
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        centre = np.array([w / 2, h / 2])
        theta = np.deg2rad(rng.uniform(-8, 8))
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        dst = ((src - centre) @ rot.T + centre + jitter).astype(np.float32)
        matrix = cv2.getPerspectiveTransform(src, dst)
        frame = cv2.warpPerspective(
            frame, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        return frame, [self._warp_box(b, matrix, w, h) for b in boxes]

    def _sensor(self, frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Focus blur and noise (medium level), then JPEG compression: the ``uint8`` image."""
        if self.medium:
            sigma = rng.uniform(0.0, 1.3)
            if sigma > 0.3:
                frame = cv2.GaussianBlur(frame, (0, 0), sigma)
            frame += rng.normal(0, rng.uniform(2, 8), frame.shape).astype(np.float32)
        else:
            frame += rng.normal(0, 2, frame.shape).astype(np.float32)
        image = np.clip(frame, 0, 255).astype(np.uint8)
        quality = int(rng.uniform(45, 90)) if self.medium else 90
        _ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(encoded, cv2.IMREAD_COLOR)

    @staticmethod
    def _warp_box(box, matrix, w, h):
        x, y, bw, bh = box
        pts = np.float32([[x, y], [x + bw, y], [x + bw, y + bh], [x, y + bh]]).reshape(-1, 1, 2)
        out = cv2.perspectiveTransform(pts, matrix).reshape(-1, 2)
        x1, y1 = np.clip(out.min(0), 0, [w - 1, h - 1])
        x2, y2 = np.clip(out.max(0), 0, [w, h])
        return (int(x1), int(y1), int(x2 - x1), int(y2 - y1))


def _page_corners(w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """The page's corners with one side moved in by 4-14% (the edge of the sheet in view)."""
    corners = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    side = rng.integers(0, 4)
    inset = rng.uniform(0.04, 0.14)
    if side == 0:
        corners[[0, 3], 0] += inset * w * np.array([rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)])
    elif side == 1:
        corners[[1, 2], 0] -= inset * w * np.array([rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)])
    elif side == 2:
        corners[[0, 1], 1] += inset * h * np.array([rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)])
    else:
        corners[[2, 3], 1] -= inset * h * np.array([rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)])
    return corners
