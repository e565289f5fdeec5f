"""`mdkoop info`: print what a store holds."""

from __future__ import annotations


def register(sub):
    p = sub.add_parser("info", help="print what a store holds",
                       description="Print a summary of a trajectory store made by `mdkoop prepare`.")
    p.add_argument("store", metavar="STORE", help="store directory")
    p.add_argument("--json", action="store_true", help="print the raw store.json instead")
    p.set_defaults(func=run)
    return p


def summary(store) -> str:
    """A readable multi-line summary of a :class:`~mdkoop.io.store.TrajectoryStore`."""
    import numpy as np

    from ..units import format_time_ps

    m = store.metadata
    lengths = store.trajectory_lengths
    dt = store.timestep_ps
    z, counts = np.unique(store.atomic_numbers, return_counts=True)
    from mdtraj.core import element as _el

    def sym(k):
        try:
            return _el.Element.getByAtomicNumber(int(k)).symbol
        except Exception:  # noqa: BLE001
            return "?"

    comp = " ".join(f"{sym(k)}{c}" for k, c in zip(z, counts))
    lines = [
        f"store        {store.path}",
        f"trajectories {store.n_trajectories}",
        f"frames       {store.n_frames} (per trajectory: min {lengths.min()}, max {lengths.max()})",
        f"atoms        {store.n_atoms} of {m.get('n_atoms_topology', '?')} ({comp})",
        f"selection    {store.selection!r} ({m.get('engine')})",
        f"timestep     {format_time_ps(dt)} per frame (stride {m.get('stride', 1)}, from {m.get('timestep_source', '?')})",
        f"total time   {format_time_ps(dt * max(0, store.n_frames - store.n_trajectories))} "
        f"(longest trajectory {format_time_ps(dt * max(0, int(lengths.max()) - 1))})",
        f"made whole   {'yes' if m.get('made_whole') else 'no (no bonds)'}",
        f"topology     {m['topology']['name']} -> {store.topology_path.name}",
        f"size         {sum((store.path / t['file']).stat().st_size for t in m['trajectories']) / 2**20:.1f} MiB",
        "sources:",
    ]
    for i, t in enumerate(m["trajectories"]):
        s = t["source"]
        lines.append(f"  [{i}] {s['name']}  {t['n_frames']} frames  {s['size'] / 2**20:.1f} MiB  sha256 {s['sha256'][:12]}")
    return "\n".join(lines)


def run(args) -> int:
    import json

    from ..io.store import TrajectoryStore

    store = TrajectoryStore.open(args.store)
    print(json.dumps(store.metadata, indent=1) if args.json else summary(store))
    return 0
