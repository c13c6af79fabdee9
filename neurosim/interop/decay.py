"""Decays as NIR time constants, shared by the adapters: :func:`tau_for_decay` lives in
:mod:`neurosim.io.nir_tau` (the trainer's export uses it too) and is re-exported here."""

from __future__ import annotations

from neurosim.io.nir_tau import tau_for_decay

__all__ = ["tau_for_decay"]
