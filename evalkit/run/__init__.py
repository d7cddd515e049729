"""evalkit.run: see DESIGN.md for the path of one number."""
