"""Design-space exploration: a sweep spec, one point, the sweep over points (in-process,
process pool or Dask), and the Pareto front."""
