"""Thread and spinning options of the CPU backends: accepted values reach the engine, bad ones are typed errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from lite.core.errors import InputError


@pytest.fixture(scope="module")
def ncnn_param(shared: Path) -> Path:
    pytest.importorskip("ncnn")
    return shared / "models" / "yolov6lite" / "ncnn" / "yolov6-lite-s.param"


def test_ncnn_openmp_blocktime_reaches_the_net(ncnn_param: Path) -> None:
    from lite.backends.ncnn import NcnnBackend

    be = NcnnBackend(ncnn_param, threads=1, openmp_blocktime=0)
    assert be.net.opt.openmp_blocktime == 0
    assert NcnnBackend(ncnn_param, threads=1).net.opt.openmp_blocktime == 20  # NCNN's own default kept


@pytest.mark.parametrize("bad", [-1, 1.5, True, "0"])
def test_ncnn_openmp_blocktime_bad_values(ncnn_param: Path, bad: object) -> None:
    from lite.backends.ncnn import NcnnBackend

    with pytest.raises(InputError, match="openmp_blocktime"):
        NcnnBackend(ncnn_param, threads=1, openmp_blocktime=bad)
