"""CPU facts from /proc/cpuinfo text (hardware/topology.py), on synthetic cpuinfo."""

from cnnperf.hardware.topology import _cpuinfo_field, fma_fp32_lanes


def cpuinfo(vendor: str, family: int, model: int, flags: str) -> str:
    return (f"processor\t: 0\nvendor_id\t: {vendor}\ncpu family\t: {family}\nmodel\t\t: {model}\n"
            f"model name\t: Some CPU\nflags\t\t: fpu sse sse2 {flags}\n")


def test_field_names_match_exactly():
    text = "model name\t: AMD EPYC\nmodel\t\t: 17\n"
    assert _cpuinfo_field(text, "model") == "17"
    assert _cpuinfo_field(text, "model name") == "AMD EPYC"
    assert _cpuinfo_field(text, "stepping") is None


def test_zen4_runs_avx512_as_256_bit_halves():
    lanes, why = fma_fp32_lanes(cpuinfo("AuthenticAMD", 25, 17, "avx2 fma avx512f avx512vl"))
    assert lanes == 8 and "Zen 4" in why


def test_zen5_and_intel_avx512_are_full_width():
    assert fma_fp32_lanes(cpuinfo("AuthenticAMD", 26, 2, "avx2 avx512f"))[0] == 16
    assert fma_fp32_lanes(cpuinfo("GenuineIntel", 6, 143, "avx2 avx512f"))[0] == 16


def test_zen3_avx2_and_zen1_halves():
    assert fma_fp32_lanes(cpuinfo("AuthenticAMD", 25, 1, "avx2 fma"))[0] == 8
    assert fma_fp32_lanes(cpuinfo("AuthenticAMD", 23, 1, "avx2 fma"))[0] == 4  # Zen 1: 128-bit pipes
    assert fma_fp32_lanes(cpuinfo("AuthenticAMD", 23, 49, "avx2 fma"))[0] == 8  # Zen 2


def test_unknown_cpu_falls_back_to_its_isa():
    assert fma_fp32_lanes("")[0] == 4
    assert fma_fp32_lanes("flags\t: avx2\ncpu family\t: x\n")[0] == 8
