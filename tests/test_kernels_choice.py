"""Which kernels the fast engine runs: ``MLP_FUNCTIONAL_KERNELS``, and a missing extra."""

from __future__ import annotations

import importlib.util

import pytest

from mlp_functional.cli.errors import message_for
from mlp_functional.fast import backend


def test_numpy_is_chosen_when_asked_even_with_numba_installed() -> None:
    assert backend.choice("numpy") == "numpy"
    assert backend.choice(" NumPy ") == "numpy"


def test_auto_takes_numba_exactly_when_it_is_installed() -> None:
    installed = importlib.util.find_spec("numba") is not None
    assert backend.choice("") == backend.choice("auto") == ("numba" if installed else "numpy")


def test_asking_for_numba_without_the_extra_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError) as missing:
        backend.choice("numba")
    line = message_for(missing.value)
    assert line is not None and "\n" not in line
    assert line.endswith("pip install 'mlp-functional[fast]'")
    assert backend.choice("auto") == "numpy"  # without the request, NumPy quietly


def test_an_unknown_choice_names_the_variable() -> None:
    with pytest.raises(ValueError, match="MLP_FUNCTIONAL_KERNELS"):
        backend.choice("cuda")
