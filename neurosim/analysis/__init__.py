"""Numbers from a run, no drawing: the summary (per inference, per core, per link), the
critical path of a frame, energy per tile and spike-rate profiling."""
