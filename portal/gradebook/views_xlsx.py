"""Views of the gradebook blueprint (being written)."""
