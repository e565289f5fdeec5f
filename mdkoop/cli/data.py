"""`mdkoop data`: list the known datasets and fetch one (download, verify, extract, prepare)."""

from __future__ import annotations


def register(sub):
    """Add the ``data`` sub-command with ``list`` and ``fetch``."""
    p = sub.add_parser("data", help="list and fetch datasets (data manifests)",
                       description="Datasets described by the manifests in mdkoop/resources/manifests "
                       "(and in $MDKOOP_MANIFESTS).")
    dsub = p.add_subparsers(dest="data_command", metavar="<list|fetch>")
    pl = dsub.add_parser("list", help="list the known datasets")
    pl.add_argument("--long", action="store_true", help="also print description, citation and how to obtain")
    pl.set_defaults(func=run_list)
    pf = dsub.add_parser("fetch", help="download, verify, extract and prepare a dataset",
                         description="Download (with resume), verify checksums, extract only the needed members, "
                         "then run `mdkoop prepare` into DEST/store.")
    pf.add_argument("name", help="dataset name (see `mdkoop data list`) or path to a manifest YAML")
    pf.add_argument("--dest", default=None, help="dataset folder (default $MDKOOP_DATA/NAME or ~/.cache/mdkoop/datasets/NAME)")
    pf.add_argument("--overwrite", action="store_true", help="download, extract and prepare again")
    pf.add_argument("--no-prepare", action="store_true", help="only download and extract")
    pf.add_argument("--select", default=None, help="atom selection (mdtraj syntax) instead of the manifest's hint")
    pf.add_argument("--no-progress", action="store_true", help="no progress bars")
    pf.set_defaults(func=run_fetch)

    def no_sub(args):
        p.print_help()
        return 1

    p.set_defaults(func=no_sub)
    return p


def _fmt_size(n) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0
    return "?"  # pragma: no cover


def run_list(args) -> int:
    """Print one line per dataset (name, access, size, title)."""
    from ..io.manifests import list_manifests

    ms = list_manifests()
    width = max((len(n) for n in ms), default=4)
    print(f"{'name':<{width}}  {'access':<10}  {'size':>10}  title")
    for name, m in ms.items():
        size = _fmt_size(m.total_size) if m.access == "download" else "-"
        print(f"{name:<{width}}  {m.access:<10}  {size:>10}  {m.title}")
        if args.long:
            for label, text in (("description", m.description), ("citation", m.citation), ("licence", m.licence),
                                ("obtain", m.obtain), ("manifest", str(m.source))):
                print(f"{'':<{width}}  {label}: {text}")
            print()
    return 0


def run_fetch(args) -> int:
    """Fetch one dataset and print where its store is."""
    from ..io.fetch import fetch

    res = fetch(args.name, args.dest, overwrite=args.overwrite, prepare=not args.no_prepare,
                progress=not args.no_progress, select=args.select)
    print(f"{res.manifest.name}: {len(res.trajectories)} trajectories, topology {res.topology}")
    if res.store is not None:
        s = res.store
        print(f"  store: {s.path} ({s.n_trajectories} trajectories, {s.n_frames} frames, {s.n_atoms} atoms, "
              f"{s.timestep_ps:g} ps per frame)")
    print(f"  cite: {res.manifest.citation}")
    return 0
