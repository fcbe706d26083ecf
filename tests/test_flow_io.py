"""Middlebury .flo files: round trip, byte layout, real files, bad files."""

from __future__ import annotations

import numpy as np
import pytest

from motionlab import MotionlabError
from motionlab.flow import read_flo, write_flo

from conftest import DATA, need


def test_round_trip_and_layout(tmp_path, rng):
    flow = rng.normal(0, 5, (7, 11, 2)).astype(np.float32)
    write_flo(tmp_path / "a.flo", flow)
    data = (tmp_path / "a.flo").read_bytes()
    assert data[:4] == b"PIEH"  # 202021.25 as little-endian float32
    assert np.frombuffer(data, "<i4", 2, 4).tolist() == [11, 7]  # width, then height
    assert len(data) == 12 + 7 * 11 * 2 * 4
    # row-major, (u, v) interleaved
    assert np.frombuffer(data, "<f4", 2, 12).tolist() == flow[0, 0].tolist()
    assert np.frombuffer(data, "<f4", 2, 12 + 8).tolist() == flow[0, 1].tolist()
    np.testing.assert_array_equal(read_flo(tmp_path / "a.flo"), flow)


def test_real_mmflow_crops_read_and_rewrite_identically(tmp_path):
    folder = need(DATA / "flow" / "mmflow_crops")
    files = sorted(folder.glob("*.flo"))
    assert files, f"no .flo files in {folder}"
    for path in files:
        flow = read_flo(path)
        assert flow.shape == (50, 50, 2) and flow.dtype == np.float32
        assert np.isfinite(flow).all()
        assert np.abs(flow).max() > 0.1  # real motion, not an empty field
        write_flo(tmp_path / path.name, flow)
        assert (tmp_path / path.name).read_bytes() == path.read_bytes()


def test_forward_and_backward_crops_point_opposite_ways():
    folder = need(DATA / "flow" / "mmflow_crops")
    fwd = sorted(folder.glob("*flow_01.flo"))
    assert fwd
    for f01 in fwd:
        f10 = read_flo(str(f01).replace("flow_01", "flow_10"))
        mean01 = read_flo(f01).reshape(-1, 2).mean(0)
        mean10 = f10.reshape(-1, 2).mean(0)
        # backward flow of the same pair points the other way on average
        assert np.dot(mean01, mean10) < 0


def test_bad_files(tmp_path):
    with pytest.raises(MotionlabError, match="no such"):
        read_flo(tmp_path / "missing.flo")
    (tmp_path / "short.flo").write_bytes(b"PIE")
    with pytest.raises(MotionlabError, match="too short"):
        read_flo(tmp_path / "short.flo")
    (tmp_path / "magic.flo").write_bytes(b"ABCD" + bytes(8))
    with pytest.raises(MotionlabError, match="magic"):
        read_flo(tmp_path / "magic.flo")
    write_flo(tmp_path / "t.flo", np.zeros((4, 4, 2), np.float32))
    data = (tmp_path / "t.flo").read_bytes()
    (tmp_path / "t.flo").write_bytes(data[:-4])
    with pytest.raises(MotionlabError, match="truncated"):
        read_flo(tmp_path / "t.flo")


@pytest.mark.parametrize(
    "flow", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 2), np.int32), [[0.0]]]
)
def test_write_rejects_non_flow(tmp_path, flow):
    with pytest.raises(MotionlabError):
        write_flo(tmp_path / "x.flo", flow)
    assert not (tmp_path / "x.flo").exists()
