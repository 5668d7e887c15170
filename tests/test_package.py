import subprocess
import sys

import mlp_functional as mf


def test_everything_in_all_exists():
    missing = [name for name in mf.__all__ if not hasattr(mf, name)]
    assert missing == []


def test_importing_the_engine_pulls_in_only_numpy_and_toolz():
    code = (
        "import sys, mlp_functional; "
        "heavy = {'pooch', 'tqdm', 'safetensors', 'matplotlib', 'PIL', 'torch', 'sklearn', "
        "'threadpoolctl'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
