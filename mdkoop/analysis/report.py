"""A self-contained HTML report: the summary's numbers in tables, the figures embedded as base64 PNG.

The page loads nothing from the network and needs no other file, so it can be
mailed or archived on its own.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..units import format_time_ps
from ..utils.files import atomic_file

__all__ = ["render_report", "write_report", "embed_png"]

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1em}
h1{font-size:1.6em;margin-bottom:0.2em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:0.2em;
margin-top:1.8em}
table{border-collapse:collapse;margin:0.6em 0 1em 0;font-size:0.92em}
th,td{border:1px solid #ccc;padding:0.25em 0.7em;text-align:right}th{background:#f2f2f2}
td.k,th.k{text-align:left}.note{color:#666;font-size:0.9em}
figure{margin:1em 0;text-align:center}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:0.9em}
"""

#: figure file name -> caption
CAPTIONS = {
    "implied_timescales.png": "Implied timescales re-estimated on the learned features at several lag times "
    "(log scale; shaded bands: bootstrap confidence intervals; grey: timescales shorter than the lag "
    "cannot be resolved). Curves that level off indicate Markovian, converged slow processes; curves that keep "
    "rising with the lag mean the data (or the lag) do not converge that process yet.",
    "ck_test.png": "Chapman–Kolmogorov test on a k-means MSM of the CVs with PCCA+ metastable sets: "
    "probabilities predicted from the training lag versus estimated directly at multiples of it.",
    "spectrum.png": "Singular values (and eigenvalue moduli) of the Koopman model at the training lag.",
    "free_energy.png": "Free energy (kT) over the slowest CVs; with --reference, the mean RMSD to the reference "
    "structure in each bin.",
    "cv_timeseries.png": "The slowest CVs along the trajectories.",
    "training_curves.png": "Training curves from metrics.csv.",
}


def embed_png(path) -> str:
    """An ``<img>`` tag holding the PNG at ``path`` as a base64 data URI."""
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG"):
        raise InputError(f"{str(path)!r} is not a PNG image.")
    b64 = base64.b64encode(data).decode("ascii")
    return f'<img src="data:image/png;base64,{b64}" alt="{html.escape(Path(path).name)}">'


def _fmt(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not np.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    if isinstance(v, complex):
        return f"{v.real:.4g}{v.imag:+.4g}i"
    return html.escape(str(v))


def _kv_table(rows: list[tuple[str, object]]) -> str:
    body = "".join(f'<tr><td class="k">{html.escape(k)}</td><td>{_fmt(v)}</td></tr>' for k, v in rows)
    return f"<table><tr><th class='k'>quantity</th><th>value</th></tr>{body}</table>"


def _timescale_table(summary: dict) -> str:
    ts = summary.get("timescales_ps") or []
    lo = summary.get("timescales_ci_lower_ps") or [None] * len(ts)
    hi = summary.get("timescales_ci_upper_ps") or [None] * len(ts)
    sv = summary.get("singular_values") or []
    ev = summary.get("eigenvalues") or []
    conf = summary.get("confidence")
    ci_head = f"{int(round(100 * conf))}% CI (ps)" if conf else "CI (ps)"
    resolved = summary.get("resolved") or []
    not_estimated = {d.get("process"): d for d in summary.get("not_estimated") or []}
    rows = []
    for i in range(max(len(ts), len(sv))):
        t = ts[i] if i < len(ts) else None
        state = "—" if i >= len(resolved) else ("yes" if resolved[i] else "no (faster than the lag, or value ~0)")
        if i + 1 in not_estimated:
            state = "no (not estimated: the learned functions are linearly dependent)"
        ci = "—" if (i >= len(lo) or lo[i] is None or hi[i] is None) else f"{_fmt(lo[i])} – {_fmt(hi[i])}"
        ev_i = ev[i] if i < len(ev) else None
        if isinstance(ev_i, dict):
            ev_i = complex(ev_i.get("real", 0.0), ev_i.get("imag", 0.0))
        rows.append(
            f"<tr><td>{i + 1}</td><td>{_fmt(t)}</td><td>{'—' if t is None else format_time_ps(t)}</td>"
            f"<td>{ci}</td><td>{_fmt(sv[i] if i < len(sv) else None)}</td><td>{_fmt(ev_i)}</td>"
            f"<td>{html.escape(state)}</td></tr>"
        )
    return (
        "<table><tr><th>process</th><th>timescale (ps)</th><th>readable</th>"
        f"<th>{ci_head}</th><th>singular value</th><th>eigenvalue</th><th>resolved</th></tr>{''.join(rows)}</table>"
    )


def _its_table(its: dict) -> str:
    lags = its.get("lags_ps") or []
    ts = its.get("timescales_ps") or []
    if not lags:
        return ""
    k = max((len(r) for r in ts), default=0)
    cols = [i for i in range(k) if any(i < len(r) and r[i] is not None for r in ts)]  # drop unresolved processes
    head = "".join(f"<th>t{i + 1} (ps)</th>" for i in cols)
    body = ""
    for lag, row in zip(lags, ts):
        body += f"<tr><td>{_fmt(lag)}</td>" + "".join(f"<td>{_fmt(row[i] if i < len(row) else None)}</td>"
                                                      for i in cols) + "</tr>"
    return f"<table><tr><th>lag (ps)</th>{head}</tr>{body}</table>"


def _ck_table(ck: dict) -> str:
    if not ck or not ck.get("lagtimes_ps"):
        return ""
    n = ck["n_sets"]
    head = "".join(f"<th>{i + 1}→{j + 1} pred / est</th>" for i in range(n) for j in range(n))
    body = ""
    for li, lag in enumerate(ck["lagtimes_ps"]):
        cells = "".join(
            f"<td>{ck['predictions'][li][i][j]:.3f} / {ck['estimates'][li][i][j]:.3f}</td>"
            for i in range(n) for j in range(n)
        )
        body += f"<tr><td>{_fmt(lag)}</td>{cells}</tr>"
    return f"<table><tr><th>lag (ps)</th>{head}</tr>{body}</table>"


def render_report(summary: dict, images: dict[str, str | Path], title: str = "mdkoop analysis") -> str:
    """Build the HTML text of the report.

    Parameters
    ----------
    summary : dict
        The content of ``summary.json``.
    images : dict of str -> path
        Figure name -> PNG file (embedded in this order).
    title : str
        Page title.

    Returns
    -------
    str
        A complete HTML document with no external references.
    """
    s = summary
    overview = [
        ("run directory", s.get("run_dir")),
        ("store", s.get("store")),
        ("frames analysed", s.get("n_frames")),
        ("trajectories", s.get("n_trajectories")),
        ("frame spacing (ps)", s.get("timestep_ps")),
        ("training lag (ps)", s.get("lag_ps")),
        ("training lag (frames)", s.get("lag_frames")),
        ("estimation method", s.get("method")),
    ]
    scores = [
        ("VAMP-2, analysed store (includes the training data)", s.get("vamp2_train")),
        ("VAMP-E, analysed store", s.get("vampe_train")),
        ("VAMP-2, test store", s.get("vamp2_test")),
        ("VAMP-E, test store", s.get("vampe_test")),
    ]
    if s.get("vamp_test_reason"):
        scores.append(("test scores", s["vamp_test_reason"]))
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='note'>Generated by mdkoop {html.escape(str(s.get('mdkoop_version', '')))} on "
        f"{_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}. Times in ps unless stated.</p>",
        "<h2>Overview</h2>",
        _kv_table(overview),
        "<h2>Slow processes at the training lag</h2>",
        _timescale_table(s),
        "<h2>Scores</h2>",
        "<p class='note'>deeptime convention: the constant function is included, so VAMP-2 = 1 + Σσᵢ².</p>",
        _kv_table(scores),
    ]
    its = s.get("implied_timescales") or {}
    if its:
        parts += ["<h2>Implied timescales vs lag</h2>",
                  f"<p class='note'>Re-estimation: {html.escape(str(its.get('mode', 'reestimate')))}; "
                  f"resampling: {html.escape(str(its.get('resampling')))}, "
                  f"{its.get('n_bootstrap', 0)} bootstrap samples.</p>", _its_table(its)]
    ck = s.get("ck_test") or {}
    if ck:
        parts += ["<h2>Chapman–Kolmogorov test</h2>",
                  f"<p class='note'>{ck.get('n_clusters')} k-means states, {ck.get('n_sets')} PCCA+ sets; "
                  f"largest |predicted − estimated| = {_fmt(ck.get('max_abs_error'))}.</p>", _ck_table(ck)]
    elif s.get("ck_test_reason"):
        parts += ["<h2>Chapman–Kolmogorov test</h2>", f"<p>{html.escape(s['ck_test_reason'])}</p>"]
    parts.append("<h2>Figures</h2>")
    for _name, path in images.items():
        cap = CAPTIONS.get(Path(path).name, Path(path).name)
        parts.append(f"<figure>{embed_png(path)}<figcaption>{html.escape(cap)}</figcaption></figure>")
    parts.append("<h2>summary.json</h2><pre style='text-align:left;font-size:0.8em;white-space:pre-wrap'>"
                 f"{html.escape(json.dumps(s, indent=1))}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path, summary: dict, images: dict[str, str | Path], title: str = "mdkoop analysis") -> Path:
    """Write :func:`render_report`'s page to ``path`` atomically and return the path."""
    text = render_report(summary, images, title=title)
    path = Path(path)
    with atomic_file(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
