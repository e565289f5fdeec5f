"""Sphinx configuration of mdkoop's documentation (``make docs``; warnings are errors)."""

from __future__ import annotations

import mdkoop

project = "mdkoop"
author = "the mdkoop developers"
release = version = mdkoop.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "generated/*.md"]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # the numpydoc sections state the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing"]  # guides link to files of the repository, not to pages

html_theme = "pydata_sphinx_theme"
html_title = f"mdkoop {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
