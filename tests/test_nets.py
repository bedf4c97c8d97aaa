import pytest
import torch

from digitrec.nets import BatchNormCNN, GuideCNN, LeNet5, count_parameters


@pytest.mark.parametrize(
    ("net_class", "parameters"), [(GuideCNN, 693_962), (LeNet5, 61_706), (BatchNormCNN, 468_138)]
)
def test_parameter_count_and_output_shape(net_class, parameters):
    net = net_class().eval()
    assert count_parameters(net) == parameters
    assert net(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def test_guide_cnn_is_the_guides_layers():
    net = GuideCNN()
    conv = net.features[0]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.padding) == (
        1,
        32,
        (3, 3),
        (0, 0),
    )
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5408, 128), (128, 10)]
    # logits, not probabilities: the softmax lives in the loss
    out = net(torch.rand(3, 1, 28, 28))
    assert not torch.allclose(out.sum(1), torch.ones(3))


def test_channels_last_net_gives_the_same_logits():
    torch.manual_seed(0)
    net = GuideCNN().eval()
    x = torch.rand(4, 1, 28, 28)
    expected = net(x)
    net.to(memory_format=torch.channels_last)
    torch.testing.assert_close(net(x), expected, rtol=1e-5, atol=1e-5)


NET_PARAMETERS = {
    "guide_cnn": 693_962,
    "lenet5": 61_706,
    "cnn_bn": 468_138,
    "resnet_small": 696_042,
    "torchvision": 11_172_810,  # resnet18 adapted to 1-channel 28x28
}


@pytest.mark.parametrize("name", sorted(NET_PARAMETERS))
def test_every_net_config_builds_runs_and_trains(name):
    from hydra.utils import instantiate

    from digitrec.config import compose_config

    cfg = compose_config("train", [f"model/net={name}"])
    torch.manual_seed(0)
    net = instantiate(cfg.model.net)
    assert count_parameters(net) == NET_PARAMETERS[name]
    images, labels = torch.rand(8, 1, 28, 28), torch.arange(8) % 10
    assert net.eval()(images).shape == (8, 10)
    net.train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    before = [p.detach().clone() for p in net.parameters()]
    loss = torch.nn.functional.cross_entropy(net(images), labels)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


@pytest.mark.parametrize(
    ("name", "options", "parameters"),
    [("mobilenet_v3_small", {}, 1_527_818), ("vgg11", {"resize": 32}, 128_806_154)],
)
def test_torchvision_models_adapt_to_digits(name, options, parameters):
    from digitrec.nets import TorchvisionNet

    net = TorchvisionNet(name, **options).eval()
    assert count_parameters(net) == parameters
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 10)
    with pytest.raises(ValueError, match="'not_a_net' is not a torchvision model"):
        TorchvisionNet("not_a_net")


def test_small_resnet_rejects_bad_sizes():
    from digitrec.nets import SmallResNet

    with pytest.raises(ValueError, match="blocks >= 1"):
        SmallResNet(blocks=0)
