"""How a network runs on the chip: the SimPy engine, the chip and its cores, the network-on-chip,
the sync, async and timestep controllers, the schedulers, the readout of a sample, the counters,
and the numpy time-stepped reference (the test oracle)."""
