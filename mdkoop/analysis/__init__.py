"""mdkoop.analysis."""
