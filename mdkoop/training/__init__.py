"""mdkoop.training."""
