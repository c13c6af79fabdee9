"""Loading and saving: NIR models (reading, lowering of convolutions and pooling to sparse
projections, writing), hardware YAML files and presets, and mapping files."""
