"""Any torchvision classification model, adapted to 1-channel 28x28 digits by config."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _first_conv(model: nn.Module) -> tuple[nn.Module, str, nn.Conv2d]:
    """The module holding the model's first ``Conv2d``, its attribute name, and the conv."""
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                return parent, name, child
    raise ValueError(f"{type(model).__name__} has no Conv2d to adapt to 1-channel input")


class TorchvisionNet(nn.Module):
    """``torchvision.models.get_model(name)`` reading (N, 1, 28, 28) digits.

    - The first convolution takes 1 channel (pretrained RGB kernels are summed into it).
    - ``small_input`` (ResNet-style models): the 7x7 stride-2 stem becomes 3x3 stride 1 and the
      stem's max pooling is dropped, so 28x28 digits are not shrunk to 7x7 before the first block.
    - ``resize`` upsamples the input inside ``forward`` for models that need larger images
      (e.g. ``resize: 64`` for AlexNet or VGG); null keeps 28x28.
    - ``weights``: null trains from scratch; a torchvision weights name (``DEFAULT``,
      ``IMAGENET1K_V1``) downloads pretrained weights, which needs the internet.
    """

    def __init__(
        self,
        name: str = "resnet18",
        num_classes: int = 10,
        weights: str | None = None,
        small_input: bool = True,
        resize: int | None = None,
    ) -> None:
        super().__init__()
        from torchvision import models

        try:
            builder = models.get_model_builder(name)
        except ValueError as err:
            raise ValueError(
                f"model.net.name={name!r} is not a torchvision model (see "
                "torchvision.models.list_models(module=torchvision.models))"
            ) from err
        if weights:
            model = builder(weights=weights)
            model = self._replace_head(model, num_classes)
        else:
            model = builder(weights=None, num_classes=num_classes)
        parent, attribute, conv = _first_conv(model)
        if small_input and conv.kernel_size == (7, 7) and hasattr(model, "maxpool"):
            new_conv = nn.Conv2d(1, conv.out_channels, 3, stride=1, padding=1, bias=False)
            model.maxpool = nn.Identity()
        else:
            new_conv = nn.Conv2d(
                1,
                conv.out_channels,
                conv.kernel_size,
                stride=conv.stride,
                padding=conv.padding,
                dilation=conv.dilation,
                groups=1,
                bias=conv.bias is not None,
            )
            if weights:
                with torch.no_grad():
                    new_conv.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
                    if conv.bias is not None:
                        new_conv.bias.copy_(conv.bias)
        setattr(parent, attribute, new_conv)
        self.model = model
        self.name = name
        self.resize = resize

    @staticmethod
    def _replace_head(model: nn.Module, num_classes: int) -> nn.Module:
        """Swap a pretrained model's last Linear layer for one with ``num_classes`` outputs."""
        last_parent, last_name, last = None, None, None
        for parent in model.modules():
            for name, child in parent.named_children():
                if isinstance(child, nn.Linear):
                    last_parent, last_name, last = parent, name, child
        if last is None:
            raise ValueError(f"{type(model).__name__} has no Linear head to replace")
        setattr(last_parent, last_name, nn.Linear(last.in_features, num_classes))
        return model

    def forward(self, x: Tensor) -> Tensor:
        if self.resize and x.shape[-1] != self.resize:
            x = F.interpolate(
                x, size=(self.resize, self.resize), mode="bilinear", align_corners=False
            )
        return self.model(x)
