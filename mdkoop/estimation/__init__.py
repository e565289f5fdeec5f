"""mdkoop.estimation."""
