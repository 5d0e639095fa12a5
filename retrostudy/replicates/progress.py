"""Progress of a replicate run: tqdm's bar (terminal or Jupyter widget), else plain lines on stderr."""
from __future__ import annotations

import sys
import time
from typing import Any, Self

__all__ = ["DELAY", "Progress"]

#: Seconds a run must last before its progress shows (shorter runs stay silent).
DELAY = 2.0


class Progress:
    """Count finished replicates; show them after :data:`DELAY` seconds unless ``mode`` is False.

    ``mode``: None shows progress once the run has lasted :data:`DELAY` seconds, True shows it at
    once, False never. With tqdm installed, ``tqdm.auto`` draws a widget in Jupyter and a bar on
    stderr elsewhere; without it, a line ``label: done/total (pct), failed, elapsed, left`` is
    written to stderr at most every few seconds.
    """

    def __init__(self, total: int, *, label: str, mode: bool | None, initial: int = 0, failed: int = 0):
        self.total = total
        self.label = label
        self.done = initial
        self._initial = initial
        self.failed = failed
        self.note = ""
        self._bar: Any = None
        self._plain = False
        self._start = time.perf_counter()
        self._last_line = -float("inf")
        if mode is False or total == 0:
            return
        delay = 0.0 if mode is True else DELAY
        try:
            from tqdm.auto import tqdm
        except ImportError:
            self._plain = True
            self._delay = delay
            return
        self._bar = tqdm(total=total, initial=initial, desc=label, unit="rep", delay=delay, file=sys.stderr,
                         mininterval=0.5, dynamic_ncols=True)
        if failed:
            self._bar.set_postfix_str(self._postfix(), refresh=False)

    def update(self, k: int, failed: int = 0, *, note: str | None = None) -> None:
        """``k`` more replicates finished, ``failed`` of them failed; ``note`` (e.g. a running
        estimate) replaces the text shown beside the count."""
        self.done += k
        self.failed += failed
        if note is not None:
            self.note = note
        if self._bar is not None:
            if failed or note is not None:
                self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.update(k)
        elif self._plain:
            now = time.perf_counter() - self._start
            if now >= self._delay and (now - self._last_line >= 5.0 or self.done == self.total):
                self._last_line = now
                self._write_line(now)

    def _postfix(self) -> str:
        parts = [self.note] if self.note else []
        if self.failed:
            parts.append(f"{self.failed} failed")
        return ", ".join(parts)

    def _write_line(self, elapsed: float) -> None:
        pct = 100.0 * self.done / self.total
        text = f"{self.label}: {self.done}/{self.total} ({pct:.0f}%)"
        if self.failed:
            text += f", {self.failed} failed"
        text += f", {elapsed:.0f} s"
        ran = self.done - self._initial
        if ran > 0 and self.done < self.total:
            text += f", about {elapsed * (self.total - self.done) / ran:.0f} s left"
        if self.note:
            text += f"; {self.note}"
        print(text, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
