"""A compact BatchNorm + dropout CNN in the ~99.5%-on-MNIST class."""

from torch import Tensor, nn


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class BatchNormCNN(nn.Module):
    """Two double-conv blocks (32, 64 channels, BatchNorm, ReLU, max pooling: 28 -> 14 -> 7), a
    dropout-regularised 128-unit dense layer and a linear classifier. 468,138 parameters."""

    def __init__(
        self, num_classes: int = 10, channels: int = 32, hidden: int = 128, dropout: float = 0.3
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(_block(1, channels), _block(channels, 2 * channels))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(2 * channels * 7 * 7, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
