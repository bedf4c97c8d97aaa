import pytest
import torch

from digitrec.nets import BatchNormCNN, LeNet5, SeedCNN, count_parameters


@pytest.mark.parametrize(
    ("net_class", "parameters"), [(SeedCNN, 693_962), (LeNet5, 61_706), (BatchNormCNN, 468_138)]
)
def test_parameter_count_and_output_shape(net_class, parameters):
    net = net_class().eval()
    assert count_parameters(net) == parameters
    assert net(torch.rand(5, 1, 28, 28)).shape == (5, 10)


def test_seed_cnn_is_the_guides_layers():
    net = SeedCNN()
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
    net = SeedCNN().eval()
    x = torch.rand(4, 1, 28, 28)
    expected = net(x)
    net.to(memory_format=torch.channels_last)
    torch.testing.assert_close(net(x), expected, rtol=1e-5, atol=1e-5)
