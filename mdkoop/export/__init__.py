"""mdkoop.export."""
