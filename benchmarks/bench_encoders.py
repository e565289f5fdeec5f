"""Encoders x losses on the shared CLN025 runs, and SchNet's receptive field.

Data (``../shared/data/cln025_390K_obc``, 390 K, amber99sb-ildn + OBC, 5 ps frames, heavy atoms): the first
8 ns of ``s11`` train; the last 8 ns of ``s11`` and the independent runs ``s12`` and ``s13`` test. Lag 50 ps,
4 modes (3 learned functions + the constant).

Every mdkoop row is ``mdkoop.KoopmanSVD`` on the training store with default settings apart from the ones
named in the row. Every row, mdkoop's and the references', is judged the same way: deeptime's VAMP-2 of the
method's features on the training data, scored on its features of the test data (constant included, maximum 4).

References on the same split: TICA on the 45 Cα pair distances; deeptime's VAMPNet (MLP 64-64, ELU, 30 epochs,
batch 512, lr 1e-3, standardised inputs) on Cα distances, on heavy-atom distances and on (sin, cos) of the
backbone φ/ψ.

    .venv/bin/python benchmarks/bench_encoders.py --group encoders --seeds 0 1 2
    .venv/bin/python benchmarks/bench_encoders.py --group receptive --epochs 20
    .venv/bin/python benchmarks/bench_encoders.py --group converged regularised --seeds 0   # SchNet until converged, with and without weight decay
    .venv/bin/python benchmarks/bench_encoders.py --list

Writes ``results/encoders.json`` (runs of other rows are kept) and prints one line per fit.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import RESULTS_DIR, invocation, write_result  # noqa: E402
from _peers_methods import (  # noqa: E402
    cross_validated_vamp2,
    fit_vampnet_mlp,
    pair_distances,
    timescales_of_features,
)
from _rare_data import cln025_shared_stores  # noqa: E402

LAG_PS = 50.0
N_MODES = 4
NAME = "encoders"

#: rows: a group, and the KoopmanSVD settings that differ from the defaults
EXPERIMENTS: dict[str, tuple[str, dict]] = {
    "distances (Cα), LoRA joint": ("encoders", {"encoder": "distances"}),
    "distances (Cα), LoRA sequential": ("encoders", {"encoder": "distances", "nesting": "sequential"}),
    "distances (Cα), VAMP-2 loss": ("encoders", {"encoder": "distances", "loss": "vamp2"}),
    "contacts (Cα, r0 0.8 nm), LoRA joint": ("encoders", {"encoder": "distances", "contact_r0": 0.8}),
    "distances (heavy atoms), LoRA joint": ("encoders", {"encoder": "distances", "distances_select": "all"}),
    "torsions (φ, ψ), LoRA joint": ("encoders", {"encoder": "torsions"}),
    "torsions (φ, ψ), LoRA sequential": ("encoders", {"encoder": "torsions", "nesting": "sequential"}),
    "torsions (φ, ψ), VAMP-2 loss": ("encoders", {"encoder": "torsions", "loss": "vamp2"}),
    "torsions (φ, ψ, χ1), LoRA joint": ("encoders", {"encoder": "torsions", "torsions": ("phi", "psi", "chi1")}),
    "SchNet (defaults), LoRA joint": ("schnet", {"encoder": "schnet"}),
    "SchNet (defaults, until converged), LoRA joint": ("converged", {"encoder": "schnet"}),
    "SchNet (until converged), weight decay 0.1": ("regularised", {"encoder": "schnet", "weight_decay": 0.1}),
    "SchNet (until converged), weight decay 1.0": ("regularised", {"encoder": "schnet", "weight_decay": 1.0}),
    "SchNet, LoRA sequential": ("schnet", {"encoder": "schnet", "nesting": "sequential"}),
    "SchNet, VAMP-2 loss": ("schnet", {"encoder": "schnet", "loss": "vamp2"}),
    "SchNet, cutoff 1.0 nm": ("receptive", {"encoder": "schnet", "cutoff": 1.0}),
    "SchNet, cutoff 1.5 nm": ("receptive", {"encoder": "schnet", "cutoff": 1.5}),
    "SchNet, 2 interactions": ("receptive", {"encoder": "schnet", "n_interactions": 2}),
    "SchNet, 4 interactions": ("receptive", {"encoder": "schnet", "n_interactions": 4}),
    "SchNet, sum pooling": ("receptive", {"encoder": "schnet", "pooling": "sum"}),
    "SchNet, attention readout": ("receptive", {"encoder": "schnet", "pooling": "attention"}),
    "SchNet, Cα only": ("receptive", {"encoder": "schnet", "select": "name CA"}),
    "SchNet, Cα only, cutoff 1.5 nm": ("receptive", {"encoder": "schnet", "select": "name CA", "cutoff": 1.5}),
}


def judge(train_feats, test_feats, lag: int) -> dict:
    """deeptime's VAMP-2 of training features, on the training and on the test features."""
    return {"train_vamp2": cross_validated_vamp2(train_feats, train_feats, lag, N_MODES - 1),
            "test_vamp2": cross_validated_vamp2(train_feats, test_feats, lag, N_MODES - 1)}


def fit_mdkoop(train_store, test_store, opts: dict, seed: int, epochs: int | None) -> dict:
    import mdkoop

    opts = dict(opts)
    if epochs is not None:
        opts["epochs"] = epochs
    t0 = time.perf_counter()
    est = mdkoop.KoopmanSVD(lagtime=f"{LAG_PS:g}ps", n_modes=N_MODES, seed=seed, device="cpu", **opts)
    model = est.fit(train_store).fetch_model()
    wall = time.perf_counter() - t0
    n_pairs = int(model.extra["config"]["data"]["n_train_pairs"])
    training = model.extra.get("training", {})
    return {"seed": seed, **judge(model.features(train_store), model.features(test_store), int(model.lagtime)),
            "slowest_its_ps": float(model.timescales()[0]), "epochs": training.get("epochs"),
            "converged": training.get("converged"), "wall_s": round(wall, 1),
            "s_per_epoch_per_1k_pairs": round(wall / max(1, training.get("epochs") or 1) / n_pairs * 1000, 3)}


def _features(store, kind: str) -> list[np.ndarray]:
    """Reference descriptors: Cα or heavy-atom distances (nm), or (sin, cos) of backbone φ/ψ (and χ1)."""
    if kind.startswith("torsions"):
        import mdtraj as md

        from mdkoop.nn.descriptors import dihedrals

        top = md.load_topology(str(store.topology_path))
        frame = md.Trajectory(np.zeros((1, top.n_atoms, 3), np.float32), top)
        names = ("phi", "psi", "chi1") if kind == "torsions_chi1" else ("phi", "psi")
        quads = torch.as_tensor(np.concatenate([getattr(md, f"compute_{n}")(frame)[0] for n in names]))
        out = []
        for t in store.iter_trajectories():
            a = dihedrals(torch.as_tensor(np.asarray(t, dtype=np.float64)), quads).numpy()
            out.append(np.concatenate([np.sin(a), np.cos(a)], 1))
        return out
    atoms = np.flatnonzero(np.asarray(store.atom_names) == "CA") if kind == "ca" else None
    return [pair_distances(np.asarray(t), atoms) for t in store.iter_trajectories()]


def vampnet(xs, ys, lag: int, seed: int) -> dict:
    """deeptime VAMPNet (MLP 64-64, 30 epochs, batch 512) on descriptors, judged like the mdkoop rows."""
    r = fit_vampnet_mlp(xs, ys, lag=lag, n_cv=N_MODES - 1, seed=seed)
    return {"seed": seed, **judge(r["train"], r["test"], lag),
            "slowest_its_ps": timescales_of_features(r["train"], lag, LAG_PS / lag, 1)[0], "wall_s": r["train_s"]}


def references(train_store, test_store, lag: int, seeds) -> dict:
    from _peers_methods import fit_tica

    out = {}
    ca_tr, ca_te = _features(train_store, "ca"), _features(test_store, "ca")
    r = fit_tica(ca_tr, ca_te, lag=lag, n_cv=N_MODES - 1)
    out["TICA on Cα distances"] = [{"seed": 0, **judge(r["train"], r["test"], lag)}]
    out["deeptime VAMPNet on Cα distances"] = [vampnet(ca_tr, ca_te, lag, s) for s in seeds]
    out["deeptime VAMPNet on torsions (φ, ψ)"] = [vampnet(_features(train_store, "torsions"),
                                                          _features(test_store, "torsions"), lag, s) for s in seeds]
    out["deeptime VAMPNet on torsions (φ, ψ, χ1)"] = [vampnet(_features(train_store, "torsions_chi1"),
                                                              _features(test_store, "torsions_chi1"), lag, s)
                                                      for s in seeds]
    out["deeptime VAMPNet on heavy-atom distances"] = [vampnet(_features(train_store, "heavy"),
                                                               _features(test_store, "heavy"), lag, s) for s in seeds]
    return out


def _save(rows: dict, setup: dict | None = None) -> None:
    """Merge ``rows`` into ``results/encoders.json`` as it is now (another run may have added rows meanwhile)."""
    path = RESULTS_DIR / f"{NAME}.json"
    result = json.loads(path.read_text()) if path.is_file() else {}
    result.pop("benchmark", None)
    result.pop("machine", None)
    earlier = [c for c in str(result.pop("command", "")).split("; ") if c]
    result["command"] = "; ".join(dict.fromkeys([*earlier, invocation()]))  # the invocations whose rows it holds
    result.setdefault("rows", {}).update(rows)
    if setup is not None:
        result["setup"] = setup
    write_result(NAME, result)


def _line(name: str, r: dict) -> str:
    extra = f"  epochs {r['epochs']} converged {r['converged']}" if "epochs" in r else ""
    return (f"{name:42s} seed {r['seed']}: train {r['train_vamp2']:.3f}  test {r['test_vamp2']:.3f}  "
            f"t1 {r.get('slowest_its_ps', float('nan')):8.1f} ps  {r.get('wall_s', 0):6.1f} s{extra}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--group", choices=("encoders", "schnet", "receptive", "converged", "regularised", "references"), nargs="+",
                   default=["references", "encoders"])
    p.add_argument("--only", nargs="+", default=None, help="row names (or their prefixes)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=None, help="an epoch limit instead of the default (200)")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(f"{g:10s} {n}" for n, (g, _) in EXPERIMENTS.items()))
        return 0
    train_store, test_store = cln025_shared_stores()
    lag = int(round(LAG_PS / float(train_store.timestep_ps)))
    if "references" in args.group:
        for name, runs in references(train_store, test_store, lag, args.seeds).items():
            for r in runs:
                print(_line(name, r), flush=True)
            _save({name: {"group": "references", "settings": {}, "runs": runs}})
    names = [n for n, (g, _) in EXPERIMENTS.items() if g in args.group]
    if args.only:
        exact = [n for n in names if n in args.only]
        names = exact or [n for n in names if any(n.startswith(o) for o in args.only)]
    for name in names:
        group, opts = EXPERIMENTS[name]
        runs = []
        for seed in args.seeds:
            r = fit_mdkoop(train_store, test_store, opts, seed, args.epochs)
            runs.append(r)
            print(_line(name, r), flush=True)
        settings = {k: list(v) if isinstance(v, tuple) else v for k, v in opts.items()}
        if args.epochs is not None:
            settings["epochs"] = args.epochs
        _save({name: {"group": group, "settings": settings, "runs": runs}})  # each row as soon as it is measured
    _save({}, {"lag_ps": LAG_PS, "n_modes": N_MODES, "train": str(train_store.path), "test": str(test_store.path),
               "torch_threads": torch.get_num_threads()})
    return 0

if __name__ == "__main__":
    raise SystemExit(main())
