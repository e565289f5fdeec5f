"""Tests of the benchmark driver (benchmarks/run_all.py) and the results table (benchmarks/make_results.py).

Synthetic result JSONs with known values in a tmp folder; no benchmark is actually run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


mr = _load("make_results")
ra = _load("run_all")
base = sys.modules["_results_base"]  # statuses, JSON access, commands
sp = sys.modules["_results_speed"]  # speed and cost figures
sc = sys.modules["_results_science"]  # accuracy figures

MACHINE = {
    "cpu_count": 2,
    "torch_threads": 1,
    "torch": "2.13.0+cpu",
    "cuda": None,
    "utc": "2026-11-28T23:00:00+00:00",
    "python": "3.11.7",
    "numpy": "2.4.6",
    "platform": "Linux-test",
}


def _write(folder: Path, stem: str, doc) -> None:
    (folder / f"{stem}.json").write_text(json.dumps(doc) if not isinstance(doc, str) else doc)


def _run(results: Path, out: Path) -> tuple[list, str]:
    rc = mr.main(["--results", str(results), "--out", str(out)])
    assert rc == 0
    docs, errors = base.load_results(results)
    return mr.build_rows(docs, errors), out.read_text()


def _table_rows(text: str) -> list[list[str]]:
    """Cells of the main results table (the one whose header starts with '| # |')."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # | figure"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.replace("\\|", "\x00").strip("|").split("|")]
        rows.append(cells)
    return rows


def _by_figure(rows, *words):
    hits = [r for r in rows if all(w in r.figure for w in words)]
    assert hits, f"no row with {words}"
    return hits


def test_empty_results_all_not_measured_with_commands(tmp_path):
    rows, text = _run(tmp_path / "nothing_here", tmp_path / "R.md")
    assert len(rows) >= 14
    for r in rows:
        assert r.goal.strip() and r.goal != "—", r
        assert r.status == base.NOT_MEASURED, r
        assert r.command.strip(), r
        assert r.note.strip(), r  # says why
    assert "bench_prepare.py" in _by_figure(rows, "prepare", "mdtraj.load")[0].command
    assert "bench_training.py" in _by_figure(rows, "training pairs/s", "heavy")[0].command
    cells = _table_rows(text)
    assert len(cells) == len(rows)
    assert all(len(c) == 8 for c in cells)
    assert "NOT measured here" in text and "Shared CPU" in text


def test_known_values_give_statuses(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    _write(
        res,
        "bench_prepare",
        {
            "machine": MACHINE,
            "ratio_prepare_over_mdtraj_load": 1.6,
            "prepare_frames_per_s": 21.0,
            "mdtraj_load_frames_per_s": 13.1,
            "frames_1x": 100,
            "command": ".venv/bin/python benchmarks/bench_prepare.py --frames 100",
            "peak_rss_bytes": {
                "prepare_1x": 100 * 2**20,
                "prepare_10x": 130 * 2**20,
                "mdtraj_load_1x": 100 * 2**20,
                "mdtraj_load_10x": 400 * 2**20,
            },
        },
    )
    _write(
        res,
        "bench_graphs",
        {
            "machine": MACHINE,
            "cases": {
                "heavy": {"ratio_radius_graph_over_matscipy": 13.4, "n_atoms": 97},
                "all": {"ratio_radius_graph_over_matscipy": 2.7, "n_atoms": 175},
            },
        },
    )
    _write(
        res,
        "objectives",
        {
            "machine": MACHINE,
            "rows": [
                {
                    "device": "cpu",
                    "B": 96,
                    "k": 16,
                    "lora_joint_ms": 1.0,
                    "vamp2_ms": 2.0,
                    "unbiased_cost_ratio": 1.1,
                },
                {
                    "device": "cpu",
                    "B": 384,
                    "k": 16,
                    "lora_joint_ms": 3.0,
                    "vamp2_ms": 2.0,
                    "unbiased_cost_ratio": 1.15,
                },
                {
                    "device": "cpu",
                    "B": 4096,
                    "k": 16,
                    "lora_joint_ms": 1.0,
                    "vamp2_ms": 1.0,
                    "unbiased_cost_ratio": 1.5,
                },
            ],
        },
    )
    _write(res, "bench_loader", "{not json")
    rows, text = _run(res, tmp_path / "R.md")
    assert all(r.status in base.STATUSES and r.goal for r in rows)

    tp = _by_figure(rows, "prepare", "mdtraj.load")[0]
    assert (
        tp.status == base.MET and tp.measured.startswith("1.60x") and tp.source == "results/bench_prepare.json"
    )
    assert "2026-11-28T23:00:00" in tp.machine
    assert tp.command == ".venv/bin/python benchmarks/bench_prepare.py --frames 100"  # as the JSON records it
    rss = _by_figure(rows, "peak RSS", "10x")[0]
    assert rss.status == base.NOT_MET and rss.measured.startswith("1.30")  # 130/100 > 1.2, computed from bytes
    assert "4.00x" in rss.note  # mdtraj.load contrast
    heavy, all_ = (
        _by_figure(rows, "radius graph", "heavy")[0],
        _by_figure(rows, "radius graph", "all atoms")[0],
    )
    assert (heavy.status, all_.status) == (base.MET, base.NOT_MET)
    unb = _by_figure(rows, "unbiased")[0]
    assert unb.status == base.MET and unb.measured.startswith("1.15x")  # median of 1.1, 1.15, 1.5 < 1.2
    lv = _by_figure(rows, "LoRA (joint)", "VAMP-2")[0]
    assert lv.status == base.MET and lv.measured.startswith("1.00x")  # median of 0.5, 1.5, 1.0
    # the unreadable loader JSON and the missing training JSON: not measured, with the reason
    loader = _by_figure(rows, "DataLoader")[0]
    assert loader.status == base.NOT_MEASURED and "unreadable" in loader.note
    for r in _by_figure(rows, "training pairs/s"):
        assert r.status == base.NOT_MEASURED and "does not exist" in r.note and "bench_training.py" in r.command
    assert "unreadable JSON" in text
    assert "**NOT met**" in text and len(_table_rows(text)) == len(rows)


def _run_rec(pipeline, atoms, batch, thp, step_s, cpu_s, rss_gb, frac=0.1, **extra):
    return {
        "pipeline": pipeline,
        "atoms": atoms,
        "batch": batch,
        "thp": thp,
        "threads": 1,
        "median_step_s": step_s,
        "pairs_per_s": batch / step_s,
        "pairs_per_cpu_s": batch / cpu_s,
        "peak_rss_bytes": rss_gb * 2**30,
        "fraction_of_matmul_peak": frac,
        "gflops_per_s": 5.0,
        "load_avg": [3.0, 2.0, 1.0],
        **extra,
    }


def test_training_partial_files_are_combined(tmp_path):
    """Separate invocations (lean runs, baseline runs) are combined by ``bench_training.py --merge`` (ratios recomputed)."""
    res = tmp_path / "results"
    res.mkdir()
    _write(
        res,
        "training_lean",
        {
            "machine": MACHINE,
            "matmul_peak": {"matmul_gflops": 50.0},
            "runs": [
                _run_rec("lean", "heavy", 384, 1, 4.0, 4.0, 1.0),
                _run_rec("lean", "all", 384, 1, 20.0, 20.0, 2.0),
                _run_rec("lean", "all", 192, 1, 10.0, 10.0, 1.5),
            ],
            "ratios": [],
        },
    )
    _write(
        res,
        "training_base",
        {
            "machine": MACHINE,
            "runs": [
                _run_rec("baseline", "heavy", 384, 1, 16.0, 12.0, 10.0),
                _run_rec("baseline", "all", 192, 1, 15.0, 15.0, 14.0),
                {
                    "pipeline": "baseline",
                    "atoms": "all",
                    "batch": 384,
                    "thp": 1,
                    "error": "killed: resident memory exceeded the 16.0 GB cap",
                },
            ],
            "ratios": [],
        },
    )
    rows, _ = _run(res, tmp_path / "R.md")  # partial files alone: not measured, with the command that combines them
    assert "training_base, training_lean" in _by_figure(rows, "training pairs/s", "heavy")[0].note
    _write(res, "training_quick", {"machine": MACHINE, "runs": [_run_rec("lean", "heavy", 32, 1, 100.0, 1.0, 1.0)]})
    parts = [str(res / "training_base.json"), str(res / "training_lean.json")]
    subprocess.run([sys.executable, str(BENCH / "bench_training.py"), "--merge", *parts, "--out", "training"],
                   check=True, env={**os.environ, "MDKOOP_BENCH_RESULTS_DIR": str(res)}, capture_output=True)
    rows, text = _run(res, tmp_path / "R.md")
    heavy = _by_figure(rows, "training pairs/s", "heavy")
    assert len(heavy) == 1 and heavy[0].status == base.MET  # 96 / 24 pairs/s = 4x
    assert heavy[0].measured.startswith("4.00x wall (3.00x per CPU-s)")
    assert heavy[0].source == "results/training.json" and "merged from training_base.json, training_lean.json" in heavy[0].note
    allr = {r.measured.split(";")[1].strip(): r for r in _by_figure(rows, "training pairs/s", "all atoms")}
    assert allr["lean batch 192 vs baseline batch 192, THP=1"].status == base.NOT_MET  # 19.2 / 12.8 = 1.5x
    assert allr["lean batch 384 vs baseline batch 192, THP=1"].status == base.NOT_MET
    mem_h = _by_figure(rows, "peak RSS at batch 384", "heavy")[0]
    assert mem_h.status == base.MET and mem_h.measured.startswith("0.100")
    mem_a = _by_figure(rows, "peak RSS at batch 384", "all")[0]
    assert mem_a.status == base.MET and "exceeded" in mem_a.note and "batch 192" in mem_a.note
    flop = _by_figure(rows, "GFLOP/s", "heavy")[0]
    assert flop.status == base.REPORTED and "10.0%" in flop.measured and "50.0 GFLOP/s" in flop.note
    assert "b32" not in flop.measured  # the quick file is not mixed in
    assert "killed: resident memory" in text  # training runs table
    assert "Training figures come from separate invocations" in text and "lean 3.0-3.0, baseline" in text
    assert heavy[0].command == base.COMMANDS["training"]  # a combination of invocations: the full command


def test_recorded_command(tmp_path):
    """Each script records its own command line; the table shows it, else the documented command."""
    script = BENCH / "bench_objectives.py"
    code = ("import sys; sys.path.insert(0, sys.argv[1]); sys.argv = [sys.argv[2], '--repeats', '21'];"
            "import _common; print(_common.invocation())")
    out = subprocess.run([sys.executable, "-c", code, str(BENCH), str(script)], capture_output=True, text=True,
                         env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}, check=True).stdout.strip()
    assert out == "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_objectives.py --repeats 21"
    ctx = base.Context({"objectives": {"command": out}, "bench_graphs": {}, "training": {"merged_from": ["a"], "command": "x"}})
    assert ctx.command("objectives") == out
    assert ctx.command("bench_graphs") == base.COMMANDS["bench_graphs"]
    assert ctx.command("training") == base.COMMANDS["training"]  # a merge of invocations: the full command


def test_machine_line_and_helpers():
    assert base.machine_line(None) == "—"
    assert "2 CPU" in base.machine_line({"machine": MACHINE})
    assert base.at({"a": {"b": 1}}, "a", "b") == 1 and base.at({"a": 1}, "a", "b", default="x") == "x"
    assert base.num("nan") is None and base.num("2") == 2.0 and base.num(None) is None
    fig = base.Figure("objectives", "x", "≥ 1", lambda d: "m", lambda d: d.get("v"), (">=", 1.0))
    status = [base.rows_of([fig], base.Context({"objectives": {"v": v}}))[0].status for v in (1.0, 0.5, None)]
    assert status == [base.MET, base.NOT_MET, base.NOT_MEASURED]
    graphs = next(b for b in ra.BENCHES if b.result == "bench_graphs")  # run_all owns the commands
    assert base.COMMANDS["bench_graphs"] == ra.display_command(graphs, False, "1")


def test_run_all_help_and_dry_run(tmp_path):
    out = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "--quick" in out.stdout and "--only" in out.stdout
    out = subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), "--dry-run", "--quick", "--only", "graphs"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    assert (
        lines[0] == ".venv/bin/python benchmarks/bench_graphs.py --repeats 1"
        and "make_results.py" in lines[1]
    )
    with pytest.raises(SystemExit, match="unknown benchmark nope"):
        ra.select(["nope"])
    assert [b.name for b in ra.select(None)] == [
        "prepare",
        "graphs",
        "loader",
        "objectives",
        "training",
        "stability",
        "ground_truth",
        "inference",
        "openmm_step",
        "threads",
        "peers",
        "lora_diagnosis",
        "encoders",
    ]


def test_run_one_records_failure_and_timeout(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sys\nprint('working')\nprint('boom: broken input', file=sys.stderr)\nsys.exit(3)\n"
    )
    slow = tmp_path / "slow.py"
    slow.write_text("import time\nprint('start', flush=True)\ntime.sleep(60)\n")
    env = {"PATH": "/usr/bin:/bin"}
    rec = ra.run_one(ra.Bench("bad", str(bad), "bad"), False, env, 30)
    assert rec["rc"] == 3 and "boom: broken input" in rec["error_tail"] and rec["result"] == "bad"
    rec = ra.run_one(ra.Bench("slow", str(slow), "slow"), False, env, 1.0)
    assert rec["rc"] == 124 and "timed out" in rec["error_tail"] and rec["wall_s"] < 30
    ok = tmp_path / "ok.py"
    ok.write_text("print('fine')\n")
    assert ra.run_one(ra.Bench("ok", str(ok), "ok"), False, env, 30)["rc"] == 0


def test_failed_script_in_log_is_the_reason(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    _write(
        res,
        "run_all",
        {
            "quick": False,
            "scripts": [
                {
                    "name": "graphs",
                    "result": "bench_graphs",
                    "command": "python benchmarks/bench_graphs.py --repeats 5",
                    "rc": 1,
                    "wall_s": 3.0,
                    "error_tail": "Traceback\nValueError: bad cutoff",
                },
            ],
        },
    )
    rows, text = _run(res, tmp_path / "R.md")
    g = _by_figure(rows, "radius graph", "heavy")[0]
    assert g.status == base.NOT_MEASURED and "rc=1" in g.note and "bad cutoff" in g.note
    assert g.command == "python benchmarks/bench_graphs.py --repeats 5"
    assert "FAILED (rc=1)" in text


def test_gpu_figures_reported_when_present(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    gpu_machine = {**MACHINE, "cuda": "NVIDIA H200"}
    _write(
        res,
        "bench_graphs",
        {
            "machine": gpu_machine,
            "cases": {
                "heavy": {"ratio_radius_graph_over_matscipy": 12.0, "cuda_radius_graph_graphs_per_s": 50000.0}
            },
        },
    )
    rows, _ = _run(res, tmp_path / "R.md")
    g = _by_figure(rows, "GPU radius graphs/s", "heavy")[0]
    assert g.status == base.REPORTED and g.measured == "50000 graphs/s" and "NVIDIA H200" in g.figure
    assert _by_figure(rows, "GPU training")[0].status == base.NOT_MEASURED
    rows, _ = _run(tmp_path / "none", tmp_path / "R2.md")
    assert "no GPU" in _by_figure(rows, "GPU figures")[0].note


def test_display_prefix(tmp_path):
    res = tmp_path / "results"
    assert mr.display_prefix(res, tmp_path / "RESULTS.md") == "results"
    assert mr.display_prefix(res, res / "RESULTS.md") == "."
    assert mr.display_prefix(BENCH / "results", tmp_path / "x.md") == "benchmarks/results"


def _stab(loss, b, runs=5, nan=0, div=0, test=3.0):
    return {
        "loss": loss,
        "batch_size": b,
        "runs": runs,
        "nan": nan,
        "diverged": div,
        "collapsed": 0,
        "test_vamp2_median": test,
        "test_vamp2_min": test - 0.1,
        "test_vamp2_max": test + 0.1,
        "train_vamp2_median": test + 1,
    }


def test_stability_rows(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    rows_ok = [_stab("lora-joint", 16), _stab("lora-none", 384), _stab("vamp2", 16, nan=1, div=2, test=1.5)]
    rows_ok[2]["last_batch_loss_median"] = -15.84  # a saturated batch VAMP-2 objective
    _write(
        res,
        "stability",
        {"machine": MACHINE, "max_vamp2": 16, "settings": {"seeds": 5, "steps": 300}, "rows": rows_ok},
    )
    rows, text = _run(res, tmp_path / "R.md")
    lora = _by_figure(rows, "LoRA (joint, sequential, none)")[0]
    assert lora.status == base.MET and lora.measured.startswith("0 of 10 runs")
    v2 = _by_figure(rows, "vamp2: NaN")[0]
    assert v2.status == base.REPORTED and "b16: 1 NaN, 2 div / 5" in v2.measured
    held = _by_figure(rows, "held-out VAMP-2", "batch 16")[0]
    assert "vamp2 1.50 (all training pairs 2.50; last-batch VAMP objective 15.84)" in held.measured
    assert "lora-joint 3.00 (all training pairs 4.00)" in held.measured and "lora-none" not in held.measured
    assert "### Stability sweep" in text and "Stability table (§4" not in text  # no longer listed as missing
    _write(res, "stability", {"machine": MACHINE, "rows": [_stab("lora-sequential", 16, div=1)]})
    rows, _ = _run(res, tmp_path / "R.md")
    assert _by_figure(rows, "LoRA (joint, sequential, none)")[0].status == base.NOT_MET


def test_run_all_main_end_to_end(tmp_path, monkeypatch):
    """main(): a failing script is recorded, a missing one skipped, and RESULTS.md is still written."""
    bad = tmp_path / "bad.py"
    bad.write_text("raise SystemExit('no data')\n")
    ok = tmp_path / "ok.py"
    ok.write_text("print('fine')\n")
    benches = (
        ra.Bench("graphs", str(bad), "bench_graphs"),
        ra.Bench("ok", str(ok), "ok"),
        ra.Bench("gone", str(tmp_path / "missing.py"), "gone"),
    )
    monkeypatch.setattr(ra, "BENCHES", benches)
    res, out = tmp_path / "res", tmp_path / "R.md"
    rc = ra.main(["--results", str(res), "--out", str(out)])
    assert rc == 1  # one script failed
    log = json.loads((res / "run_all.json").read_text())
    state = {r["name"]: (r["rc"], r.get("skipped")) for r in log["scripts"]}
    assert (
        state["graphs"][0] == 1 and state["ok"] == (0, None) and state["gone"][0] is None and state["gone"][1]
    )
    text = out.read_text()
    assert (
        "FAILED (rc=1)" in text and "skipped" in text and "no data" in text
    )  # the failure is the reason shown


def test_stability_quick_fallback(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    _write(res, "stability_quick", {"machine": MACHINE, "rows": [_stab("lora-joint", 16, runs=1)]})
    rows, text = _run(res, tmp_path / "R.md")
    lora = _by_figure(rows, "LoRA (joint, sequential, none)")[0]
    assert (
        lora.status == base.MET
        and "quick smoke run" in lora.note
        and lora.source == "results/stability_quick.json"
    )
    assert "results/stability_quick.json)" in text


def _gt_doc(h_joint=0.02, h_seq=0.08, vs_msm=0.01, vs_exact=0.2, seeds=3):
    meth = {m: {"hausdorff": {"median": h, "max": h + 0.01}, "sv_abs_err_max": {"median": 0.004}}
            for m, h in (("lora_joint", h_joint), ("lora_sequential", h_seq), ("vamp2", 0.05))}
    return {"machine": MACHINE, "seeds": seeds, "logistic_map": {"methods": meth},
            "prinz": {"lag_time": 0.05, "max_rel_err_vs_msm": {"median": vs_msm, "max": 0.02},
                      "max_rel_err_vs_exact": {"median": vs_exact, "max": 0.25},
                      "msm_max_rel_err_vs_exact": {"median": 0.048}}}


def test_ground_truth_rows():
    def gt_rows(docs):
        return base.rows_of(sc.GROUND_TRUTH, base.Context(docs))

    rows = gt_rows({"ground_truth": _gt_doc()})
    assert len(rows) == 5
    joint, seq, vamp, msm, exact = rows
    assert joint.status == base.MET and joint.measured.startswith("0.020 (max 0.030)") and "joint" in joint.figure
    assert seq.status == base.NOT_MET and "sequential" in seq.figure
    assert vamp.status == base.REPORTED and "VAMP-2" in vamp.figure and "baseline" in vamp.goal  # a peer: no goal
    assert msm.status == base.MET and msm.measured == "1.0% (max 2.0%)" and "MSM" in msm.figure
    assert exact.status == base.NOT_MET and "4.8% off" in exact.note
    assert all(r.source == "results/ground_truth.json" and "bench_ground_truth.py" in r.command for r in rows)
    # quick run only: used and flagged; nothing: not measured with the command
    quick = gt_rows({"ground_truth_quick": _gt_doc(seeds=1)})
    assert quick[0].status == base.MET and "quick smoke run" in quick[0].note
    assert quick[0].source == "results/ground_truth_quick.json" and quick[0].command.endswith("--quick")
    none = gt_rows({})
    assert [r.status for r in none] == [base.NOT_MEASURED] * 5
    assert "ground_truth.json does not exist" in none[0].note and "bench_ground_truth.py" in none[0].command


def _inf_case(n_atoms, transform, ts, base, per_frame_ms):
    return {
        "n_atoms": n_atoms,
        "n_frames": 512,
        "n_frames_per_frame_calls": 64,
        "batch_size": 512,
        "frames_per_s": {"transform": transform, "torchscript_batched": ts, "baseline": base},
        "ratio_transform_over_baseline": transform / base,
        "ratio_torchscript_batched_over_baseline": ts / base,
        "torchscript_per_frame_ms_per_call": per_frame_ms,
    }


def test_inference_rows(tmp_path):
    """inference_rows: transform ÷ baseline against the 2x goal, TorchScript rows reported, quick fallback."""
    res = tmp_path / "results"
    res.mkdir()
    rows = base.rows_of(sp.INFERENCE, base.Context({}))
    assert len(rows) == 6 and all(r.status == base.NOT_MEASURED and "does not exist" in r.note for r in rows)
    assert rows[0].command == "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_inference.py --repeats 3 --frames 512 --single 64"
    doc = {
        "machine": {**MACHINE, "omp_num_threads": "1"},
        "repeats": 3,
        "goal_ratio": 2.0,
        "cases": {"heavy": _inf_case(97, 200.0, 280.0, 50.0, 5.25), "all": _inf_case(175, 45.0, 60.0, 25.0, 9.0)},
    }
    _write(res, "inference", doc)
    docs, errors = base.load_results(res)
    rows = base.rows_of(sp.INFERENCE, base.Context(docs, errors))
    heavy = _by_figure(rows, "`model.transform`", "heavy")[0]
    assert heavy.status == base.MET and heavy.measured.startswith("4.00x (200.0 vs 50.0 frames/s; 97 atoms")
    assert heavy.source == "results/inference.json" and "2026-11-28T23:00:00" in heavy.machine
    assert heavy.command == (
        "OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_inference.py --repeats 3 --frames 512 --single 64"
    )
    allr = _by_figure(rows, "`model.transform`", "all 175")[0]
    assert allr.status == base.NOT_MET and allr.measured.startswith("1.80x")  # 45 / 25 < 2
    ts = _by_figure(rows, "TorchScript", "batched", "heavy")[0]
    assert ts.status == base.REPORTED and ts.measured.startswith("5.60x")
    pf = _by_figure(rows, "one frame per call", "all 175")[0]
    assert pf.status == base.REPORTED and pf.measured.startswith("9.00 ms per call")
    # only a quick run: used, and flagged as such
    (res / "inference.json").rename(res / "inference_quick.json")
    docs, errors = base.load_results(res)
    rows = base.rows_of(sp.INFERENCE, base.Context(docs, errors))
    q = _by_figure(rows, "`model.transform`", "heavy")[0]
    assert q.source == "results/inference_quick.json" and "quick smoke run" in q.note and q.status == base.MET


def _peers_doc(t1=12.7, lora_v=1.49, tica_v=1.48, vampnet_v=1.50):
    def method(t, v):
        return {"timescales_ps_median": [t, 1.0, 0.9], "test_vamp2_median": v, "test_vamp2_all": [v - 0.01, v, v + 0.01],
                "train_vamp2_median": v}

    return {
        "machine": MACHINE,
        "settings": {"seeds": [0, 1, 2]},
        "wall_s": 600.0,
        "ala2": {
            "lag_ps": 5.0,
            "data": {"length_ns": 20.0, "fraction_phi_positive": [0.0003, 0.0005]},
            "msm": {"both": {"timescales_ps": [13.9, 2.3, 2.2], "ci95_ps": [[13.5, 14.4], [2.4, 4.1], [2.4, 4.1]]},
                    "train_only": {"timescales_ps": [13.5, 3.2, 3.2]}},
            "methods": {"mdkoop_lora": method(t1, lora_v), "mdkoop_vamp2": method(13.3, 1.49),
                        "deeptime_vampnet": method(13.3, vampnet_v), "tica": method(13.0, tica_v)},
        },
        "cln025": {"lag_ps": 20.0, "msm": {"both": {"timescales_ps": [87.0, 34.0, 17.0]}},
                   "methods": {"mdkoop_lora": method(40.0, 1.3), "tica": method(500.0, 1.9)}},
    }


def test_peers_rows(tmp_path):
    """peers_rows: t1 within 15% of the MSM, test VAMP-2 against each peer, CLN025 reported, missing and quick cases."""
    rows = base.rows_of(sc.PEER_FIGURES, base.Context({}))
    assert rows and all(r.status == base.NOT_MEASURED for r in rows)
    assert all("bench_peers.py" in r.command for r in rows)
    res = tmp_path / "results"
    res.mkdir()
    _write(res, "peers", _peers_doc())
    docs, errors = base.load_results(res)
    rows = base.rows_of(sc.PEER_FIGURES, base.Context(docs, errors))
    t1, peers_t1, v_tica, v_vampnet, cln_v, cln_t = rows
    assert t1.status == base.MET and "12.7 vs 13.9 ps (-8.6%)" in t1.measured and "13.5–14.4" in t1.measured
    assert peers_t1.status == base.REPORTED and "deeptime VAMPNet" in peers_t1.measured
    assert v_tica.status == base.MET and "(+0.0100)" in v_tica.measured
    assert v_vampnet.status == base.NOT_MET and "(-0.0100)" in v_vampnet.measured
    assert cln_v.status == cln_t.status == base.REPORTED and "indicative" in cln_v.goal
    _write(res, "peers", _peers_doc(t1=11.0))  # -20.9%: outside 15%
    docs, errors = base.load_results(res)
    assert base.rows_of(sc.PEER_FIGURES, base.Context(docs, errors))[0].status == base.NOT_MET
    (res / "peers.json").rename(res / "peers_quick.json")
    docs, errors = base.load_results(res)
    quick = base.rows_of(sc.PEER_FIGURES, base.Context(docs, errors))
    assert "quick smoke run" in quick[0].note


def test_lora_diagnosis_rows_from_a_synthetic_json():
    from _results_base import Context

    NAME = "lora_diagnosis_cln025"

    def lora_diagnosis_rows(ctx):
        return base.rows_of(sc.STUDIES[:1], ctx)

    run = {"judge_test_vamp2": 2.6, "slowest_its_ps": 300.0, "epochs": 20, "wall_s": 310.0}
    doc = {"machine": {"utc": "2026-12-02T00:00:00+00:00"},
           "reference": {"tica_ca_distances": {"judge_test_vamp2": 2.53},
                         "vampnet_mlp_ca_distances": [{"judge_test_vamp2": 2.52}, {"judge_test_vamp2": 2.55}]},
           "experiments": {"old defaults": {"runs": [{**run, "judge_test_vamp2": 1.47}]},
                           "defaults, 20 epochs": {"runs": [run]}}}
    rows = lora_diagnosis_rows(Context({NAME: doc}))
    assert [r.status for r in rows] == ["reported", "met"]
    assert "1.470" in rows[0].measured and "2.600" in rows[1].measured and "2.550" in rows[1].goal
    doc["experiments"]["defaults, 20 epochs"]["runs"][0]["judge_test_vamp2"] = 2.5
    assert lora_diagnosis_rows(Context({NAME: doc}))[1].status == "NOT met"
    assert lora_diagnosis_rows(Context({}))[0].status == "not measured"


def test_threads_and_openmm_step_rows():
    """The default's loaded/idle ratio is judged against 0.5; the other configurations and the OpenMM cost are reported."""
    rows = base.rows_of([sp.THREADS], base.Context({}))
    assert rows[0].status == base.NOT_MEASURED and "threads.json does not exist" in rows[0].note

    def cfg(idle, loaded):
        return {"idle_pairs_per_s": idle, "loaded_pairs_per_s": loaded, "loaded_over_idle": loaded / idle}

    doc = {"machine": MACHINE, "repeats": 3, "n_load_processes": 2,
           "configurations": {"torch default": cfg(400.0, 20.0), "mdkoop default": cfg(400.0, 240.0),
                              "--threads 1": cfg(250.0, 200.0)}}
    rows = base.rows_of([sp.THREADS], base.Context({"threads": doc}))
    assert [r.status for r in rows] == [base.MET, base.REPORTED, base.REPORTED]
    assert "`mdkoop default`" in rows[0].figure and rows[0].measured.startswith("0.60 (240 vs 400 pairs/s")
    doc["configurations"]["mdkoop default"] = cfg(400.0, 100.0)
    assert base.rows_of([sp.THREADS], base.Context({"threads": doc}))[0].status == base.NOT_MET
    om = base.rows_of([sp.OPENMM], base.Context({"openmm_step": {"machine": MACHINE, "n_cv": 3, "n_model_atoms": 97,
                                                         "ms_per_step": {"per_cv_modules": 30.0, "restraint_module": 10.0}}}))
    assert om[0].status == base.REPORTED and om[0].measured.startswith("3.00x (30.00 vs 10.00 ms")
    assert base.rows_of([sp.OPENMM], base.Context({}))[0].status == base.NOT_MEASURED
