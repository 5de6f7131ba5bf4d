"""The engine's package face: lazy names, pure-NumPy modules that never import Numba, module sizes."""

import subprocess
import sys
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parents[2] / "src" / "cnnperf" / "engine"


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=120)


def test_pure_modules_do_not_import_numba():
    code = (
        "import sys\n"
        "import cnnperf.engine.layout, cnnperf.engine.store, cnnperf.engine.kinds, cnnperf.engine.paths\n"
        "from cnnperf import engine\n"
        "from cnnperf.networks import preset\n"
        "layout = engine.build_layout(preset('small'))\n"
        "w = engine.init_weights(layout, 0)\n"
        "ws = engine.new_workspace(layout)\n"
        "assert engine.layer_params(layout, w, 1)[0].shape == (5, 1, 4, 4)\n"
        "assert engine.layer_paths(preset('large'))[1].forward == 'conv_gemm'\n"
        "heavy = ('numba', 'llvmlite', 'cnnperf.engine.kernels', 'cnnperf.engine.api')\n"
        "bad = [m for m in sys.modules if m.startswith(heavy)]\n"
        "assert not bad, bad\n"
        "print('ok')\n"
    )
    res = run_python(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


def test_kernel_names_load_the_kernels_on_first_use():
    code = (
        "import sys\n"
        "from cnnperf import engine\n"
        "assert 'numba' not in sys.modules\n"
        "engine.train_images\n"
        "assert 'numba' in sys.modules and 'cnnperf.engine.api' in sys.modules\n"
        "from cnnperf.engine.layers import gemm_bias_nt\n"
        "assert engine.layers.gemm_bias_nt is gemm_bias_nt\n"
        "print('ok')\n"
    )
    res = run_python(code)
    assert res.returncode == 0, res.stderr


def test_unknown_name_is_an_attribute_error():
    from cnnperf import engine
    with pytest.raises(AttributeError, match="no attribute 'frobnicate'"):
        engine.frobnicate  # noqa: B018
    assert "train_images" in dir(engine)


def test_no_engine_module_over_400_lines():
    sizes = {p.relative_to(ENGINE).as_posix(): len(p.read_text().splitlines()) for p in ENGINE.rglob("*.py")}
    assert len(sizes) >= 10
    assert max(sizes.values()) <= 400, {k: v for k, v in sizes.items() if v > 400}
