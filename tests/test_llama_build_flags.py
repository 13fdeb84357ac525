"""The CPU flags ``scripts/_env.sh`` builds llama-cpp-python with (``llama_x86_flags``).

A native build on a CPU with AMX crashed on the first prompt of more than one token, and a build for
extensions the CPU lacks dies of an illegal instruction: so the script builds for exactly the AVX-512 and
VNNI extensions /proc/cpuinfo reports, and never for AMX. These tests feed it flag lines of three kinds of
CPU and read the CMake arguments it chooses.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ENV_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "_env.sh"

SAPPHIRE_RAPIDS = (
    "flags\t\t: fpu sse sse2 avx f16c fma avx2 bmi2 avx512f avx512dq avx512ifma avx512cd avx512bw "
    "avx512vl avx_vnni avx512_bf16 avx512vbmi avx512_vnni amx_bf16 avx512_fp16 amx_tile amx_int8"
)
SKYLAKE_SERVER = "flags\t\t: fpu sse sse2 avx f16c fma avx2 bmi2 avx512f avx512dq avx512cd avx512bw avx512vl"
HASWELL = "flags\t\t: fpu sse sse2 avx f16c fma avx2 bmi2"
KNIGHTS_LANDING = "flags\t\t: fpu sse sse2 avx f16c fma avx2 avx512f avx512cd avx512er avx512pf"

AVX2_SET = {"GGML_AVX", "GGML_AVX2", "GGML_FMA", "GGML_F16C"}
"""What every x86-64 build gets (the portable floor)."""

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the set-up scripts are bash")


def cmake_args(cpuinfo_flags: str) -> dict[str, str]:
    """The ``-DNAME=VALUE`` arguments ``llama_x86_flags`` gives for a /proc/cpuinfo flags line."""
    out = subprocess.run(
        ["bash", "-c", f'source "{ENV_SCRIPT}" && llama_x86_flags "$1"', "bash", cpuinfo_flags],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert all(arg.startswith("-D") and "=" in arg for arg in out), out
    return dict(arg[2:].split("=", 1) for arg in out)


def enabled(args: dict[str, str]) -> set[str]:
    return {name for name, value in args.items() if value == "ON"}


def test_a_cpu_with_amx_gets_every_avx512_extension_it_has_and_no_amx() -> None:
    args = cmake_args(SAPPHIRE_RAPIDS)
    assert enabled(args) == AVX2_SET | {
        "GGML_AVX512",
        "GGML_AVX512_VBMI",
        "GGML_AVX512_VNNI",
        "GGML_AVX512_BF16",
        "GGML_AVX_VNNI",
    }
    assert args["GGML_NATIVE"] == "OFF"
    assert args["GGML_AMX_TILE"] == args["GGML_AMX_INT8"] == args["GGML_AMX_BF16"] == "OFF"


def test_an_avx512_cpu_without_the_extensions_gets_avx512_alone() -> None:
    assert enabled(cmake_args(SKYLAKE_SERVER)) == AVX2_SET | {"GGML_AVX512"}


@pytest.mark.parametrize("flags", [HASWELL, KNIGHTS_LANDING], ids=["no-avx512", "avx512f-without-bw-vl-dq"])
def test_a_cpu_short_of_the_avx512_set_is_built_for_avx2(flags: str) -> None:
    args = cmake_args(flags)
    assert enabled(args) == AVX2_SET
    assert args["GGML_AVX512"] == "OFF"


def test_a_flag_is_matched_whole_not_as_a_prefix() -> None:
    # "avx512vl" must not be found inside "avx512vlx", nor "avx512f" inside "avx512fx".
    lookalikes = "flags\t\t: avx2 avx512fx avx512cdx avx512vlx avx512dqx avx512bwx"
    assert cmake_args(lookalikes)["GGML_AVX512"] == "OFF"
