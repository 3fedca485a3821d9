"""Lattice-Boltzmann solver (D2Q9 flow, D2Q5 passive scalar) for 2-D flow past a cylinder.

Everything is in lattice units: the node spacing and the time step are 1, the reference density
is 1, and the pressure is ``p = c_s^2 (rho - 1)`` with ``c_s^2 = 1/3``. The flow uses the
regularised BGK collision (Latt and Chopard 2006), which filters out the higher-order
non-equilibrium moments and so tolerates relaxation times close to 1/2 (0.53 at D = 20, U = 0.05,
Re = 100). The cylinder wall is a half-way bounce-back on the
staircase of nodes inside the circle. The inlet (left column) imposes the velocity ``(U, 0)`` and
the outlet (right column) the density 1, both by non-equilibrium extrapolation (Guo, Zheng and Shi
2002). The top and bottom sides are periodic.

The lattice-Boltzmann method is weakly compressible, so it carries sound waves, which the
incompressible equations have none of. With a velocity inlet and a pressure outlet the domain is
a quarter-wave resonator whose modes (0.18, 0.54, 0.90, ... U/D at Mach 0.087 and 16 D) the
shedding keeps excited: without damping, sound made up about 70% of the r.m.s. pressure
fluctuation in the wake. A sponge of ``sponge`` diameters before the outlet relaxes the density
towards 1 and keeps the local velocity, so that sound leaves the domain. Its rate rises
quadratically to ``sponge_strength`` per time step at the outlet. With 3 D, sound falls to about
2% of the pressure fluctuation.

The passive scalar c follows the advection-diffusion equation with a D2Q5 BGK scheme driven by
the flow's velocity. It enters at the inlet with the profile ``scalar_inflow`` (a Gaussian band
centred on the cylinder's axis), is reflected by the cylinder (zero flux) and leaves with a zero
gradient at the outlet.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass

import torch

logger = logging.getLogger(__name__)

# D2Q9 lattice: velocities (cx, cy), weights, and the index of the opposite velocity.
C9 = torch.tensor(
    [[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1], [1, 1], [-1, 1], [-1, -1], [1, -1]],
    dtype=torch.int64,
)
W9 = torch.tensor([4 / 9] + [1 / 9] * 4 + [1 / 36] * 4, dtype=torch.float64)
OPPOSITE9 = [0, 3, 4, 1, 2, 7, 8, 5, 6]

# D2Q5 lattice for the scalar: rest weight 1/3, so c_s^2 = 1/3 as for D2Q9.
C5 = C9[:5]
W5 = torch.tensor([1 / 3] + [1 / 6] * 4, dtype=torch.float64)
OPPOSITE5 = [0, 3, 4, 1, 2]

CS2 = 1.0 / 3.0


@dataclass(frozen=True)
class CylinderSetup:
    """Geometry and parameters of one cylinder-flow run, in lattice units unless stated.

    The cylinder's centre is a lattice node, ``upstream`` diameters from the inlet; the domain is
    ``length`` diameters long and ``height`` diameters between its periodic sides. The last
    ``sponge`` diameters before the outlet damp sound waves at up to ``sponge_strength`` (a
    fraction per time step); the default 0 has no sponge, while ``wake_dataset`` uses 3 D.
    """

    reynolds: float = 100.0
    peclet: float = 100.0
    diameter: int = 20
    inflow: float = 0.05
    upstream: float = 4.0
    length: float = 16.0
    height: float = 8.0
    scalar_width: float = 1.0
    sponge: float = 0.0
    sponge_strength: float = 0.1

    def __post_init__(self) -> None:
        for name in ("reynolds", "peclet", "diameter", "inflow", "upstream", "length", "height", "scalar_width", "sponge", "sponge_strength"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise ValueError(f"invalid {name}={value!r}; expected a finite number")
        if self.diameter < 4:
            raise ValueError(f"diameter must be at least 4 lattice nodes, got {self.diameter}")
        if not 0 < self.inflow <= 0.15:
            raise ValueError(
                f"inflow speed {self.inflow} is outside (0, 0.15] lattice units: the lattice "
                "Boltzmann method needs a Mach number well below 1"
            )
        if self.reynolds <= 0 or self.peclet <= 0:
            raise ValueError(f"Reynolds and Péclet numbers must be positive, got {self.reynolds} and {self.peclet}")
        if self.upstream < 1 or self.length < self.upstream + 2 or self.height < 2:
            raise ValueError(
                f"domain too small: upstream={self.upstream}, length={self.length}, "
                f"height={self.height} diameters (need upstream >= 1, length >= upstream + 2, height >= 2)"
            )
        if not 0 <= self.sponge <= self.length - self.upstream - 1:
            raise ValueError(
                f"sponge={self.sponge} D must lie in [0, {self.length - self.upstream - 1:g}] D, "
                "so that it starts at least 1 D behind the cylinder"
            )
        if not 0 <= self.sponge_strength <= 1:
            raise ValueError(f"sponge_strength={self.sponge_strength} must lie in [0, 1] (a fraction per time step)")
        if self.tau < 0.5 + 1e-3 or self.tau_scalar < 0.5 + 1e-3:
            raise ValueError(
                f"relaxation times {self.tau:.4f} (flow) and {self.tau_scalar:.4f} (scalar) must "
                "exceed 1/2: raise the diameter or the inflow speed"
            )

    @property
    def viscosity(self) -> float:
        """Kinematic viscosity ``U D / Re``."""
        return self.inflow * self.diameter / self.reynolds

    @property
    def diffusivity(self) -> float:
        """Scalar diffusivity ``U D / Pe``."""
        return self.inflow * self.diameter / self.peclet

    @property
    def tau(self) -> float:
        return self.viscosity / CS2 + 0.5

    @property
    def tau_scalar(self) -> float:
        return self.diffusivity / CS2 + 0.5

    @property
    def shape(self) -> tuple[int, int]:
        """Lattice size ``(ny, nx)``."""
        return round(self.height * self.diameter), round(self.length * self.diameter)

    @property
    def centre(self) -> tuple[int, int]:
        """Lattice indices ``(j, i)`` of the cylinder's centre."""
        ny, _ = self.shape
        return ny // 2, round(self.upstream * self.diameter)

    @property
    def steps_per_time_unit(self) -> float:
        """Lattice time steps per convective time ``D / U``."""
        return self.diameter / self.inflow

    @property
    def blockage(self) -> float:
        """Blockage ratio: diameter over the distance between the sides."""
        return 1.0 / self.height


class CylinderFlow:
    """State and time stepping of one cylinder-flow simulation.

    ``f`` has shape ``(9, ny, nx)`` and ``g`` (the scalar) ``(5, ny, nx)``. ``step()`` advances
    one lattice time step and stores the force on the cylinder of that step in ``force``
    (lattice units). With ``compile=True`` the step is compiled by ``torch.compile``, which fuses
    the collision, streaming and boundary conditions into a few loops. On a shared 2-core CPU this
    took about 40 s to compile and cut the CPU time per step about 4 times (torch 2.13). Where
    compilation fails, the eager step runs instead.

    NOTE: the step is sensitive to CPU oversubscription. On 2 cores busy with other jobs, an eager
    step at D = 20 took 150 ms with 2 torch threads against 9 ms with 1, so set
    ``torch.set_num_threads`` (or ``OMP_NUM_THREADS``) to the number of idle cores.
    """

    def __init__(
        self,
        setup: CylinderSetup,
        dtype: torch.dtype = torch.float32,
        perturbation: float = 0.05,
        compile: bool = False,
    ):
        self.setup = setup
        self.dtype = dtype
        ny, nx = setup.shape
        jc, ic = setup.centre
        self.shape = (ny, nx)

        j = torch.arange(ny, dtype=torch.float64)[:, None]
        i = torch.arange(nx, dtype=torch.float64)[None, :]
        radius = setup.diameter / 2
        self.solid = ((i - ic) ** 2 + (j - jc) ** 2) <= radius**2
        # wall_links[k - 1]: fluid nodes x with x + c_k inside the cylinder.
        self.wall_links = torch.stack(
            [
                ~self.solid & torch.roll(self.solid, shifts=(-int(C9[k, 1]), -int(C9[k, 0])), dims=(0, 1))
                for k in range(1, 9)
            ]
        )

        y = (j[:, 0] - jc) / setup.diameter
        self.scalar_inflow = torch.exp(-((y / setup.scalar_width) ** 2)).to(dtype)

        x = (i - ic) / setup.diameter
        ux = torch.full((ny, nx), setup.inflow, dtype=torch.float64)
        # A transverse kick behind the cylinder breaks the symmetry so that shedding starts early.
        uy = perturbation * setup.inflow * torch.exp(-((x - 1.0) ** 2) - y[:, None] ** 2) * torch.ones_like(ux)
        ux[self.solid] = 0
        uy[self.solid] = 0
        rho = torch.ones((ny, nx), dtype=torch.float64)
        self.f = torch.stack(equilibrium(rho, ux, uy)).to(dtype)
        self.g = torch.stack(scalar_equilibrium(torch.zeros_like(rho), ux, uy)).to(dtype)
        # Sponge: the pressure fluctuations are damped towards the outlet's, so that sound waves
        # leave the domain instead of resonating between the inlet and the outlet.
        start = setup.length - setup.upstream - setup.sponge
        ramp = ((x - start) / setup.sponge).clamp(min=0) if setup.sponge > 0 else torch.zeros_like(x)
        self.sponge = (setup.sponge_strength * ramp**2 * torch.ones_like(ux)).to(dtype)
        self.time_step = 0
        self.force = torch.zeros(2, dtype=dtype)

        self._step = _collide_and_stream
        if compile:
            self._step = _compiled_step()

    def step(self) -> None:
        """Collide, stream and apply the boundary conditions for one lattice time step."""
        setup = self.setup
        self.f, self.g, self.force = self._step(
            self.f,
            self.g,
            self.solid,
            self.wall_links,
            self.scalar_inflow,
            self.sponge,
            1 / setup.tau,
            1 / setup.tau_scalar,
            setup.inflow,
        )
        self.time_step += 1

    def fields(self) -> dict[str, torch.Tensor]:
        """Density, velocity and concentration on the lattice, each ``(ny, nx)``, in lattice units."""
        rho, ux, uy = velocity_moments(self.f)
        ux = torch.where(self.solid, 0.0, ux)
        uy = torch.where(self.solid, 0.0, uy)
        return {"rho": rho, "ux": ux, "uy": uy, "c": self.g.sum(0)}

    def force_coefficients(self) -> tuple[float, float]:
        """Drag and lift coefficients ``F / (rho U^2 D / 2)`` of the last step."""
        scale = 0.5 * self.setup.inflow**2 * self.setup.diameter
        return float(self.force[0]) / scale, float(self.force[1]) / scale


_CX = [int(value) for value in C9[:, 0]]
_CY = [int(value) for value in C9[:, 1]]
_W9 = [float(value) for value in W9]
_W5 = [float(value) for value in W5]


def velocity_moments(f):
    """Density and velocity ``(rho, ux, uy)`` of D2Q9 populations ``f`` (first axis 9)."""
    rho = f.sum(0)
    ux = (f[1] + f[5] + f[8] - f[3] - f[6] - f[7]) / rho
    uy = (f[2] + f[5] + f[6] - f[4] - f[7] - f[8]) / rho
    return rho, ux, uy


def equilibrium(rho, ux, uy) -> list:
    """Second-order D2Q9 equilibrium, one array per lattice velocity."""
    base = 1 - 1.5 * (ux * ux + uy * uy)
    populations = []
    for k in range(9):
        cu = _CX[k] * ux + _CY[k] * uy
        populations.append(_W9[k] * rho * (base + cu * (3 + 4.5 * cu)))
    return populations


def scalar_equilibrium(c, ux, uy) -> list:
    """First-order D2Q5 equilibrium of the concentration ``c``, one array per lattice velocity."""
    return [_W5[k] * c * (1 + 3 * (_CX[k] * ux + _CY[k] * uy)) for k in range(5)]


def _collide_and_stream(f, g, solid, wall_links, scalar_inflow, sponge, omega: float, omega_scalar: float, inflow: float):
    """One time step: returns the new ``f``, ``g`` and the force ``(2,)`` on the cylinder."""
    rho, ux, uy = velocity_moments(f)
    ux = torch.where(solid, 0.0, ux)
    uy = torch.where(solid, 0.0, uy)

    # Regularised BGK: keep only the second-order Hermite part of the non-equilibrium populations.
    feq = equilibrium(rho, ux, uy)
    neq = [f[k] - feq[k] for k in range(9)]
    pxx = sum(neq[k] for k in (1, 3, 5, 6, 7, 8))
    pyy = sum(neq[k] for k in (2, 4, 5, 6, 7, 8))
    pxy = neq[5] + neq[7] - neq[6] - neq[8]
    post = []
    for k in range(9):
        cx, cy = _CX[k], _CY[k]
        hermite = (cx * cx - CS2) * pxx + 2 * cx * cy * pxy + (cy * cy - CS2) * pyy
        post.append(feq[k] + (1 - omega) * 4.5 * _W9[k] * hermite)
    # In the sponge, relax the density towards 1 at the local velocity: feq is linear in rho.
    excess = sponge * (rho - 1)
    post = [post[k] - excess * (feq[k] / rho) for k in range(9)]

    geq = scalar_equilibrium(g.sum(0), ux, uy)
    gpost = [g[k] + omega_scalar * (geq[k] - g[k]) for k in range(5)]

    # Momentum exchange: each population sent into the wall returns reversed, twice its momentum.
    sent = [torch.where(wall_links[k - 1], post[k], 0.0).sum() for k in range(1, 9)]
    force = torch.stack(
        [2 * sum(_CX[k] * sent[k - 1] for k in range(1, 9)), 2 * sum(_CY[k] * sent[k - 1] for k in range(1, 9))]
    )

    f_new = _stream(post, wall_links, OPPOSITE9)
    g_new = _stream(gpost, wall_links, OPPOSITE5)

    # Inlet: velocity (U, 0) and the density of the next column; outlet: density 1 and the
    # velocity of the previous column. Both keep the neighbour's non-equilibrium part.
    inner = f_new[:, :, 1]
    rho_in, ux_in, uy_in = velocity_moments(inner)
    inlet_u = torch.full_like(rho_in, inflow)
    inlet_v = torch.zeros_like(rho_in)
    inlet = torch.stack(equilibrium(rho_in, inlet_u, inlet_v)) + inner - torch.stack(equilibrium(rho_in, ux_in, uy_in))

    inner = f_new[:, :, -2]
    rho_out, ux_out, uy_out = velocity_moments(inner)
    outlet = torch.stack(equilibrium(torch.ones_like(rho_out), ux_out, uy_out)) + inner - torch.stack(
        equilibrium(rho_out, ux_out, uy_out)
    )
    f_new = torch.cat([inlet[:, :, None], f_new[:, :, 1:-1], outlet[:, :, None]], dim=2)

    scalar_in = torch.stack(scalar_equilibrium(scalar_inflow, inlet_u, inlet_v))
    g_new = torch.cat([scalar_in[:, :, None], g_new[:, :, 1:-1], g_new[:, :, -2:-1]], dim=2)
    return f_new, g_new, force


def _stream(post: list, wall_links: torch.Tensor, opposite: list[int]) -> torch.Tensor:
    """Stream with periodic wrap, then bounce back what was sent into the cylinder."""
    streamed = [post[0]]
    for k in range(1, len(post)):
        moved = torch.roll(post[k], shifts=(_CY[k], _CX[k]), dims=(0, 1))
        back = opposite[k]
        # Fluid nodes whose neighbour along -c_k is solid receive their own f_back, reversed.
        streamed.append(torch.where(wall_links[back - 1], post[back], moved))
    return torch.stack(streamed)


def _compiled_step():
    try:
        compiled = torch.compile(_collide_and_stream, fullgraph=True, dynamic=False)
    except Exception as error:  # no compiler back end on this machine: run eagerly
        logger.warning("torch.compile is unavailable (%s); the lattice-Boltzmann step runs eagerly", error)
        return _collide_and_stream

    def step(*args):
        nonlocal compiled
        try:
            return compiled(*args)
        except Exception as error:  # e.g. no C++ compiler for inductor
            logger.warning("torch.compile failed (%s); the lattice-Boltzmann step runs eagerly", error)
            compiled = _collide_and_stream
            return compiled(*args)

    return step


def mach_number(setup: CylinderSetup) -> float:
    """Mach number of the inflow, ``U / c_s``."""
    return setup.inflow / math.sqrt(CS2)
