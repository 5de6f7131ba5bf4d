"""Reliability of `cnnperf reproduce` through the CLI (issue 12): bad profiles, a profile without
the paper's networks, values that overflow and unwritable JSON paths are refused with one line
(exit 2), no file written."""

import pytest

from .harness import (
    BAD_OUTPUTS,
    BAD_PROFILE_FILES,
    check_refused,
    phi_with,
    write_output_obstacles,
    write_profile_files,
)

CASES = {  # id -> (options after `reproduce`, words of the error); files made by _files
    "profile-type": (["--profile", "cores-text.toml"], ["'cores' must be a plain number"]),
    "profile-malformed": (["--profile", "malformed.toml"], ["malformed TOML", "fix the file"]),
    "profile-overflows": (["--profile", "overflow.toml"], ["gives no finite value", "the numbers overflow",
                                                           "check the profile's values"]),
    "profile-without-paper-networks": (["--profile", "other.toml"], ["has no network 'small'",
                                                                     "cnnperf calibrate --nets"]),
}


def _files(tmp_path) -> None:
    write_profile_files(tmp_path)
    phi_with(tmp_path, "cores = 61", 'cores = "61"', "cores-text.toml")
    phi_with(tmp_path, "[networks.small]", "[networks.small", "malformed.toml")
    phi_with(tmp_path, "t_fprop_s = 1.45e-3", "t_fprop_s = 1.7e308", "overflow.toml")
    phi_with(tmp_path, "[networks.small", "[networks.tiny", "other.toml", count=2)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_profile_is_refused(case, tmp_path):
    argv, needles = CASES[case]
    _files(tmp_path)
    check_refused(tmp_path, ["reproduce", *argv, "--json", "r.json"], needles)


@pytest.mark.parametrize("case", sorted(BAD_PROFILE_FILES))
def test_no_profile_is_refused(case, tmp_path):
    path, needles = BAD_PROFILE_FILES[case]
    write_profile_files(tmp_path)
    check_refused(tmp_path, ["reproduce", "--profile", path, "--json", "r.json"], needles)


@pytest.mark.parametrize("case", sorted(BAD_OUTPUTS))
def test_unwritable_json_is_refused(case, tmp_path):
    path, needles = BAD_OUTPUTS[case]
    write_output_obstacles(tmp_path)
    check_refused(tmp_path, ["reproduce", "--json", path], needles)
