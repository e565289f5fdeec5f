"""mdkoop.simulate."""
