"""mdkoop against its peers on molecular data (issue 8 §2 alanine dipeptide, §3 CLN025).

Alanine dipeptide (``--system ala2``)
    Data: two independent ``mdkoop simulate ala2`` trajectories (340 K, GBn2 implicit solvent, 1 ps frames,
    ``--ns`` each, seeds 1 and 2), simulated into ``benchmarks/work/ala2/`` when missing (both at once, one
    thread each) and reused afterwards. Trajectory 1 trains, trajectory 2 tests.
    Reference: a reversible maximum-likelihood MSM (deeptime) on a regular (φ, ψ) grid, built on *both*
    trajectories (the best estimate of the true timescales these data allow, with a Bayesian-MSM 95% interval)
    and on the training trajectory alone (the same data the learners see).
    Methods (heavy atoms only): mdkoop SchNet + nested LoRA (joint); mdkoop SchNet + VAMP-2 loss through the same
    pipeline; deeptime's VAMPNet with the same SchNet lobe and the same number of gradient steps; deeptime TICA on
    all heavy-atom pair distances.
    Figures: implied timescales (reversible linear model on each method's 3 functions, training data) against
    the MSM (goal: mdkoop within 15%), and the test VAMP-2 of the top 3 functions (estimated on trajectory 1,
    scored on trajectory 2; constant included, maximum 4).

CLN025 (``--system cln025``)
    Data: the bundled 0.75 ns sample at 425 K (2 ps frames, heavy atoms); first half trains, second half tests.
    It holds two unfolding and two refolding events, so these figures are indicative only (no goals). TICA
    uses the 45 Cα pair distances (the 4,278 heavy-atom distances outnumber the 187 training frames). The
    reference for timescales is an MSM on a 1-D grid of Cα RMSD to the folded structure (both halves).

Examples::

    .venv/bin/python benchmarks/bench_peers.py                       # both systems, 3 seeds (make bench)
    .venv/bin/python benchmarks/bench_peers.py --system ala2 --seeds 0
    .venv/bin/python benchmarks/bench_peers.py --quick               # minutes: 2 ns, 1 seed, few epochs
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from _common import write_result  # noqa: E402
from _peers_methods import (  # noqa: E402
    cross_validated_vamp2,
    fit_deeptime_vampnet,
    fit_mdkoop,
    fit_tica,
    pair_distances,
    timescales_of_features,
)

WORK = HERE / "work"
N_CV = 3
SCHNET = {"n_atom_basis": 64, "n_interactions": 3, "n_rbf": 20, "cutoff": 0.6}
ITS_GOAL = 0.15
PART = "peers_cln025_part"  # the CLN025 half of a parallel run, merged and removed by the parent


# --------------------------------------------------------------------------- data
def ala2_dir(ns: float, seed: int, temperature: float = 340) -> Path:
    """Where ``mdkoop simulate ala2 --ns ns --seed seed --temperature T --save-every 1`` is kept."""
    return WORK / "ala2" / f"ns{ns:g}_T{temperature:g}_seed{seed}"


def ensure_ala2(ns: float, seeds: tuple[int, ...], temperature: float = 340) -> list[Path]:
    """Simulate the missing alanine-dipeptide trajectories, all at once (one OpenMM thread each)."""
    dirs = [ala2_dir(ns, s, temperature) for s in seeds]
    procs = []
    for d, s in zip(dirs, seeds):
        if (d / "trajectory.xtc").is_file() and (d / "metadata.json").is_file():
            continue
        d.parent.mkdir(parents=True, exist_ok=True)
        cmd = [str(ROOT / ".venv" / "bin" / "mdkoop"), "simulate", "ala2", "--ns", f"{ns:g}", "--seed", str(s),
               "--temperature", f"{temperature:g}",
               "--save-every", "1", "--threads", "1", "--out", str(d), "--no-progress", "--overwrite"]
        print("simulating:", " ".join(cmd[1:]), flush=True)
        procs.append((d, subprocess.Popen(cmd, cwd=ROOT)))
    for d, p in procs:
        if p.wait() != 0:
            raise SystemExit(f"simulation into {d} failed (exit {p.returncode})")
    return dirs


def prepare_store(topology: Path, xtc: Path, out: Path, select: str):
    """A fresh heavy-atom store of one trajectory (positions in nm)."""
    from mdkoop.io.store import prepare

    return prepare(str(topology), [str(xtc)], out, select=select, overwrite=True)


def _dihedral_grid(phi: np.ndarray, psi: np.ndarray, n_bins: int) -> np.ndarray:
    """State index of each frame on an ``n_bins`` x ``n_bins`` periodic (φ, ψ) grid (radians in [-π, π))."""
    def b(a):
        return np.clip(((a + np.pi) / (2 * np.pi) * n_bins).astype(int), 0, n_bins - 1)

    return b(phi) * n_bins + b(psi)


def msm_timescales(dtrajs: list[np.ndarray], lag: int, timestep_ps: float, k: int, bayes: int = 0,
                   seed: int = 0) -> dict:
    """Reversible MLE MSM (largest connected set) timescales in ps, optionally with a Bayesian 95% interval."""
    from deeptime.markov import TransitionCountEstimator
    from deeptime.markov.msm import BayesianMSM, MaximumLikelihoodMSM

    counts = TransitionCountEstimator(lag, "sliding").fit_fetch(dtrajs).submodel_largest()
    msm = MaximumLikelihoodMSM(reversible=True).fit_fetch(counts)
    out = {"timescales_ps": [float(t) * timestep_ps for t in msm.timescales(k)], "n_states": int(counts.n_states)}
    if bayes:
        np.random.seed(seed)  # deeptime's sampler draws from numpy's global generator
        counts_eff = TransitionCountEstimator(lag, "effective").fit_fetch(dtrajs).submodel_largest()
        post = BayesianMSM(n_samples=bayes, reversible=True).fit_fetch(counts_eff)
        ts = np.array([s.timescales(k) for s in post.samples]) * timestep_ps
        out["ci95_ps"] = [[float(np.percentile(ts[:, i], 2.5)), float(np.percentile(ts[:, i], 97.5))] for i in range(k)]
    return out


# --------------------------------------------------------------------------- the comparison
def compare(train_store, test_store, *, lag: int, timestep_ps: float, seeds: list[int], epochs: int, batch_size: int,
            lr: float, tica_features: tuple[list, list], vampnet: bool = True) -> dict:
    """Train every method per seed, judge each the same way; return per-method results."""
    train_pos = [np.asarray(train_store.trajectory(i)) for i in range(train_store.n_trajectories)]
    test_pos = [np.asarray(test_store.trajectory(i)) for i in range(test_store.n_trajectories)]
    z = train_store.atomic_numbers
    methods: dict[str, list[dict]] = {"mdkoop_lora": [], "mdkoop_vamp2": [], "deeptime_vampnet": [], "tica": []}

    def judge(res: dict) -> dict:
        return {
            "test_vamp2": cross_validated_vamp2(res["train"], res["test"], lag, N_CV),
            "train_vamp2": cross_validated_vamp2(res["train"], res["train"], lag, N_CV),
            "timescales_ps": timescales_of_features(res["train"], lag, timestep_ps, N_CV),
            **{k: v for k, v in res.items() if k not in ("train", "test")},
        }

    for seed in seeds:
        common = dict(lag=lag, n_cv=N_CV, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, schnet=SCHNET)
        lora = fit_mdkoop(train_store, test_store, loss="lora", **common)
        methods["mdkoop_lora"].append({"seed": seed, **judge(lora)})
        print(f"  seed {seed} mdkoop LoRA: {methods['mdkoop_lora'][-1]['test_vamp2']:.4f} test VAMP-2, "
              f"{lora['steps']} steps, {lora['train_s']} s", flush=True)
        v2 = fit_mdkoop(train_store, test_store, loss="vamp2", **common)
        methods["mdkoop_vamp2"].append({"seed": seed, **judge(v2)})
        print(f"  seed {seed} mdkoop VAMP-2 loss: {methods['mdkoop_vamp2'][-1]['test_vamp2']:.4f}", flush=True)
        if vampnet:
            vn = fit_deeptime_vampnet(train_pos, test_pos, z, lag=lag, n_cv=N_CV, steps=lora["steps"],
                                      batch_size=batch_size, lr=lr, seed=seed, schnet=SCHNET)
            methods["deeptime_vampnet"].append({"seed": seed, **judge(vn)})
            print(f"  seed {seed} deeptime VAMPNet: {methods['deeptime_vampnet'][-1]['test_vamp2']:.4f}, "
                  f"{vn['steps']} steps, {vn['train_s']} s", flush=True)
    tica = fit_tica(tica_features[0], tica_features[1], lag=lag, n_cv=N_CV)
    methods["tica"].append({"seed": None, **judge(tica)})
    print(f"  TICA: {methods['tica'][-1]['test_vamp2']:.4f}", flush=True)

    summary = {}
    for name, runs in methods.items():
        if not runs:
            continue
        ts = np.array([r["timescales_ps"] for r in runs])
        summary[name] = {
            "test_vamp2_median": statistics.median(r["test_vamp2"] for r in runs),
            "test_vamp2_all": [r["test_vamp2"] for r in runs],
            "train_vamp2_median": statistics.median(r["train_vamp2"] for r in runs),
            "timescales_ps_median": [float(x) for x in np.median(ts, axis=0)],
            "runs": runs,
        }
    return summary


def _relative(a: list[float], ref: list[float]) -> list[float]:
    return [float(x / r - 1.0) for x, r in zip(a, ref)]


def run_ala2(args) -> dict:
    import mdtraj as md

    seeds_sim = (1, 2)
    dirs = ensure_ala2(args.ns, seeds_sim)
    out = WORK / "peers" / "ala2"
    stores = [prepare_store(d / "topology.pdb", d / "trajectory.xtc", out / f"store_seed{s}", "not element H")
              for d, s in zip(dirs, seeds_sim)]
    timestep_ps = float(stores[0].timestep_ps)
    lag = args.ala2_lag
    # reference MSM on (phi, psi)
    dtrajs = []
    for d in dirs:
        t = md.load(str(d / "trajectory.xtc"), top=str(d / "topology.pdb"))
        phi, psi = md.compute_phi(t)[1][:, 0], md.compute_psi(t)[1][:, 0]
        dtrajs.append(_dihedral_grid(phi, psi, args.grid))
    ref_all = msm_timescales(dtrajs, lag, timestep_ps, N_CV, bayes=args.bayes)
    ref_train = msm_timescales(dtrajs[:1], lag, timestep_ps, N_CV)
    its_vs_lag = {str(L): msm_timescales(dtrajs, L, timestep_ps, N_CV)["timescales_ps"] for L in args.msm_lags}
    phi_pos = [float(np.mean(dt // args.grid >= args.grid // 2)) for dt in dtrajs]
    print(f"ala2: {[len(x) for x in dtrajs]} frames, lag {lag * timestep_ps:g} ps; MSM (both trajs) "
          f"{np.round(ref_all['timescales_ps'], 1)} ps, train-only {np.round(ref_train['timescales_ps'], 1)} ps",
          flush=True)
    heavy = [pair_distances(np.asarray(s.trajectory(0))) for s in stores]
    summary = compare(stores[0], stores[1], lag=lag, timestep_ps=timestep_ps, seeds=args.seeds, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, tica_features=([heavy[0]], [heavy[1]]))
    for s in summary.values():
        s["timescales_rel_to_msm_all"] = _relative(s["timescales_ps_median"], ref_all["timescales_ps"])
        s["timescales_rel_to_msm_train"] = _relative(s["timescales_ps_median"], ref_train["timescales_ps"])
    return {
        "data": {"trajectories": [str(d.relative_to(ROOT)) for d in dirs], "length_ns": args.ns,
                 "frames": [len(x) for x in dtrajs], "timestep_ps": timestep_ps, "n_heavy_atoms": stores[0].n_atoms,
                 "fraction_phi_positive": phi_pos,
                 "simulate_command": "mdkoop simulate ala2 --ns {ns} --seed {1,2} --save-every 1 --threads 1"},
        "lag_frames": lag, "lag_ps": lag * timestep_ps,
        "msm": {"grid": f"{args.grid}x{args.grid} on (phi, psi)", "both": ref_all, "train_only": ref_train,
                "its_vs_lag_ps": its_vs_lag},
        "methods": summary,
        "goal": {"timescales_within": ITS_GOAL, "which": "t1 and t2 of mdkoop LoRA vs the MSM on both trajectories"},
    }


def _split_sample(out: Path, n_blocks: int) -> tuple[Path, list[Path], list[Path]]:
    """Cut the bundled sample into ``n_blocks`` contiguous blocks (XTC files); even blocks train, odd blocks test.

    The sample spends its first third mostly near the folded state and the rest unfolded, so two halves
    would test on data without a folded frame; interleaved blocks give both sets some of each. Each block
    is its own trajectory: no pair crosses a block boundary.

    Returns
    -------
    topology, train_files, test_files
    """
    import mdtraj as md

    from mdkoop.demo import sample_files

    files = sample_files()
    t = md.load(str(files["trajectory"]), top=str(files["topology"]))
    out.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, t.n_frames, n_blocks + 1).astype(int)
    paths = []
    for b in range(n_blocks):
        path = out / f"block{b}.xtc"
        t[bounds[b]:bounds[b + 1]].save_xtc(str(path))
        paths.append(path)
    return Path(files["topology"]), paths[0::2], paths[1::2]


def run_cln025(args) -> dict:
    import mdtraj as md

    from mdkoop.io.store import prepare
    from mdkoop.resources import resource_path

    out = WORK / "peers" / "cln025"
    top, train_x, test_x = _split_sample(out, args.cln_blocks)
    stores = [prepare(str(top), [str(x) for x in xs], out / f"store_{n}", select="all", overwrite=True)
              for xs, n in ((train_x, "train"), (test_x, "test"))]
    timestep_ps = float(stores[0].timestep_ps)
    lag = args.cln_lag
    topo = md.load(str(top)).topology
    ca = np.array([a.index for a in topo.atoms if a.name == "CA"])
    # the stores keep the sample's atoms in order (select="all"), so the CA indices carry over
    ca_d = [[pair_distances(np.asarray(s.trajectory(i)), ca) for i in range(s.n_trajectories)] for s in stores]
    ref = md.load(str(resource_path("cln025.pdb")))
    ref_ca = ref.topology.select("name CA")
    rmsd = [md.rmsd(md.load(str(x), top=str(top)), ref, atom_indices=ca, ref_atom_indices=ref_ca)
            for x in (*train_x, *test_x)]
    edges = np.linspace(0.0, max(float(r.max()) for r in rmsd) + 1e-6, args.rmsd_bins + 1)
    dtrajs = [np.clip(np.digitize(r, edges) - 1, 0, args.rmsd_bins - 1) for r in rmsd]
    ref_msm = msm_timescales(dtrajs, lag, timestep_ps, N_CV)
    folded = [float(np.mean(r < 0.2)) for r in rmsd]
    print(f"cln025: blocks of {[len(r) for r in rmsd]} frames, lag {lag * timestep_ps:g} ps; folded fraction "
          f"{np.round(folded, 2)}; RMSD MSM {np.round(ref_msm['timescales_ps'], 1)} ps", flush=True)
    summary = compare(stores[0], stores[1], lag=lag, timestep_ps=timestep_ps, seeds=args.seeds,
                      epochs=args.cln_epochs, batch_size=args.cln_batch_size, lr=args.cln_lr,
                      tica_features=(ca_d[0], ca_d[1]))
    for s in summary.values():
        s["timescales_rel_to_rmsd_msm"] = _relative(s["timescales_ps_median"], ref_msm["timescales_ps"])
    return {
        "data": {"source": "bundled sample (mdkoop/resources/sample), 0.75 ns at 425 K", "block_frames": [len(r) for r in rmsd],
                 "timestep_ps": timestep_ps, "n_heavy_atoms": stores[0].n_atoms,
                 "fraction_folded_rmsd_lt_0.2nm": folded,
                 "split": f"{args.cln_blocks} contiguous blocks; even blocks train, odd blocks test"},
        "lag_frames": lag, "lag_ps": lag * timestep_ps,
        "msm": {"discretisation": f"{args.rmsd_bins} bins of C-alpha RMSD to cln025.pdb (all blocks)", "both": ref_msm},
        "tica_input": "45 C-alpha pair distances",
        "methods": summary,
        "note": "indicative only: 0.75 ns with two unfolding and two refolding events",
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", choices=("ala2", "cln025", "both"), default="both")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds (default 0 1 2)")
    p.add_argument("--ns", type=float, default=20.0, help="length of each alanine-dipeptide trajectory in ns")
    p.add_argument("--ala2-lag", type=int, default=5, help="lag in frames (1 ps each; default 5)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--grid", type=int, default=20, help="(phi, psi) grid bins per angle for the reference MSM")
    p.add_argument("--bayes", type=int, default=100, help="Bayesian MSM samples for the 95%% interval (0: none)")
    p.add_argument("--msm-lags", type=int, nargs="+", default=[1, 2, 5, 10, 20, 50])
    p.add_argument("--cln-lag", type=int, default=10, help="CLN025 lag in frames (2 ps each; default 10)")
    p.add_argument("--cln-epochs", type=int, default=30)
    p.add_argument("--cln-batch-size", type=int, default=32)
    p.add_argument("--cln-lr", type=float, default=2e-3)
    p.add_argument("--rmsd-bins", type=int, default=20)
    p.add_argument("--cln-blocks", type=int, default=5, help="contiguous blocks of the CLN025 sample (even train)")
    p.add_argument("--serial", action="store_true", help="run the two systems one after the other (default: in parallel)")
    p.add_argument("--quick", action="store_true", help="smoke run: 2 ns, one seed, few epochs")
    p.add_argument("--out", default=None, help="result stem (default peers, or peers_quick with --quick)")
    args = p.parse_args(argv)
    if args.quick:
        args.ns, args.seeds, args.epochs, args.cln_epochs, args.bayes = 2.0, [0], 2, 3, 0
        args.msm_lags = [args.ala2_lag]
    torch.set_num_threads(1)
    logging.getLogger("mdkoop").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    result = {"settings": {k: v for k, v in vars(args).items()}, "schnet": SCHNET, "n_cv": N_CV}
    child = None
    if args.system == "both" and not args.serial:
        # the two systems are independent single-threaded jobs: run CLN025 in a second process (2 cores)
        argv_child = [a for a in (argv if argv is not None else sys.argv[1:]) if a not in ("--system", "both")]
        child = subprocess.Popen([sys.executable, __file__, *argv_child, "--system", "cln025", "--out", PART])
    try:
        if args.system in ("ala2", "both"):
            result["ala2"] = run_ala2(args)
        if args.system == "cln025" or (args.system == "both" and args.serial):
            result["cln025"] = run_cln025(args)
    except BaseException:
        if child is not None:  # never leave the CLN025 process running on its own
            child.kill()
            child.wait()
        raise
    if child is not None:
        if child.wait() != 0:
            raise SystemExit(f"the CLN025 comparison failed (exit {child.returncode})")
        from _common import RESULTS_DIR

        part = RESULTS_DIR / f"{PART}.json"
        result["cln025"] = json.loads(part.read_text())["cln025"]
        part.unlink()
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    write_result(args.out or ("peers_quick" if args.quick else "peers"), result)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
