"""Plain ``nn.Module`` digit classifiers: (N, 1, 28, 28) floats in [0, 1] -> (N, 10) logits.

Nets know nothing about Lightning, Hydra or files; configs under ``conf/model/net`` build them.
"""

from digitrec.nets.cnn_bn import BatchNormCNN
from digitrec.nets.guide_cnn import GuideCNN
from digitrec.nets.lenet5 import LeNet5
from digitrec.nets.resnet import SmallResNet
from digitrec.nets.torchvision_net import TorchvisionNet

#: the guide's CNN under the name checkpoints written before 2026-11-27 store
#: (``_target_: digitrec.nets.SeedCNN``): they still load
SeedCNN = GuideCNN

__all__ = [
    "BatchNormCNN",
    "GuideCNN",
    "LeNet5",
    "SeedCNN",
    "SmallResNet",
    "TorchvisionNet",
    "count_parameters",
]


def count_parameters(net) -> int:
    """Number of trainable parameters of ``net``."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
