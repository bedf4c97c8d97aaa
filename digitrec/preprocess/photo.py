"""Bring a photo of a handwritten digit into MNIST's form (``preprocess=photo``).

The steps, each robust to what webcams and phones do to paper:

1. gray, and a working copy no larger than ``work_size`` (speed; the digit ends up 20 px anyway);
2. ink polarity: the ground (paper, board) is the median tone, the image's border weighing more,
   and the ink is whichever extreme lies further from it in contrast (a ratio, so shadows do not
   count as ink): dark ink on paper or light ink on a dark ground (MNIST, chalk);
3. illumination: divide by an estimate of the paper (a morphological closing wider than any
   stroke, at quarter resolution), which removes gradients, vignetting, shadows and the table;
4. threshold: Otsu on the normalised ink, capped at 25% contrast (faint pencil survives dark
   table edges) and never below ``min_contrast`` (a blank or uniform frame has no ink: "no digit");
5. clean-up: ruled lines (straight runs across most of the width, tilted up to 15 degrees, found
   by a sparse Radon transform on 4x4 cells that count any ink, so lines thinner than a pixel
   at the analysis size are found too; a line between two tried tilts or slightly bowed may
   straddle two rows); a 3x3 closing that joins faint ink's speckles back into strokes, specks,
   and the bands a page edge or table leaves at the border;
6. the digit: the component scoring best on size, centrality, ink strength and keeping clear of
   the border (never one cut by two borders at a corner: the table), merged with nearby pieces
   of similar ink (broken strokes) that do not reach in from the border, re-thresholded at half
   its own ink strength, and rid of soft-edged shading
   (a shadow's tip joined to a stroke);
7. MNIST's form: strokes thickened (or thinned) towards MNIST's stroke-to-size ratio, the longest
   side fitted into ``box`` px keeping the aspect ratio (anti-aliased), padded to ``size`` and
   shifted so that the centre of mass is the centre. Optional deskew.

``segment`` runs steps 1-5 and returns every digit of a written number, left to right.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from digitrec.preprocess.basic import checked_size, to_gray_uint8
from digitrec.preprocess.runs import DigitCrop, InkRun

_POLARITIES = ("auto", "dark_on_light", "light_on_dark")


@dataclass
class _Component:
    x: int
    y: int
    w: int
    h: int
    area: int
    label: int
    ink: float = 1.0  # mean ink strength (0-1): pen ~0.8, pencil ~0.5, a shadow's rim ~0.3

    @property
    def x2(self) -> int:
        return self.x + self.w

    @property
    def y2(self) -> int:
        return self.y + self.h


# a camera never records pure black: the offset in ratios of tones (polarity)
_BLACK_LEVEL = 64.0
# the share of the image's border in the tone taken for the ground (polarity)
_BORDER_WEIGHT = 0.3
_SPECKLE_CLOSING = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
_NEIGHBOURS = np.ones((3, 3), np.uint8)
# ruled lines are looked for at these tilts (degrees)
_LINE_ANGLES = np.arange(-15, 16, 3)
_LINE_SLOPES = np.tan(np.deg2rad(_LINE_ANGLES))
_LINE_BAND = np.ones((3, 1), np.uint8)
# a digit whose rim is soft on more than this fraction has shading joined to it
_SOFT_RIM_ALLOWED = 0.1


def _quantiles(values: np.ndarray, fractions: tuple[float, ...]) -> np.ndarray:
    """Quantiles of ``uint8`` values by counting (far cheaper than sorting)."""
    counts = np.cumsum(np.bincount(values.ravel(), minlength=256))
    return np.searchsorted(counts, np.asarray(fractions) * counts[-1])


def _odd(n: float) -> int:
    n = max(1, round(n))
    return n if n % 2 else n + 1


class PhotoPreprocessor:
    """Photo (whole webcam frame, tight crop or phone photo) -> 28x28 MNIST-style digit or None.

    Args:
        size: output side (28 for MNIST).
        box: the longest side of the digit inside the output (MNIST: 20).
        work_size: images larger than this (longest side) are analysed at this size.
        polarity: ``auto``, ``dark_on_light`` (ink on paper) or ``light_on_dark`` (chalk, MNIST).
        min_contrast: ink must be at least this much darker than the local paper (0-1).
        remove_lines: drop ruled lines and other thin structures spanning most of the width.
        stroke_ratio: target stroke width relative to the digit's longest side (MNIST: ~0.11);
            ``null`` keeps the strokes as written.
        deskew: shear the digit upright using its second moments.
        merge_distance: pieces closer than this fraction of the digit's size join the digit.
        min_edge_sharpness: ink whose nearest edge rises by less than this fraction of its
            strength per pixel is shading (a shadow's tip), not ink; ``null`` keeps it.
        ink_level: each digit is re-thresholded at this fraction of its own ink strength (the
            90th percentile), so strong ink keeps its stroke width and loops; ``null`` keeps
            the frame's threshold.
    """

    def __init__(
        self,
        size: int = 28,
        box: int = 20,
        work_size: int = 480,
        polarity: str = "auto",
        min_contrast: float = 0.18,
        remove_lines: bool = True,
        stroke_ratio: float | None = 0.11,
        deskew: bool = False,
        merge_distance: float = 0.25,
        min_edge_sharpness: float | None = 0.12,
        ink_level: float | None = 0.5,
    ) -> None:
        if polarity not in _POLARITIES:
            raise ValueError(f"preprocess.polarity must be one of {_POLARITIES}, got {polarity!r}")
        if not 0 < box <= size:
            raise ValueError(f"preprocess.box must be in (0, size={size}], got {box}")
        if ink_level is not None and not 0 <= ink_level < 1:
            raise ValueError(f"preprocess.ink_level must be in [0, 1) or null, got {ink_level}")
        if not 0 <= min_contrast < 1:
            raise ValueError(f"preprocess.min_contrast must be in [0, 1), got {min_contrast}")
        if work_size < 32:
            raise ValueError(f"preprocess.work_size must be at least 32 px, got {work_size}")
        if merge_distance < 0:
            raise ValueError(f"preprocess.merge_distance must be >= 0, got {merge_distance}")
        if stroke_ratio is not None and not 0 < stroke_ratio <= 0.5:
            raise ValueError(
                f"preprocess.stroke_ratio must be in (0, 0.5] or null, got {stroke_ratio}"
            )
        if min_edge_sharpness is not None and min_edge_sharpness <= 0:
            raise ValueError(
                f"preprocess.min_edge_sharpness must be positive or null, got {min_edge_sharpness}"
            )
        self.size, self.box, self.work_size = checked_size(size), int(box), int(work_size)
        self.polarity = polarity
        self.min_contrast = float(min_contrast)
        self.remove_lines = remove_lines
        self.stroke_ratio = stroke_ratio
        self.deskew = deskew
        self.merge_distance = float(merge_distance)
        self.min_edge_sharpness = min_edge_sharpness
        self.ink_level = ink_level

    # ----------------------------------------------------------------------------- public API
    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        crop = self.extract(image)
        return None if crop is None else crop.image

    def extract(self, image: np.ndarray) -> DigitCrop | None:
        """The one digit of ``image`` (its box and rendering), or None when there is no digit."""
        found = self._ink_components(image)
        if found is None:
            return None
        ink8, labels, components, scale = found
        digit = self._pick_digit(components, labels.shape)
        if not digit:
            return None
        return self._render(labels, ink8, digit, scale)

    def segment(self, image: np.ndarray) -> list[DigitCrop]:
        """Every digit of a written number, left to right (an empty list when there is none)."""
        found = self._ink_components(image)
        if found is None:
            return []
        ink8, labels, components, scale = found
        groups = self._group_columns(components)
        if not groups:
            return []
        return [self._render(labels, ink8, g, scale) for g in self._digit_groups(groups)]

    def segment_runs(self, image: np.ndarray) -> list[InkRun]:
        """Like :meth:`segment`, each run of ink with the places where it may be cut into
        touching digits (a reader chooses the cuts: see ``Recognizer.read``)."""
        found = self._ink_components(image)
        if found is None:
            return []
        ink8, labels, components, scale = found
        groups = self._group_columns(components)
        return [
            InkRun.of(*self._digit_mask(labels, ink8, group), scale, self._mnist_crop)
            for group in self._digit_groups(groups)
        ]

    @staticmethod
    def _digit_groups(groups: list[list[_Component]]) -> list[list[_Component]]:
        """The groups tall enough to be digits of the number (not its specks or dashes)."""
        tallest = max(max(c.y2 for c in g) - min(c.y for c in g) for g in groups)
        return [g for g in groups if max(c.y2 for c in g) - min(c.y for c in g) >= 0.35 * tallest]

    # ------------------------------------------------------------------------------- the steps
    def _working_gray(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        gray = to_gray_uint8(image)
        if gray.size == 0:
            raise ValueError("empty image")
        longest = max(gray.shape)
        if longest <= self.work_size:
            return gray, 1.0
        scale = self.work_size / longest
        size = (max(1, round(gray.shape[1] * scale)), max(1, round(gray.shape[0] * scale)))
        # area averaging against aliasing where it matters; a mild shrink is fine (and faster)
        # with bilinear interpolation
        interpolation = cv2.INTER_AREA if scale < 0.5 else cv2.INTER_LINEAR
        return cv2.resize(gray, size, interpolation=interpolation), scale

    def _dark_ink(self, small: np.ndarray) -> bool:
        """Is the ink darker than its ground? Judged on a downscaled (denoised) copy."""
        if self.polarity != "auto":
            return self.polarity == "dark_on_light"
        # the ground (paper, board) is the median tone, with the image's border weighing more
        # (in a tight crop of a thick digit the ink may cover most of the image, but rarely most
        # of its border); the ink is whichever extreme departs further from it in contrast, i.e.
        # in ratio (light multiplies what the page reflects, so a shadow over half the page must
        # not outweigh the ink). The offset stands for the camera's black level and keeps a
        # pure black ground (MNIST) finite.
        border = np.concatenate((small[0], small[-1], small[1:-1, 0], small[1:-1, -1]))
        tones = np.bincount(small.ravel(), minlength=256) * ((1 - _BORDER_WEIGHT) / small.size)
        tones += np.bincount(border, minlength=256) * (_BORDER_WEIGHT / border.size)
        ground = float(np.searchsorted(np.cumsum(tones), 0.5))
        low, high = _quantiles(small, (0.001, 0.999)).astype(np.float64)
        low, ground, high = np.log(np.array([low, ground, high]) + _BLACK_LEVEL)
        return ground - low >= high - ground

    def _ink_map(self, gray: np.ndarray) -> np.ndarray:
        """Ink strength as uint8: 0 on paper, 255 for ink black against its local paper."""
        h, w = gray.shape
        # work out the paper at quarter resolution for speed
        factor = 4 if min(h, w) >= 64 else 1
        small = cv2.resize(
            gray, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA
        )
        if not self._dark_ink(small):
            gray, small = 255 - gray, 255 - small
        # the paper: a closing wider than any stroke removes the ink but follows gradients,
        # vignetting, shadows and the table
        k = _odd(max(small.shape) / 7)
        paper = cv2.morphologyEx(
            small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        )
        if factor > 1:
            paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR)
        # gray / paper, saturating at the paper's own brightness
        return cv2.subtract(255, cv2.divide(gray, cv2.max(paper, 1), scale=255))

    def _ink_components(self, image: np.ndarray):
        """Steps 1-5: ``(ink8, labels, components, scale)`` of the working image, or None when
        there is no ink at all."""
        gray, scale = self._working_gray(image)
        darkest, brightest, _, _ = cv2.minMaxLoc(gray)
        if brightest - darkest < self.min_contrast * 255:
            return None  # a uniform frame: nothing written on it
        ink8 = self._ink_map(gray)
        if cv2.minMaxLoc(ink8)[1] < self.min_contrast * 255:
            return None
        # Otsu's level from every other pixel of every other row: the same level, 4x cheaper
        otsu, _ = cv2.threshold(ink8[::2, ::2], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        # Otsu separates strong ink well, but dark table edges and lines can pull it above faint
        # pencil: never demand more than 25% contrast, never accept less than min_contrast
        threshold = max(self.min_contrast * 255, min(otsu, 0.25 * 255))
        mask = cv2.threshold(ink8, threshold, 1, cv2.THRESH_BINARY)[1]
        if cv2.countNonZero(mask) > 0.75 * mask.size:
            # hardly any paper: no page with a digit on it (a tight crop of a thick digit may
            # be more ink than paper, though)
            return None
        if self.remove_lines:
            mask = self._without_ruled_lines(mask)
        # faint ink thresholds into speckles: a small closing joins them into strokes again
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, _SPECKLE_CLOSING)
        _count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(
            mask, 8, cv2.CV_32S, cv2.CCL_SPAGHETTI
        )
        h, w = mask.shape
        # specks (noise, paper texture) are most components: drop them before any Python loop
        big = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= max(6, 1e-4 * h * w))
        components = [
            _Component(int(x), int(y), int(cw), int(ch), int(area), int(i))
            for i, (x, y, cw, ch, area) in zip(big, stats[big].tolist(), strict=True)
            if i > 0 and not self._is_border_band(x, y, cw, ch, w, h)
        ]
        if not components:
            return None
        for c in components:
            self._measure(c, ink8, labels)
        return ink8, labels, components, scale

    @staticmethod
    def _measure(c: _Component, ink8: np.ndarray, labels: np.ndarray) -> None:
        """Mean ink strength of a component (shadows' rims are faint, pen strokes strong)."""
        inside = labels[c.y : c.y2, c.x : c.x2] == c.label
        c.ink = float(ink8[c.y : c.y2, c.x : c.x2][inside].mean()) / 255.0

    @staticmethod
    def _line_angle(mask: np.ndarray) -> float | None:
        """The tilt (degrees) of ruled lines in ``mask``, or None when there are none: the shear
        (from -15 to 15 degrees) whose rows best hold runs of ink across most of the width."""
        h, w = mask.shape
        # any ink in a 4x4 cell marks it (averaging a 0/1 mask would round thin lines away)
        small = cv2.resize(
            mask * 255, (max(1, w // 4), max(1, h // 4)), interpolation=cv2.INTER_AREA
        )
        small = (small > 0).astype(np.uint8)
        sw = small.shape[1]
        ys, xs = np.nonzero(small)
        if len(xs) < 0.7 * sw:  # not even one line's worth of ink
            return None
        # ink counted along lines of every slope at once (a sparse Radon transform)
        offsets = np.round(ys[None, :] - xs[None, :] * _LINE_SLOPES[:, None]).astype(np.int64)
        offsets -= offsets.min()
        span = int(offsets.max()) + 1
        offsets += np.arange(len(_LINE_SLOPES))[:, None] * span
        counts = np.bincount(offsets.ravel(), minlength=len(_LINE_SLOPES) * span)
        counts = counts.reshape(len(_LINE_SLOPES), span)
        # a line between two tried tilts (or bowed a little) straddles two neighbouring rows
        counts[:, 1:] += counts[:, :-1].copy()
        full_rows = (counts >= 0.7 * sw).sum(axis=1)
        best = int(np.argmax(full_rows))
        return float(_LINE_ANGLES[best]) if full_rows[best] > 0 else None

    @staticmethod
    def _shear(
        image: np.ndarray, slope: float, height: int | None = None
    ) -> tuple[np.ndarray, float]:
        """Shear rows by ``-slope`` (lines of that slope become horizontal); returns the image and
        the vertical offset used."""
        h, w = image.shape
        offset = max(0.0, slope * w)
        out_h = int(np.ceil(h + abs(slope) * w))
        matrix = np.float32([[1, 0, 0], [-slope, 1, offset]])
        return cv2.warpAffine(image, matrix, (w, out_h), flags=cv2.INTER_NEAREST), offset

    @classmethod
    def _without_ruled_lines(cls, mask: np.ndarray) -> np.ndarray:
        """Remove ruled lines (straight runs across 70% of the width at any tilt up to 15
        degrees), then re-join the strokes they crossed."""
        h, w = mask.shape
        if w < 64:
            return mask
        angle = cls._line_angle(mask)
        if angle is None:
            return mask
        slope = np.tan(np.deg2rad(angle))
        level, offset = cls._shear(mask, slope)
        run = cv2.getStructuringElement(cv2.MORPH_RECT, (int(0.5 * w), 1))
        # a line between two tried tilts (or bowed) drifts by a row or two across the page: its
        # run is looked for in a band three rows high
        band = cv2.dilate(level, _LINE_BAND)
        lines = cv2.morphologyEx(band, cv2.MORPH_OPEN, run) & level
        rows = np.flatnonzero(lines.any(axis=1))
        if len(rows) == 0:
            return mask
        breaks = np.flatnonzero(np.diff(rows) > 1)
        thickness = int(np.diff(np.concatenate(([-1], breaks, [len(rows) - 1]))).max())
        cleaned = level & (1 - lines)
        bridge = cv2.getStructuringElement(cv2.MORPH_RECT, (1, min(thickness + 2, max(1, h // 4))))
        cleaned = cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, bridge)
        back = np.float32([[1, 0, 0], [slope, 1, -offset]])
        return cv2.warpAffine(cleaned, back, (w, h), flags=cv2.INTER_NEAREST)

    @staticmethod
    def _is_border_band(x: int, y: int, cw: int, ch: int, w: int, h: int) -> bool:
        """A long thing hugging one side of the frame: a page edge, the table, a shadow's rim."""
        along_x = (y <= 1 or y + ch >= h - 1) and cw >= 0.5 * w and ch <= 0.3 * h
        along_y = (x <= 1 or x + cw >= w - 1) and ch >= 0.5 * h and cw <= 0.3 * w
        if along_x or along_y:
            return True
        # a long thin horizontal thing: a page edge, the rim of a shadow, a line
        if cw >= 0.6 * w and ch <= 0.2 * cw:
            return True
        # a page edge crossing the frame from border to border, away from the centre
        across_y = y <= 1 and y + ch >= h - 1 and (x + cw / 2 < 0.25 * w or x + cw / 2 > 0.75 * w)
        across_x = x <= 1 and x + cw >= w - 1 and (y + ch / 2 < 0.25 * h or y + ch / 2 > 0.75 * h)
        if across_x or across_y:
            return True
        # something cut by two borders and reaching into a corner (the table in a corner)
        touches = (x <= 1) + (y <= 1) + (x + cw >= w - 1) + (y + ch >= h - 1)
        fills_the_frame = cw >= 0.9 * w and ch >= 0.9 * h  # a tight crop of the digit itself
        return touches >= 3 and not fills_the_frame

    def _pick_digit(self, components: list[_Component], shape: tuple[int, int]) -> list[_Component]:
        h, w = shape
        cy, cx = h / 2, w / 2
        half_diagonal = np.hypot(cx, cy)

        def touches(c: _Component) -> int:
            return (c.x <= 1) + (c.y <= 1) + (c.x2 >= w - 1) + (c.y2 >= h - 1)

        def score(c: _Component) -> float:
            # big, central, dark ink wins; shadows' rims are faint and page edges hug the border
            distance = np.hypot(c.x + c.w / 2 - cx, c.y + c.h / 2 - cy) / half_diagonal
            return c.area * (1.0 - 0.6 * distance) * c.ink**2 * (0.25 if touches(c) else 1.0)

        def can_be_main(c: _Component) -> bool:
            # cut by two borders at a corner: the table; by two opposite borders: the digit
            # of a tight crop may well be (a thick 0 from the top of the crop to its bottom)
            sideways = c.x <= 1 or c.x2 >= w - 1
            upright = c.y <= 1 or c.y2 >= h - 1
            return c.w <= 4 * c.h and touches(c) <= 2 and not (sideways and upright)

        candidates = [c for c in components if can_be_main(c)] or components
        main = max(candidates, key=score)
        chosen = [main]
        x1, y1, x2, y2 = main.x, main.y, main.x2, main.y2
        changed = True
        while changed:
            changed = False
            reach = self.merge_distance * max(x2 - x1, y2 - y1)
            extent = max(main.w, main.h)
            for c in components:
                # broken strokes: pieces near the digit, not much fainter; a piece bigger than the
                # part found first (the stem cut off a 9's loop by a ruled line) may join only if
                # it keeps clear of the frame's border (page edges, the table)
                too_faint = c.ink < 0.4 * main.ink
                size = max(c.w, c.h)
                too_big = size > 2 * extent or (size > extent and touches(c) > 0)
                # the rim of the table or a shadow reaches in from the border; a stroke of a
                # digit clear of the border does not
                from_border = touches(c) > 0 and touches(main) == 0
                if c in chosen or c.area < 0.02 * main.area or too_big or too_faint or from_border:
                    continue
                gap_x = max(0, max(c.x, x1) - min(c.x2, x2))
                gap_y = max(0, max(c.y, y1) - min(c.y2, y2))
                if gap_x <= reach and gap_y <= reach:
                    chosen.append(c)
                    x1, y1, x2, y2 = min(x1, c.x), min(y1, c.y), max(x2, c.x2), max(y2, c.y2)
                    changed = True
        return chosen

    @staticmethod
    def _group_columns(components: list[_Component]) -> list[list[_Component]]:
        """Group pieces that share columns (a digit's broken strokes) and order them by x."""
        biggest = max(c.area for c in components)
        pieces = sorted((c for c in components if c.area >= 0.03 * biggest), key=lambda c: c.x)
        groups: list[list[_Component]] = []
        for c in pieces:
            if groups:
                g = groups[-1]
                gx1, gx2 = min(p.x for p in g), max(p.x2 for p in g)
                overlap = min(gx2, c.x2) - max(gx1, c.x)
                if overlap >= 0.5 * min(c.w, gx2 - gx1):
                    g.append(c)
                    continue
            groups.append([c])
        return groups

    def _render(
        self, labels: np.ndarray, ink8: np.ndarray, parts: list[_Component], scale: float
    ) -> DigitCrop:
        mask, left, top = self._digit_mask(labels, ink8, parts)
        return self._mnist_crop(mask, left, top, scale)

    def _digit_mask(
        self, labels: np.ndarray, ink8: np.ndarray, parts: list[_Component]
    ) -> tuple[np.ndarray, int, int]:
        """The ink of ``parts`` (re-thresholded at their own ink, shading dropped) as a 0/1
        mask of the region around them, and the region's top-left corner."""
        x1, y1 = min(c.x for c in parts), min(c.y for c in parts)
        x2, y2 = max(c.x2 for c in parts), max(c.y2 for c in parts)
        pad = max(2, (max(x2 - x1, y2 - y1)) // 8)
        left, top = max(0, x1 - pad), max(0, y1 - pad)
        region = labels[top : y2 + pad, left : x2 + pad]
        if len(parts) == 1:  # most digits are one piece: a comparison, far cheaper than isin
            mask = (region == parts[0].label).astype(np.uint8)
        else:
            mask = np.isin(region, [c.label for c in parts]).astype(np.uint8)
        ink = ink8[top : y2 + pad, left : x2 + pad]
        if self.ink_level is not None:
            mask = self._own_ink(mask, ink)
        if self.min_edge_sharpness is not None:
            mask = self._without_shading(mask, ink)
        return mask, left, top

    def _mnist_crop(self, mask: np.ndarray, left: int, top: int, scale: float) -> DigitCrop:
        """MNIST's form of the digit in ``mask`` (whose top-left is at ``left, top`` of the
        working image) and its box in the input's pixels."""
        bx, by, bw, bh = cv2.boundingRect(mask)  # the box of what is left
        x1, x2, y1, y2 = left + bx, left + bx + bw, top + by, top + by + bh
        mask_as_found = mask
        extent = max(x2 - x1, y2 - y1)
        if extent > 4 * self.box:  # normalise strokes at 4x the output scale: same result, faster
            factor = 4 * self.box / extent
            size = (max(1, round(mask.shape[1] * factor)), max(1, round(mask.shape[0] * factor)))
            mask = (cv2.resize(mask * 255, size, interpolation=cv2.INTER_AREA) >= 128).astype(
                np.uint8
            )
            extent = 4 * self.box
        mask = self._normalise_strokes(mask, extent)
        if not mask.any():
            mask = mask_as_found
        bx, by, bw, bh = cv2.boundingRect(mask)
        mask = mask[by : by + bh, bx : bx + bw].astype(np.float32)
        if self.deskew:
            mask = self._deskewed(mask)
        image = self._fit_and_centre(mask)
        box = (
            int(x1 / scale),
            int(y1 / scale),
            max(1, round((x2 - x1) / scale)),
            max(1, round((y2 - y1) / scale)),
        )
        return DigitCrop(box=box, image=image)

    def _own_ink(self, mask: np.ndarray, ink8: np.ndarray) -> np.ndarray:
        """Re-threshold a digit at ``ink_level`` of its own ink strength: the frame's threshold
        is low enough for faint pencil, which widens a blurred pen stroke and fills its loops
        and joins faint shading to it."""
        strength = int(_quantiles(ink8[mask > 0], (0.9,))[0])
        kept = mask & (ink8 > self.ink_level * strength)
        return kept.astype(np.uint8) if kept.any() else mask

    def _without_shading(self, mask: np.ndarray, ink8: np.ndarray) -> np.ndarray:
        """Drop the pixels of ``mask`` whose nearest edge is soft: ink has sharp edges at any
        stroke width, the tip of a shadow that thresholding joined to a stroke does not. Each
        pixel is judged by the steepest ink slope next to the nearest pixel outside the mask,
        relative to its own ink strength (so faint pencil counts as much as a marker)."""
        if cv2.countNonZero(mask) == mask.size:
            return mask  # nothing outside to judge the edges by
        # 8x the ink's slope per pixel (Sobel), L1, at its steepest next to each pixel, and the
        # least of it that counts as sharp for each pixel's ink
        gx = cv2.convertScaleAbs(cv2.Sobel(ink8, cv2.CV_16S, 1, 0))
        gy = cv2.convertScaleAbs(cv2.Sobel(ink8, cv2.CV_16S, 0, 1))
        steepness = cv2.dilate(cv2.add(gx, gy), _NEIGHBOURS)
        least = cv2.convertScaleAbs(ink8, alpha=8 * self.min_edge_sharpness)
        # most digits have no soft edge at all: skip the costly part for them
        rim = cv2.subtract(mask, cv2.erode(mask, _NEIGHBOURS))
        soft_rim = cv2.countNonZero(cv2.compare(steepness, least, cv2.CMP_LT) & rim)
        if soft_rim <= _SOFT_RIM_ALLOWED * cv2.countNonZero(rim):
            return mask
        _, nearest = cv2.distanceTransformWithLabels(
            mask, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
        )
        # DIST_LABEL_PIXEL numbers the outside pixels 1, 2, ... in row-major order
        edge_steepness = steepness.ravel()[np.flatnonzero(mask.ravel() == 0)][nearest - 1]
        sharp = edge_steepness >= least
        kept = (mask & sharp).astype(np.uint8)
        return kept if kept.any() else mask

    def _normalise_strokes(self, mask: np.ndarray, extent: int) -> np.ndarray:
        if self.stroke_ratio is None:
            return mask
        area = int(mask.sum())
        boundary = int((mask & (1 - cv2.erode(mask, np.ones((3, 3), np.uint8)))).sum())
        width = 2.0 * area / max(boundary, 1)
        target = self.stroke_ratio * extent
        if width < 0.7 * target:
            k = _odd(target - width)
            padded = cv2.copyMakeBorder(mask, k, k, k, k, cv2.BORDER_CONSTANT, value=0)
            return cv2.dilate(padded, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
        if width > 2.0 * target and extent >= 20:
            k = _odd((width - 1.5 * target) / 2)
            thinned = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
            if thinned.any():
                return thinned
        return mask

    @staticmethod
    def _deskewed(mask: np.ndarray) -> np.ndarray:
        """Shear so that the digit's principal axis is vertical (as OpenCV's digits sample)."""
        m = cv2.moments(mask)
        if abs(m["mu02"]) < 1e-2:
            return mask
        skew = float(np.clip(m["mu11"] / m["mu02"], -1.0, 1.0))
        h, w = mask.shape
        cy = m["m01"] / m["m00"]
        margin = abs(skew) * h / 2
        matrix = np.float32([[1, -skew, skew * cy + margin], [0, 1, 0]])
        out = cv2.warpAffine(
            mask, matrix, (int(np.ceil(w + 2 * margin)), h), flags=cv2.INTER_LINEAR
        )
        ys, xs = np.nonzero(out > 0.05)
        return out[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] if len(xs) else mask

    def _fit_and_centre(self, mask: np.ndarray) -> np.ndarray:
        return fit_and_centre(mask, self.size, self.box)


def fit_and_centre(mask: np.ndarray, size: int = 28, box: int = 20) -> np.ndarray:
    """MNIST's form of a cropped digit (``mask``: ink in [0, 1], tight around the digit): the
    longest side fitted into ``box`` px keeping the aspect ratio, on a ``size`` x ``size``
    black ``uint8`` canvas, shifted so that the centre of mass is the centre."""
    h, w = mask.shape
    factor = box / max(h, w)
    new_w, new_h = max(1, round(w * factor)), max(1, round(h * factor))
    interpolation = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
    digit = cv2.resize(mask, (new_w, new_h), interpolation=interpolation)
    m = cv2.moments(digit)
    if m["m00"] <= 0:
        cx, cy = new_w / 2, new_h / 2
    else:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    # translate so that the centre of mass lands on the output's centre
    shift = np.float32([[1, 0, size / 2 - cx - 0.5], [0, 1, size / 2 - cy - 0.5]])
    canvas = np.zeros((size, size), np.float32)
    canvas[:new_h, :new_w] = digit[:size, :size]
    moved = cv2.warpAffine(canvas, shift, (size, size), flags=cv2.INTER_LINEAR)
    return np.clip(moved * 255.0 + 0.5, 0, 255).astype(np.uint8)
