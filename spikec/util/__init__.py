"""Small helpers every layer may use: progress bars, an LRU memo, argument checks, rule tables by class and by name."""
