"""The methods compared by :mod:`bench_peers`, each trained on one set of trajectories and judged on another.

Every method ends in the same place -- ``n_cv`` learned functions of the training and of the test
frames -- so one judge scores them all:

* :func:`fit_mdkoop` -- ``mdkoop.KoopmanSVD`` with the SchNet encoder (nested LoRA, or any of mdkoop's
  losses through the same pipeline, e.g. ``"vamp2"``);
* :func:`fit_deeptime_vampnet` -- ``deeptime.decomposition.deep.VAMPNet`` with the *same* SchNet lobe
  (:class:`mdkoop.nn.encoders.SchNetEncoder`, same sizes) and exactly as many gradient steps as the mdkoop
  run it is paired with (deeptime's own defaults otherwise: Adam, no schedule, no clipping);
* :func:`fit_tica` -- ``deeptime.decomposition.TICA`` on pair distances;
* :func:`cross_validated_vamp2` -- the judge: deeptime's VAMP on the training features (``dim`` functions)
  scored on the covariances of the test features (Wu & Noé 2020 cross-validation, constant included, so
  the maximum is ``1 + dim``); :func:`timescales_of_features` -- implied timescales of a reversible linear
  model on the training features, the same for every method.

Units: positions in nm, times in ps (``timestep_ps`` per frame), lags in frames.
"""

from __future__ import annotations

import time

import numpy as np
import torch

__all__ = [
    "pair_distances",
    "cross_validated_vamp2",
    "timescales_of_features",
    "fit_mdkoop",
    "fit_deeptime_vampnet",
    "fit_tica",
]


# --------------------------------------------------------------------------- pure numerics
def pair_distances(pos: np.ndarray, atoms: np.ndarray | None = None) -> np.ndarray:
    """All pair distances of the chosen atoms.

    Parameters
    ----------
    pos : ndarray, shape (T, n_atoms, 3), float
        Positions in nm.
    atoms : ndarray of int, optional
        Indices (into ``n_atoms``) of the atoms to use; default all.

    Returns
    -------
    ndarray, shape (T, m (m - 1) / 2), float32
        Distances in nm, pairs i < j in row-major order.
    """
    p = np.asarray(pos, dtype=np.float32)
    if atoms is not None:
        p = p[:, np.asarray(atoms)]
    i, j = np.triu_indices(p.shape[1], k=1)
    return np.linalg.norm(p[:, i] - p[:, j], axis=-1).astype(np.float32)


def cross_validated_vamp2(train: list[np.ndarray], test: list[np.ndarray], lag: int, dim: int) -> float:
    """VAMP-2 of ``dim`` functions estimated on ``train`` and scored on ``test`` (deeptime, constant included).

    Parameters
    ----------
    train, test : list of ndarray, each (T_i, n_features), float
        Features per trajectory.
    lag : int
        Lag in frames.
    dim : int
        Number of singular functions kept (the top ``dim``).

    Returns
    -------
    float
        In [1, 1 + dim] up to estimation noise; larger is better.
    """
    from deeptime.decomposition import VAMP

    tr = VAMP(lagtime=lag, dim=dim).fit([np.asarray(a, dtype=np.float64) for a in train]).fetch_model()
    te = VAMP(lagtime=lag, dim=dim).fit([np.asarray(a, dtype=np.float64) for a in test]).fetch_model()
    return float(tr.score(r=2, test_model=te))


def timescales_of_features(features: list[np.ndarray], lag: int, timestep_ps: float, k: int) -> list[float]:
    """Leading ``k`` implied timescales (ps) of a reversible linear Koopman model on learned features.

    Parameters
    ----------
    features : list of ndarray, each (T_i, n_features), float
    lag : int
        Lag in frames.
    timestep_ps : float
        Time between frames (ps).
    k : int

    Returns
    -------
    list of float
        ``-tau / ln |lambda_i|`` in ps, slowest first.
    """
    from mdkoop.estimation import LinearKoopmanModel

    F0 = np.concatenate([a[:-lag] for a in features if len(a) > lag])
    F1 = np.concatenate([a[lag:] for a in features if len(a) > lag])
    model = LinearKoopmanModel.from_features(F0, F1, lag, timestep=timestep_ps, reversible=True)
    return [float(t) for t in model.timescales(k)]


# --------------------------------------------------------------------------- methods
def fit_mdkoop(train_store, test_store, *, lag: int, n_cv: int, loss: str, epochs: int, batch_size: int, lr: float,
               seed: int, schnet: dict) -> dict:
    """Train mdkoop's SchNet encoder on ``train_store``; return features, timescales and the step count.

    Parameters
    ----------
    train_store, test_store : mdkoop TrajectoryStore
        Heavy-atom positions (nm).
    lag : int
        Lag in frames.
    n_cv : int
        Learned functions (``n_modes = n_cv + 1`` with the constant).
    loss : str
        mdkoop loss (``"lora"`` with joint nesting, or ``"vamp2"`` ...).
    epochs, batch_size : int
    lr : float
    seed : int
    schnet : dict
        SchNet sizes (``n_atom_basis``, ``n_interactions``, ``n_rbf``, ``cutoff`` in nm).

    Returns
    -------
    dict
        ``train``/``test`` feature lists (numpy, (T_i, n_cv)), ``model_timescales_ps`` (mdkoop's own reversible
        estimate), ``steps``, ``train_s``.
    """
    from mdkoop import KoopmanSVD

    torch.manual_seed(seed)
    t0 = time.perf_counter()
    est = KoopmanSVD(lagtime=lag, n_modes=n_cv + 1, encoder="schnet", loss=loss, nesting="joint", epochs=epochs,
                     batch_size=batch_size, lr=lr, device="cpu", seed=seed, val_fraction=0.0, patience=0, **schnet)
    model = est.fit(train_store).fetch_model()
    train_s = time.perf_counter() - t0
    return {
        "train": model.features(train_store),
        "test": model.features(test_store),
        "model_timescales_ps": [float(t) for t in model.timescales(n_cv)],
        "singular_values": [float(s) for s in model.singular_values[:n_cv]],
        "steps": int(est.trainer.global_step),
        "train_s": round(train_s, 1),
    }


class _FramesLobe(torch.nn.Module):
    """deeptime hands the lobe a batch (B, n_atoms, 3); the SchNet encoder builds its graph from it."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x):
        return self.encoder.forward_frames(x)


def _lagged_pairs(trajs: list[np.ndarray], lag: int) -> tuple[np.ndarray, np.ndarray]:
    x0 = np.concatenate([t[:-lag] for t in trajs if len(t) > lag])
    x1 = np.concatenate([t[lag:] for t in trajs if len(t) > lag])
    return x0, x1


@torch.no_grad()
def _encode(lobe, trajs: list[np.ndarray], batch: int = 1024) -> list[np.ndarray]:
    lobe.eval()
    out = []
    for t in trajs:
        parts = [lobe(torch.from_numpy(np.array(t[i:i + batch], dtype=np.float32))).double().numpy()
                 for i in range(0, len(t), batch)]
        out.append(np.concatenate(parts))
    return out


def fit_deeptime_vampnet(train: list[np.ndarray], test: list[np.ndarray], atomic_numbers, *, lag: int, n_cv: int,
                         steps: int, batch_size: int, lr: float, seed: int, schnet: dict) -> dict:
    """deeptime's VAMPNet (VAMP-2 score) with mdkoop's SchNet lobe, for exactly ``steps`` gradient steps.

    Parameters
    ----------
    train, test : list of ndarray, each (T_i, n_atoms, 3), float32
        Positions in nm.
    atomic_numbers : array_like of int, shape (n_atoms,)
    lag : int
    n_cv : int
        Lobe outputs.
    steps : int
        Gradient steps (batches of ``batch_size`` pairs drawn by reshuffled epochs; the last partial batch of
        an epoch is dropped, as in mdkoop's training loader).
    batch_size : int
    lr : float
        Adam learning rate (deeptime's optimiser).
    seed : int
    schnet : dict
        SchNet sizes, as :func:`fit_mdkoop`.

    Returns
    -------
    dict
        ``train``/``test`` feature lists, ``steps``, ``train_s``, ``last_batch_score``.
    """
    from deeptime.decomposition.deep import VAMPNet

    from mdkoop.nn.encoders import SchNetEncoder

    torch.manual_seed(seed)
    enc = SchNetEncoder(n_cv, atomic_numbers, n_atom_basis=schnet["n_atom_basis"],
                        n_interactions=schnet["n_interactions"], n_rbf=schnet["n_rbf"], cutoff=schnet["cutoff"])
    lobe = _FramesLobe(enc)
    net = VAMPNet(lobe=lobe, learning_rate=lr, device="cpu", score_method="VAMP2", dtype=np.float32)
    x0, x1 = _lagged_pairs(train, lag)
    X0, X1 = torch.as_tensor(x0, dtype=torch.float32), torch.as_tensor(x1, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    n, done, scores = len(X0), 0, []
    t0 = time.perf_counter()
    lobe.train()
    while done < steps:
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = perm[i:i + batch_size]
            net.partial_fit((X0[idx], X1[idx]), train_score_callback=lambda step, s: scores.append(float(s)))
            done += 1
            if done >= steps:
                break
    train_s = time.perf_counter() - t0
    return {
        "train": _encode(lobe, train),
        "test": _encode(lobe, test),
        "steps": done,
        "train_s": round(train_s, 1),
        "last_batch_score": scores[-1] if scores else None,
    }


def fit_vampnet_mlp(train: list[np.ndarray], test: list[np.ndarray], *, lag: int, n_cv: int, seed: int,
                    epochs: int = 30, batch_size: int = 512) -> dict:
    """deeptime's VAMPNet with an MLP lobe (64-64, ELU) on standardised descriptors, Adam lr 1e-3.

    Parameters
    ----------
    train, test : list of ndarray, each (T_i, n_features), float
        Descriptors; standardised with the training mean and standard deviation.
    lag, n_cv, seed : int
    epochs, batch_size : int

    Returns
    -------
    dict
        ``train``/``test`` feature lists (T_i, n_cv) and ``train_s``.
    """
    from deeptime.decomposition.deep import VAMPNet
    from deeptime.util.data import TrajectoriesDataset, TrajectoryDataset

    cat = np.concatenate(train)
    mu, sd = cat.mean(0), cat.std(0) + 1e-8
    xs = [((a - mu) / sd).astype(np.float32) for a in train]
    ys = [((a - mu) / sd).astype(np.float32) for a in test]
    torch.manual_seed(seed)
    d = xs[0].shape[1]
    lobe = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ELU(), torch.nn.Linear(64, 64), torch.nn.ELU(),
                               torch.nn.Linear(64, n_cv))
    t0 = time.perf_counter()
    ds = TrajectoriesDataset([TrajectoryDataset(lag, a) for a in xs])
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    model = VAMPNet(lobe=lobe, learning_rate=1e-3, device="cpu", dtype=np.float32).fit(loader, n_epochs=epochs)
    model = model.fetch_model()
    train_s = time.perf_counter() - t0
    return {"train": [model.transform(a) for a in xs], "test": [model.transform(a) for a in ys],
            "train_s": round(train_s, 1)}


def fit_tica(train: list[np.ndarray], test: list[np.ndarray], *, lag: int, n_cv: int) -> dict:
    """deeptime TICA on (pair-distance) features; the top ``n_cv`` components of train and test.

    Parameters
    ----------
    train, test : list of ndarray, each (T_i, n_features), float
    lag : int
    n_cv : int

    Returns
    -------
    dict
        ``train``/``test`` feature lists, ``n_input_features``, ``train_s``.
    """
    from deeptime.decomposition import TICA

    t0 = time.perf_counter()
    tica = TICA(lagtime=lag, dim=n_cv).fit([np.asarray(a, dtype=np.float64) for a in train]).fetch_model()
    train_s = time.perf_counter() - t0
    return {
        "train": [tica.transform(np.asarray(a, dtype=np.float64)) for a in train],
        "test": [tica.transform(np.asarray(a, dtype=np.float64)) for a in test],
        "n_input_features": int(train[0].shape[1]),
        "train_s": round(train_s, 2),
    }
