"""Text reports of the performance models: equation, substituted numbers, then the table
(Kerncraft style); op counts beside the paper's; profiles."""

from __future__ import annotations

from cnnperf.hardware import HardwareProfile
from cnnperf.models import STRATEGIES, Prediction
from cnnperf.opcount import PAPER_OPS, PAPER_TOTALS, TYPE_LABEL, OpCounts

KIND_LABEL = TYPE_LABEL  # one label per layer kind (opcount owns the list)


def table(rows: list[tuple], right: set[int] | None = None) -> str:
    """Plain aligned table; the first row is the header."""
    rows = [tuple(str(c) for c in r) for r in rows]
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    right = set(range(1, len(widths))) if right is None else right
    fmt = lambda r: "  ".join(v.rjust(w) if c in right else v.ljust(w) for c, (v, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([fmt(rows[0]), "  ".join("-" * w for w in widths), *map(fmt, rows[1:])])


def format_prediction(pred: Prediction, profile: HardwareProfile) -> str:
    """Equation, the numbers substituted for the first row, then one row per prediction."""
    strategy = STRATEGIES[pred.strategy]
    lines = [f"strategy {strategy.LABEL}, network {pred.net}, profile {profile.name}", f"  {pred.equation}",
             "first row substituted:", "  " + strategy.substitute(pred.net, profile, pred)]
    rows = pred.rows()
    terms = [k for k in rows[0]["terms"] if k not in ("cpi", "threads_per_core", "time_slice")]
    regimes = pred.inputs.get("contention_regime")
    level = pred.interval_level if pred.seconds_low is not None else None
    head = ("p", "images", "test", "epochs", *(f"{t} s" for t in terms), "total s", "minutes",
            *((f"+-% ({level:.0%})",) if level else ()), "thr/core", "CPI",
            "CPI from", "slice", *(("contention",) if regimes is not None else ()), "hardware")
    table_max = max(profile.cpi)
    body = [head]
    for j, r in enumerate(rows):
        beyond = "beyond" if r["p"] > profile.hardware_threads else "within"
        mark = " !" if r["flag"] else ""
        body.append((f"{r['p']:,}", f"{r['images']:,}", f"{r['test_images']:,}", r["epochs"],
                     *(f"{r['terms'][t]:,.1f}" for t in terms), f"{r['seconds']:,.1f}{mark}",
                     f"{r['seconds'] / 60:,.2f}{mark}", *((interval_text(r),) if level else ()),
                     r["terms"]["threads_per_core"], f"{r['terms']['cpi']:g}",
                     "table" if r["terms"]["threads_per_core"] <= table_max else f"held ({table_max}/core)",
                     f"{r['terms']['time_slice']:.3g}", *((pred.column(regimes)[j],) if regimes is not None else ()),
                     beyond))
    lines.append(table(body))
    lines.append(f"CPI: threads per core = ceil(p / {profile.cores}) looked up in the CPI table; beyond its last entry"
                 f" ({table_max} per core) the last CPI is held (paper)")
    if regimes is not None:
        lines.append("contention: linear between measured thread counts, least-squares line a + b*p beyond them; "
                     f"hardware threads: {profile.hardware_threads:,} ({profile.cores} cores x "
                     f"{profile.threads_per_core})")
    for r in rows:
        if r["flag"]:
            advice = " (do not use this value as it stands)" if "implausible" in r["flag"] else ""
            lines.append(f"! p = {r['p']:,}: {r['flag']}{advice}")
    for note in pred.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def interval_text(row: dict) -> str:
    """The interval of a prediction row relative to its value, e.g. '-3/+28' (asymmetric) or '+-34'."""
    lo, hi, t = row["seconds_low"], row["seconds_high"], row["seconds"]
    if lo is None or hi is None or not t > 0:
        return "-"
    down, up = 100 * (t - lo) / t, 100 * (hi - t) / t
    if abs(down - up) < 0.5:
        return f"+-{up:.0f}"
    return f"{-down:+.0f}/{up:+.0f}"


def format_counts(counts: OpCounts, notation: str) -> str:
    lines = [f"operation counts per image, network {counts.net} ({notation})",
             "convention: 1 op = one multiply-add, bias add, activation, pooling comparison, or weight update;"
             " BProp = activation derivative + weight gradient + input delta (not for layer 1) + update;"
             + (" executed (arg-max positions only under pooling)" if counts.executed
                else " dense convolution backward"),
             ""]
    rows = [("#", "layer", "FProp", "BProp")]
    rows += [(str(layer.index), KIND_LABEL[layer.kind], f"{layer.fprop:,}", f"{layer.bprop:,}")
             for layer in counts.layers]
    rows.append(("", "total", f"{counts.fprop:,}", f"{counts.bprop:,}"))
    lines.append(table(rows, right={0, 2, 3}))
    lines.append(f"Prep = {counts.prep_shared:,} (weights) + p x {counts.prep_instance:,} "
                 "(one network instance per worker)")
    paper = PAPER_OPS.get(counts.net)
    by_type = counts.by_type()
    lines.append("")
    lines.append("per layer type (paper Tables VII, VIII; the paper's 'fully connected' includes the output layer)")
    rows = [("type", "FProp ours", "FProp paper", "ratio", "BProp ours", "BProp paper", "ratio")]
    merged = {"conv": by_type["conv"], "maxpool": by_type["maxpool"],
              **({"avgpool": by_type["avgpool"]} if "avgpool" in by_type else {}),
              "full": tuple(a + b for a, b in zip(by_type["full"], by_type["output"]))}
    for kind, (f, b) in merged.items():
        if paper and kind in paper:
            pf, pb = paper[kind]
            rows.append((TYPE_LABEL[kind], f"{f:,}", f"{pf:,.0f}", f"{f / pf:.2f}", f"{b:,}", f"{pb:,.0f}",
                         f"{b / pb:.2f}"))
        else:
            rows.append((TYPE_LABEL[kind], f"{f:,}", "-", "-", f"{b:,}", "-", "-"))
    if paper:
        pf, pb = PAPER_TOTALS[counts.net]
        rows.append(("total", f"{counts.fprop:,}", f"{pf:,.0f}", f"{counts.fprop / pf:.2f}", f"{counts.bprop:,}",
                     f"{pb:,.0f}", f"{counts.bprop / pb:.2f}"))
    lines.append(table(rows))
    if not paper:
        lines.append("(the paper publishes counts only for the presets small, medium, large)")
    return "\n".join(lines)


def format_profile(profile: HardwareProfile) -> str:
    lines = [f"profile {profile.name}: {profile.description}", f"source: {profile.source}" if profile.source else "",
             f"clock s = {profile.clock_hz / 1e9:.4g} GHz, {profile.cores} cores x {profile.threads_per_core} threads "
             f"= {profile.hardware_threads} hardware threads",
             "CPI by threads per core: " + ", ".join(f"{t}: {c:g}" for t, c in profile.cpi.items()) +
             " (beyond the table: the last value)",
             f"oversubscription: {profile.oversubscription}" + (
                 " (p beyond the hardware threads: compute and contention stretched by p / hardware threads;"
                 " contention of the hardware threads running at once)" if profile.oversubscription == "time-slicing"
                 else " (the paper's rules)"), ""]
    rows = [("network", "epochs", "OF", "Prep ops", "FProp ops", "BProp ops", "TPrep s", "TFprop ms", "TBprop ms")]
    for n in profile.networks.values():
        rows.append((n.name, n.epochs, f"{n.operation_factor:g}", f"{n.prep_ops:.3g}", f"{n.fprop_ops:,.0f}",
                     f"{n.bprop_ops:,.0f}", f"{n.t_prep_s:g}", f"{n.t_fprop_s * 1e3:.4g}", f"{n.t_bprop_s * 1e3:.4g}"))
    lines.append(table(rows))
    net = profile.extra.get("network")
    if net:
        lines.append(f"interconnect: alpha = {float(net['alpha_s']) * 1e6:.3g} us, beta = "
                     f"{float(net['beta_bytes_per_s']) / 1e9:.3g} GB/s ({net.get('source', 'no source given')})")
    lines.append("")
    lines.append("MemoryContention(p) in seconds per image (paper Table IV)")
    threads = sorted({t for n in profile.networks.values() for t in n.contention.threads})
    rows = [("threads", *profile.networks)]
    for t in threads:
        row = [f"{t:,}"]
        for n in profile.networks.values():
            c = n.contention
            if t in c.threads:
                k = c.threads.index(t)
                row.append(f"{c.seconds[k]:.3g}{'' if c.status[k] == 'measured' else ' *'}")
            else:
                row.append(f"({float(c(t)):.3g})")
        rows.append(tuple(row))
    lines.append(table(rows))
    lines.append("* extrapolated (shown, not used: cnnperf extrapolates the measured rows with a least-squares line); "
                 "(x) interpolated")
    if profile.machine_model is not None:
        lines += ["", format_machine_model(profile.machine_model)]
    return "\n".join(line for line in lines if line is not None)


def format_machine_model(model) -> str:
    """The machine model of strategy (d): one row per kernel path with its chosen form and fit."""
    lines = [f"machine model ({model.kind}) for strategy (d): fitted to {model.fitted_to}",
             f"source: {model.source}" if model.source else ""]
    if model.kind == "kernel-cost":
        rows = [("kernel", "form", "cost per image [s]", "points", "cv error", "other forms (cv error)")]
        for key, k in sorted(model.kernels.items()):
            others = ", ".join(f"{f} {v['cv_error']:.1%}" for f, v in k.alternatives.items() if f != k.form)
            rows.append((key, k.form, k.formula(), k.points, f"{k.cv_error:.1%}", others or "-"))
        lines.append(table(rows, right={3, 4}))
        ev, tr = model.eval_overhead, model.train_overhead
        lines.append(f"per-image overhead: evaluation {ev.features} cv {ev.cv_error:.0%}, "
                     f"train step {tr.features} cv {tr.cv_error:.0%}")
    c = model.contention
    lines.append(f"MemoryContention(p) = c0(p) + c1(p) * W + c2(p) * T [W: bytes of weights written per image, T: "
                 f"single-thread step; form {c.form}]: " +
                 ", ".join(f"p={t}: {a:.3g} s + {b:.3g} s/B + {g:.3g} T"
                           for t, a, b, g in zip(c.threads, c.c0_s, c.c1_s_per_byte, c.c2_per_step))
                 + f"; fitted over {c.networks} networks, leave-one-network-out error {c.cv_error:.0%}")
    return "\n".join(line for line in lines if line)


def format_layers(pred: Prediction) -> str:
    """Per-layer breakdown of a layer-model prediction: which layer costs what, forward and backward."""
    cost = pred.inputs["cost"]
    tf, tb = cost.t_fprop_s, cost.t_bprop_s
    rows = [("#", "layer", "forward kernel", "fwd us", "backward kernel", "bwd us", "share of step")]
    for c in cost.layers:
        rows.append((c.index, c.kind, c.forward_path, f"{c.forward_s * 1e6:,.2f}", c.backward_path,
                     f"{c.backward_s * 1e6:,.2f}", f"{(c.forward_s + c.backward_s) / (tf + tb):.1%}"))
    rows.append(("", "overhead", "copy-in, softmax", f"{cost.eval_overhead_s * 1e6:,.2f}", "rest of the step",
                 f"{(cost.train_overhead_s - cost.eval_overhead_s) * 1e6:,.2f}",
                 f"{cost.train_overhead_s / (tf + tb):.1%}"))
    rows.append(("", "total", "TFprop", f"{tf * 1e6:,.2f}", "TBprop", f"{tb * 1e6:,.2f}", "100.0%"))
    return f"per layer, network {pred.net} (seconds per image, one thread)\n" + table(rows, right={0, 3, 5, 6})
