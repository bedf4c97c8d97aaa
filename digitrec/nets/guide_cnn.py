"""The guide's CNN, layer for layer."""

from torch import Tensor, nn


class GuideCNN(nn.Module):
    """Conv2d(1, 32, 3)+ReLU -> MaxPool(2) -> Flatten -> Linear(5408, 128)+ReLU -> Linear(128, 10).

    Exactly the guide's Keras model (693,962 parameters). Its final softmax is folded into the
    cross-entropy loss, so ``forward`` returns logits.
    """

    def __init__(self, num_classes: int = 10, channels: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, channels, kernel_size=3),  # 'valid' padding, as Keras' default: 28 -> 26
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # 26 -> 13
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * 13 * 13, hidden),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
