"""Reliability of `cnnperf nets` through the CLI (issue 12): bad networks and option values are
refused with one line (exit 2); absurd networks are shown with exact sizes."""

import pytest

from .harness import ABSURD_NETWORKS, BAD_NETWORKS, HUGE, check_refused, cli, survived, write_network_files


@pytest.mark.parametrize("case", sorted(BAD_NETWORKS))
def test_show_bad_network_is_refused(case, tmp_path):
    net, needles = BAD_NETWORKS[case]
    write_network_files(tmp_path)
    check_refused(tmp_path, ["nets", "show", net], needles)


RANDOM = {  # `nets random` options -> words of the error
    "count-negative": (["--count", "-1"], ["'-1' must be a positive integer"]),
    "count-zero": (["--count", "0"], ["'0' must be a positive integer"]),
    "count-word": (["--count", "ten"], ["'ten' is not an integer"]),
    "count-10**9": (["--count", "1000000000"], ["give between 1 and 10,000 networks"]),
    "max-macs-zero": (["--max-macs", "0"], ["'0' must be a positive integer"]),
    "max-macs-1": (["--max-macs", "1"], ["could not draw 10 distinct networks", "raise --max-macs"]),
    "seed-negative": (["--seed", "-1"], ["'-1' must be >= 0"]),
    "seed-float": (["--seed", "1e3"], ["'1e3' is not an integer"]),
    "seed-5001-digits": (["--seed", HUGE], ["is too large"]),
}


@pytest.mark.parametrize("case", sorted(RANDOM))
def test_random_bad_option_is_refused(case, tmp_path):
    argv, needles = RANDOM[case]
    check_refused(tmp_path, ["nets", "random", *argv], needles)


@pytest.mark.parametrize("argv,needles", [
    ([], ["the following arguments are required: {list,show,random}"]),
    (["show"], ["the following arguments are required: NET"]),
    (["bogus"], ["invalid choice: 'bogus'"]),
])
def test_missing_or_unknown_verb_is_refused(argv, needles, tmp_path):
    check_refused(tmp_path, ["nets", *argv], needles)


def _weights(net: str) -> int:
    """By hand: a 4x4 convolution has m x (4*4 + 1) weights and leaves 26x26 maps; 10 outputs have
    10 x (inputs + 1)."""
    if net == "99999x99999-10N":
        return 10 * (99999 * 99999 + 1)
    m = int(net.split("-")[1][:-2])  # 29x29-{m}C4-10N
    return m * (4 * 4 + 1) + 10 * (m * 26 * 26 + 1)


@pytest.mark.parametrize("net", ABSURD_NETWORKS)
def test_absurd_network_is_shown_with_exact_sizes(net, tmp_path):
    r = cli(tmp_path, "nets", "show", net)
    assert survived(r) == ""
    total = r.stdout.strip().splitlines()[-1].split()
    assert total[0] == "total" and total[-1] == f"{_weights(net):,}"
