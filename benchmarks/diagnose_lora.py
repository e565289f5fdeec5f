"""Why did nested LoRA miss rare slow processes? Experiments, one per candidate.

``--system rare`` (default): the four-atom "molecule" of :mod:`mdkoop.systems.rare_basin`, whose torsion
has a shallow basin holding 2.6% of the population and an exact slowest implied timescale (10.17 ps when one
time unit is read as 1 ps). Two independent simulations (20 walkers x 4,000 frames, 0.5 ps apart; seeds 0
and 1) train and test. Lag 1 ps, 3 modes (2 learned functions + the constant).

``--system cln025``: the shared CLN025 runs at 390 K (``../shared/data/cln025_390K_obc``; heavy atoms, 5 ps
frames). The first 8 ns of ``s11`` train; the last 8 ns of ``s11``, ``s12`` and ``s13`` test. Lag 50 ps,
4 modes. The MLP and the references (TICA, deeptime VAMPNet) use the 45 Cα pair distances.

Scores: besides ``model.score``, every method is judged the same way (``judge_*``): deeptime's VAMP on the
method's training features, scored on its test features (constant included; maximum 1 + learned functions).

``--system ala2``: two independent ``mdkoop simulate ala2 --temperature 300 --ns 30 --save-every 1`` runs (seeds 1 and 2,
GBn2 implicit solvent, 1 ps frames), cached in ``benchmarks/work/ala2/ns30_T300_seed{1,2}``. Heavy atoms only.
Run 1 trains, run 2 tests. The slow process is the φ flip into α_L (φ > 0), visited rarely.

Each experiment trains ``mdkoop.KoopmanSVD`` on run 1 with one setting changed (lag 10 ps, 4 modes, seed 0
unless told), and reports the slowest implied timescale, the train and test VAMP-2 (mdkoop's
``model.score``: 3 learned functions + the constant, maximum 4), the epochs run, whether training converged,
and the wall time. The reference is a reversible MSM on a 20 x 20 (φ, ψ) grid of both runs at the same lag;
beside it, deeptime's VAMPNet (MLP 64-64 on standardised heavy-atom distances, 30 epochs, batch 512).

    .venv/bin/python benchmarks/diagnose_lora.py                    # every experiment, seed 0
    .venv/bin/python benchmarks/diagnose_lora.py --only defaults --seeds 0 1 2
    .venv/bin/python benchmarks/diagnose_lora.py --list

Writes ``results/lora_diagnosis.json`` (merging with earlier runs of other experiments) and prints a table.
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

from _common import RESULTS_DIR, write_result  # noqa: E402
from _peers_methods import pair_distances  # noqa: E402
from _rare_data import (  # noqa: E402
    ala2_300k_stores,
    cln025_shared_stores,
    dihedral_msm,
    phi_crossings,
    rare_basin_stores,
)

SYSTEMS = {"rare": {"lag_ps": 1.0, "n_modes": 3}, "ala2": {"lag_ps": 10.0, "n_modes": 4},
           "cln025": {"lag_ps": 50.0, "n_modes": 4}}
#: the MLP and reference descriptors: heavy-atom distances (ala2, rare), Cα distances (cln025)
CA_ONLY = {"rare": False, "ala2": False, "cln025": True}
SYSTEM = "rare"
LAG_PS = 10
N_MODES = 4

#: the defaults before this study: cosine over a fixed budget, early stopping and best checkpoint on a
#: contiguous-end validation block, no output standardisation (20 epochs)
OLD = {"schedule": "cosine", "epochs": 20, "lr": 1e-3, "patience": 10, "standardize_output": False, "val_fraction": 0.1,
       "contiguous_val": True}

#: a fixed budget where the defaults would train longer (the SchNet CLN025 runs: 20 epochs, ~5 min each)
BUDGET = {"epochs": 20}

EXPERIMENTS: dict[str, dict] = {
    "old defaults": dict(OLD),
    "old, --lr 3e-3": {**OLD, "lr": 3e-3},
    "old, --val-fraction 0": {**OLD, "val_fraction": 0.0},
    "old, sum pooling": {**OLD, "pooling": "sum"},
    "old + output standardisation": {**OLD, "standardize_output": True},
    "old, --loss vamp2": {**OLD, "loss": "vamp2"},
    "defaults, 20 epochs": dict(BUDGET),
    "defaults, 20 epochs, --lr 1e-3": {**BUDGET, "lr": 1e-3},
    "defaults, 20 epochs, --lr 1e-2": {**BUDGET, "lr": 1e-2},
    "defaults, 20 epochs, no standardisation": {**BUDGET, "standardize_output": False},
    "defaults, 20 epochs, sequential nesting": {**BUDGET, "nesting": "sequential"},
    "defaults, 20 epochs, --loss vamp2": {**BUDGET, "loss": "vamp2"},
    "defaults": {},
    "MLP on descriptors (defaults)": {"encoder": "mlp"},
}


def _descriptors(store) -> list[np.ndarray]:
    atoms = None
    if CA_ONLY[SYSTEM]:
        atoms = np.flatnonzero(np.asarray(store.atom_names) == "CA")
    return [pair_distances(np.asarray(t), atoms) for t in store.iter_trajectories()]


def _fit(train_store, test_store, opts: dict, seed: int) -> dict:
    import mdkoop

    opts = dict(opts)
    encoder = opts.pop("encoder", "schnet")
    contiguous = opts.pop("contiguous_val", False)
    torch.manual_seed(seed)
    t0 = time.perf_counter()
    if encoder == "mlp":
        train, test = _descriptors(train_store), _descriptors(test_store)
        dt = float(train_store.timestep_ps)
        est = mdkoop.KoopmanSVD(lagtime=int(round(LAG_PS / dt)), n_modes=N_MODES, encoder="mlp", seed=seed,
                                device="cpu", timestep=dt, **opts)
        model = est.fit(train).fetch_model()
        train_data, test_data = train, test
    else:
        est = mdkoop.KoopmanSVD(lagtime=f"{LAG_PS:g}ps", n_modes=N_MODES, encoder="schnet", seed=seed, device="cpu",
                                **opts)
        if contiguous:  # the split before this study: one validation block at the end of the trajectory
            import mdkoop.training.split as E

            saved = E.validation_block
            E.validation_block = lambda lag, v: None
            try:
                model = est.fit(train_store).fetch_model()
            finally:
                E.validation_block = saved
        else:
            model = est.fit(train_store).fetch_model()
        train_data, test_data = train_store, test_store
    wall = time.perf_counter() - t0
    from _peers_methods import cross_validated_vamp2

    lag = int(model.lagtime)
    f_train, f_test = model.features(train_data), model.features(test_data)
    judge = {"judge_train_vamp2": cross_validated_vamp2(f_train, f_train, lag, N_MODES - 1),
             "judge_test_vamp2": cross_validated_vamp2(f_train, f_test, lag, N_MODES - 1)}
    training = (model.extra or {}).get("training", {})
    validation = (model.extra or {}).get("validation", {})
    return {
        "seed": seed,
        "slowest_its_ps": float(model.timescales()[0]),
        "timescales_ps": [float(t) for t in model.timescales()],
        "singular_values": [float(s) for s in model.singular_values],
        "train_vamp2": float(model.score(train_data, r=2)),
        "test_vamp2": float(model.score(test_data, r=2)),
        "epochs": training.get("epochs"),
        "converged": training.get("converged"),
        "val_can_judge": validation.get("can_judge"),
        "best_checkpoint_used": validation.get("selects_checkpoint"),
        "wall_s": round(wall, 1),
        **judge,
    }


def _vampnet_reference(train_store, test_store, seed: int) -> dict:
    """deeptime VAMPNet, MLP 64-64 on the standardised descriptors, 30 epochs, batch 512."""
    from _peers_methods import cross_validated_vamp2, fit_vampnet_mlp, timescales_of_features

    dt = float(train_store.timestep_ps)
    lag = int(round(LAG_PS / dt))
    r = fit_vampnet_mlp(_descriptors(train_store), _descriptors(test_store), lag=lag, n_cv=N_MODES - 1, seed=seed)
    fx, fy = r["train"], r["test"]
    return {"seed": seed, "slowest_its_ps": timescales_of_features(fx, lag, dt, 1)[0],
            "judge_train_vamp2": cross_validated_vamp2(fx, fx, lag, N_MODES - 1),
            "judge_test_vamp2": cross_validated_vamp2(fx, fy, lag, N_MODES - 1), "wall_s": r["train_s"]}


def _tica_reference(train_store, test_store) -> dict:
    from _peers_methods import cross_validated_vamp2, fit_tica

    dt = float(train_store.timestep_ps)
    lag = int(round(LAG_PS / dt))
    r = fit_tica(_descriptors(train_store), _descriptors(test_store), lag=lag, n_cv=N_MODES - 1)
    return {"judge_train_vamp2": cross_validated_vamp2(r["train"], r["train"], lag, N_MODES - 1),
            "judge_test_vamp2": cross_validated_vamp2(r["train"], r["test"], lag, N_MODES - 1)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", choices=tuple(SYSTEMS), default="rare")
    p.add_argument("--only", nargs="+", default=None, help="experiment names (or prefixes of names)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--no-reference", action="store_true", help="skip the MSM and VAMPNet references")
    p.add_argument("--list", action="store_true")
    args = p.parse_args(argv)
    global LAG_PS, N_MODES, SYSTEM
    LAG_PS, N_MODES = SYSTEMS[args.system]["lag_ps"], SYSTEMS[args.system]["n_modes"]
    SYSTEM = args.system
    if args.list:
        print("\n".join(EXPERIMENTS))
        return 0
    names = list(EXPERIMENTS)
    if args.only:
        exact = [n for n in names if n in args.only]
        names = exact + [n for n in names if n not in exact and any(o not in EXPERIMENTS and n.startswith(o)
                                                                       for o in args.only)]
    name_json = f"lora_diagnosis_{args.system}"
    path = RESULTS_DIR / f"{name_json}.json"
    result = json.loads(path.read_text()) if path.is_file() else {}
    result.setdefault("experiments", {})
    if args.system == "rare":
        from mdkoop.systems import rare_basin

        train_store, test_store = rare_basin_stores()
        result["reference"] = {"exact_timescales_ps": [float(t) for t in rare_basin.exact_timescales(2)],
                               "minor_population": rare_basin.minor_population()}
        dirs = []
    elif args.system == "cln025":
        train_store, test_store = cln025_shared_stores()
        dirs = []
        if not args.no_reference:
            refs = {"tica_ca_distances": _tica_reference(train_store, test_store),
                    "vampnet_mlp_ca_distances": [_vampnet_reference(train_store, test_store, s) for s in args.seeds]}
            result["reference"] = refs
            print("references:", json.dumps(refs), flush=True)
    else:
        train_store, test_store, dirs = ala2_300k_stores()
    if not args.no_reference and args.system == "ala2":
        msm = dihedral_msm(dirs, lag=LAG_PS, k=3)
        result["reference"] = {"msm": msm, "phi_crossings": [phi_crossings(d) for d in dirs],
                               "vampnet_mlp_distances": [_vampnet_reference(train_store, test_store, s)
                                                         for s in args.seeds]}
        print("MSM (phi, psi) timescales (ps):", [round(t, 1) for t in msm["timescales_ps"]],
              "| phi > 0 crossings:", result["reference"]["phi_crossings"], flush=True)
    for name in names:
        runs = []
        for seed in args.seeds:
            r = _fit(train_store, test_store, EXPERIMENTS[name], seed)
            runs.append(r)
            print(f"{name:42s} seed {seed}: t1 {r['slowest_its_ps']:8.1f} ps  train {r['train_vamp2']:.3f}  "
                  f"test {r['test_vamp2']:.3f}  judged {r['judge_train_vamp2']:.3f}/{r['judge_test_vamp2']:.3f}  epochs {r['epochs']}  converged {r['converged']}  "
                  f"{r['wall_s']:.0f} s", flush=True)
        result["experiments"][name] = {"settings": EXPERIMENTS[name], "runs": runs}
    result["setup"] = {"system": args.system, "lag_ps": LAG_PS, "n_modes": N_MODES,
                       "data": [str(d) for d in dirs] or [str(train_store.path), str(test_store.path)]}
    write_result(name_json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
