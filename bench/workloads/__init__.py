"""One module per workload; each exposes ``run(cfg) -> Result``."""
