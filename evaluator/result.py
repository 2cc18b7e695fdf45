"""What an evaluation returns: the score, the curve, the cost, or a typed failure."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

FAILURE_KINDS = ("nan", "diverged", "oom", "timeout", "error")


@dataclass(frozen=True)
class Failure:
    """Why a candidate could not be scored; kind is one of FAILURE_KINDS."""

    kind: str
    message: str

    def __post_init__(self) -> None:
        if self.kind not in FAILURE_KINDS:
            raise ValueError(f"failure kind {self.kind!r} is not one of {', '.join(FAILURE_KINDS)}")

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "message": self.message}


@dataclass(frozen=True)
class EvalResult:
    """accuracy: final validation accuracy in [0, 1] (0.0 when failed); val_loss: final validation
    loss (None when failed); curve: one metrics dict per completed epoch (epoch, train_loss,
    val_loss, val_accuracy, lr, seconds); seconds: wall time of the whole evaluation.
    proxy_params / proxy_flops: the model actually trained (the arch's own cost is the caller's:
    count_params / count_flops of the spec it gave)."""

    accuracy: float
    val_loss: float | None
    curve: list[dict[str, float]]
    seconds: float
    failure: Failure | None = None
    proxy_params: int = 0
    proxy_flops: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_dict(self) -> dict[str, Any]:
        return {"accuracy": self.accuracy, "val_loss": self.val_loss, "curve": [dict(m) for m in self.curve],
                "seconds": self.seconds, "failure": self.failure.to_dict() if self.failure else None,
                "proxy_params": self.proxy_params,
                "proxy_flops": self.proxy_flops, "extra": dict(self.extra)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EvalResult":
        failure = data.get("failure")
        return cls(**{**data, "curve": [dict(m) for m in data.get("curve", [])],
                      "failure": Failure(**failure) if failure else None, "extra": dict(data.get("extra", {}))})
