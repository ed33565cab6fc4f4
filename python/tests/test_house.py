"""The engine registry from Python and hostile keyword arguments (issue: house hardening).

Every case raises an exception naming the argument; nothing is silently wrapped, truncated
or accepted."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastsci


def test_registry_lists_the_engines_and_their_commands():
    names = [e["name"] for e in fastsci.engines()]
    assert names[:2] == ["ptycho", "proton"]
    proton = next(e for e in fastsci.engines() if e["name"] == "proton")
    run = next(c for c in proton["commands"] if c["name"] == "run")
    assert run["output"] == "dir" and any(p[0] == "energy" for p in run["params"])
    assert callable(fastsci.proton.pdd) and "energy" in fastsci.proton.pdd.__doc__


@pytest.mark.parametrize("seed", [-1, 2**64, -(2**70)])
def test_seed_out_of_range_is_rejected_not_wrapped(seed):
    with pytest.raises(ValueError, match="seed"):
        fastsci.random.uniform(3, seed=seed)
    with pytest.raises(ValueError, match="seed"):
        fastsci.ptycho.simulate(n_images=10, N=16, seed=seed)


def test_largest_seed_is_accepted_and_differs_from_minus_one_wrap():
    a = fastsci.random.raw(4, seed=2**64 - 1)
    assert a.shape == (4,)
    with pytest.raises(ValueError, match="stream"):
        fastsci.random.raw(4, stream=-1)


@pytest.mark.parametrize("threads", [-1, 10**6])
def test_bad_thread_counts(threads):
    with pytest.raises(ValueError, match="threads"):
        fastsci.random.normal(5, threads=threads)
    with pytest.raises(ValueError, match="threads"):
        fastsci.proton.run(energy=70, nx=10, threads=threads)


def test_bad_thread_environment_is_reported():
    env = dict(os.environ, FSCI_NUM_THREADS="abc")
    r = subprocess.run([sys.executable, "-c", "import fastsci; fastsci.random.uniform(3)"], env=env,
                       capture_output=True, text=True)
    assert r.returncode != 0 and "FSCI_NUM_THREADS: 'abc'" in r.stderr


def test_size_must_be_an_integer():
    with pytest.raises(TypeError, match="size"):
        fastsci.random.uniform(2.5)
    with pytest.raises(TypeError, match="size"):
        fastsci.random.poisson(1.0, size=(2, 1.5))


def test_poisson_lam_must_be_real():
    with pytest.raises(TypeError, match="lam.*None"):
        fastsci.random.poisson(None)
    with pytest.raises(TypeError, match="lam.*complex"):
        fastsci.random.poisson(1 + 2j, size=3)
    with pytest.raises(TypeError, match="lam"):
        fastsci.random.poisson("3", size=3)


def test_engine_keywords_are_type_checked():
    with pytest.raises(TypeError, match="phantom: expected a str, got numpy.ndarray"):
        fastsci.proton.run(energy=70, phantom=np.zeros((3, 3)))
    with pytest.raises(TypeError, match="nx: expected an int, got str"):
        fastsci.proton.run(energy=70, nx="ten")
    with pytest.raises(TypeError, match="energy: expected a real number"):
        fastsci.proton.run(energy=70 + 1j)
    with pytest.raises(TypeError, match="noise: expected a bool"):
        fastsci.ptycho.simulate(n_images=10, N=16, noise="maybe")
    with pytest.raises(TypeError, match="bogus"):
        fastsci.proton.run(energy=70, bogus=1)
    with pytest.raises(ValueError, match="energy: '100,,200' has an empty value"):
        fastsci.proton.run(energy="100,,200")


def test_undefined_figures_are_nan():
    with pytest.raises(fastsci.RangeError, match="left the grid.*--max-loss"):
        fastsci.proton.run(energy=70, nx=10, nz=1)
    out = fastsci.proton.run(energy=70, nx=10, nz=1, max_loss=1, quiet=True)
    assert np.isnan(out["R80"])
