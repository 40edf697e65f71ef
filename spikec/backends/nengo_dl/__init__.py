"""``backend="nengo_dl"``: the nengo network on NengoDL (TensorFlow)."""
