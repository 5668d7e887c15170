"""Which kernels the fast engine runs: ``MLP_FUNCTIONAL_KERNELS``, and a build without C."""

from __future__ import annotations

import pytest

from mlp_functional.cli.errors import message_for
from mlp_functional.fast import backend


def test_numpy_is_chosen_when_asked_even_with_the_c_kernels_built() -> None:
    assert backend.choice("numpy") == "numpy"
    assert backend.choice(" NumPy ") == "numpy"


def test_auto_takes_the_c_kernels_exactly_when_they_were_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = "native" if backend.native_built() else "numpy"
    assert backend.choice("") == backend.choice("auto") == expected
    monkeypatch.setattr(backend, "native_built", lambda: False)
    assert backend.choice("auto") == "numpy"


def test_the_build_here_has_the_c_kernels() -> None:
    # `make test` builds the package with a C compiler: a missing extension is a broken build.
    assert backend.native_built()


def test_asking_for_native_without_them_is_one_line_naming_the_fix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(backend, "native_built", lambda: False)
    with pytest.raises(ValueError) as missing:
        backend.choice("native")
    line = message_for(missing.value)
    assert line is not None and "\n" not in line
    assert "install a C compiler and reinstall" in line


def test_an_unknown_choice_names_the_variable() -> None:
    with pytest.raises(ValueError, match="MLP_FUNCTIONAL_KERNELS"):
        backend.choice("numba")
