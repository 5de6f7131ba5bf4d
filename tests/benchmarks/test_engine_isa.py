"""benchmarks/engine.py --isa avx2: the AVX2 build on any x86 CPU, and that it trains like the native one."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "engine.py"
NETS = ("small", str(Path(__file__).resolve().parents[2] / "examples" / "lenet5-c3.toml"))

TRAIN = r"""
import json, sys
import numpy as np
from cnnperf import engine
from cnnperf.engine.kernels.simd import target_vector
from cnnperf.networks import resolve_network
out = {"lanes": target_vector()[0]}
rng = np.random.default_rng(0)
x, y = rng.uniform(0, 1, (24, 29, 29)).astype(np.float32), rng.integers(0, 10, 24)
for net in sys.argv[1:]:
    layout = engine.build_layout(resolve_network(net))
    w = engine.init_weights(layout, 1)
    out[net + ":init"] = w.tolist()
    engine.train_images(layout, w, engine.new_workspace(layout), x, y, 0, 24, 0.01)
    out[net] = w.tolist()
print(json.dumps(out))
"""


def bench():
    spec = importlib.util.spec_from_file_location("bench_engine", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def run(env) -> dict:
    out = subprocess.run([sys.executable, "-c", TRAIN, *NETS], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout)


def test_avx2_turns_off_every_avx512_feature_and_keeps_avx2(monkeypatch):
    monkeypatch.setattr(os, "environ", dict(os.environ))
    bench().use_isa("avx2")
    flags = os.environ["NUMBA_CPU_FEATURES"].split(",")
    assert flags and all(f[0] in "+-" for f in flags)
    assert not [f for f in flags if f.startswith("+avx512")]
    assert os.environ["ATEN_CPU_CAPABILITY"] == "avx2" and os.environ["NUMBA_CPU_NAME"] == "znver3"
    if "avx2" in Path("/proc/cpuinfo").read_text():
        assert "+avx2" in flags and "+fma" in flags


@pytest.mark.skipif("avx2" not in Path("/proc/cpuinfo").read_text(), reason="the CPU has no AVX2")
@pytest.mark.skipif("avx512f" not in Path("/proc/cpuinfo").read_text(),
                    reason="no AVX-512: the native build is already an 8-lane build (nothing to compare)")
def test_the_avx2_build_runs_8_lane_kernels_and_trains_like_the_native_build(tmp_path, monkeypatch):
    native = run(dict(os.environ))
    monkeypatch.setattr(os, "environ", {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)})
    bench().use_isa("avx2")
    avx2 = run(dict(os.environ))
    assert avx2["lanes"] == 8
    for net in NETS:  # other register tiles sum in another order: float32 rounding only, after 24 SGD steps
        a, b = np.array(native[net]), np.array(avx2[net])
        assert np.abs(a - np.array(native[net + ":init"])).max() > 1e-3 * np.abs(a).max(), net  # it trained
        assert np.abs(a - b).max() <= 1e-4 * np.abs(a).max(), net
