"""`cnnperf nets show NET` / `cnnperf nets list`: network shapes (paper Fig. 2)."""

from __future__ import annotations

from cnnperf.commands._args import nonnegative_int, positive_int
from cnnperf.networks import PRESETS, preset, resolve_network
from cnnperf.networks.spec import NetworkSpec

KIND_LABEL = {"input": "input", "conv": "convolution", "maxpool": "max pooling", "full": "fully connected",
              "output": "output"}


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


def format_table(spec: NetworkSpec) -> str:
    rows = [("#", "layer", "maps", "map size", "kernel", "neurons", "weights")]
    for s in spec.shapes:
        kernel = f"{s.kernel}x{s.kernel}" if s.kernel else "-"
        rows.append((str(s.index), KIND_LABEL[s.kind], f"{s.maps:,}", f"{s.size}x{s.size}", kernel, f"{s.neurons:,}",
                     f"{s.weights:,}"))
    rows.append(("", "total", "", "", "", f"{spec.n_neurons:,}", f"{spec.n_weights:,}"))
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = [f"network {spec.name}: {spec.notation()}  (activation {spec.activation})"]
    for j, r in enumerate(rows):
        lines.append("  ".join(v.rjust(w) if c not in (1,) else v.ljust(w) for c, (v, w) in enumerate(zip(r, widths))))
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
