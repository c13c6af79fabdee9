"""The trainer's tests use tiny tensors: one torch thread avoids OpenMP spin-waiting on a shared
CPU (it made these tests 10-50x slower under load)."""

try:
    import torch
except ImportError:  # the torch tests skip themselves
    torch = None

if torch is not None:
    torch.set_num_threads(1)
