"""mdkoop.data."""
