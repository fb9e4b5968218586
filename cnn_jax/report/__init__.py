"""Reports: published numbers against measured ones, and the docs' generated tables."""
