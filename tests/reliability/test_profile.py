"""Reliability of `cnnperf profile` through the CLI (issue 12): profiles with wrong types, units,
values or syntax, and paths that are no profile, are refused with one line naming the file and
the fix (exit 2). The round trip of the writer is tests/hardware/test_toml_roundtrip.py."""

import pytest

from .harness import (
    BAD_PROFILE_EDITS,
    BAD_PROFILE_FILES,
    PHI,
    check_refused,
    cli,
    phi_with,
    survived,
    write_profile_files,
)


@pytest.mark.parametrize("case", sorted(BAD_PROFILE_EDITS))
def test_show_broken_profile_is_refused(case, tmp_path):
    old, new, needles = BAD_PROFILE_EDITS[case]
    line = check_refused(tmp_path, ["profile", "show", phi_with(tmp_path, old, new)], needles)
    assert "bad.toml" in line


@pytest.mark.parametrize("case", sorted(BAD_PROFILE_FILES))
def test_show_what_is_no_profile_is_refused(case, tmp_path):
    path, needles = BAD_PROFILE_FILES[case]
    write_profile_files(tmp_path)
    check_refused(tmp_path, ["profile", "show", path], needles)


@pytest.mark.parametrize("argv,needles", [
    (["show"], ["the following arguments are required: NAME|PATH"]),
    (["bogus"], ["invalid choice: 'bogus'"]),
    ([], ["the following arguments are required: {list,show}"]),
])
def test_missing_or_unknown_verb_is_refused(argv, needles, tmp_path):
    check_refused(tmp_path, ["profile", *argv], needles)


def test_the_unchanged_copy_shows(tmp_path):
    """The edits above break a profile that is otherwise good: the copy itself is shown."""
    (tmp_path / "copy.toml").write_text(PHI.read_text())
    r = cli(tmp_path, "profile", "show", "copy.toml")
    assert survived(r) == "" and "244 hardware threads" in r.stdout
