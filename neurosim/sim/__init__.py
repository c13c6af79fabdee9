"""How a network runs on the chip: the SimPy engine, the chip and its cores, the network-on-chip,
the sync and async controllers and their schedulers, the readout of a sample, the counters,
and the numpy time-stepped reference (the test oracle)."""
