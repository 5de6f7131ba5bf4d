"""Files of a validation: results.json (through validation.store), results.csv, one PNG per
network, report.md, and the profile with the empirical fits. All written atomically."""

from __future__ import annotations

from pathlib import Path

from cnnperf.fileio import atomic_write_bytes, atomic_write_text
from cnnperf.hardware import save_profile
from cnnperf.report.plots import time_over_p_png
from cnnperf.report.validation import report_markdown, results_csv, results_json
from cnnperf.validation import store
from cnnperf.validation.analysis import ValidationResult

EMPIRICAL_PROFILE = "profile-with-empirical.toml"


def file_stem(net: str) -> str:
    """A file name for network `net` (a preset, notation or a TOML path)."""
    name = Path(net).stem if net.endswith(".toml") else net
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "net"


def write_validation(out: Path, result: ValidationResult, runs, measured: dict) -> tuple[str, ...]:
    """Write every output of a validation into `out`; returns the file names written."""
    plots = {}
    for net in result.config.nets:
        png = time_over_p_png(net, {p: v for (n, p), v in measured.items() if n == net}, result)
        plots[net] = f"{file_stem(net)}.png"
        atomic_write_bytes(out / plots[net], png)
    store.write_results(out / store.RESULTS, results_json(result, runs))
    atomic_write_text(out / "results.csv", results_csv(result))
    atomic_write_text(out / "report.md", report_markdown(result, plots, list(result.warnings)))
    files = ["report.md", store.RESULTS, "results.csv", *plots.values()]
    if result.fitted:
        save_profile(out / EMPIRICAL_PROFILE, result.profile)
        files.append(EMPIRICAL_PROFILE)
    (out / store.SWEEP_STATE).unlink(missing_ok=True)
    return tuple(files)


def write_mpi_validation(out: Path, result) -> tuple[str, ...]:
    """results-mpi.json, report-mpi.md and one PNG per network of a distributed validation."""
    from dataclasses import asdict

    from cnnperf.report.mpi import format_mpi, mpi_png

    nets = list(dict.fromkeys(r["net"] for r in result.rows))
    pngs = {net: f"mpi-{file_stem(net)}.png" for net in nets}
    for net, name in pngs.items():
        atomic_write_bytes(out / name, mpi_png(net, list(result.rows)))
    store.write_results(out / store.RESULTS_MPI, {"profile": result.profile, "threads": result.threads,
                                                   "rows": list(result.rows), "config": result.config,
                                                   "runs": [asdict(r) for r in result.runs]})
    atomic_write_text(out / "report-mpi.md", "# cnnperf distributed validation\n\n```\n" + format_mpi(result) +
                      "\n```\n\n" + "\n".join(f"![{n}]({name})" for n, name in pngs.items()) + "\n")
    (out / store.MPI_STATE).unlink(missing_ok=True)
    return (store.RESULTS_MPI, "report-mpi.md", *pngs.values())
