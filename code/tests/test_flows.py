"""Tests of the lattice-Boltzmann cylinder-flow solver, the wake data set and its validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from ml4es.flows import lbm, validation, wake


def taylor_green(nu: float = 0.05) -> xr.Dataset:
    """Decaying Taylor–Green vortex: an exact Navier–Stokes solution with lambda1 = 1, lambda2 = nu."""
    t = np.linspace(0, 1, 21)
    y = np.linspace(0, 2 * np.pi, 41)
    x = np.linspace(0, 2 * np.pi, 51)
    T, Y, X = np.meshgrid(t, y, x, indexing="ij")
    u = -np.cos(X) * np.sin(Y) * np.exp(-2 * nu * T)
    v = np.sin(X) * np.cos(Y) * np.exp(-2 * nu * T)
    p = -(np.cos(2 * X) + np.cos(2 * Y)) / 4 * np.exp(-4 * nu * T)
    variables = {name: (("time", "y", "x"), values) for name, values in {"u": u, "v": v, "p": p}.items()}
    return xr.Dataset(variables, coords={"time": t, "y": y, "x": x})


# --- setup ------------------------------------------------------------------------------------


def test_setup_derived_parameters():
    setup = lbm.CylinderSetup(reynolds=100, peclet=100, diameter=20, inflow=0.05)
    assert setup.viscosity == pytest.approx(0.01)
    assert setup.tau == pytest.approx(0.53)
    assert setup.tau_scalar == pytest.approx(0.53)
    assert setup.shape == (160, 320)
    assert setup.centre == (80, 80)
    assert setup.steps_per_time_unit == pytest.approx(400)
    assert setup.blockage == pytest.approx(0.125)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"diameter": 2}, "diameter must be at least 4"),
        ({"inflow": 0.3}, "Mach number"),
        ({"inflow": -0.05}, "Mach number"),
        ({"reynolds": 0}, "must be positive"),
        ({"height": 1}, "domain too small"),
        ({"reynolds": 1e5, "diameter": 4, "inflow": 0.01}, "must exceed 1/2"),
        ({"reynolds": float("nan")}, "invalid reynolds=nan"),
        ({"diameter": float("nan")}, "invalid diameter=nan"),
        ({"upstream": float("inf")}, "invalid upstream=inf"),
        ({"sponge": -1.0}, r"sponge=-1.0 D must lie in \[0, 11\] D"),
        ({"sponge": 12.0}, r"sponge=12.0 D must lie in \[0, 11\] D"),
        ({"sponge_strength": 1.5}, "sponge_strength=1.5 must lie in"),
    ],
)
def test_setup_rejects_bad_parameters(arguments, message):
    with pytest.raises(ValueError, match=message):
        lbm.CylinderSetup(**arguments)


def test_sponge_ramp_reaches_strength_at_outlet():
    setup = lbm.CylinderSetup(diameter=4, sponge=3.0, sponge_strength=0.2)
    flow = lbm.CylinderFlow(setup)
    _, ic = setup.centre
    start = ic + round((setup.length - setup.upstream - setup.sponge) * setup.diameter)
    assert (flow.sponge[:, : start + 1] == 0).all()
    assert (flow.sponge[:, start + 1 :] > 0).all()
    assert float(flow.sponge[0, -1]) == pytest.approx(0.2 * (1 - 1 / (3 * 4)) ** 2, rel=1e-5)
    assert (torch.diff(flow.sponge[0]) >= 0).all()
    assert (lbm.CylinderFlow(lbm.CylinderSetup(diameter=4)).sponge == 0).all()


# --- lattice ------------------------------------------------------------------------------------


def test_equilibrium_moments_match_density_and_velocity():
    rho = torch.tensor([1.0, 1.02], dtype=torch.float64)
    ux = torch.tensor([0.05, -0.03], dtype=torch.float64)
    uy = torch.tensor([0.01, 0.04], dtype=torch.float64)
    f = torch.stack(lbm.equilibrium(rho, ux, uy))
    density, velocity_x, velocity_y = lbm.velocity_moments(f)
    torch.testing.assert_close(density, rho)
    torch.testing.assert_close(velocity_x, ux)
    torch.testing.assert_close(velocity_y, uy)
    # Second moment of the equilibrium: rho (c_s^2 + u_x^2) for the xx component.
    cx = lbm.C9[:, 0].double()[:, None]
    torch.testing.assert_close((f * cx * cx).sum(0), rho * (lbm.CS2 + ux**2))


def test_equilibrium_at_rest_is_the_weights():
    one = torch.ones(1, dtype=torch.float64)
    zero = torch.zeros(1, dtype=torch.float64)
    f = torch.stack(lbm.equilibrium(one, zero, zero))[:, 0]
    torch.testing.assert_close(f, lbm.W9)
    g = torch.stack(lbm.scalar_equilibrium(one, zero, zero))[:, 0]
    torch.testing.assert_close(g, lbm.W5)


def test_opposite_velocities_reverse():
    for velocities, opposite in ((lbm.C9, lbm.OPPOSITE9), (lbm.C5, lbm.OPPOSITE5)):
        assert torch.equal(velocities[opposite], -velocities)


def small_setup(**overrides) -> lbm.CylinderSetup:
    parameters = {"reynolds": 40, "diameter": 8, "inflow": 0.05, "upstream": 3, "length": 10, "height": 6}
    parameters.update(overrides)
    return lbm.CylinderSetup(**parameters)


def test_symmetric_flow_has_no_lift():
    flow = lbm.CylinderFlow(small_setup(), dtype=torch.float64, perturbation=0.0)
    for _ in range(300):
        flow.step()
    _, lift = flow.force_coefficients()
    assert abs(lift) < 1e-9
    fields = flow.fields()
    # Mirror symmetry about the cylinder's axis: u even, v odd in y. The centre row is ny // 2,
    # so row j mirrors row ny - j (row 0 has no partner).
    ux, uy = fields["ux"][1:], fields["uy"][1:]
    torch.testing.assert_close(ux, ux.flip(0), atol=1e-10, rtol=0)
    torch.testing.assert_close(uy, -uy.flip(0), atol=1e-10, rtol=0)


def test_inlet_imposes_the_inflow_and_scalar():
    setup = small_setup()
    flow = lbm.CylinderFlow(setup)
    for _ in range(50):
        flow.step()
    fields = flow.fields()
    torch.testing.assert_close(fields["ux"][:, 0], torch.full((setup.shape[0],), setup.inflow), atol=1e-6, rtol=0)
    torch.testing.assert_close(fields["c"][:, 0], flow.scalar_inflow, atol=1e-6, rtol=1e-5)
    assert torch.all(fields["ux"][flow.solid] == 0)


# --- Strouhal number -------------------------------------------------------------------------


def test_strouhal_of_a_sine():
    times = np.linspace(0, 20, 2001)
    assert wake.strouhal_number(times, np.sin(2 * np.pi * 0.18 * times + 0.3)) == pytest.approx(0.18, rel=1e-4)


def test_strouhal_without_a_period_is_nan():
    times = np.linspace(0, 1, 11)
    assert np.isnan(wake.strouhal_number(times, times))


# --- validation ------------------------------------------------------------------------------


def test_fit_recovers_taylor_green_coefficients():
    fit = validation.fit_navier_stokes(taylor_green(nu=0.05))
    assert fit.lambda1 == pytest.approx(1.0, rel=1e-3)
    assert fit.lambda2 == pytest.approx(0.05, rel=1e-3)
    assert fit.residual < 1e-3


def test_fit_follows_a_scaled_pressure():
    # In the Taylor–Green vortex the pressure gradient balances the advection, so doubling the
    # pressure doubles the fitted advection coefficient.
    data = taylor_green(nu=0.05)
    data["p"] = data["p"] * 2
    fit = validation.fit_navier_stokes(data)
    assert fit.lambda1 == pytest.approx(2.0, rel=1e-3)


def test_divergence_of_taylor_green_is_small():
    assert validation.relative_divergence(taylor_green()) < 1e-4


def test_divergence_of_a_compressing_field_is_large():
    data = taylor_green()
    data["v"] = data["v"] + data["y"] * 0.5
    assert validation.relative_divergence(data) > 0.1


def test_central_difference_is_fourth_order():
    x = np.linspace(0, 1, 41)
    h = x[1] - x[0]
    values = np.sin(3 * x)
    first = validation.central_difference(values, h, axis=0)
    second = validation.central_difference(values, h, axis=0, order=2)
    np.testing.assert_allclose(first, 3 * np.cos(3 * x[2:-2]), atol=1e-5)
    np.testing.assert_allclose(second, -9 * np.sin(3 * x[2:-2]), atol=1e-4)


def test_central_difference_rejects_short_axes_and_orders():
    with pytest.raises(ValueError, match="at least 5 points"):
        validation.central_difference(np.zeros(4), 1.0, axis=0)
    with pytest.raises(ValueError, match="order must be 1 or 2"):
        validation.central_difference(np.zeros(9), 1.0, axis=0, order=3)


def test_fit_rejects_uneven_grid():
    data = taylor_green()
    data = data.assign_coords(x=data["x"].values ** 1.1)
    with pytest.raises(ValueError, match="evenly spaced"):
        validation.fit_navier_stokes(data)


# --- the data set ------------------------------------------------------------------------------

TINY = {
    "re": 40,
    "diameter": 8,
    "snapshots": 5,
    "snapshot_interval": 0.25,
    "spinup": 1.0,
    "height": 6.0,
    "length": 10.0,
    "upstream": 3.0,
    "x_range": (1.0, 4.0),
    "y_range": (-1.0, 1.0),
    "progress": False,
    "compile": False,
}


def test_wake_dataset_layout_and_cache(data_cache, monkeypatch):
    first = wake.wake_dataset(**TINY)
    assert first["u"].dims == ("time", "y", "x")
    assert first["u"].shape == (5, 17, 25)
    np.testing.assert_allclose(first["x"].values[[0, -1]], [1.0, 4.0])
    np.testing.assert_allclose(first["y"].values[[0, -1]], [-1.0, 1.0])
    np.testing.assert_allclose(np.diff(first["time"].values), 0.25)
    for name in ("u", "v", "p", "c"):
        assert "units" in first[name].attrs
        assert np.isfinite(first[name].values).all()
    assert first.attrs["reynolds_number"] == 40
    assert first.attrs["blockage_ratio"] == pytest.approx(1 / 6)
    assert json.loads(first.attrs["parameters"])["diameter"] == 8
    assert len(list((data_cache / "cylinder_wake").glob("*.nc"))) == 1

    def no_simulation(*args, **kwargs):
        raise AssertionError("the cached data set should have been read")

    monkeypatch.setattr(wake, "simulate_wake", no_simulation)
    second = wake.wake_dataset(**TINY)
    xr.testing.assert_identical(first, second)


def test_wake_dataset_describes_sponge(data_cache, monkeypatch):
    data = wake.wake_dataset(**TINY)

    assert "sponge layer over the last 3 D before the outlet (from x = 4 D)" in data.attrs["domain"]
    assert "0.1 per lattice time step" in data.attrs["domain"]
    assert data.attrs["sponge_length"] == 3.0
    assert data.attrs["sponge_start"] == 4.0
    assert data.attrs["sponge_strength"] == 0.1

    # A file cached before the sponge was described gets the description when it is read.
    (path,) = (data_cache / "cylinder_wake").glob("*.nc")
    old = data.copy()
    old.attrs = {name: value for name, value in data.attrs.items() if not name.startswith("sponge")}
    old.attrs["domain"] = "10 D long, 6 D between periodic sides, cylinder 3 D from the inlet"
    old.to_netcdf(path)

    def no_simulation(*args, **kwargs):
        raise AssertionError("the cached data set should have been read")

    monkeypatch.setattr(wake, "simulate_wake", no_simulation)
    cached = wake.wake_dataset(**TINY)
    assert cached.attrs["domain"] == data.attrs["domain"]
    assert cached.attrs["sponge_length"] == 3.0
    xr.testing.assert_equal(cached, data)


def test_domain_attributes_without_sponge():
    attributes = wake.domain_attributes(lbm.CylinderSetup(diameter=4, sponge=0.0))

    assert attributes["domain"].endswith("with no sponge layer before the outlet")
    assert attributes["sponge_length"] == 0.0


def test_wake_dataset_cache_key_changes_with_parameters():
    base = {"re": 100, "diameter": 20, "snapshots": 200}
    assert wake.cache_path(base) != wake.cache_path({**base, "re": 200})
    assert wake.cache_path(base) == wake.cache_path(dict(base))


def test_wake_dataset_cache_ignores_number_types(data_cache, monkeypatch):
    calls = []
    first = wake.wake_dataset(**TINY)
    monkeypatch.setattr(wake, "simulate_wake", lambda *args, **kwargs: calls.append(args))
    second = wake.wake_dataset(**{**TINY, "re": 40.0, "spinup": 1})
    assert calls == []
    xr.testing.assert_identical(first, second)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"snapshots": 1}, "invalid snapshots=1"),
        ({"x_range": (1.0, 9.0)}, "x_range"),
        ({"y_range": (-4.0, 1.0)}, "y_range"),
        ({"spinup": -1.0}, "spinup"),
        ({"re": float("nan")}, "invalid reynolds=nan"),
        ({"re": float("inf")}, "invalid reynolds=inf"),
        ({"re": 0.0}, "must be positive"),
        ({"re": -100.0}, "must be positive"),
        ({"peclet": float("nan")}, "invalid peclet=nan"),
        ({"inflow": float("nan")}, "invalid inflow=nan"),
        ({"height": float("inf")}, "invalid height=inf"),
        ({"snapshots": float("nan")}, "invalid snapshots=nan"),
        ({"spinup": float("nan")}, "invalid spinup=nan"),
        ({"snapshot_interval": float("nan")}, "invalid snapshot_interval=nan"),
        ({"snapshot_interval": 0.0}, "invalid snapshot_interval=0.0"),
        ({"x_range": (1.0, float("nan"))}, "invalid x_range"),
        ({"x_range": (1.0, 2.0, 3.0)}, "expected two bounds each"),
    ],
)
def test_wake_dataset_rejects_bad_arguments(data_cache, monkeypatch, override, message):
    def simulate(*args, **kwargs):
        raise AssertionError("the simulation started before the arguments were checked")

    monkeypatch.setattr(wake, "simulate_wake", simulate)
    with pytest.raises(ValueError, match=message):
        wake.wake_dataset(**{**TINY, **override})


@pytest.mark.slow
def test_coarse_wake_sheds_and_obeys_navier_stokes(data_cache):
    data = wake.wake_dataset(re=100, diameter=10, spinup=60, compile=True, progress=False)
    fit = validation.fit_navier_stokes(data)
    assert fit.lambda1 == pytest.approx(1.0, rel=0.01)
    assert fit.lambda2 == pytest.approx(0.01, rel=0.05)
    assert 0.16 < data.attrs["strouhal_number"] < 0.19


@pytest.mark.slow
def test_production_wake_obeys_navier_stokes():
    # The production data set, from the cache if it is there (a run takes minutes).
    data = wake.wake_dataset(progress=False)
    fit = validation.fit_navier_stokes(data)
    assert fit.lambda1 == pytest.approx(1.0, rel=0.01)
    assert fit.lambda2 == pytest.approx(0.01, rel=0.01)
    # Sound waves are compressible: without the sponge, the divergence was 0.054 of u_x.
    assert validation.relative_divergence(data) < 0.01
    assert 0.17 < data.attrs["strouhal_number"] < 0.19
    assert 1.5 < data.attrs["mean_drag_coefficient"] < 1.8
