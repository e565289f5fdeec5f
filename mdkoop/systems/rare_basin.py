"""A rare slow process with a known answer: a shallow basin visited about 2% of the time (kT = 1).

The slow coordinate is an angle ``phi`` in the periodic potential

    V(phi) = -a cos(2 phi) + b cos(phi),     a = 2.5, b = 1.95

with its main basin at ``phi = pi`` and a shallow basin at ``phi = 0`` that is ``2 b = 3.9 kT`` higher, so
it holds about 2% of the equilibrium population (:func:`minor_population`). The slowest process is the
exchange between the two basins; its implied timescale is that of the Langevin generator
``L = -V'(phi) d/dphi + d^2/dphi^2`` (unit diffusion), computed with the square-root approximation on a fine
periodic grid (:func:`exact_timescales`). Every other process is more than 10 times faster.

Two views of the same dynamics:

* :func:`features` -- plain features ``(cos phi, sin phi, y)`` with a fast Ornstein-Uhlenbeck coordinate
  ``y`` (rate :data:`Y_RATE`), for an MLP encoder;
* :func:`molecule` -- a four-atom chain (bonds 0.15 nm, angles 111 degrees) whose dihedral is ``phi``, with
  0.005 nm of fast noise on every atom and a random rotation per frame: the slow coordinate of the
  "molecule" is a torsion, to be found by a SchNet encoder from positions in nm.

Units: time is dimensionless (the potential's own units; frames are :data:`DT_FRAME` apart); the molecule's
positions are in nm. Simulations start from the equilibrium distribution, so many short independent
trajectories sample the process without bias.

Examples
--------
>>> from mdkoop.systems import rare_basin
>>> rare_basin.exact_timescales(1)        # the slowest implied timescale, time units
>>> trajs = rare_basin.simulate(n_walkers=100, n_frames=800, seed=0)   # list of (800,) angles
"""

from __future__ import annotations

import numpy as np

from mdkoop.errors import InputError
from mdkoop.systems._checks import positive_int

__all__ = [
    "A",
    "B",
    "DT_FRAME",
    "Y_RATE",
    "potential",
    "generator_eigenvalues",
    "exact_timescales",
    "minor_population",
    "simulate",
    "features",
    "molecule",
    "MOLECULE_ATOMIC_NUMBERS",
]

A, B = 2.5, 1.95
#: time between saved frames (time units)
DT_FRAME = 0.5
#: relaxation rate of the fast coordinate ``y`` of :func:`features` (time units^-1)
Y_RATE = 20.0
#: the four-atom chain is four carbons
MOLECULE_ATOMIC_NUMBERS = np.array([6, 6, 6, 6])
_H = 1e-3  # integration step


def potential(phi: np.ndarray) -> np.ndarray:
    """V(phi) in kT; ``phi`` in radians, any shape."""
    phi = np.asarray(phi, dtype=np.float64)
    return -A * np.cos(2 * phi) + B * np.cos(phi)


def _force(phi: np.ndarray) -> np.ndarray:
    return -(2 * A * np.sin(2 * phi) - B * np.sin(phi))


def _grid(n: int) -> np.ndarray:
    return -np.pi + 2 * np.pi * (np.arange(n) + 0.5) / n


def generator_eigenvalues(n: int = 2000, k: int = 4) -> np.ndarray:
    """Leading eigenvalues of the generator (SqRA on a periodic grid of ``n`` cells), decreasing from 0.

    Parameters
    ----------
    n : int
        Grid cells on [-pi, pi).
    k : int
        Number of eigenvalues.

    Returns
    -------
    ndarray of float64, shape (k,)
    """
    from scipy.sparse import diags
    from scipy.sparse.linalg import eigs

    n = positive_int(n, "n (grid points)", 10)
    k = positive_int(k, "k (number of eigenvalues)")
    if k > n - 2:
        raise InputError(f"k={k} needs more than k + 2 grid cells, got n={n}.")
    h = 2 * np.pi / n
    V = potential(_grid(n))
    Vn = np.roll(V, -1)
    up = np.exp(-(Vn - V) / 2) / h ** 2            # i -> i+1 (periodic)
    down = np.exp(-(V - Vn) / 2) / h ** 2          # i+1 -> i
    rows = np.concatenate([np.arange(n), (np.arange(n) + 1) % n])
    cols = np.concatenate([(np.arange(n) + 1) % n, np.arange(n)])
    from scipy.sparse import coo_matrix

    Q = coo_matrix((np.concatenate([up, down]), (rows, cols)), shape=(n, n)).tocsc()
    Q = Q - diags(np.asarray(Q.sum(1)).ravel())
    lam = eigs(Q, k=k, sigma=0.01, which="LM", return_eigenvectors=False).real
    return np.sort(lam)[::-1]


def exact_timescales(k: int = 1, n: int = 2000) -> np.ndarray:
    """The ``k`` slowest implied timescales ``-1 / lambda_i`` (time units), decreasing."""
    k = positive_int(k, "k (number of timescales)")
    return -1.0 / generator_eigenvalues(n, k + 1)[1:k + 1]


def minor_population(n: int = 4000) -> float:
    """Equilibrium probability of the shallow basin (``|phi| < pi / 2``)."""
    x = _grid(n)
    w = np.exp(-potential(x))
    return float(w[np.abs(x) < np.pi / 2].sum() / w.sum())


def _equilibrium_samples(rng: np.random.Generator, size: int) -> np.ndarray:
    x = _grid(20000)
    p = np.exp(-potential(x))
    return rng.choice(x, size=size, p=p / p.sum()) + rng.uniform(-np.pi / 20000, np.pi / 20000, size)


def simulate(n_walkers: int = 100, n_frames: int = 800, seed: int = 0) -> list[np.ndarray]:
    """Independent overdamped Langevin trajectories of ``phi``, started from equilibrium.

    Parameters
    ----------
    n_walkers : int
        Number of trajectories.
    n_frames : int
        Frames per trajectory, :data:`DT_FRAME` apart.
    seed : int

    Returns
    -------
    list of ndarray, each shape (n_frames,), float64
        Angles in radians, wrapped to [-pi, pi).
    """
    n_walkers = positive_int(n_walkers, "n_walkers")
    n_frames = positive_int(n_frames, "n_frames", 2)
    rng = np.random.default_rng(seed)
    phi = _equilibrium_samples(rng, n_walkers)
    steps = int(round(DT_FRAME / _H))
    out = np.empty((n_frames, n_walkers))
    out[0] = phi
    noise = np.sqrt(2 * _H)
    for t in range(1, n_frames):
        for _ in range(steps):
            phi = phi + _H * _force(phi) + noise * rng.standard_normal(n_walkers)
        out[t] = phi
    out = (out + np.pi) % (2 * np.pi) - np.pi
    return [np.ascontiguousarray(out[:, i]) for i in range(n_walkers)]


def features(trajs: list[np.ndarray], seed: int = 0) -> list[np.ndarray]:
    """``(cos phi, sin phi, y)`` per frame, with an exact discrete Ornstein-Uhlenbeck ``y`` (unit variance).

    Returns
    -------
    list of ndarray, each shape (n_frames, 3), float32
    """
    rng = np.random.default_rng(seed)
    rho = np.exp(-Y_RATE * DT_FRAME)
    out = []
    for phi in trajs:
        y = np.empty(len(phi))
        y[0] = rng.standard_normal()
        eps = rng.standard_normal(len(phi)) * np.sqrt(1 - rho ** 2)
        for t in range(1, len(phi)):
            y[t] = rho * y[t - 1] + eps[t]
        out.append(np.column_stack([np.cos(phi), np.sin(phi), y]).astype(np.float32))
    return out


def _rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    q = rng.standard_normal((n, 4))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    w, x, y, z = q.T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], 1)


def molecule(trajs: list[np.ndarray], seed: int = 0, bond_nm: float = 0.15, angle_deg: float = 111.0,
             noise_nm: float = 0.005) -> list[np.ndarray]:
    """Positions of a four-atom chain whose dihedral (atoms 0-1-2-3) is ``phi``.

    Returns
    -------
    list of ndarray, each shape (n_frames, 4, 3), float32
        Positions in nm, each frame randomly rotated about its centre, with ``noise_nm`` Gaussian noise per
        atom and axis.
    """
    rng = np.random.default_rng(seed)
    th = np.deg2rad(angle_deg)
    out = []
    for phi in trajs:
        n = len(phi)
        p = np.zeros((n, 4, 3))
        # atoms 1 and 2 on the x axis, atom 0 in the xy plane, atom 3 rotated by phi about the 1-2 bond
        p[:, 0] = [-bond_nm * np.cos(np.pi - th), bond_nm * np.sin(np.pi - th), 0.0]
        p[:, 1] = [0.0, 0.0, 0.0]
        p[:, 2] = [bond_nm, 0.0, 0.0]
        d = np.stack([bond_nm * np.cos(np.pi - th) * np.ones(n), bond_nm * np.sin(np.pi - th) * np.cos(phi),
                      bond_nm * np.sin(np.pi - th) * np.sin(phi)], 1)
        p[:, 3] = p[:, 2] + d
        p -= p.mean(1, keepdims=True)
        p = np.einsum("nij,naj->nai", _rotations(rng, n), p)
        p += noise_nm * rng.standard_normal(p.shape)
        out.append(p.astype(np.float32))
    return out


def molecule_store(out, n_walkers: int = 20, n_frames: int = 4000, seed: int = 0):
    """Simulate the four-atom molecule and write it as a trajectory store (one trajectory per walker).

    One time unit of the potential is read as 1 ps, so the store's frames are :data:`DT_FRAME` ps apart and
    the exact timescales of :func:`exact_timescales` are in ps. The PDB topology and XTC files are written
    into ``out/../<name>.src/`` beside the store.

    Parameters
    ----------
    out : path
        The store directory to create (must not exist).
    n_walkers, n_frames, seed
        As :func:`simulate`.

    Returns
    -------
    mdkoop.io.store.TrajectoryStore
        Positions in nm of the 4 carbons, ``timestep_ps == DT_FRAME``.
    """
    from pathlib import Path

    import mdtraj as md

    from mdkoop.io.store import prepare

    out = Path(out)
    src = out.with_name(out.name + ".src")
    src.mkdir(parents=True, exist_ok=True)
    top = md.Topology()
    res = top.add_residue("BUT", top.add_chain())
    atoms = [top.add_atom(f"C{i + 1}", md.element.carbon, res) for i in range(4)]
    for a, b in zip(atoms[:-1], atoms[1:]):
        top.add_bond(a, b)
    pos = molecule(simulate(n_walkers, n_frames, seed), seed=seed)
    files = []
    for i, p in enumerate(pos):
        t = md.Trajectory(p, top, time=np.arange(len(p)) * DT_FRAME)
        if i == 0:
            t[0].save_pdb(str(src / "topology.pdb"))
        files.append(src / f"walker{i:03d}.xtc")
        t.save_xtc(str(files[-1]))
    return prepare(str(src / "topology.pdb"), [str(f) for f in files], out, select="all",
                   timestep_ps=DT_FRAME)
