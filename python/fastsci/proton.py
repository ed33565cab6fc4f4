"""Deterministic 2-D proton transport in water or a slab phantom, by fastsci's C engine.

``run`` transports one or more beams to the end and returns the dose and range
metrics per primary; ``csda_range`` and ``stopping_power`` give NIST PSTAR data
of liquid water. Units: MeV, mm, degrees. Physics and accuracy: doc/proton.md.
"""
import operator

from . import _engine, _fastsci

__all__ = ["run", "pdd", "csda_range", "stopping_power", "range_straggling", "bragg_curve", "PARAMS"]

#: summary.json's keys -> the names ``run`` returns.
_NAMES = {"R80_mm": "R80", "R90_mm": "R90", "R50_mm": "R50", "R20_mm": "R20", "peak_depth_mm": "peak_depth",
          "d80_20_mm": "d80_20", "entrance_to_peak": "entrance", "balance_weight": "balance",
          "balance_energy_mev": "energy_balance"}

#: (name, type, default, help) of every run parameter; keywords use '_' for '-'.
PARAMS = _engine.params("proton", "run")


def run(*, threads=0, output=None, progress=False, **params):
    """Transport the beams and return a dict. Keyword parameters (defaults in brackets):

    {params}

    ``energy`` may be a number or a sequence (one beam per energy, equal weights).
    ``threads=0`` uses the default thread count; ``output="dir"`` also writes the
    CLI's files there (dose.npy, dose_mev.npy, dose.mhd/raw, depth_dose.csv,
    lateral.csv, summary.json) and returns only the figures. The GIL is released
    during the run.

    Returns ``dose`` (Gy per primary, (nz, nx)), ``dose_mev`` (MeV per cell per
    primary), ``depth_dose`` (MeV/mm per primary), axes ``z`` and ``x`` (mm, cell
    centres), ``R80``, ``R90``, ``R50``, ``R20``, ``peak_depth``, ``d80_20`` (mm),
    ``balance`` (weight: initial, deposited, leaked, rejected, cutoff, nuclear,
    pruned, remaining, residual), ``energy_balance`` (the same in MeV), ``steps``
    and ``seconds``; undefined figures are NaN. Invalid parameters raise fastsci
    errors naming the parameter.
    """
    out = _engine.call("proton", "run", threads=threads, output=output, progress=progress, **params)
    return {_NAMES.get(k, k): v for k, v in out.items()}


run.__doc__ = run.__doc__.format(params="\n    ".join(f"{n} ({t}) [{d}]: {h}" for n, t, d, h in PARAMS))


pdd = _engine.function("proton", "pdd")


def csda_range(energy):
    """CSDA range (mm of water) of a proton of ``energy`` MeV, from NIST PSTAR."""
    return _fastsci.proton_csda_range(float(energy))


def stopping_power(energy):
    """Total mass stopping power of water (MeV cm^2/g) at ``energy`` MeV, NIST PSTAR."""
    return _fastsci.proton_stopping_power(float(energy))


def range_straggling(energy):
    """Bohr range straggling sigma_R (mm) of a proton of ``energy`` MeV stopping in water
    (PSTAR stopping power; e.g. 1.69 mm at 150 MeV)."""
    return _fastsci.proton_range_straggling(float(energy))


def bragg_curve(energy, nz, dz, *, energy_spread=0.0, nuclear_mu=0.0012, nuclear_local=0.6):
    """Analytic depth dose of a broad beam in water, MeV/mm per primary, averaged over the
    depth rows [k dz, (k + 1) dz] for k < nz (dz in mm): the CSDA Bragg curve with fluence
    loss exp(-nuclear_mu z) (1/mm), a fraction ``nuclear_local`` of the removed protons'
    energy deposited locally, mixed over Gaussian ranges of variance sigma_R^2 +
    (energy_spread / S(energy))^2 (energy_spread: Gaussian sigma in MeV). The same physics
    as ``run`` with its defaults (doc/proton_physics.md, "Bragg peak: analytic reference");
    compare with ``run(...)["depth_dose"]``."""
    return _fastsci.proton_bragg_curve(float(energy), float(energy_spread), float(nuclear_mu),
                                       float(nuclear_local), operator.index(nz), float(dz))
