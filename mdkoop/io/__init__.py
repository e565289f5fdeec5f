"""mdkoop.io."""
