"""Every number's evidence: `evalkit view` writes a static report of a results tree (evalkit.publish.view.report) and
`evalkit show` prints one item's evidence chain in the terminal (evalkit.publish.view.show). Records are read by
evalkit.publish.view.load and turned into listed items by evalkit.publish.view.items."""
