"""Tools around the compiler: the command line, spikes-versus-accuracy benchmarks, metrics."""
