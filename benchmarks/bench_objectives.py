"""Benchmark: forward+backward step time of the objectives on features (B, k).

LoRA (plain = biased estimator without nesting, joint, sequential, and the
unbiased U-statistic with joint nesting, the default) against VAMP-2 and DPNet,
for B in {96, 384, 4096} and k in {16, 64}, on CPU (and CUDA when present).
Medians over interleaved repeats; JSON to benchmarks/results/objectives.json.
The unbiased/biased cost ratio (joint nesting) decides the default of
``unbiased`` (default iff < 1.2).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_objectives.py [--repeats 15] [--quick]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_times, write_result  # noqa: E402

from mdkoop.objectives import make_loss  # noqa: E402

VARIANTS = {
    "lora_plain": ("lora", {"nesting": "none", "unbiased": False}),
    "lora_joint": ("lora", {"nesting": "joint", "unbiased": False}),
    "lora_sequential": ("lora", {"nesting": "sequential", "unbiased": False}),
    "lora_joint_unbiased": ("lora", {"nesting": "joint", "unbiased": True}),
    "lora_sequential_unbiased": ("lora", {"nesting": "sequential", "unbiased": True}),
    "vamp2": ("vamp2", {}),
    "dpnet": ("dpnet", {}),
}


def _step_fn(loss, f0, g0):
    def step():
        f = f0.detach().requires_grad_(True)
        g = g0.detach().requires_grad_(True)
        loss(f, g).backward()
        if f.is_cuda:
            torch.cuda.synchronize()
    return step


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="fewer repeats (5)")
    args = ap.parse_args(argv)
    repeats = 5 if args.quick else args.repeats
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for device in devices:
        for B in (96, 384, 4096):
            for k in (16, 64):
                gen = torch.Generator().manual_seed(0)
                f = torch.randn(B, k - 1, generator=gen).to(device)
                g = (0.5 * f.cpu() + torch.randn(B, k - 1, generator=gen)).to(device)
                fns = []
                for loss_name, kw in VARIANTS.values():
                    fn = _step_fn(make_loss(loss_name, **kw), f, g)
                    fn()  # warm-up
                    fns.append(fn)
                res = interleaved_times(fns, repeats=repeats)
                row = {"device": device, "B": B, "k": k}
                for name, r in zip(VARIANTS, res):
                    row[name + "_ms"] = 1e3 * r["median_s"]
                row["unbiased_cost_ratio"] = row["lora_joint_unbiased_ms"] / row["lora_joint_ms"]
                rows.append(row)
                print(" ".join(f"{key}={val:.3g}" if isinstance(val, float) else f"{key}={val}" for key, val in row.items()),
                      flush=True)
    ratios = [r["unbiased_cost_ratio"] for r in rows if r["device"] == "cpu"]
    summary = {
        "median_unbiased_cost_ratio_cpu": statistics.median(ratios),
        "max_unbiased_cost_ratio_cpu": max(ratios),
        "unbiased_default": statistics.median(ratios) < 1.2,
        "note": "step = forward + backward of the loss on fixed features (B, k-1 learned + constant); "
                "ms medians over interleaved repeats; ratio = joint unbiased / joint biased",
    }
    print(summary)
    write_result("objectives", {"repeats": repeats, "rows": rows, "summary": summary})


if __name__ == "__main__":
    main()
