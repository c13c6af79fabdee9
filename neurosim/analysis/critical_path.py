"""The critical path of a frame: the chain of phases, cores and links that set its latency,
rebuilt from the per-phase timing of a recorded sample, and its text form."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.describe.topology import DIRS, grid_size


# ---- critical path -----------------------------------------------------------------------------------
@dataclass
class PhaseRecord:
    """What one phase (sync: one population's evaluation, delivery and integration; async: one
    scheduling step) of one frame did.

    ``start``: cycle the phase began; ``end``: cycle its work ended (before its barrier);
    ``core_end``: core -> cycle that core finished its work of the phase; ``link_busy`` /
    ``link_stall``: optional per-link busy and stall cycles during the phase (differences of
    ``Mesh.link_stats()`` before and after it); ``barrier_cycles``: the barrier after the phase
    (0 in async mode)."""

    frame: int
    phase: str
    start: int
    end: int
    core_end: Mapping[int, int]
    link_busy: np.ndarray | None = None
    link_stall: np.ndarray | None = None
    barrier_cycles: int = 0


@dataclass
class CriticalStep:
    phase: str
    start: int
    core: int | None  # the core that finished last (None: no core worked)
    core_cycles: int  # its finish - phase start
    end: int  # phase end (before the barrier)
    link: int | None  # the link with most busy + stall cycles in the phase (None: no traffic)
    link_busy: int
    link_stall: int
    barrier_cycles: int

    @property
    def cycles(self) -> int:
        """The phase's share of the frame latency: end - start + barrier."""
        return self.end - self.start + self.barrier_cycles


@dataclass
class CriticalPath:
    frame: int
    start: int
    end: int
    steps: list[CriticalStep] = field(default_factory=list)

    @property
    def cycles(self) -> int:
        return self.end - self.start

    @property
    def cores(self) -> list[int]:
        return [s.core for s in self.steps if s.core is not None]

    @property
    def links(self) -> list[int]:
        return [s.link for s in self.steps if s.link is not None]


def critical_path(phases: Iterable[PhaseRecord | Mapping[str, Any]]) -> CriticalPath:
    """The chain of cores and links that set the latency of the slowest frame.

    Rule (deliberately simple): the slowest frame is the one with the largest span, from its
    first phase's start to its last phase's end plus barrier (ties: the earliest frame). Its phases
    run one after another (each starts after the previous one's barrier), so its latency is the
    sum over phases of (phase end - phase start + barrier). In each phase the *critical core* is
    the core that finished last (ties: the lowest id) - no phase could end before it - and the
    *critical link* is the link with the most busy + stall cycles in the phase (ties: the lowest
    id; none without traffic), the NoC resource most likely to have delayed the messages into
    the critical core. The result lists, per phase in order, the critical core, its cycles, the
    critical link with its busy and stall cycles, and the barrier. Records are
    :class:`PhaseRecord` or dicts with its fields."""
    recs = [p if isinstance(p, PhaseRecord) else PhaseRecord(**p) for p in phases]
    if not recs:
        raise ValueError("critical_path needs at least one phase record")
    frames: dict[int, list[PhaseRecord]] = {}
    for r in recs:
        frames.setdefault(int(r.frame), []).append(r)
    span = {f: (min(r.start for r in rs), max(r.end + r.barrier_cycles for r in rs)) for f, rs in frames.items()}
    frame = min(frames, key=lambda f: (-(span[f][1] - span[f][0]), f))
    out = CriticalPath(frame=frame, start=int(span[frame][0]), end=int(span[frame][1]))
    for r in sorted(frames[frame], key=lambda r: (r.start, r.end)):
        core, core_end = None, r.start
        if r.core_end:
            core, core_end = min(((int(c), int(t)) for c, t in r.core_end.items()), key=lambda ct: (-ct[1], ct[0]))
        link, busy, stall = None, 0, 0
        if r.link_busy is not None or r.link_stall is not None:
            b = np.zeros(0, np.int64) if r.link_busy is None else np.asarray(r.link_busy, np.int64)
            s = np.zeros_like(b) if r.link_stall is None else np.asarray(r.link_stall, np.int64)
            if b.size == 0:
                b = np.zeros_like(s)
            load = b + s
            if load.size and load.max() > 0:
                link = int(np.argmax(load))
                busy, stall = int(b[link]), int(s[link])
        out.steps.append(
            CriticalStep(
                phase=str(r.phase),
                start=int(r.start),
                core=core,
                core_cycles=int(core_end - r.start),
                end=int(r.end),
                link=link,
                link_busy=busy,
                link_stall=stall,
                barrier_cycles=int(r.barrier_cycles),
            )
        )
    return out


def _link_label(hw, link: int) -> str:
    W, _ = grid_size(hw)
    tile, d = divmod(int(link), 4)
    return f"({tile % W},{tile // W}){DIRS[d]}"


def format_critical_path(cp: CriticalPath, hw=None) -> str:
    """The critical path as text lines (one per phase), for a report."""
    cyc = f" = {cp.cycles * hw.cycle_s * 1e6:.4g} us" if hw is not None else ""
    lines = [f"critical path: frame {cp.frame}, {cp.cycles} cycles{cyc} (cycles {cp.start} to {cp.end})"]
    for s in cp.steps:
        where = "no core"
        if s.core is not None:
            where = f"core {s.core}" + (f" on tile {hw.tile_xy(s.core)}" if hw is not None else "")
            where += f" finished last, {s.core_cycles} cycles after the phase start"
        link = (
            "no traffic"
            if s.link is None
            else f"busiest link {_link_label(hw, s.link) if hw is not None else s.link}: "
            f"{s.link_busy} busy + {s.link_stall} stall cycles"
        )
        lines.append(f"  {s.phase}: {s.cycles} cycles; {where}; {link}; barrier {s.barrier_cycles} cycles")
    return "\n".join(lines)
