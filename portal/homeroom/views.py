"""Views of the homeroom blueprint (being written)."""
