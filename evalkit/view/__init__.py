"""Every number's evidence: `evalkit view` writes a static report of a results tree (evalkit.view.report) and
`evalkit show` prints one item's evidence chain in the terminal (evalkit.view.show). Records are read by
evalkit.view.load and turned into listed items by evalkit.view.items."""
