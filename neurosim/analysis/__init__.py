"""Numbers from a run, no drawing: the summary (per inference, per core, per link), the
critical path of a frame, energy per tile, spike-rate profiling and NeuroBench's metrics."""
