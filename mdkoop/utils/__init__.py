"""Small shared helpers (atomic outputs, hashing, logging set-up)."""
