"""A handwriting synthesiser: digits drawn as pen trajectories in the styles MNIST lacks.

MNIST's writers are mostly American: a 1 is a bare stroke, a 4 is closed, a 7 has no bar. Much of
the world writes a 1 with a flag and a base, a 4 open at the top, a 7 crossed, a 9 with a hooked
tail. Each style here is a few strokes of control points in a unit box (x right, y down, the digit
spanning y in [0, 1]); a drawing perturbs the points, slants, stretches and rotates the digit,
smooths each stroke into a curve, adds tremor, overshoot and pen lifts, and lays ink along it
with a pressure that varies along the stroke. The result is in MNIST's form: 28x28 ``uint8``,
white ink on black, the digit fitted into 20 px and centred by mass (as the embedded digits are),
so it goes through ``preprocess=photo``, augmentation and the photo renderer like any of them.

No data files: every style is code below, and the same ``(digit, style, seed)`` draws the same
digit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from digitrec.preprocess.mnist_form import fit_and_centre

# part of every cache key of synthetic training digits: bump it whenever the drawings change
VERSION = 4

Stroke = np.ndarray  # (n, 2) control points (x, y) in the unit box
Points = list[tuple[float, float]]

# drawn at this many pixels per unit of height before MNIST's 20 px box (anti-aliasing)
_CANVAS_HEIGHT = 80
# every digit but a 1 is at least this wide for its height...
_MIN_ASPECT = 0.3
# ... and this many pen widths wide: a narrow 0 (or 6, 8, 9) written with a thick pen otherwise
# fills its loop and is a 1 in all but its label
_MIN_PENS_WIDE = 2.5


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 9
) -> Points:
    """Points on an ellipse from ``start`` to ``end`` degrees (0 = right, 90 = down)."""
    angles = np.deg2rad(np.linspace(start, end, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in angles]


def _corner(point: tuple[float, float]) -> Points:
    """A sharp turn: a control point given twice stops the curve's smoothing there."""
    return [point, point]


# ------------------------------------------------------------------------------------- styles
# Each style returns its strokes (lists of control points, in writing order) for random
# proportions drawn from ``rng``; the shared perturbations come afterwards.
def _zero_round(rng: np.random.Generator) -> list[Points]:
    start = rng.uniform(-110, -60)
    return [_arc(0.5, 0.5, 0.5, 0.5, start, start - 360, 17)]


def _zero_narrow(rng: np.random.Generator) -> list[Points]:
    start = rng.uniform(-110, -70)
    return [_arc(0.5, 0.5, rng.uniform(0.18, 0.3), 0.5, start, start - 360, 17)]


def _zero_overshoot(rng: np.random.Generator) -> list[Points]:
    start = rng.uniform(-80, -40)
    return [_arc(0.5, 0.5, 0.5, 0.5, start, start - rng.uniform(390, 430), 19)]


def _one_bare(rng: np.random.Generator) -> list[Points]:
    bend = rng.uniform(-0.05, 0.05)
    return [[(0.5, 0.0), (0.5 + bend, 0.5), (0.5, 1.0)]]


def _one_flag(rng: np.random.Generator) -> list[Points]:
    length = rng.uniform(0.25, 0.6)
    angle = np.deg2rad(rng.uniform(20, 60))  # the up-stroke's rise from the horizontal
    # drawn wide: the digit's width scaling (for a bare stem) would otherwise squash the flag
    start = (0.55 - 1.6 * length * np.cos(angle), length * np.sin(angle))
    return [[start, *_corner((0.55, 0.0)), (0.52, 0.5), (0.5, 1.0)]]


def _one_flag_base(rng: np.random.Generator) -> list[Points]:
    half = rng.uniform(0.3, 0.6)
    return [*_one_flag(rng), [(0.5 - half, 1.0), (0.5 + half, 1.0)]]


def _two_plain(rng: np.random.Generator) -> list[Points]:
    top = rng.uniform(0.1, 0.3)
    return [
        [
            (0.05, top),
            (0.45, 0.0),
            (0.9, 0.22),
            (0.75, 0.55),
            *_corner((0.0, 1.0)),
            (rng.uniform(0.8, 1.05), rng.uniform(0.95, 1.02)),
        ]
    ]


def _two_loop(rng: np.random.Generator) -> list[Points]:
    size = rng.uniform(0.1, 0.18)
    return [
        [
            (0.05, rng.uniform(0.1, 0.3)),
            (0.45, 0.0),
            (0.9, 0.22),
            (0.7, 0.58),
            (0.2, 1.0 - 1.6 * size),
            (0.05, 1.0 - 0.5 * size),
            (0.15, 1.0),
            (0.2 + size, 1.0 - 0.4 * size),
            (0.15, 1.0 - 1.2 * size),
            (0.1, 1.0 - 0.6 * size),
            (0.3, 0.98),
            (rng.uniform(0.8, 1.05), rng.uniform(0.93, 1.02)),
        ]
    ]


def _three_round(rng: np.random.Generator) -> list[Points]:
    waist = rng.uniform(0.42, 0.52)
    return [
        [
            (0.08, 0.15),
            (0.5, 0.0),
            (0.88, 0.18),
            (0.8, waist - 0.1),
            *_corner((rng.uniform(0.35, 0.55), waist)),
            (0.92, waist + 0.15),
            (0.9, 0.85),
            (0.5, 1.0),
            (0.05, 0.85),
        ]
    ]


def _three_flat(rng: np.random.Generator) -> list[Points]:
    waist = rng.uniform(0.38, 0.5)
    return [
        [
            (0.08, 0.0),
            *_corner((0.92, 0.0)),
            *_corner((0.4, waist)),
            (0.88, waist + 0.12),
            (0.92, 0.8),
            (0.5, 1.0),
            (0.05, 0.85),
        ]
    ]


def _four_closed(rng: np.random.Generator) -> list[Points]:
    # the bar as high as 0.38: a small triangle on a long stem (which MNIST's 9s resemble)
    stem, bar = rng.uniform(0.6, 0.75), rng.uniform(0.38, 0.72)
    # the bar may end just past the stem (then the 4 is nearly a triangle on a stick)
    end = stem + rng.uniform(0.05, 0.4)
    return [
        [(stem, 0.0), *_corner((0.0, bar)), (end, bar)],
        [(stem, 0.02), (stem, 1.0)],
    ]


def _four_open(rng: np.random.Generator) -> list[Points]:
    stem, bar = rng.uniform(0.6, 0.75), rng.uniform(0.4, 0.65)
    left = rng.uniform(0.0, 0.25)
    end = stem + rng.uniform(0.05, 0.4)
    return [
        [(left + rng.uniform(0.05, 0.2), 0.0), *_corner((left, bar)), (end, bar)],
        [(stem, 0.0), (stem, 1.0)],
    ]


def _five_belly(rng: np.random.Generator) -> Points:
    waist = rng.uniform(0.38, 0.5)
    return [
        *_corner((0.12, waist)),
        (0.5, waist - 0.06),
        (0.9, waist + 0.2),
        (0.85, 0.88),
        (0.45, 1.0),
        (0.02, 0.86),
    ]


def _five_bar_last(rng: np.random.Generator) -> list[Points]:
    return [[(0.2, 0.0), *_five_belly(rng)], [(0.2, 0.0), (rng.uniform(0.8, 1.0), 0.0)]]


def _five_bar_first(rng: np.random.Generator) -> list[Points]:
    return [[(rng.uniform(0.8, 1.0), 0.0), *_corner((0.2, 0.0)), *_five_belly(rng)]]


def _six_round(rng: np.random.Generator) -> list[Points]:
    return [
        [
            (0.85, 0.05),
            (0.4, 0.2),
            (0.1, 0.6),
            (0.2, 0.92),
            (0.55, 1.0),
            (0.9, 0.78),
            (0.72, 0.52),
            (0.35, 0.52),
            (0.12, 0.72),
        ]
    ]


def _six_small_loop(rng: np.random.Generator) -> list[Points]:
    top = rng.uniform(0.55, 0.7)
    return [
        [
            (0.75, 0.0),
            (0.35, 0.3),
            (0.12, top + 0.12),
            (0.25, 0.97),
            (0.6, 1.0),
            (0.85, 0.85),
            (0.65, top),
            (0.3, top + 0.05),
            (0.15, top + 0.2),
        ]
    ]


def _seven_plain(rng: np.random.Generator) -> list[Points]:
    serif = [(0.0, rng.uniform(0.1, 0.2))] if rng.random() < 0.3 else []
    foot = rng.uniform(0.25, 0.5)
    return [[*serif, *_corner((0.0, 0.0)), *_corner((1.0, 0.0)), (foot, 1.0)]]


def _seven_crossed(rng: np.random.Generator) -> list[Points]:
    strokes = _seven_plain(rng)
    foot = strokes[0][-1][0]
    at = rng.uniform(0.45, 0.6)
    x = 1.0 + (foot - 1.0) * at  # the stem's x at the bar's height
    half = rng.uniform(0.2, 0.35)
    return [*strokes, [(x - half, at), (x + half, at)]]


def _seven_curved(rng: np.random.Generator) -> list[Points]:
    foot = rng.uniform(0.3, 0.5)
    bend = [(0.65, 0.4), (foot + 0.05, 0.75), (foot, 1.0)]
    return [[*_corner((0.0, 0.02)), *_corner((1.0, 0.0)), *bend]]


def _eight_one_stroke(rng: np.random.Generator) -> list[Points]:
    waist = rng.uniform(0.4, 0.5)
    return [
        [
            (0.85, 0.12),
            (0.5, 0.0),
            (0.15, 0.18),
            (0.3, waist - 0.05),
            (0.7, waist + 0.08),
            (0.9, 0.8),
            (0.5, 1.0),
            (0.1, 0.8),
            (0.3, waist + 0.08),
            (0.7, waist - 0.05),
            (0.88, 0.2),
            (0.6, 0.0),
        ]
    ]


def _eight_two_loops(rng: np.random.Generator) -> list[Points]:
    waist = rng.uniform(0.4, 0.5)
    top = _arc(0.5, waist / 2, rng.uniform(0.3, 0.4), waist / 2, 90, 450, 13)
    bottom = _arc(0.5, (1 + waist) / 2, 0.5, (1 - waist) / 2, -90, 270, 13)
    return [top, bottom]


#: the share of 9s whose loop is left open at the top right (begun at its top, short of the stem)
_NINE_OPEN = 0.3


def _nine_loop(rng: np.random.Generator) -> tuple[Points, float]:
    bottom = rng.uniform(0.4, 0.55)
    if rng.random() < _NINE_OPEN:
        start = [(rng.uniform(0.6, 0.75), rng.uniform(0.0, 0.05)), (0.3, 0.03)]
    else:
        start = [(0.9, 0.2), (0.5, 0.0)]
    loop = [
        *start,
        (0.1, 0.2),
        (0.15, bottom - 0.08),
        (0.5, bottom),
        (0.88, bottom - 0.15),
        *_corner((0.92, 0.15)),
    ]
    return loop, bottom


def _nine_straight(rng: np.random.Generator) -> list[Points]:
    loop, _bottom = _nine_loop(rng)
    return [[*loop, (rng.uniform(0.75, 0.92), 1.0)]]


def _nine_curved(rng: np.random.Generator) -> list[Points]:
    loop, bottom = _nine_loop(rng)
    return [[*loop, (0.88, bottom + 0.2), (0.78, 0.85), (rng.uniform(0.45, 0.65), 1.0)]]


def _nine_hooked(rng: np.random.Generator) -> list[Points]:
    loop, _bottom = _nine_loop(rng)
    return [[*loop, (0.9, 0.8), (0.7, 1.0), (rng.uniform(0.3, 0.45), 0.9)]]


#: every style, by digit: name -> strokes for random proportions
STYLES: dict[int, dict[str, Callable[[np.random.Generator], list[Points]]]] = {
    0: {"round": _zero_round, "narrow": _zero_narrow, "overshoot": _zero_overshoot},
    1: {"bare": _one_bare, "flag": _one_flag, "flag_base": _one_flag_base},
    2: {"plain": _two_plain, "loop": _two_loop},
    3: {"round": _three_round, "flat_top": _three_flat},
    4: {"closed": _four_closed, "open": _four_open},
    5: {"bar_last": _five_bar_last, "bar_first": _five_bar_first},
    6: {"round": _six_round, "small_loop": _six_small_loop},
    7: {"plain": _seven_plain, "crossed": _seven_crossed, "curved": _seven_curved},
    8: {"one_stroke": _eight_one_stroke, "two_loops": _eight_two_loops},
    9: {"straight": _nine_straight, "curved": _nine_curved, "hooked": _nine_hooked},
}


def style_names(digits: Iterable[int] = range(10)) -> list[str]:
    """Every style as ``"<digit>/<name>"`` (the form ``exclude`` takes)."""
    return [f"{d}/{name}" for d in digits for name in STYLES[d]]


# ---------------------------------------------------------------------------- the pen
def _catmull_rom(points: np.ndarray, samples_per_span: int = 12) -> np.ndarray:
    """A smooth curve through ``points`` (a repeated point makes a sharp corner)."""
    if len(points) < 2:
        return points
    padded = np.concatenate([points[:1], points, points[-1:]])
    t = np.linspace(0, 1, samples_per_span, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1 : i + 3]
        out.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                + (3 * p1 - p0 - 3 * p2 + p3) * t3
            )
        )
    out.append(points[-1:])
    return np.concatenate(out)


def _at_least_as_wide(strokes: list[Stroke], aspect: float) -> list[Stroke]:
    """Stretch the strokes sideways (about their middle) to ``aspect`` x their height at least."""
    points = np.concatenate(strokes)
    width, height = np.ptp(points[:, 0]), np.ptp(points[:, 1])
    if width >= aspect * height or width == 0:
        return strokes
    middle, factor = points[:, 0].mean(), aspect * height / width
    return [np.stack([(s[:, 0] - middle) * factor + middle, s[:, 1]], axis=1) for s in strokes]


def _lay_ink(canvas: np.ndarray, path: np.ndarray, radius: np.ndarray) -> None:
    """Draw a pen of ``radius`` (per point, px) along ``path`` (px) onto ``canvas``."""
    shift = 4  # sub-pixel precision of OpenCV's drawing (1/16 px)
    points = np.round(path * (1 << shift)).astype(np.int32).tolist()
    for k, center in enumerate(points):
        cv2.circle(canvas, center, int(radius[k] * (1 << shift)), 255, -1, cv2.LINE_AA, shift)
        if k:
            thickness = max(1, round(2 * min(radius[k], radius[k - 1])))
            cv2.line(canvas, points[k - 1], center, 255, thickness, cv2.LINE_AA, shift)


def _smooth_profile(rng: np.random.Generator, n: int, knots: int) -> np.ndarray:
    """Smooth random values in [-1, 1] along ``n`` samples."""
    values = rng.uniform(-1, 1, knots)
    return np.interp(np.linspace(0, knots - 1, n), np.arange(knots), values)


@dataclass(frozen=True)
class PenVariation:
    """How much a drawing varies (fractions of the digit's height unless said otherwise)."""

    jitter: float = 0.035  # control points moved by up to this
    width: tuple[float, float] = (0.4, 1.3)  # width / height of the digit's box
    slant: tuple[float, float] = (-0.2, 0.45)  # horizontal shift of the top per unit height
    rotation: float = 8.0  # degrees either way
    stroke: tuple[float, float] = (0.06, 0.17)  # pen width
    pressure: float = 0.35  # pen width varies along a stroke by up to this fraction
    tremor: float = 0.008
    overshoot: float = 0.06  # strokes run on past their ends by up to this
    pen_lift: float = 0.25  # chance that a stroke is broken at a corner


class HandwritingSynthesizer:
    """Draws digits in many writers' styles as MNIST-form ``28x28`` ``uint8`` images.

    Args:
        exclude: styles never drawn, as ``"<digit>/<name>"`` (held out to test whether a style
            is learnt from the others or only memorised); a digit keeps at least one style.
        variation: how much drawings vary (:class:`PenVariation`).
        size, box: MNIST's form: the output side and the digit's longest side in it.
    """

    def __init__(
        self,
        exclude: Sequence[str] = (),
        variation: PenVariation | None = None,
        size: int = 28,
        box: int = 20,
    ) -> None:
        unknown = sorted(set(exclude) - set(style_names()))
        if unknown:
            raise ValueError(
                f"unknown handwriting style(s) {unknown}; the styles are {style_names()}"
            )
        self.styles = {
            d: [name for name in STYLES[d] if f"{d}/{name}" not in set(exclude)] for d in range(10)
        }
        empty = [d for d, names in self.styles.items() if not names]
        if empty:
            raise ValueError(f"every style of digit(s) {empty} is excluded: keep at least one")
        self.variation = variation or PenVariation()
        self.size, self.box = int(size), int(box)

    def style_names(self) -> list[str]:
        """The styles this synthesiser draws, as ``"<digit>/<name>"``."""
        return [f"{d}/{name}" for d, names in self.styles.items() for name in names]

    def draw(self, digit: int, style: str, rng: np.random.Generator) -> np.ndarray:
        """One drawing of ``digit`` in ``style`` (28x28 white on black)."""
        return fit_and_centre(self.draw_ink(digit, style, rng), self.size, self.box)

    def draw_ink(
        self,
        digit: int,
        style: str,
        rng: np.random.Generator,
        height: float = _CANVAS_HEIGHT,
        pen: float | None = None,
    ) -> np.ndarray:
        """One drawing as ink coverage in [0, 1] (``float32``, cropped to the ink) for a digit
        ``height`` px tall written with a pen ``pen`` px wide (default: the variation's)."""
        if style not in STYLES[digit]:
            raise ValueError(f"digit {digit} has no style {style!r}; it has {list(STYLES[digit])}")
        # drawn even when ``pen`` is given: the rest of the drawing does not depend on it
        drawn_pen = rng.uniform(*self.variation.stroke) * height
        pen = drawn_pen if pen is None else pen
        strokes = [np.asarray(s, np.float64) for s in STYLES[digit][style](rng)]
        # only a 1 may be a bare line: a narrower 0 would be read as one
        pens_wide = 0.0 if digit == 1 else _MIN_PENS_WIDE * pen / height
        strokes = self._shape(strokes, rng, pens_wide)
        if digit != 1:
            strokes = _at_least_as_wide(strokes, _MIN_ASPECT)
        strokes = self._pen_lifts(strokes, rng)
        return self._ink(strokes, rng, height, pen)

    def sample(
        self, per_digit: int, seed: int = 0, digits: Sequence[int] = tuple(range(10))
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``per_digit`` drawings of every digit, its styles in turn: images ``(N, 28, 28)``,
        labels ``(N,)`` and each image's style ``"<digit>/<name>"``. Drawing ``k`` of a digit
        depends on ``(seed, digit, k)`` only."""
        images, labels, styles = [], [], []
        for d in digits:
            names = self.styles[d]
            for k in range(per_digit):
                rng = np.random.default_rng([seed, d, k])
                name = names[k % len(names)]
                images.append(self.draw(d, name, rng))
                labels.append(d)
                styles.append(f"{d}/{name}")
        if not images:
            return np.zeros((0, self.size, self.size), np.uint8), np.zeros(0, np.int64), []
        return np.stack(images), np.asarray(labels, np.int64), styles

    # ------------------------------------------------------------------ steps of a drawing
    def _shape(
        self, strokes: list[Stroke], rng: np.random.Generator, min_width: float = 0.0
    ) -> list[Stroke]:
        """Proportions, slant and rotation: the writer's hand. The digit is at least
        ``min_width`` of its height wide before it is slanted (a slant widens a digit's box,
        not its loops)."""
        v = self.variation
        width = rng.uniform(*v.width) * 0.6
        natural = np.ptp(np.concatenate(strokes)[:, 0])
        if natural > 0:
            width = max(width, min_width / natural)
        slant = rng.uniform(*v.slant)
        theta = np.deg2rad(rng.uniform(-v.rotation, v.rotation))
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        out = []
        for s in strokes:
            p = s + rng.normal(0, v.jitter / 2, s.shape).clip(-v.jitter, v.jitter)
            x = (p[:, 0] - 0.5) * width + slant * (0.5 - p[:, 1])
            p = np.stack([x, p[:, 1] - 0.5], axis=1) @ rotation.T
            out.append(p)
        return out

    def _pen_lifts(self, strokes: list[Stroke], rng: np.random.Generator) -> list[Stroke]:
        """Sometimes the pen leaves the paper at a corner and comes down a little off."""
        out = []
        for s in strokes:
            corners = np.flatnonzero(np.all(np.isclose(s[1:], s[:-1]), axis=1))
            if len(corners) and rng.random() < self.variation.pen_lift:
                at = int(rng.choice(corners))
                offset = rng.normal(0, 0.03, 2)
                out += [s[: at + 1], s[at + 1 :] + offset]
            else:
                out.append(s)
        return [s for s in out if len(s) >= 2 or len(strokes) == 1]

    def _ink(
        self, strokes: list[Stroke], rng: np.random.Generator, scale: float, pen: float
    ) -> np.ndarray:
        """Lay ink along the strokes on a canvas ``scale`` px per unit of height with a pen
        ``pen`` px wide, cropped."""
        v = self.variation
        paths = []
        for s in strokes:
            path = _catmull_rom(s)
            # overshoot: run on past both ends along the end's direction
            for end, inner in ((0, 1), (-1, -2)):
                if len(path) > 2 and rng.random() < 0.5:
                    direction = path[end] - path[inner]
                    norm = np.linalg.norm(direction)
                    if norm > 1e-9:
                        extra = direction / norm * rng.uniform(0, v.overshoot)
                        path = (
                            np.vstack([path[:1] + extra, path])
                            if end == 0
                            else np.vstack([path, path[-1:] + extra])
                        )
            # tremor: a small wobble across the stroke
            if len(path) > 3:
                tangent = np.gradient(path, axis=0)
                normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
                normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-9
                wobble = _smooth_profile(rng, len(path), max(3, len(path) // 6))
                path = path + normal * (wobble * rng.uniform(0, v.tremor))[:, None]
            paths.append(path * scale)
        everything = np.concatenate(paths)
        margin = 1.5 * pen + 4  # room for the widest pen pressure
        low = everything.min(axis=0) - margin
        high = everything.max(axis=0) + margin
        w, h = (np.ceil(high - low)).astype(int) + 1
        canvas = np.zeros((h, w), np.uint8)
        for path in paths:
            pressure = 1 + v.pressure * _smooth_profile(rng, len(path), 4)
            # a stroke's start and end are often lighter: the pen lands and lifts
            from_end = np.minimum(np.arange(len(path)), np.arange(len(path))[::-1])
            taper = np.minimum(1.0, 0.6 + 0.4 * from_end / 3)
            _lay_ink(canvas, path - low, np.maximum(0.5, pen / 2 * pressure * taper))
        ys, xs = np.nonzero(canvas > 20)
        return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32) / 255
