"""Mapping tools: capacity-aware packing, the strategies (neuron -> logical core), the
placements (logical core -> physical core) and the figures of a mapping's quality.
:func:`neurosim.mapping.registry.map_network` is the entry point. Nothing here simulates."""
