"""Data for the autoencoder chapter and the linear reference methods (PCA, POD, EOFs).

Every field is a flattened vector or a ``(1, height, width)`` image. Errors are mean squared
errors of standardised fields, so an error of 0.1 leaves 10 % of the variance unexplained.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import xarray as xr

from ml4es.flows import validation, wake

WAKE_DIAMETER = 10
"""Lattice nodes per cylinder diameter of the wake the chapter uses (grid spacing D/10)."""

WAKE_SPINUP = 60.0
"""Time (D/U) simulated before the first snapshot: the shedding has saturated by then."""

TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Snapshots:
    """Standardised snapshots split in time: the first 80 % train, the last 20 % test.

    ``train`` and ``test`` are ``(n, 1, height, width)`` float32 tensors of
    ``(field - mean) / scale``, with ``mean`` the training mean field and ``scale`` the
    training fluctuations' standard deviation (one number).
    """

    train: torch.Tensor
    test: torch.Tensor
    mean: np.ndarray
    scale: float
    times: np.ndarray
    x: np.ndarray
    y: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.train.shape[-2:])

    @property
    def extent(self) -> tuple[float, float, float, float]:
        return (float(self.x[0]), float(self.x[-1]), float(self.y[0]), float(self.y[-1]))

    def physical(self, fields: torch.Tensor | np.ndarray) -> np.ndarray:
        """Undo the standardisation: ``fields * scale + mean`` as a NumPy array."""
        values = fields.detach().cpu().numpy() if isinstance(fields, torch.Tensor) else np.asarray(fields)
        return values * self.scale + self.mean


def split_snapshots(fields: np.ndarray, times: np.ndarray, x: np.ndarray, y: np.ndarray) -> Snapshots:
    """Standardise ``fields`` ``(n, height, width)`` and split them in time (see :class:`Snapshots`)."""
    fields = np.asarray(fields, dtype=np.float64)
    if fields.ndim != 3 or len(fields) < 5:
        raise ValueError(f"expected fields of shape (n >= 5, height, width), got {fields.shape}")
    n_train = int(round(len(fields) * (1 - TEST_FRACTION)))
    mean = fields[:n_train].mean(axis=0)
    scale = float((fields[:n_train] - mean).std())
    standardised = ((fields - mean) / scale).astype(np.float32)[:, None]
    return Snapshots(
        train=torch.from_numpy(standardised[:n_train].copy()),
        test=torch.from_numpy(standardised[n_train:].copy()),
        mean=mean,
        scale=scale,
        times=np.asarray(times),
        x=np.asarray(x),
        y=np.asarray(y),
    )


def wake_vorticity(diameter: int = WAKE_DIAMETER, progress: bool = True) -> Snapshots:
    """Return standardised vorticity snapshots of the cylinder wake at Re = 100.

    The wake comes from :func:`ml4es.flows.wake.wake_dataset` (200 snapshots, 0.1 D/U apart, on
    x from 1 to 8 D and y from -2 to 2 D), simulated on first use and cached afterwards.
    """
    data = wake.wake_dataset(re=100, diameter=diameter, spinup=WAKE_SPINUP, progress=progress)
    omega = validation.vorticity(data)
    return split_snapshots(omega.values, omega["time"].values, omega["x"].values, omega["y"].values)


# --- linear reference methods ----------------------------------------------------------------


def flatten(fields: torch.Tensor | np.ndarray) -> np.ndarray:
    """Return ``(n, features)`` float64 from fields of any shape ``(n, ...)``."""
    values = fields.detach().cpu().numpy() if isinstance(fields, torch.Tensor) else np.asarray(fields)
    return values.reshape(len(values), -1).astype(np.float64)


def pod_modes(train: torch.Tensor | np.ndarray, modes: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the training mean ``(features,)`` and the leading POD (PCA) modes ``(modes, features)``."""
    data = flatten(train)
    if not 1 <= modes <= min(data.shape):
        raise ValueError(f"modes must be between 1 and {min(data.shape)}, got {modes}")
    mean = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
    return mean, vt[:modes]


def pod_reconstruct(fields: torch.Tensor | np.ndarray, mean: np.ndarray, modes: np.ndarray) -> np.ndarray:
    """Project ``fields`` on the modes and rebuild them: same shape as ``fields``, float64."""
    data = flatten(fields)
    coefficients = (data - mean) @ modes.T
    return (mean + coefficients @ modes).reshape(np.shape(fields))


def mean_squared_error(fields: torch.Tensor | np.ndarray, reconstruction: torch.Tensor | np.ndarray) -> float:
    """Mean squared error over every value of every field."""
    return float(np.mean((flatten(fields) - flatten(reconstruction)) ** 2))


def pod_error(train: torch.Tensor | np.ndarray, test: torch.Tensor | np.ndarray, modes: int) -> float:
    """Mean squared error on ``test`` of the POD with ``modes`` modes fitted to ``train``."""
    mean, basis = pod_modes(train, modes)
    return mean_squared_error(test, pod_reconstruct(test, mean, basis))


def largest_principal_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Largest principal angle, in degrees, between the column spaces of ``a`` and ``b``."""
    return float(np.degrees(scipy.linalg.subspace_angles(np.asarray(a, float), np.asarray(b, float)).max()))


# --- other data sets ---------------------------------------------------------------------------


def digits() -> tuple[torch.Tensor, torch.Tensor]:
    """Return scikit-learn's 8x8 digits as ``(1797, 64)`` float32 in [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return torch.tensor(bunch.data / 16.0, dtype=torch.float32), torch.tensor(bunch.target)


def reanalysis_path() -> Path:
    """Return the path of the winter (DJF) 500 hPa geopotential height file bundled with eofs."""
    import eofs

    path = Path(eofs.__file__).parent / "examples" / "example_data" / "hgt_djf.nc"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the eofs package (>= 1.4) installs it with its examples")
    return path


def reanalysis_heights() -> xr.DataArray:
    """Return the winter-mean 500 hPa geopotential height (m), ``(time, latitude, longitude)``.

    65 winters (1948-2012) over the North Atlantic and Europe from the NCEP/NCAR reanalysis,
    as bundled with the eofs package.
    """
    with warnings.catch_warnings():
        # The file's time units ("days since 1-1-1") make xarray warn about an ambiguous year.
        warnings.simplefilter("ignore", category=xr.SerializationWarning)
        with xr.open_dataset(reanalysis_path()) as dataset:
            heights = dataset["z"].isel(pressure=0).load()
    heights.attrs.setdefault("units", "m")
    return heights
