"""The reference engine: the SimPy process model (cores, routers with finite buffers and credits,
per-message events), event by event, against which the fast engine is checked
(:func:`neurosim.sim.process.run.simulate_reference`)."""
