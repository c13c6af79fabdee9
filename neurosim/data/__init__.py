"""Spike datasets as boolean tensors ``(samples, frames, channels)``: scikit-learn's bundled
digits, a generated temporal task and readers of event files (N-MNIST, SHD, DVS Gesture).
:func:`neurosim.data.registry.load_dataset` is the one entry point."""
