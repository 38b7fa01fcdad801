"""Benchmarks, shipped with the package: in-process references, the old design's server,
end-to-end stacks, the store and the soak run."""
