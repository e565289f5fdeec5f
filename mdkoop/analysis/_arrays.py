"""Validation of per-trajectory array lists shared by the analysis modules."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

__all__ = ["as_array_list"]


def as_array_list(arrays, what: str = "feature") -> list[np.ndarray]:
    """Check a list of per-trajectory arrays and return them as float64 2-D arrays.

    Parameters
    ----------
    arrays : ndarray or list of ndarray, each (T_i, k) or (T_i,)
        One array per trajectory (a single array means one trajectory).
    what : str
        Name used in error messages (``"CV"``, ``"feature"``).

    Returns
    -------
    list of ndarray (T_i, k) float64

    Raises
    ------
    InputError
        Empty list, wrong dimensions, an empty trajectory, non-finite values or differing widths.
    """
    if isinstance(arrays, np.ndarray):
        arrays = [arrays]
    out = []
    for i, c in enumerate(arrays):
        a = np.asarray(c, dtype=np.float64)
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[0] == 0:
            raise InputError(f"{what} array {i} has shape {a.shape}; expected (n_frames, k) with n_frames > 0.")
        if not np.all(np.isfinite(a)):
            raise InputError(f"{what} array {i} contains NaN or infinite values; check the model and the input frames.")
        out.append(a)
    if not out:
        raise InputError(f"No {what} arrays were given; pass one (n_frames, k) array per trajectory.")
    if len({a.shape[1] for a in out}) != 1:
        raise InputError(f"The {what} arrays have different widths {[a.shape[1] for a in out]}; they must share k.")
    return out
