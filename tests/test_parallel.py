import numpy as np
import pytest

import mlp_functional as mf
from mlp_functional.parallel import MIN_PARALLEL_SIZE, SplitRule


@pytest.mark.parametrize("make", [lambda: mf.adam(1e-3), lambda: mf.momentum(0.1, nesterov=True)])
def test_split_application_is_bit_identical_to_one_call(make):
    rule = make().rule
    size = MIN_PARALLEL_SIZE * 2 + 7
    rng = np.random.default_rng(0)
    start = rng.standard_normal(size).astype(np.float32)
    n_slots = len(rule.state_type._fields) - 1
    whole = [
        start.copy(),
        *(np.abs(rng.standard_normal(size)).astype(np.float32) for _ in range(n_slots)),
    ]
    split = [a.copy() for a in whole]
    for step in range(3):
        g = rng.standard_normal(size).astype(np.float32)
        rule.apply(whole[0], g.copy(), tuple(whole[1:]), step, np.empty_like(g))
        with SplitRule(rule, split[0], g.copy(), tuple(split[1:]), np.empty_like(g)) as apply:
            apply(step)
    for a, b in zip(whole, split, strict=True):
        assert a.tobytes() == b.tobytes()
