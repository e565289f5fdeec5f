"""mdkoop.objectives."""
