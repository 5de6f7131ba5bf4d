"""benchmarks/write_traffic.py: its options and the per-round ratios it reports (no timing)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import write_traffic as wt  # noqa: E402 (a script in benchmarks/, not a package module)


def test_an_unknown_order_is_refused_in_one_line_naming_the_choices(capsys):
    assert wt.main(["--orders", "rotate,sideways"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sideways" in err[0] and wt.DEFAULT in err[0]


def test_ratios_are_taken_round_by_round():
    # round 2 is slow for both (a noisy stretch): the paired ratio stays 50 %, unpaired medians would not
    assert wt.paired([50.0, 10.0, 50.0], [100.0, 20.0, 100.0]) == "50.0 [50.0-50.0]"
    assert wt.paired([40.0, 60.0, 50.0], [100.0, 100.0, 100.0]) == "50.0 [40.0-60.0]"


def test_every_variant_shares_one_store_but_private():
    from cnnperf import engine
    from cnnperf.networks import preset
    layout = engine.build_layout(preset("small"))
    runs = wt.variants(layout, 2, list(engine.WRITE_ORDERS))
    stores, _ = runs.pop("private")
    assert stores[0] is not stores[1]
    for name, (stores, workspaces) in runs.items():
        assert stores[0] is stores[1], name
        assert [(ws.rotate, ws.prefetch) for ws in workspaces] == [tuple(engine.WRITE_ORDERS[name](k, 2).values())
                                                                   for k in range(2)]
