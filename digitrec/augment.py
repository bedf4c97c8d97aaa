"""Augmentation of whole batches on the training device, with a different draw for every image.

torchvision's v2 transforms draw one set of random parameters per call, so applied to a batch
tensor they would move every digit alike; these draw per image and run as a few batched tensor
operations (``affine_grid`` + ``grid_sample``, max pooling) on the CPU or GPU.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class BatchAugment(nn.Module):
    """Random affine (rotation, scale, shear, translation), elastic distortion and stroke
    thickness, per image, for float batches ``(N, 1, H, W)`` in [0, 1] (white ink on black).

    Args:
        rotation: max degrees either way. scale: (min, max) zoom. shear: max degrees.
        translate: max shift as a fraction of the side.
        elastic: displacement strength in pixels (0 = off); smooth over ``elastic_grid`` cells.
        thickness: probability of thickening or thinning the strokes by one pixel.
        p: probability that an image is augmented at all.
    """

    def __init__(
        self,
        rotation: float = 12.0,
        scale: tuple[float, float] = (0.85, 1.1),
        shear: float = 8.0,
        translate: float = 0.08,
        elastic: float = 0.0,
        elastic_grid: int = 5,
        thickness: float = 0.0,
        p: float = 1.0,
    ) -> None:
        super().__init__()
        self.rotation, self.scale, self.shear = rotation, tuple(scale), shear
        self.translate, self.elastic, self.elastic_grid = translate, elastic, elastic_grid
        self.thickness, self.p = thickness, p

    def forward(self, images: Tensor) -> Tensor:
        n, _, h, w = images.shape
        device, dtype = images.device, images.dtype

        def uniform(low: float, high: float) -> Tensor:
            return torch.empty(n, device=device, dtype=dtype).uniform_(low, high)

        angle = uniform(-self.rotation, self.rotation) * (math.pi / 180)
        shear = uniform(-self.shear, self.shear) * (math.pi / 180)
        zoom = uniform(*self.scale)
        cos, sin, tan = torch.cos(angle), torch.sin(angle), torch.tan(shear)
        # inverse map (output -> input coordinates) of rotate * shear * zoom
        theta = torch.zeros(n, 2, 3, device=device, dtype=dtype)
        theta[:, 0, 0] = cos / zoom
        theta[:, 0, 1] = (-sin + cos * tan) / zoom
        theta[:, 1, 0] = sin / zoom
        theta[:, 1, 1] = (cos + sin * tan) / zoom
        theta[:, :, 2] = torch.empty(n, 2, device=device, dtype=dtype).uniform_(
            -2 * self.translate, 2 * self.translate
        )
        keep = torch.rand(n, device=device) >= self.p
        theta[keep] = torch.tensor([[1, 0, 0], [0, 1, 0]], device=device, dtype=dtype)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        if self.elastic > 0:
            noise = torch.randn(
                n, 2, self.elastic_grid, self.elastic_grid, device=device, dtype=dtype
            )
            field = F.interpolate(noise, size=(h, w), mode="bicubic", align_corners=False)
            field = field * (2 * self.elastic / max(h, w))
            field[keep] = 0
            grid = grid + field.permute(0, 2, 3, 1)
        out = F.grid_sample(
            images, grid, mode="bilinear", padding_mode="zeros", align_corners=False
        )
        if self.thickness > 0:
            draw = torch.rand(n, device=device)
            thicker = draw < self.thickness / 2
            thinner = (draw >= self.thickness / 2) & (draw < self.thickness)
            if thicker.any():
                out[thicker] = (
                    F.max_pool2d(out[thicker], 3, stride=1, padding=1) * 0.5 + out[thicker] * 0.5
                )
            if thinner.any():
                out[thinner] = (
                    -F.max_pool2d(-out[thinner], 3, stride=1, padding=1) * 0.5 + out[thinner] * 0.5
                )
        return out
