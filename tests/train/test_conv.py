"""The CNN's dense matrices are the convolution: the index map equals torch's F.conv2d on random
spikes (exactly, with weights on the 8-bit grid), the simulator's own lowering of a NIR Conv2d,
and pools folded into the next layer equal pooling then convolving; gradients reach the kernels;
the spec parser refuses what it cannot build, in one line."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.train.conv import SpikingCNN  # noqa: E402
from neurosim.train.conv_arch import ConvSpecError, dense_matrix, parse_spec, plan  # noqa: E402
from neurosim.train.quantize import quantize  # noqa: E402

F = torch.nn.functional


def _spikes(shape, seed, p=0.3):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) < p).float()


@pytest.mark.parametrize("spec", ["paper-cnn", "3k5s1p2,5k2s3", "4k3s2p1,6k1"])
def test_conv_matrix_equals_torch_conv2d_on_random_spikes(spec):
    m = SpikingCNN(spec, (2, 34, 34), 10, generator=torch.Generator().manual_seed(1))
    x = _spikes((5, 2, 34, 34), 2)
    for i, (lp, k) in enumerate(zip(m.plan, m.kernels)):
        if lp.conv is None:
            break
        kq = torch.from_numpy(quantize(k.detach().numpy())[0])  # on the grid: every sum exact
        want = F.conv2d(x, kq, stride=lp.conv.stride, padding=lp.conv.padding)
        got = F.linear(x.flatten(1), m.dense_weights([kq if j == i else p for j, p in enumerate(m.kernels)])[i])
        assert torch.equal(got, want.flatten(1))
        # float kernels: the same up to the order of the float32 sums
        wf = F.conv2d(x, k.detach(), stride=lp.conv.stride, padding=lp.conv.padding).flatten(1)
        torch.testing.assert_close(F.linear(x.flatten(1), m.weights[i].detach()), wf, rtol=0, atol=1e-5)
        x = _spikes(want.shape, 3 + i)


def test_conv_matrix_equals_the_simulators_lowering_of_a_nir_conv2d():
    from neurosim.io.nir_lower import _conv2d_matrix

    m = SpikingCNN("4k3s2p1,6k3s1", (2, 9, 11), 3, generator=torch.Generator().manual_seed(4))
    for lp, k in zip(m.plan[:2], m.kernels):
        kq = quantize(k.detach().numpy())[0]
        _, mat = _conv2d_matrix(lp.in_shape, kq, lp.conv.stride, lp.conv.padding, 1, 1)
        np.testing.assert_array_equal(dense_matrix(lp, kq), mat.toarray().T.astype(np.float32))


@pytest.mark.parametrize("pool", ["sum2", "avg2", "sum3s2"])
def test_a_pool_folded_into_the_next_layer_equals_pooling_then_convolving(pool):
    m = SpikingCNN(f"4k3s1,{pool},5k3s1p1", (2, 12, 12), 3, generator=torch.Generator().manual_seed(5))
    x = _spikes((4, 4, 10, 10), 6)
    kq = torch.from_numpy(quantize(m.kernels[1].detach().numpy())[0])
    k, s = m.tokens[1].kernel, m.tokens[1].stride
    pooled = F.avg_pool2d(x, k, s) * (k * k if pool.startswith("sum") else 1)
    want = F.conv2d(pooled, kq, padding=1).flatten(1)
    got = F.linear(x.flatten(1), m.dense_weights([m.kernels[0], kq, m.kernels[2]])[1])
    assert torch.equal(got, want)


def test_gradients_reach_the_kernels_and_equal_the_conv2d_gradients():
    m = SpikingCNN("3k3s2", (2, 8, 8), 2, generator=torch.Generator().manual_seed(7))
    x = _spikes((3, 2, 8, 8), 8)
    g = torch.randn(3, 3 * 3 * 3, generator=torch.Generator().manual_seed(9))
    (F.linear(x.flatten(1), m.weights[0]) * g).sum().backward()
    k = m.kernels[0].detach().clone().requires_grad_(True)
    (F.conv2d(x, k, stride=2).flatten(1) * g).sum().backward()
    torch.testing.assert_close(m.kernels[0].grad, k.grad, rtol=0, atol=1e-5)


def test_the_paper_cnn_has_the_papers_shapes():
    m = SpikingCNN("paper-cnn", (2, 34, 34), 10)
    assert [lp.out_shape for lp in m.plan] == [(8, 16, 16), (16, 8, 8), (32, 4, 4), (10,)]
    assert [tuple(k.shape) for k in m.kernels] == [(8, 2, 3, 3), (16, 8, 3, 3), (32, 16, 3, 3), (10, 512)]
    assert m.sizes == [2312, 2048, 1024, 512, 10]
    assert m.bias_params is None  # no bias unless asked (asynctorch's convolutions have none)
    r = m(_spikes((2, 3, 2312), 10), mode="unlayered", group_size=16)
    assert r.counts.shape == (2, 10)


@pytest.mark.parametrize(
    ("spec", "why"),
    [("8k3x", "token"), ("avg3", "not exact"), ("8k3,16,4k3", "cannot follow a dense"), ("8k40", "smaller")],
)
def test_bad_specs_are_refused_in_one_line(spec, why):
    with pytest.raises(ConvSpecError, match=why) as e:
        plan(parse_spec(spec), (2, 34, 34), 10)
    assert "\n" not in str(e.value)


def test_a_two_dimensional_input_is_one_channel_and_a_flat_one_is_refused():
    m = SpikingCNN("4k3", (8, 8), 10)
    assert m.input_shape == (1, 8, 8) and m.sizes == [64, 144, 10]
    with pytest.raises(ConvSpecError, match=r"\(C, H, W\) input"):
        SpikingCNN("4k3", (64,), 10)
