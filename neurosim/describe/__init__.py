"""What is simulated: frozen, validated descriptions of the hardware (the YAML schema), the
network (populations and CSR projections), the mapping of neurons onto cores, the mesh
topology and the cost model. Nothing here simulates, reads files or draws."""
