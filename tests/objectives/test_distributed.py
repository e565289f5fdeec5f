"""Distributed moments: 2 CPU processes (gloo) give the loss and gradients of the concatenated batch."""

from __future__ import annotations

import os
import socket
import tempfile

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from mdkoop.objectives import make_loss

LOSSES = [("lora", {"nesting": "joint"}), ("lora", {"nesting": "joint", "unbiased": True}),
          ("lora", {"nesting": "sequential", "unbiased": True}), ("lora", {"nesting": "none", "unbiased": False}),
          ("vamp2", {}), ("vampe", {}), ("dpnet", {})]


def _data():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=gen, dtype=torch.float64)
    y = 0.7 * x + 0.5 * torch.randn(64, 3, generator=gen, dtype=torch.float64)
    w = torch.rand(64, generator=gen, dtype=torch.float64) + 0.5
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    torch.manual_seed(0)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.5, generator=gen)
    return x, y, w, net


def _run(rank, world, port, out_dir):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        x, y, w, net = _data()
        sl = slice(rank * 32, (rank + 1) * 32)
        results = {}
        for i, (name, kw) in enumerate(LOSSES):
            net.zero_grad()
            loss = make_loss(name, **kw)(net(x[sl]), net(y[sl]), weights=w[sl])
            loss.backward()
            grads = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
            dist.all_reduce(grads)  # what DDP does, followed by
            grads /= world         # its averaging
            results[i] = (loss.detach(), grads)
        torch.save(results, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
def test_two_process_loss_and_gradients_equal_global_batch():
    x, y, w, net = _data()
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_run, args=(2, _free_port(), tmp), nprocs=2, join=True)
        res = [torch.load(os.path.join(tmp, f"rank{r}.pt"), weights_only=True) for r in range(2)]
    for i, (name, kw) in enumerate(LOSSES):
        net.zero_grad()
        loss = make_loss(name, **kw)(net(x), net(y), weights=w)
        loss.backward()
        ref = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
        for r in range(2):
            torch.testing.assert_close(res[r][i][0], loss.detach(), rtol=1e-5, atol=1e-10, msg=f"{name} {kw} loss")
            torch.testing.assert_close(res[r][i][1], ref, rtol=1e-5, atol=1e-9, msg=f"{name} {kw} grad")
