"""Small helpers every layer may use: progress bars, an LRU memo, argument checks."""
