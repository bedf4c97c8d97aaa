"""LeNet-5 (LeCun et al., 1998) for 28x28 inputs."""

from torch import Tensor, nn


class LeNet5(nn.Module):
    """Conv(6, 5x5, pad 2) -> pool -> Conv(16, 5x5) -> pool -> FC 120 -> FC 84 -> FC 10.

    The classic layout with ReLU and max pooling; padding the first convolution lets the
    original 32x32 design take MNIST's 28x28 images. 61,706 parameters.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2),  # 28 -> 28
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # -> 14
            nn.Conv2d(6, 16, kernel_size=5),  # -> 10
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),  # -> 5
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))
