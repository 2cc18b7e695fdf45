"""The learning rate as a pure function of the step: linear warm-up, then cosine decay to 0.

A pure function (no scheduler object with state) so a resumed run recomputes the rate of any step
exactly, and the shape can be tested against hand-computed values."""
from __future__ import annotations

import math


def learning_rate(step: int, base_lr: float, warmup_steps: int, total_steps: int) -> float:
    """Step 0..warmup_steps-1 rise linearly to base_lr ((step + 1) / warmup_steps of it), then the
    rate follows half a cosine from base_lr at step warmup_steps to 0 at step total_steps."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * progress))
