"""evalkit.publish: see DESIGN.md for the path of one number."""
