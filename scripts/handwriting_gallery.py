"""Draw a gallery of the handwriting synthesiser: one row per style, a few drawings each.

python scripts/handwriting_gallery.py [--per-style 12] [--out docs/handwriting_gallery.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from digitrec.synthesis import HandwritingSynthesizer
from digitrec.utils.plotting import pyplot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-style", type=int, default=12, help="drawings per style")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="docs/handwriting_gallery.png")
    args = parser.parse_args()

    synthesizer = HandwritingSynthesizer()
    styles = synthesizer.style_names()
    rows = []
    for style in styles:
        digit, name = style.split("/")
        drawings = [
            synthesizer.draw(int(digit), name, np.random.default_rng([args.seed, k, len(rows)]))
            for k in range(args.per_style)
        ]
        # a thin gap between drawings keeps them apart in the figure
        rows.append(np.hstack([np.pad(d, ((1, 1), (1, 1))) for d in drawings]))
    plt = pyplot()
    figure, axes = plt.subplots(
        len(styles), 1, figsize=(args.per_style * 0.42 + 1.6, len(styles) * 0.42)
    )
    for axis, style, row in zip(axes, styles, rows, strict=True):
        axis.imshow(row, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_ylabel(style, rotation=0, ha="right", va="center", fontsize=8)
        for spine in axis.spines.values():
            spine.set_visible(False)
    figure.suptitle("digitrec.synthesis: MNIST-form drawings per style", fontsize=9)
    figure.tight_layout(h_pad=0.1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
