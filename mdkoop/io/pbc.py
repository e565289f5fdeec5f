"""Making molecules whole across periodic boundaries (pure numpy).

Both reader engines use this one implementation, so the two engines give the
same coordinates for the same input. The bonds of the *selected* atoms define a
spanning tree per connected fragment; walking the tree from its root (the
lowest-index atom of the fragment, which keeps its position), every atom is
placed at the periodic image nearest to its already-placed parent.

All lengths are in nm. Boxes are given as (n_frames, 3, 3) matrices whose rows
are the box vectors a, b, c (mdtraj's ``unitcell_vectors`` layout).
"""

from __future__ import annotations

import numpy as np

__all__ = ["BondTree", "bond_tree", "minimum_image", "make_whole"]


class BondTree:
    """Breadth-first spanning trees of the bond graph, grouped by depth.

    Attributes
    ----------
    n_atoms : int
        Number of atoms.
    levels : list of (children, parents)
        One pair of int64 arrays per tree depth (depth 1, 2, ...); each child is
        placed relative to its parent, and parents are always placed first.
    n_fragments : int
        Number of connected fragments (a molecule whose bonds were all cut by
        the selection counts as several fragments; each is made whole on its own).
    n_bonds : int
        Number of bonds used.
    """

    def __init__(self, n_atoms: int, levels: list[tuple[np.ndarray, np.ndarray]], n_fragments: int, n_bonds: int):
        self.n_atoms = n_atoms
        self.levels = levels
        self.n_fragments = n_fragments
        self.n_bonds = n_bonds


def bond_tree(n_atoms: int, bonds: np.ndarray) -> BondTree:
    """Build the breadth-first spanning trees of a bond graph.

    Parameters
    ----------
    n_atoms : int
        Number of atoms (nodes).
    bonds : array_like, shape (n_bonds, 2), int
        0-based atom pairs; duplicates and either order are fine.

    Returns
    -------
    BondTree
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order, connected_components

    bonds = np.asarray(bonds, dtype=np.int64).reshape(-1, 2)
    if len(bonds) == 0:
        return BondTree(n_atoms, [], n_atoms, 0)
    graph = coo_matrix((np.ones(len(bonds)), (bonds[:, 0], bonds[:, 1])), shape=(n_atoms, n_atoms)).tocsr()
    n_frag, labels = connected_components(graph, directed=False)
    depth = np.zeros(n_atoms, dtype=np.int64)
    parent = np.full(n_atoms, -1, dtype=np.int64)
    for frag in range(n_frag):
        members = np.flatnonzero(labels == frag)
        if len(members) < 2:
            continue
        order, pred = breadth_first_order(graph, int(members[0]), directed=False, return_predecessors=True)
        for a in order[1:]:  # BFS order: the parent's depth is known before the child's
            parent[a] = pred[a]
            depth[a] = depth[pred[a]] + 1
    levels = []
    for d in range(1, int(depth.max()) + 1):
        children = np.flatnonzero(depth == d)
        levels.append((children, parent[children]))
    return BondTree(n_atoms, levels, int(n_frag), len(bonds))


def minimum_image(d: np.ndarray, box: np.ndarray, inv_box: np.ndarray | None = None) -> np.ndarray:
    """Shortest periodic images of difference vectors.

    Parameters
    ----------
    d : ndarray, shape (F, k, 3)
        Difference vectors in nm, for ``F`` frames.
    box : ndarray, shape (F, 3, 3)
        Box vectors (rows) in nm.
    inv_box : ndarray, shape (F, 3, 3), optional
        ``np.linalg.inv(box)``, when the caller already has it.

    Returns
    -------
    ndarray, shape (F, k, 3)
        ``d`` minus the nearest lattice vector (exact for bonds much shorter than the box).
    """
    inv = np.linalg.inv(box) if inv_box is None else inv_box
    frac = np.einsum("fkj,fji->fki", d, inv)
    frac -= np.round(frac)
    return np.einsum("fkj,fji->fki", frac, box)


def make_whole(xyz: np.ndarray, box: np.ndarray | None, tree: BondTree) -> np.ndarray:
    """Make every bonded fragment whole, frame by frame (vectorised over frames).

    Parameters
    ----------
    xyz : ndarray, shape (F, n_atoms, 3), float
        Positions in nm; modified in place and returned.
    box : ndarray, shape (F, 3, 3) or None
        Box vectors in nm. ``None``, or frames whose box is all zero/degenerate,
        are left unchanged (no periodicity).
    tree : BondTree
        From :func:`bond_tree` for the same atoms.

    Returns
    -------
    ndarray
        ``xyz``, with each fragment's root atom unmoved.
    """
    if box is None or not tree.levels:
        return xyz
    box = np.asarray(box, dtype=np.float64)
    ok = np.abs(np.linalg.det(box)) > 1e-9
    if not ok.any():
        return xyz
    frames = np.flatnonzero(ok)
    sub = xyz[frames].astype(np.float64)
    b = box[frames]
    inv = np.linalg.inv(b)
    for children, parents in tree.levels:
        d = sub[:, children] - sub[:, parents]
        sub[:, children] = sub[:, parents] + minimum_image(d, b, inv)
    xyz[frames] = sub.astype(xyz.dtype, copy=False)
    return xyz
