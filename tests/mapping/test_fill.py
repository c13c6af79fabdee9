"""The sequential fill: the compiled loop and the Python loop give the cores of a plain
set-based reading of the rule, on random networks near each capacity."""

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim.mapping.fill import sequential_fill


def by_sets(csc, starts, cap_n, cap_ax, cap_syn):
    """The rule read directly: a core's distinct sources kept as a Python set."""
    core_of, core, members, axons, syn = [], -1, cap_n, set(), 0
    for j in range(csc.shape[1]):
        src = set(csc.indices[csc.indptr[j] : csc.indptr[j + 1]].tolist())
        if starts[j] or members >= cap_n or len(axons | src) > cap_ax or syn + len(src) > cap_syn:
            core, members, axons, syn = core + 1, 0, set(), 0
        axons |= src
        members, syn = members + 1, syn + len(src)
        core_of.append(core)
    return np.array(core_of)


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("caps", [(16, 10**9, 10**9), (64, 40, 10**9), (64, 10**9, 120), (8, 30, 90)])
def test_fill_follows_the_rule(compiled, caps):
    rng = np.random.default_rng(sum(caps) % 97)
    n = 400
    dense = rng.random((n, n)) < 0.03
    csc = sp.csc_array(dense.astype(np.float32))
    starts = np.zeros(n, bool)
    starts[[0, 150, 300]] = True
    got, bad = sequential_fill(csc.indptr, csc.indices, starts, *caps, compiled=compiled)
    assert bad == -1
    want = by_sets(csc, starts, *caps)
    np.testing.assert_array_equal(got, want)
    assert got.max() + 1 > 3, "the capacities should split the populations"


@pytest.mark.parametrize("compiled", [True, False])
def test_fill_names_the_neuron_no_core_takes(compiled):
    csc = sp.csc_array(np.triu(np.ones((10, 10), np.float32)))  # neuron j has j + 1 sources
    _, bad = sequential_fill(csc.indptr, csc.indices, np.eye(1, 10, dtype=bool)[0], 100, 5, 100, compiled=compiled)
    assert bad == 5
