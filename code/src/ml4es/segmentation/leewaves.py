"""Trapped lee waves: the two-layer linear model, synthetic wave fields, spectra and a baseline.

The synthetic fields are built from linear theory. For a two-layer atmosphere with Scorer
parameter ``l_lower`` below height ``depth`` and ``l_upper`` above, trapped waves exist at the
horizontal wavenumbers ``k`` (``l_upper < k < l_lower``) that satisfy

    m cos(m H) + n sin(m H) = 0,   m = sqrt(l_lower² - k²),   n = sqrt(k² - l_upper²),

which holds when the wave, zero at the ground, joins a disturbance that decays upwards in the upper
layer. :func:`trapped_wavenumber` solves it for the gravest mode. :func:`synthetic_field` places
hills on a grid and lets each radiate a train of that wavelength downwind, inside a wedge that
widens with distance, the pattern seen in satellite images and in the UKV fields. Its masks,
wavelengths and orientations are exact, which makes it a test bed for the analysis of real fields.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize


def trapped_wavenumber(l_lower: float, l_upper: float, depth: float) -> float:
    """Return the wavenumber (rad/m) of the gravest trapped lee wave of a two-layer atmosphere.

    ``l_lower`` and ``l_upper`` are the Scorer parameters (1/m) below and above the interface at
    height ``depth`` (m). Trapping needs ``l_lower² - l_upper² > (π / 2H)²``; otherwise
    ``ValueError`` gives both sides of that inequality.
    """
    if not (l_lower > l_upper >= 0 and depth > 0):
        raise ValueError(
            f"expected l_lower > l_upper >= 0 and depth > 0, got l_lower={l_lower}, "
            f"l_upper={l_upper}, depth={depth}"
        )
    needed = (np.pi / (2 * depth)) ** 2
    if l_lower**2 - l_upper**2 <= needed:
        raise ValueError(
            f"no trapped wave: l_lower² - l_upper² = {l_lower**2 - l_upper**2:.3g} m⁻² must exceed "
            f"(π/2H)² = {needed:.3g} m⁻² for depth {depth} m"
        )

    def mismatch(k: float) -> float:
        m = np.sqrt(l_lower**2 - k**2)
        n = np.sqrt(k**2 - l_upper**2)
        return m * np.cos(m * depth) + n * np.sin(m * depth)

    # The gravest mode has m H between π/2 and π: search k over the matching interval.
    k_low = np.sqrt(max(l_lower**2 - (np.pi / depth) ** 2, l_upper**2)) + 1e-12
    k_high = np.sqrt(l_lower**2 - needed)
    return float(optimize.brentq(mismatch, k_low, k_high, xtol=1e-14))


@dataclass(frozen=True)
class SyntheticWaves:
    """A synthetic lee-wave field with its truth."""

    w: np.ndarray  # vertical velocity, m/s, shape (n, n)
    mask: np.ndarray  # bool, True where the wave envelope is strong
    orography: np.ndarray  # hill heights, m
    wavelength: float  # m
    direction: float  # direction the wind blows towards, degrees anticlockwise from +x
    dx: float  # grid spacing, m


def synthetic_field(
    rng: np.random.Generator,
    n: int = 256,
    dx: float = 2000.0,
    wind_speed: float | None = None,
    direction: float | None = None,
    hills: int = 4,
    noise: float = 0.1,
) -> SyntheticWaves:
    """Draw a synthetic lee-wave field: random hills, a random two-layer profile, waves downwind.

    ``wind_speed`` (m/s, lower layer) and ``direction`` (degrees) are drawn when not given. The
    stability is N = 0.01 s⁻¹ throughout and the upper-layer wind is 2.5 times the lower, so the
    Scorer parameters are N/U in each layer; the interface is at 3 km. ``noise`` is the standard
    deviation (m/s) of smooth random motion added everywhere, like convection in the real fields.
    """
    if n < 32 or dx <= 0:
        raise ValueError(f"expected n >= 32 and dx > 0, got n={n}, dx={dx}")
    wind_speed = rng.uniform(8.0, 14.0) if wind_speed is None else wind_speed
    direction = rng.uniform(0.0, 360.0) if direction is None else direction
    brunt_vaisala, depth = 0.01, 3000.0
    k = trapped_wavenumber(brunt_vaisala / wind_speed, brunt_vaisala / (2.5 * wind_speed), depth)
    wavelength = 2 * np.pi / k

    x = (np.arange(n) - n / 2) * dx
    xx, yy = np.meshgrid(x, x, indexing="xy")
    theta = np.deg2rad(direction)
    along = np.array([np.cos(theta), np.sin(theta)])
    w = np.zeros((n, n))
    envelope = np.zeros((n, n))
    orography = np.zeros((n, n))
    extent = n * dx
    for _ in range(hills):
        # Hills sit anywhere but the downwind third, so that their trains cross the domain.
        centre = rng.uniform(-0.35, 0.35, size=2) * extent - along * 0.15 * extent
        width = rng.uniform(4e3, 10e3)
        height = rng.uniform(300.0, 900.0)
        rx, ry = xx - centre[0], yy - centre[1]
        s = rx * along[0] + ry * along[1]  # distance downwind
        c = -rx * along[1] + ry * along[0]  # distance across the wind
        orography += height * np.exp(-(rx**2 + ry**2) / (2 * width**2))
        spread = width + np.clip(s, 0, None) * np.tan(np.deg2rad(12.0))
        onset = 1 / (1 + np.exp(-(s - width) / (0.5 * width)))
        decay = np.exp(-np.clip(s, 0, None) / rng.uniform(120e3, 250e3))
        env = (height / 600.0) * onset * decay * np.exp(-(c**2) / (2 * spread**2))
        w += env * np.sin(k * s + rng.uniform(0, 2 * np.pi))
        envelope = np.maximum(envelope, env)
    smooth = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma=3.0, mode="wrap")
    w = w + noise * smooth / smooth.std()
    return SyntheticWaves(
        w=w.astype(np.float32),
        mask=envelope > 0.25,
        orography=orography.astype(np.float32),
        wavelength=float(wavelength),
        direction=float(direction % 360.0),
        dx=float(dx),
    )


@dataclass(frozen=True)
class SceneRanges:
    """Ranges (low, high) from which :func:`synthetic_scene` draws each field.

    Speeds and amplitudes are in m/s, lengths in grid points, counts are inclusive. The defaults
    imitate the training days of the UKV 700 hPa fields. There, the standard deviation of w inside
    one frame's masks is 0.1 to 0.6 m/s, and outside the masks it is 0.1 m/s, with 0.1 % of those
    grid points beyond 0.7 m/s.
    """

    # Lower-layer wind, which sets the trapped wavelength: 5.4 km at 7 m/s, 21 km at 15 m/s.
    wind_speed: tuple[float, float] = (7.0, 15.0)
    # A field drawn with no hill has no waves and an empty mask.
    hills: tuple[int, int] = (0, 3)
    # Standard deviation of the waves inside their mask.
    wave_std: tuple[float, float] = (0.1, 0.7)
    # Smooth background motion: standard deviation and Gaussian correlation length.
    noise_std: tuple[float, float] = (0.03, 0.12)
    noise_length: tuple[float, float] = (1.5, 5.0)
    # Convective cells: round Gaussian bumps, three in four of them upward.
    cells: tuple[int, int] = (0, 25)
    cell_amplitude: tuple[float, float] = (0.2, 1.0)
    cell_radius: tuple[float, float] = (1.0, 3.0)
    # Fronts: straight bands of upward motion of finite length.
    fronts: tuple[int, int] = (0, 2)
    front_amplitude: tuple[float, float] = (0.2, 0.8)
    front_width: tuple[float, float] = (1.5, 4.0)


def synthetic_scene(
    rng: np.random.Generator, n: int = 128, dx: float = 2000.0, ranges: SceneRanges = SceneRanges()
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a training field: lee waves of :func:`synthetic_field` among motions that are not waves.

    The waves are rescaled to a drawn standard deviation inside their exact mask, then smooth
    noise, convective cells and fronts are added, none of which enters the mask. Returns the
    vertical velocity (m/s, float32, n x n) and the mask (bool, n x n).
    """
    hills = int(rng.integers(ranges.hills[0], ranges.hills[1] + 1))
    waves = synthetic_field(rng, n, dx, wind_speed=rng.uniform(*ranges.wind_speed), hills=hills, noise=0.0)
    w = waves.w.astype(float)
    if waves.mask.any():
        w *= rng.uniform(*ranges.wave_std) / max(float(w[waves.mask].std()), 1e-6)

    smooth = ndimage.gaussian_filter(rng.standard_normal((n, n)), sigma=rng.uniform(*ranges.noise_length), mode="wrap")
    w += rng.uniform(*ranges.noise_std) * smooth / smooth.std()

    rows, columns = np.mgrid[:n, :n].astype(float)
    for _ in range(rng.integers(ranges.cells[0], ranges.cells[1] + 1)):
        row, column = rng.uniform(0, n, size=2)
        sign = 1.0 if rng.random() < 0.75 else -1.0
        radius = rng.uniform(*ranges.cell_radius)
        distance2 = (rows - row) ** 2 + (columns - column) ** 2
        w += sign * rng.uniform(*ranges.cell_amplitude) * np.exp(-distance2 / (2 * radius**2))

    for _ in range(rng.integers(ranges.fronts[0], ranges.fronts[1] + 1)):
        row, column = rng.uniform(0, n, size=2)
        angle = rng.uniform(0, np.pi)
        across = -(rows - row) * np.sin(angle) + (columns - column) * np.cos(angle)
        along = (rows - row) * np.cos(angle) + (columns - column) * np.sin(angle)
        half_length = rng.uniform(0.2, 0.6) * n
        taper = 1 / (1 + np.exp((np.abs(along) - half_length) / 4.0))
        width = rng.uniform(*ranges.front_width)
        w += rng.uniform(*ranges.front_amplitude) * taper * np.exp(-(across**2) / (2 * width**2))
    return w.astype(np.float32), waves.mask


def dominant_wave(
    field: np.ndarray,
    mask: np.ndarray | None = None,
    dx: float = 2000.0,
    shortest: float = 4e3,
    longest: float = 40e3,
    pad: int = 4,
) -> tuple[float, float]:
    """Return the dominant wavelength (m) and orientation (degrees, 0-180) inside a mask.

    The field is multiplied by a smoothed copy of the mask, so that the cut-off adds no spurious
    short waves. It is then zero-padded ``pad`` times for fine spectral resolution and
    Fourier-transformed. The peak of the power between wavelengths ``shortest`` and ``longest``
    gives the wavevector. Orientation is that of the wavevector (the direction crests travel
    across), known only modulo 180 degrees.
    """
    field = np.asarray(field, dtype=float)
    if field.ndim != 2:
        raise ValueError(f"expected a 2-D field, got shape {field.shape}")
    if mask is None:
        mask = np.ones_like(field, dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != field.shape:
        raise ValueError(f"mask has shape {mask.shape} but field has shape {field.shape}")
    if not mask.any():
        raise ValueError("the mask is empty: there is no wave to measure")
    weight = ndimage.gaussian_filter(mask.astype(float), sigma=2.0)
    values = (field - field[mask.astype(bool)].mean()) * weight
    ny, nx = values.shape
    power = np.abs(np.fft.rfft2(values, s=(pad * ny, pad * nx))) ** 2
    ky = np.fft.fftfreq(pad * ny, d=dx)
    kx = np.fft.rfftfreq(pad * nx, d=dx)
    kxx, kyy = np.meshgrid(kx, ky, indexing="xy")
    magnitude = np.hypot(kxx, kyy)
    band = (magnitude >= 1 / longest) & (magnitude <= 1 / shortest)
    if not band.any():
        raise ValueError(f"no wavenumbers between {shortest} m and {longest} m on this grid")
    power = np.where(band, power, 0.0)
    peak = np.unravel_index(np.argmax(power), power.shape)
    # Refine with the power-weighted mean wavevector over the peak's neighbourhood.
    rows = (peak[0] + np.arange(-2, 3)) % power.shape[0]
    cols = np.clip(peak[1] + np.arange(-2, 3), 0, power.shape[1] - 1)
    weights = power[np.ix_(rows, cols)]
    kx_peak = float((weights * kxx[np.ix_(rows, cols)]).sum() / weights.sum())
    ky_peak = float((weights * kyy[np.ix_(rows, cols)]).sum() / weights.sum())
    wavelength = 1.0 / np.hypot(kx_peak, ky_peak)
    orientation = np.rad2deg(np.arctan2(ky_peak, kx_peak)) % 180.0
    return float(wavelength), float(orientation)


def band_pass(field: np.ndarray, dx: float, shortest: float = 5e3, longest: float = 35e3) -> np.ndarray:
    """Keep only the wavelengths between ``shortest`` and ``longest`` (m) of a 2-D field."""
    field = np.asarray(field, dtype=float)
    if field.ndim != 2:
        raise ValueError(f"expected a 2-D field, got shape {field.shape}")
    spectrum = np.fft.rfft2(field)
    ky = np.fft.fftfreq(field.shape[0], d=dx)
    kx = np.fft.rfftfreq(field.shape[1], d=dx)
    magnitude = np.hypot(*np.meshgrid(kx, ky, indexing="xy"))
    keep = (magnitude >= 1 / longest) & (magnitude <= 1 / shortest)
    return np.fft.irfft2(spectrum * keep, s=field.shape)


def wave_amplitude(field: np.ndarray, dx: float, shortest: float = 5e3, longest: float = 35e3,
                   smoothing: float = 10e3) -> np.ndarray:
    """Return the local amplitude of band-passed waves: |band-passed field|, smoothed (m/s)."""
    filtered = band_pass(field, dx, shortest, longest)
    return ndimage.gaussian_filter(np.abs(filtered), sigma=smoothing / dx)


def fit_threshold(amplitudes, masks, candidates=None) -> float:
    """Return the amplitude threshold that maximises the pooled Dice score on training frames."""
    amplitudes = np.asarray(amplitudes, dtype=float)
    masks = np.asarray(masks).astype(bool)
    if amplitudes.shape != masks.shape:
        raise ValueError(f"amplitudes {amplitudes.shape} and masks {masks.shape} differ in shape")
    if candidates is None:
        candidates = np.quantile(amplitudes, np.linspace(0.5, 0.995, 100))
    best, best_dice = None, -1.0
    truth = masks.sum()
    for threshold in candidates:
        predicted = amplitudes > threshold
        dice = 2 * (predicted & masks).sum() / max(predicted.sum() + truth, 1)
        if dice > best_dice:
            best, best_dice = float(threshold), dice
    return best


@dataclass(frozen=True)
class WaveRegion:
    """One connected region of a lee-wave mask and the dominant wave inside it."""

    pixels: int
    centre: tuple[float, float]  # (row, column) of the region's centroid
    wavelength: float  # m
    orientation: float  # degrees anticlockwise from +x (the columns), 0-180


def characterise_regions(field: np.ndarray, mask: np.ndarray, dx: float, min_pixels: int = 400) -> list[WaveRegion]:
    """Measure the dominant wavelength and orientation in each connected region of a mask.

    Regions of fewer than ``min_pixels`` grid points are skipped: a few crests do not define a
    wavelength. The regions come largest first.
    """
    field = np.asarray(field, dtype=float)
    mask = np.asarray(mask).astype(bool)
    if field.shape != mask.shape or field.ndim != 2:
        raise ValueError(f"expected a 2-D field and a mask of the same shape, got {field.shape} and {mask.shape}")
    labels, count = ndimage.label(mask)
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, count + 1))
    regions = []
    for label in np.argsort(sizes)[::-1] + 1:
        pixels = int(sizes[label - 1])
        if pixels < min_pixels:
            break
        region = labels == label
        wavelength, orientation = dominant_wave(field, region, dx)
        rows, columns = np.nonzero(region)
        regions.append(WaveRegion(pixels, (float(rows.mean()), float(columns.mean())), wavelength, orientation))
    return regions
