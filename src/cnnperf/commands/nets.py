"""`cnnperf nets show NET` / `cnnperf nets list`: network shapes (paper Fig. 2)."""

from __future__ import annotations

from cnnperf.commands._args import nonnegative_int, positive_int
from cnnperf.networks import PRESETS, preset, resolve_network
from cnnperf.networks.spec import NetworkSpec

KIND_LABEL = {"input": "input", "conv": "convolution", "maxpool": "max pooling", "avgpool": "average pooling",
              "full": "fully connected", "output": "output"}


def register(sub) -> None:
    p = sub.add_parser("nets", help="list presets or show a network's layers, neurons and weights")
    verbs = p.add_subparsers(dest="nets_command", metavar="{list,show,random}", parser_class=type(p))
    verbs.required = True
    verbs.add_parser("list", help="list the preset networks").set_defaults(run=run_list)
    show = verbs.add_parser("show", help="table of maps, map size, neurons and weights per layer")
    show.add_argument("net", metavar="NET", help="preset name, TOML file or notation (29x29-20C4-MP2-150N-10N)")
    show.set_defaults(run=run_show)
    rnd = verbs.add_parser("random", help="random valid MNIST-scale networks (documented, seeded generator)",
                           description="Draw random valid networks (1x29x29 input, 1-3 convolution stages with "
                                       "optional max pooling, 0-2 fully connected layers, 10 outputs; see "
                                       "cnnperf/networks/random.py), one notation per line.")
    rnd.add_argument("--seed", type=nonnegative_int, default=0, help="seed of the generator (default: 0)")
    rnd.add_argument("--count", type=positive_int, default=10, help="how many networks (default: 10)")
    rnd.add_argument("--max-macs", type=positive_int, default=None, metavar="N",
                     help="at most N multiply-adds per train step (default: 30,000,000, about the large preset)")
    rnd.set_defaults(run=run_random)


def connections(spec: NetworkSpec, index: int) -> tuple[str, str]:
    """(connection type, fan-in) of one layer for the table: a convolution's connection type with
    the input maps per output map (e.g. "random 10/20", "table 3-6/6"), and the inputs per neuron."""
    s = spec.shapes[index]
    if s.kind == "input":
        return "-", "-"
    if s.kind in ("maxpool", "avgpool"):
        return "-", f"{s.fan_in:,}"
    if s.kind != "conv":
        return "full", f"{s.fan_in:,}"
    in_maps, kk = spec.shapes[index - 1].maps, s.kernel * s.kernel
    if s.connections == "full":
        return "full", f"{s.fan_in:,}"
    lo, hi = min(len(r) for r in s.table), max(len(r) for r in s.table)
    maps = f"{lo}" if lo == hi else f"{lo}-{hi}"
    fan = f"{lo * kk:,}" if lo == hi else f"{lo * kk:,}-{hi * kk:,}"
    return f"{s.connections} {maps}/{in_maps}", fan


def format_table(spec: NetworkSpec) -> str:
    rows = [("#", "layer", "maps", "map size", "kernel", "connections", "fan-in", "neurons", "weights")]
    for s in spec.shapes:
        kernel = f"{s.kernel}x{s.kernel}" if s.kernel else "-"
        rows.append((str(s.index), KIND_LABEL[s.kind], f"{s.maps:,}", f"{s.size}x{s.size}", kernel,
                     *connections(spec, s.index), f"{s.neurons:,}", f"{s.weights:,}"))
    rows.append(("", "total", "", "", "", "", "", f"{spec.n_neurons:,}", f"{spec.n_weights:,}"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    seed = f", seed {spec.seed}" if any(s.connections == "random" for s in spec.shapes) else ""
    lines = [f"network {spec.name}: {spec.notation()}  (activation {spec.activation}{seed})"]
    for j, r in enumerate(rows):
        lines.append("  ".join(v.ljust(w) if c in (1, 5) else v.rjust(w) for c, (v, w) in enumerate(zip(r, widths))))
        if j == 0 or j == len(rows) - 2:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_show(args) -> int:
    print(format_table(resolve_network(args.net)))
    return 0


def run_list(args) -> int:
    for name in PRESETS:
        spec = preset(name)
        print(f"{name:7s} {spec.notation():45s} {spec.n_weights:>9,} weights")
    return 0


def run_random(args) -> int:
    from cnnperf.networks.random import MAX_MACS, executed_macs, random_networks

    for spec in random_networks(args.seed, args.count, MAX_MACS if args.max_macs is None else args.max_macs):
        print(f"{spec.notation():50s} {spec.n_weights:>10,} weights {executed_macs(spec):>13,} multiply-adds")
    return 0
