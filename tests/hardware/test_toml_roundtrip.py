"""Profiles written with tomli-w read back unchanged, whatever the names hold (dots, quotes,
unicode, newlines); fields of the wrong type are refused with one line."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cnnperf.errors import CnnperfError
from cnnperf.hardware import load_profile, save_profile

PHI = dataclasses.replace(load_profile("xeon-phi-7120p"), machine_model=None)  # its layer model needs 3 networks
names = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(net=names, description=names, source=names)
def test_round_trip_of_any_name(tmp_path_factory, net, description, source):
    entry = dataclasses.replace(PHI.networks["small"], name=net, notation=net,
                                sources={"t_fprop_s": source, net: description})
    profile = dataclasses.replace(PHI, name=description, description=description, source=source,
                                  networks={net: entry, "medium": PHI.networks["medium"]},
                                  extra={"detected": {"model_name": source, net: [1, 2]}})
    path = tmp_path_factory.mktemp("rt") / "p.toml"
    save_profile(path, profile)
    back = load_profile(str(path))
    assert back == profile
    assert back.networks[net].sources == entry.sources and back.extra == profile.extra


@pytest.mark.parametrize("name", ["my.net", 'q"uote', "ünï-cødé", "new\nline", "tab\tand space", "[brackets]"])
def test_round_trip_of_awkward_network_names(tmp_path, name):
    entry = dataclasses.replace(PHI.networks["small"], name=name)
    profile = dataclasses.replace(PHI, networks={name: entry})
    save_profile(tmp_path / "p.toml", profile)
    assert load_profile(str(tmp_path / "p.toml")).networks[name] == entry


@pytest.mark.parametrize("old,new,needle", [
    ("threads_per_core = [1, 2, 3, 4]", "threads_per_core = 4", "'threads_per_core' must be a non-empty list"),
    ("threads = [1, 15, 30, 60, 120, 180, 240, 480, 960, 1920, 3840]", "threads = 5", "'threads' must be a non-empty"),
    ('t_bprop_s = 5.3e-3\n', 't_bprop_s = 5.3e-3\nsources = "paper"\n', "sources must be a table"),
    ('notation = "1x29x29-5C4-MP2-10C5-MP3-50N-10N"', "notation = 5", "'notation' must be a string"),
    ("epochs = 70", "epochs = 70.5", "'epochs' must be an integer"),
    ("cores = 61", 'cores = "61"', "'cores' must be a plain number"),
    ('name = "xeon-phi-7120p"', "name = 3", "'name' must be a string"),
    ("cycles_per_instruction = [1.0, 1.0, 1.5, 2.0]", "cycles_per_instruction = [1.0, 1.0, 1.5]", "same length"),
    ('status = ["measured", "measured"', 'status = ["measured", "guessed"', "status must be a list of"),
])
def test_wrong_types_are_refused_with_one_line(phi_variant, old, new, needle):
    with pytest.raises(CnnperfError, match=needle) as info:
        load_profile(phi_variant(old, new, 1))
    assert "\n" not in str(info.value) and "bad.toml" in str(info.value)


def test_a_directory_named_like_a_profile_is_named_as_such(tmp_path):
    (tmp_path / "x.toml").mkdir()
    with pytest.raises(CnnperfError, match="is a directory"):
        load_profile(str(tmp_path / "x.toml"))


def test_save_refuses_what_toml_cannot_hold(tmp_path):
    profile = dataclasses.replace(PHI, extra={"detected": {"model_name": None}})
    with pytest.raises(CnnperfError, match="cannot be written as TOML"):
        save_profile(tmp_path / "p.toml", profile)
    assert not (tmp_path / "p.toml").exists()
