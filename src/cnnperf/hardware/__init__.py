"""Hardware profiles: machine constants, CPI, per-network measurements (paper Tables II-IV)."""

from cnnperf.hardware.profile import Contention, HardwareProfile, NetworkParams
from cnnperf.hardware.toml_io import (
    SCHEMA_VERSION,
    builtin_profiles,
    load_profile,
    profile_from_dict,
    profile_to_dict,
    profile_to_toml,
    save_profile,
)

__all__ = ["Contention", "HardwareProfile", "NetworkParams", "SCHEMA_VERSION", "builtin_profiles", "load_profile",
           "profile_from_dict", "profile_to_dict", "profile_to_toml", "save_profile"]
