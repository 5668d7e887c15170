"""``mlp-functional bench --openblas-kernels``: the kernels asked for, the environment each
child gets, the summary of the children's figures, and one small run end to end."""

from __future__ import annotations

import json
import os
import platform
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from _cli_util import cli, one_line_error

from mlp_functional.bench import openblas
from mlp_functional.bench.openblas import (
    CORETYPE,
    L2_SIZE,
    BenchChildError,
    KernelRun,
    OpenBLAS,
    bench_record,
    canonical_kernel,
    child_environ,
    honoured,
)
from mlp_functional.cli.bench_openblas import (
    child_argv,
    environ_note,
    heading,
    summary,
    unhonoured_note,
)
from mlp_functional.cli.main import build_parser, main


def _openblas_here() -> bool:
    import numpy  # noqa: F401  (threadpoolctl sees only the libraries already loaded)

    return bool(openblas.openblas_in_use())


needs_openblas = pytest.mark.skipif(not _openblas_here(), reason="NumPy here has no OpenBLAS")


# The kernels asked for.


def test_own_and_core_names_are_read_in_any_case_and_spelt_as_openblas_spells_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    args = build_parser().parse_args(["bench", "--openblas-kernels", "own, haswell,SKYLAKEX,Own"])
    assert args.openblas_kernels == ("own", "Haswell", "SkylakeX", "own")
    assert build_parser().parse_args(["bench"]).openblas_kernels is None


def test_core_names_are_those_of_the_machine() -> None:
    assert canonical_kernel("NeoverseN1", "aarch64") == "neoversen1"
    assert canonical_kernel("zen", "AMD64") == "Zen"
    with pytest.raises(ValueError, match="no core named 'Haswell'"):
        canonical_kernel("Haswell", "aarch64")
    # Where no names are listed, any name-shaped word passes, and the run tells.
    assert canonical_kernel("POWER10", "ppc64le") == "POWER10"
    with pytest.raises(ValueError, match="not an OpenBLAS core name"):
        canonical_kernel("POWER-10", "ppc64le")


BAD = [
    ("", "no kernel named; list them comma-separated, e.g. own,Haswell"),
    (" , ", "no kernel named"),
    ("own,,Haswell", "empty name in 'own,,Haswell'; separate the kernels by single commas"),
    ("own,", "empty name"),
    ("Haswel", "OpenBLAS has no core named 'Haswel'; did you mean Haswell? (or own)"),
    ("own,fast", "OpenBLAS has no core named 'fast'; name one of Katmai, "),
    ("Has-well", "'Has-well' is not an OpenBLAS core name; name cores such as Haswell, or own"),
]


@pytest.mark.parametrize(("value", "message"), BAD, ids=[repr(v) for v, _ in BAD])
def test_bad_kernels_are_one_usage_line_with_the_fix(
    value: str,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    with pytest.raises(SystemExit) as stopped:
        main(["bench", "--openblas-kernels", value])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("mlp-functional bench: error: argument --openblas-kernels: ")
    assert message in lines[0]


def test_a_kernel_is_honoured_only_when_every_openblas_runs_it() -> None:
    assert honoured("Haswell", [OpenBLAS("0.3.31", "Haswell"), OpenBLAS("0.3.30", "haswell")])
    assert not honoured("Haswell", [OpenBLAS("0.3.31", "Haswell"), OpenBLAS("0.3.30", "Zen")])
    assert not honoured("Haswell", [])
    assert honoured("own", [OpenBLAS("0.3.31", "SkylakeX")])


# The environment each child gets.

PINNED = {CORETYPE: "Haswell", L2_SIZE: "512", "PATH": "/bin", "OPENBLAS_NUM_THREADS": "2"}


def test_own_removes_both_variables_and_keeps_the_rest() -> None:
    given = dict(PINNED)
    env = child_environ("own", given)
    assert env == {"PATH": "/bin", "OPENBLAS_NUM_THREADS": "2"}
    assert given == PINNED


def test_a_core_sets_coretype_and_keeps_the_l2_size_only_where_it_was_set() -> None:
    given = dict(PINNED)
    assert child_environ("SkylakeX", given) == {**PINNED, CORETYPE: "SkylakeX"}
    assert given == PINNED
    bare = {"PATH": "/bin"}
    assert child_environ("Haswell", bare) == {"PATH": "/bin", CORETYPE: "Haswell"}
    assert bare == {"PATH": "/bin"}


def test_the_environment_of_this_process_is_never_changed() -> None:
    before = dict(os.environ)
    own, haswell = child_environ("own"), child_environ("Haswell")
    assert dict(os.environ) == before
    assert own is not os.environ and haswell is not os.environ
    others = {k: v for k, v in before.items() if k not in (CORETYPE, L2_SIZE)}
    assert own == others
    assert haswell == {**before, CORETYPE: "Haswell"}


def test_each_child_gets_every_other_option_of_the_command() -> None:
    args = build_parser().parse_args(
        [
            "--threads",
            "1",
            "bench",
            "--hidden",
            "64,32",
            "--batch-size",
            "512",
            "--optimizer",
            "sgd",
            "--repeats",
            "3",
            "--compare",
            "--no-memory",
            "--data-dir",
            "some/folder",
            "--openblas-kernels",
            "own",
        ]
    )
    passed_on = vars(args).keys() - {"openblas_kernels", "result_json", "run", "command"}
    # A new option of bench must be passed on to the children (and named here).
    assert passed_on == {
        "threads",
        "hidden",
        "batch_size",
        "optimizer",
        "repeats",
        "compare",
        "no_memory",
        "data_dir",
    }
    child = vars(build_parser().parse_args(child_argv(args)))
    assert child["openblas_kernels"] is None and child["result_json"] is None
    assert {k: child[k] for k in passed_on} == {k: vars(args)[k] for k in passed_on}
    defaults = build_parser().parse_args(["bench", "--hidden", "none", "--openblas-kernels", "own"])
    child = vars(build_parser().parse_args(child_argv(defaults)))
    assert {k: child[k] for k in passed_on} == {k: vars(defaults)[k] for k in passed_on}


# What a child reports, and the summary of the children.


def _run(asked: str, kernel: str, **figures: object) -> KernelRun:
    base: dict[str, object] = {
        "environ": {CORETYPE: None if asked == "own" else asked, L2_SIZE: None},
        "kernels": "native",
        "floor": 0.2,
        "epoch": 0.3,
        "ratio": 1.5,
        "rest": 0.0002,
        "peer_ratios": {},
        "peer_accuracy": {},
        "peak_memory_mb": None,
    }
    return KernelRun(asked, (OpenBLAS("0.3.31", kernel),), **{**base, **figures})


def test_the_record_a_child_writes_reads_back_as_its_run() -> None:
    result = SimpleNamespace(
        kernels="native",
        floor=0.216,
        epoch=0.331,
        ratio=1.67,
        rest=0.000191,
        peer_ratios={"jax": 0.74},
        peer_accuracy={"jax": 0.969},
    )
    record = json.loads(json.dumps(bench_record(result, 234.0)))
    run = KernelRun.from_record("own", record)
    assert run.openblas == openblas.openblas_in_use()
    assert run.environ == {CORETYPE: os.environ.get(CORETYPE), L2_SIZE: os.environ.get(L2_SIZE)}
    assert (run.floor, run.epoch, run.ratio, run.rest) == (0.216, 0.331, 1.67, 0.000191)
    assert run.peer_ratios == {"jax": 0.74} and run.peer_accuracy == {"jax": 0.969}
    assert (run.kernels, run.peak_memory_mb) == ("native", 234.0)


def test_the_summary_has_a_row_per_kernel_and_a_column_per_peer_measured() -> None:
    own = _run(
        "own",
        "SkylakeX",
        floor=0.216,
        ratio=1.674,
        rest=0.000191,
        peer_ratios={"scikit-learn": 0.30, "pytorch": 0.214, "jax": 0.741},
        peer_accuracy={"scikit-learn": 0.964, "pytorch": 0.965, "jax": 0.969},
    )
    pinned = _run(
        "Haswell",
        "Haswell",
        floor=0.341,
        ratio=1.2,
        rest=0.0005,
        peer_ratios={"jax": 1.22, "scikit-learn": 0.47},
        peer_accuracy={"jax": 0.969, "scikit-learn": 0.944},
    )
    header, rows = summary([own, pinned])
    assert header == (
        "asked",
        "OpenBLAS kernel",
        "floor",
        "fast epoch / floor",
        "ours / JAX",
        "ours / PyTorch",
        "ours / scikit-learn",
        "the rest per step",
    )
    assert rows == [
        ("own", "SkylakeX", "0.216 s", "1.67x", "0.74", "0.21", "0.30", "0.191 ms"),
        # no PyTorch in that run; scikit-learn below 95%: in brackets, not comparable
        ("Haswell", "Haswell", "0.341 s", "1.20x", "1.22", "", "(0.47)", "0.500 ms"),
    ]


def test_the_summary_leaves_out_what_no_run_measured_and_marks_a_kernel_not_run() -> None:
    header, rows = summary([_run("Cooperlake", "SkylakeX", peak_memory_mb=233.6)])
    assert header == (
        "asked",
        "OpenBLAS kernel",
        "floor",
        "fast epoch / floor",
        "the rest per step",
        "peak memory, default train",
    )
    assert rows == [
        ("Cooperlake", "SkylakeX (not Cooperlake)", "0.200 s", "1.50x", "0.200 ms", "234 MB")
    ]


def test_headings_name_the_kernel_openblas_ran_and_say_when_it_was_not_the_one_asked() -> None:
    own, pinned, ignored = (
        _run("own", "SkylakeX"),
        _run("Haswell", "Haswell"),
        _run("Zen", "Haswell"),
    )
    assert heading(own) == (
        "## OpenBLAS kernel SkylakeX (OpenBLAS's own choice; "
        "OPENBLAS_CORETYPE unset, OPENBLAS_L2_SIZE unset)"
    )
    assert heading(pinned) == (
        "## OpenBLAS kernel Haswell (asked for Haswell; "
        "OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE unset)"
    )
    assert unhonoured_note(own) is None and unhonoured_note(pinned) is None
    note = unhonoured_note(ignored)
    assert note is not None and "\n" not in note
    assert note.startswith("note: OpenBLAS ran Haswell, not Zen")
    assert environ_note({CORETYPE: "Haswell", L2_SIZE: "512"}) == (
        "OPENBLAS_CORETYPE=Haswell, OPENBLAS_L2_SIZE=512"
    )


# Failures.


@needs_openblas
def test_a_child_killed_by_a_signal_is_one_line_naming_the_kernel(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def killed(kernel: str, argv: list[str], environ: dict[str, str]) -> None:
        raise BenchChildError(kernel, -11)

    monkeypatch.setattr(openblas, "run_child", killed)
    assert main(["bench", "--openblas-kernels", "own"]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "mlp-functional: error: the bench for OpenBLAS kernel own was killed by SIGSEGV; "
        "leave own out of --openblas-kernels, or run it alone with OPENBLAS_VERBOSE=2 to see "
        "what OpenBLAS does"
    ]


def test_a_numpy_without_openblas_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(openblas, "openblas_in_use", lambda: ())
    assert main(["bench", "--openblas-kernels", "own"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("mlp-functional: error: NumPy here calls ")
    assert line.endswith(
        "--openblas-kernels needs a NumPy built with OpenBLAS "
        "(as its wheels from PyPI are): leave the option out"
    )


@needs_openblas
def test_a_failing_child_says_why_once_and_the_command_stops(
    env: dict[str, str], tmp_path: Path
) -> None:
    from mlp_functional.data import get_spec

    for file in get_spec("mnist").files:
        (tmp_path / file.name).write_bytes(b"not MNIST")
    result = cli(
        "bench", "--openblas-kernels", "own,own", "--data-dir", str(tmp_path), cwd=tmp_path, env=env
    )
    line = one_line_error(result)
    assert "not an IDX file" in line
    assert "## OpenBLAS kernel" not in result.stdout  # the second child never started


# End to end, on a small job.


@needs_openblas
@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="x86-64 cores")
def test_one_command_times_each_kernel_in_its_own_process(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = cli(
        "--threads",
        "1",
        "bench",
        "--hidden",
        "8",
        "--repeats",
        "1",
        "--no-memory",
        "--openblas-kernels",
        "own,haswell",
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.splitlines()[0].endswith(f"this environment has {environ_note(env)}")
    sections = re.split(r"^## ", out, flags=re.MULTILINE)[1:]
    assert len(sections) == 3  # one per kernel, then the summary
    l2 = f"OPENBLAS_L2_SIZE={env[L2_SIZE]}" if L2_SIZE in env else "OPENBLAS_L2_SIZE unset"
    wanted = [
        "(OpenBLAS's own choice; OPENBLAS_CORETYPE unset, OPENBLAS_L2_SIZE unset)",
        f"(asked for Haswell; OPENBLAS_CORETYPE=Haswell, {l2})",
    ]
    summary_rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in sections[2].splitlines()
        if line.startswith("| ")
    ][1:]
    assert [row[0] for row in summary_rows] == ["own", "Haswell"]
    for section, asked, row in zip(sections[:2], wanted, summary_rows, strict=True):
        title = section.splitlines()[0]
        kernel = re.fullmatch(r"OpenBLAS kernel (\S+) (\(.*\))", title)
        assert kernel is not None and kernel.group(2) == asked, title
        # The heading's kernel (from the child's record) is the one its own table reports.
        assert f"({kernel.group(1)} kernel, " in section
        if "Haswell" in asked and kernel.group(1) != "Haswell":
            assert f"note: OpenBLAS ran {kernel.group(1)}, not Haswell" in section
        if "Haswell" in asked:  # the pin is this command's own, not advice to undo
            assert "(set by --openblas-kernels)" in section and "unset it" not in section
        # The summary carries the child's own figures.
        ratio = re.search(r"fast engine epoch\s*\| [\d.]+ s \| ([\d.]+)x floor", section)
        rest = re.search(r"per step: the rest\s*\| ([\d.]+ ms)", section)
        assert ratio is not None and rest is not None
        assert row[1].split(" (")[0] == kernel.group(1)
        assert row[3] == f"{ratio.group(1)}x" and row[4] == rest.group(1)
