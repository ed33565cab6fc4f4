import json
import math

import numpy as np
import pytest

import fastsci

# A modest grid: 100 MeV pencil beam, 1 mm cells, 40 columns.
GRID = dict(nx=40, dx=1.0, dz=1.0, spot_sigma=3.0)


@pytest.fixture(scope="module")
def run100():
    return fastsci.proton.run(energy=100, threads=1, **GRID)


def test_range_metrics_at_100_mev(run100):
    d = run100
    # PSTAR CSDA range of 100 MeV protons in water: 7.718 g/cm^2
    assert abs(d["R80"] - 77.18) < 1.0
    assert d["peak_depth"] < d["R90"] < d["R80"]
    assert 0.2 < d["d80_20"] < 3.0


def test_shapes_axes_and_units(run100):
    d = run100
    nz, nx = d["dose"].shape
    assert nx == 40 and d["dose"].dtype == np.float64 and d["dose_mev"].shape == (nz, nx)
    assert d["depth_dose"].shape == (nz,) and d["z"].shape == (nz,) and d["x"].shape == (nx,)
    np.testing.assert_allclose(d["z"], (np.arange(nz) + 0.5) * 1.0)
    np.testing.assert_allclose(d["x"], (np.arange(nx) + 0.5 - nx / 2) * 1.0)
    # depth dose (MeV/mm) is the lateral sum of the MeV dose over a 1 mm row
    np.testing.assert_allclose(d["depth_dose"], d["dose_mev"].sum(axis=1), rtol=1e-9, atol=1e-15)
    # Gy = MeV * 1.602176634e-13 J/MeV / (rho * dx * dy * dz * 1e-6 kg) in water, 1 mm^3 cells
    np.testing.assert_allclose(d["dose"], d["dose_mev"] * 1.602176634e-13 / 1e-6, rtol=1e-9, atol=1e-30)


def test_balance_closes(run100):
    for key in ("balance", "energy_balance"):
        b = run100[key]
        assert abs(b["residual"]) < 1e-5
        parts = sum(b[k] for k in ("deposited", "leaked", "rejected", "cutoff", "nuclear", "pruned", "remaining"))
        assert abs(parts - b["initial"]) < 1e-5 * b["initial"]
    assert abs(run100["energy_balance"]["initial"] - 100.0) < 1e-3
    assert abs(run100["energy_balance"]["deposited"] - run100["dose_mev"].sum()) < 1e-6 * 100


def test_threads_identical(run100):
    d2 = fastsci.proton.run(energy=100, threads=2, **GRID)
    assert np.array_equal(run100["dose"], d2["dose"])
    assert d2["R80"] == run100["R80"]


def test_physics_data():
    assert abs(fastsci.proton.csda_range(150) - 157.7) < 0.002 * 157.7
    # PSTAR: 7.289 MeV cm^2/g at 100 MeV
    assert abs(fastsci.proton.stopping_power(100) - 7.289) < 0.01
    with pytest.raises(fastsci.RangeError, match="500"):
        fastsci.proton.csda_range(600)


def test_energy_list_and_output(tmp_path):
    d = fastsci.proton.run(energy=[70, 100], nx=20, threads=1, output=tmp_path / "o")
    s = json.load(open(tmp_path / "o" / "summary.json"))
    assert math.isclose(s["R80_mm"], d["R80"], rel_tol=1e-12)
    assert np.array_equal(np.load(tmp_path / "o" / "dose.npy"), d["dose"])
    # two peaks: the 70 MeV beam stops near 40.8 mm
    dd = d["depth_dose"]
    assert dd[38:41].max() > 1.5 * dd[20]


@pytest.mark.parametrize("kw, exc, msg", [
    (dict(energy=600), fastsci.RangeError, "--energy: 600 MeV is above the PSTAR table"),
    (dict(dx=0), fastsci.InvalidArgumentError, "--dx: 0 must be > 0"),
    (dict(dz=float("nan")), fastsci.InvalidArgumentError, "dz"),
    (dict(stream="upwind"), fastsci.Error, "stream"),
    (dict(phantom="slab:steel:1:2"), fastsci.InvalidArgumentError, "is not slab:bone"),
])
def test_bad_inputs(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        fastsci.proton.run(nx=20, **kw)


def test_bad_map_shape(tmp_path):
    p = tmp_path / "map.npz"
    np.savez(p, rsp=np.ones((10, 20)))
    with pytest.raises(fastsci.InvalidArgumentError, match=r"rsp has shape \(10, 20\)"):
        fastsci.proton.run(nx=20, nz=50, phantom=str(p))


def test_unknown_keyword():
    with pytest.raises(TypeError, match="nosuch"):
        fastsci.proton.run(nosuch=1)
