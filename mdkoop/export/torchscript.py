"""TorchScript modules that compute learned CVs from Cartesian positions.

Three thin wrappers share one core, :class:`CVModule`, which maps the
positions of the model's atoms to the chosen CVs::

    pos (B, n_atoms, 3) nm ──dense neighbour list──▶ encoder ──▶ f (B, k-1) ──f @ W + b──▶ CVs (B, n_cv)

* :class:`CVModule` itself is the ``torchscript`` export: ``(B, n, 3) -> (B, n_cv)``.
* :class:`PlumedCVModule` follows PLUMED's ``PYTORCH_MODEL`` contract:
  ``(1, 3n) -> (1, n_cv)``, inputs ordered ``x1, y1, z1, x2, ...`` (the order of
  the ``POSITION`` components in the generated ``plumed.dat``).
* :class:`OpenMMCVModule` follows openmm-torch's ``TorchForce`` contract: it takes
  the positions of the whole system ``(n_particles, 3)`` in nm, selects the
  model's atoms (0-based indices in the original topology) and returns one CV as
  a scalar (its "energy").

The neighbour list is built inside the module from a dense ``(n, n)`` distance
matrix by :func:`mdkoop.data.graphs.radius_graph` (compiled into the file;
strict ``d < cutoff``, no self pairs), the same graph the model was trained and
evaluated with, so the exported CVs equal :meth:`KoopmanModel.transform`. The
list is built without gradient (it is piecewise constant); gradients flow
through the encoder's distances.

Everything is float32 inside. The wrappers accept float32 or float64 inputs and
return float32 (PLUMED reads the output as ``float``; openmm-torch accepts any
floating scalar and converts the force to float64 itself).

Metadata travel inside the saved file as a TorchScript extra file
(:data:`METADATA_NAME`, JSON), readable without mdkoop::

    extra = {"mdkoop.json": ""}
    m = torch.jit.load("cv_model.pt", _extra_files=extra)
    meta = json.loads(extra["mdkoop.json"])
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path
from typing import Any, List, Optional

import torch
from torch import Tensor, nn

from ..data.graphs import radius_graph
from ..errors import InputError, ModelFormatError, OutputError

__all__ = [
    "METADATA_NAME",
    "GraphEncoderFeatures",
    "FrameEncoderFeatures",
    "CVModule",
    "PlumedCVModule",
    "OpenMMCVModule",
    "OpenMMRestraintModule",
    "MAX_RESTRAINED_CVS",
    "script_module",
    "save_scripted",
    "read_metadata",
]

#: Name of the JSON extra file embedded in every exported TorchScript file.
METADATA_NAME = "mdkoop.json"


@contextlib.contextmanager
def _quiet_jit():
    """Silence torch's deprecation warnings for torch.jit: PLUMED and openmm-torch load TorchScript only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit.*")
        yield


class GraphEncoderFeatures(nn.Module):
    """Frames to learned functions through a graph encoder.

    Wraps an encoder with the contract ``forward(z, pos, batch, edge_index,
    num_graphs) -> (num_graphs, n_out)`` (``mdkoop.nn.encoders.SchNetEncoder``)
    and feeds it a batch of frames with a dense neighbour list.

    Parameters
    ----------
    encoder : torch.nn.Module
        TorchScript-able graph encoder (float32 weights).
    z : array_like, shape (n_atoms,), int
        Atomic numbers of the model's atoms.
    cutoff : float
        Neighbour cutoff in nm (the encoder's training cutoff).
    """

    def __init__(self, encoder: nn.Module, z, cutoff: float):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("z", torch.as_tensor(z, dtype=torch.long).reshape(-1).clone())
        self.cutoff = float(cutoff)
        self.n_atoms = int(self.z.numel())

    def forward(self, pos: Tensor) -> Tensor:
        """Learned functions of a batch of frames.

        Parameters
        ----------
        pos : Tensor, shape (B, n_atoms, 3), float32
            Positions in nm.

        Returns
        -------
        Tensor, shape (B, k-1), float32
        """
        B = pos.shape[0]
        n = pos.shape[1]
        edge_index = radius_graph(pos, self.cutoff)
        batch = torch.arange(B, device=pos.device).repeat_interleave(n)
        z = self.z.repeat(B)
        return self.encoder(z, pos.reshape(B * n, 3), batch, edge_index, B)


class FrameEncoderFeatures(nn.Module):
    """Frames to learned functions through an encoder's ``forward_frames(pos (B, n, 3)) -> (B, n_out)``.

    Used for :class:`mdkoop.nn.encoders.SchNetEncoder`, whose ``forward_frames`` builds the
    radius graph itself (TorchScript-able).

    Parameters
    ----------
    encoder : torch.nn.Module
        Encoder with a TorchScript-exported ``forward_frames`` method.
    n_atoms : int
    """

    def __init__(self, encoder: nn.Module, n_atoms: int):
        super().__init__()
        self.encoder = encoder
        self.n_atoms = int(n_atoms)

    def forward(self, pos: Tensor) -> Tensor:
        """Learned functions ``(B, k-1)`` of frames ``(B, n_atoms, 3)`` float32 nm."""
        return self.encoder.forward_frames(pos)


class CVModule(nn.Module):
    """CVs of a batch of frames: ``features(pos) @ W + b``.

    Parameters
    ----------
    features : torch.nn.Module
        TorchScript-able map ``(B, n_atoms, 3) float32 nm -> (B, k-1)`` (the learned
        functions, without the constant), e.g. :class:`GraphEncoderFeatures`.
    weight : array_like, shape (k-1, n_cv)
        Linear map from learned functions to the CVs.
    bias : array_like, shape (n_cv,)
        Offset of the CVs (the constant function's contribution).
    n_atoms : int
        Number of model atoms; inputs of another size are refused.
    """

    def __init__(self, features: nn.Module, weight, bias, n_atoms: int):
        super().__init__()
        self.features = features
        w = torch.as_tensor(weight, dtype=torch.float32)
        b = torch.as_tensor(bias, dtype=torch.float32).reshape(-1)
        if w.dim() != 2 or w.shape[1] != b.shape[0]:
            raise InputError(f"CV weights of shape {tuple(w.shape)} and offsets of shape {tuple(b.shape)} do not match; "
                             "expected (k-1, n_cv) and (n_cv,).")
        self.register_buffer("weight", w.clone())
        self.register_buffer("bias", b.clone())
        self.n_atoms = int(n_atoms)
        self.n_cv = int(b.shape[0])

    def forward(self, pos: Tensor) -> Tensor:
        """CVs of frames.

        Parameters
        ----------
        pos : Tensor, shape (B, n_atoms, 3) or (n_atoms, 3), float32 or float64
            Positions of the model's atoms, in nm.

        Returns
        -------
        Tensor, shape (B, n_cv) (or (n_cv,) for a single frame), float32
        """
        single = pos.dim() == 2
        if single:
            pos = pos.unsqueeze(0)
        if pos.dim() != 3 or pos.shape[1] != self.n_atoms or pos.shape[2] != 3:
            raise RuntimeError("mdkoop CV model: positions must have shape (B, n_atoms, 3) in nm with n_atoms "
                               "equal to the model's atom count (see the mdkoop.json metadata)")
        f = self.features(pos.to(torch.float32))
        cv = f @ self.weight + self.bias
        if single:
            cv = cv.squeeze(0)
        return cv


class PlumedCVModule(nn.Module):
    """PLUMED ``PYTORCH_MODEL`` wrapper: ``(1, 3n) -> (1, n_cv)`` float32.

    The input holds the ``POSITION`` components in ``ARG`` order
    ``p1.x, p1.y, p1.z, p2.x, ...`` in PLUMED's length unit, which the generated
    ``plumed.dat`` sets to nm.

    Parameters
    ----------
    cv : CVModule
    """

    def __init__(self, cv: CVModule):
        super().__init__()
        self.cv = cv
        self.n_atoms = cv.n_atoms

    def forward(self, x: Tensor) -> Tensor:
        """CVs from PLUMED's argument vector.

        Parameters
        ----------
        x : Tensor, shape (B, 3 * n_atoms), float32
            ``x[:, 3*i + c]`` is component ``c`` (x, y, z) of model atom ``i``, in nm.

        Returns
        -------
        Tensor, shape (B, n_cv), float32, contiguous
        """
        if x.dim() != 2 or x.shape[1] != 3 * self.n_atoms:
            raise RuntimeError("mdkoop PLUMED model: expected a (1, 3*n_atoms) input; check that ARG lists "
                               "pN.x,pN.y,pN.z of every POSITION of the generated plumed.dat")
        pos = x.reshape(x.shape[0], self.n_atoms, 3)
        return self.cv(pos).to(torch.float32).contiguous()


class OpenMMCVModule(nn.Module):
    """openmm-torch ``TorchForce`` wrapper: whole-system positions to one CV (a scalar).

    Parameters
    ----------
    cv : CVModule
    atom_indices : array_like, shape (n_atoms,), int
        0-based indices of the model's atoms in the simulated system's topology.
    index : int
        0-based column of ``cv``'s output returned by this module.
    """

    def __init__(self, cv: CVModule, atom_indices, index: int):
        super().__init__()
        self.cv = cv
        idx = torch.as_tensor(atom_indices, dtype=torch.long).reshape(-1).clone()
        if idx.numel() != cv.n_atoms:
            raise InputError(f"{idx.numel()} atom indices given for a model of {cv.n_atoms} atoms.")
        if not 0 <= int(index) < cv.n_cv:
            raise InputError(f"CV column {index} is out of range for a model with {cv.n_cv} CVs.")
        self.register_buffer("atom_indices", idx)
        self.index = int(index)
        self.n_required = int(idx.max().item()) + 1 if idx.numel() else 0

    def forward(self, positions: Tensor) -> Tensor:
        """The CV of the current configuration.

        Parameters
        ----------
        positions : Tensor, shape (n_particles, 3), float32 or float64
            Positions of all particles, in nm (openmm-torch passes them in nm).

        Returns
        -------
        Tensor, shape (), float32
        """
        if positions.dim() != 2 or positions.shape[1] != 3 or positions.shape[0] < self.n_required:
            raise RuntimeError("mdkoop OpenMM CV: positions must be (n_particles, 3) in nm and contain every atom "
                               "listed in atom_indices (see the mdkoop.json metadata)")
        sel = positions.index_select(0, self.atom_indices).unsqueeze(0)
        return self.cv(sel)[0, self.index]


#: the most CVs one :class:`OpenMMRestraintModule` restrains (its TorchScript signature is fixed)
MAX_RESTRAINED_CVS = 8


class OpenMMRestraintModule(nn.Module):
    """openmm-torch ``TorchForce``: every CV from **one** model evaluation, with a harmonic restraint on each.

    ``E = sum_i 0.5 * k_i * (cv_i - s_i)^2`` in kJ/mol, with ``k_i`` (kJ/mol per CV unit squared) and ``s_i``
    (CV units) given as openmm-torch global context parameters, in the order ``k1, s1, k2, s2, ...`` (see
    :func:`mdkoop.export.openmm.make_restraint_force`); they can change during the run (umbrella windows,
    steered MD, string methods). A CV whose pair is not given is not restrained. One evaluation serves all
    CVs, where a ``CustomCVForce`` over per-CV modules (:class:`OpenMMCVModule`) evaluates the model once per CV.

    Parameters
    ----------
    cv : CVModule
        With at most :data:`MAX_RESTRAINED_CVS` CVs.
    atom_indices : array_like, shape (n_atoms,), int
        0-based indices of the model's atoms in the simulated system's topology.
    """

    def __init__(self, cv: CVModule, atom_indices):
        super().__init__()
        if cv.n_cv > MAX_RESTRAINED_CVS:
            raise InputError(f"A restraint module takes at most {MAX_RESTRAINED_CVS} CVs; export fewer (--cvs).")
        self.cv = cv
        idx = torch.as_tensor(atom_indices, dtype=torch.long).reshape(-1).clone()
        if idx.numel() != cv.n_atoms:
            raise InputError(f"{idx.numel()} atom indices given for a model of {cv.n_atoms} atoms.")
        self.register_buffer("atom_indices", idx)
        self.n_required = int(idx.max().item()) + 1 if idx.numel() else 0
        self.n_cv = cv.n_cv

    def forward(self, positions: Tensor,
                k1: Optional[Tensor] = None, s1: Optional[Tensor] = None, k2: Optional[Tensor] = None,
                s2: Optional[Tensor] = None, k3: Optional[Tensor] = None, s3: Optional[Tensor] = None,
                k4: Optional[Tensor] = None, s4: Optional[Tensor] = None, k5: Optional[Tensor] = None,
                s5: Optional[Tensor] = None, k6: Optional[Tensor] = None, s6: Optional[Tensor] = None,
                k7: Optional[Tensor] = None, s7: Optional[Tensor] = None, k8: Optional[Tensor] = None,
                s8: Optional[Tensor] = None) -> Tensor:
        """Restraint energy of the current configuration.

        Parameters
        ----------
        positions : Tensor, shape (n_particles, 3), float32 or float64
            Positions of all particles, in nm.
        k1, s1, ..., k8, s8 : Tensor, shape (), optional
            Force constant (kJ/mol per CV unit squared) and centre (CV units) of the restraint on the
            i-th exported CV.

        Returns
        -------
        Tensor, shape (), float32
            Energy in kJ/mol.
        """
        if positions.dim() != 2 or positions.shape[1] != 3 or positions.shape[0] < self.n_required:
            raise RuntimeError("mdkoop OpenMM restraint: positions must be (n_particles, 3) in nm and contain every "
                               "atom listed in atom_indices (see the mdkoop.json metadata)")
        cv = self.cv(positions.index_select(0, self.atom_indices).unsqueeze(0))[0]
        ks: List[Optional[Tensor]] = [k1, k2, k3, k4, k5, k6, k7, k8]
        ss: List[Optional[Tensor]] = [s1, s2, s3, s4, s5, s6, s7, s8]
        energy = torch.zeros((), dtype=cv.dtype, device=cv.device)
        for i in range(self.n_cv):
            k = ks[i]
            s = ss[i]
            if k is not None and s is not None:
                d = cv[i] - s.to(cv.dtype).reshape(())
                energy = energy + 0.5 * k.to(cv.dtype).reshape(()) * d * d
        return energy


def script_module(module: nn.Module) -> torch.jit.ScriptModule:
    """Compile ``module`` with ``torch.jit.script`` (eval mode, CPU), with a clear error on failure.

    Raises
    ------
    ModelFormatError
        If the encoder cannot be compiled with TorchScript.
    """
    module = module.to("cpu").eval()
    try:
        with _quiet_jit():
            return torch.jit.script(module)
    except Exception as exc:  # TorchScript raises plain RuntimeError / NotSupportedError
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        raise ModelFormatError(
            f"The model's encoder cannot be compiled with TorchScript ({type(exc).__name__}: {first}). "
            "Export needs a TorchScript-able encoder (mdkoop's lean SchNet, implementation='lean')."
        ) from exc


def save_scripted(module: torch.jit.ScriptModule, path: str | os.PathLike, metadata: dict[str, Any]) -> Path:
    """Save a scripted module with ``metadata`` embedded as the extra file :data:`METADATA_NAME`.

    Parameters
    ----------
    module : torch.jit.ScriptModule
    path : path-like
        Destination file (its directory must exist; callers write inside an atomic directory).
    metadata : dict
        JSON-able metadata.

    Returns
    -------
    pathlib.Path
    """
    path = Path(path)
    try:
        with _quiet_jit():
            torch.jit.save(module, str(path), _extra_files={METADATA_NAME: json.dumps(metadata, indent=1, sort_keys=True)})
    except OSError as exc:
        raise OutputError(f"Cannot write the exported model {str(path)!r}: {exc.strerror or exc}.") from exc
    return path


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """Read the JSON metadata embedded in an exported TorchScript file.

    Parameters
    ----------
    path : path-like
        A file written by :func:`save_scripted`.

    Returns
    -------
    dict

    Raises
    ------
    ModelFormatError
        If the file is not a TorchScript archive or carries no mdkoop metadata.
    """
    extra = {METADATA_NAME: ""}
    try:
        with _quiet_jit():
            torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    except (RuntimeError, ValueError, OSError) as exc:
        raise ModelFormatError(f"{str(path)!r} is not a TorchScript file written by `mdkoop export`: {exc}") from exc
    if not extra[METADATA_NAME]:
        raise ModelFormatError(f"{str(path)!r} carries no {METADATA_NAME} metadata; re-export it with `mdkoop export`.")
    return json.loads(extra[METADATA_NAME])
