"""The gradebook: subject teachers' score entry, homeroom entries, department review, summaries."""
