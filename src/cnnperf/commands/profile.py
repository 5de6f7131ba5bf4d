"""`cnnperf profile show|list`: hardware profiles (paper Tables II-IV)."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("profile", help="list or show hardware profiles")
    verbs = p.add_subparsers(dest="profile_command", metavar="{list,show}", parser_class=type(p))
    verbs.required = True
    verbs.add_parser("list", help="list the built-in profiles").set_defaults(run=run_list)
    show = verbs.add_parser("show", help="print a profile: clock, CPI, per-network values, memory contention")
    show.add_argument("profile", metavar="NAME|PATH", help="built-in profile name or TOML file")
    show.set_defaults(run=run_show)


def run_list(args) -> int:
    import cnnperf
    from cnnperf.hardware import builtin_profiles

    for name in builtin_profiles():
        print(f"{name:20s} {cnnperf.profile(name).description}")
    return 0


def run_show(args) -> int:
    import cnnperf
    from cnnperf.report.models import format_profile

    print(format_profile(cnnperf.profile(args.profile)))
    return 0
