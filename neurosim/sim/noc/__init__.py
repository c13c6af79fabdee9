"""The network-on-chip: routes and link tables of the mesh, its timing models (contention-free,
FIFO sweep, event simulation with back-pressure) and per-link counters."""
