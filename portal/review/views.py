"""Views of the review blueprint (being written)."""
