"""mdkoop.nn."""
