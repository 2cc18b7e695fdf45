"""How an XNNPACK entry's time is counted from its ETDump events (a pure function: no executorch)."""
from __future__ import annotations

import pytest

from mixsearch.latency.errors import LatencyTableError
from mixsearch.latency.xnnpack import Event, entry_times_ms

MS = 1_000_000  # ETDump times are in ns here


def _pass(*instructions):
    """Events of one pass: each instruction (kind, [(operator, ms), ...]) laid out back to back."""
    events, clock = [], 0
    for index, (kind, operators) in enumerate(instructions):
        start = clock
        for operator, ms in operators:
            events.append(Event(None, operator, index, clock, clock + int(ms * MS)))
            clock += int(ms * MS)
        clock += 1 * MS  # the instruction's own cost beyond its operators
        events.append(Event(kind, "", index, start, clock))
    return events


def test_conversions_on_an_entrys_own_inputs_and_outputs_are_not_counted():
    T, conv = "Transpose (ND, X32) #1", "Convolution (NHWC, F32) GEMM #1"
    events = _pass(("DELEGATE_CALL", [(T, 2), (conv, 5), (T, 3)]),  # entry 0: a 1x1 conv alone
                   ("DELEGATE_CALL", [(T, 2), (conv, 7)]))          # entry 1
    # entry 0: 2 + 5 + 3 + 1 = 11 ms of instruction, less both conversions; entry 1: 10 less its input's
    assert entry_times_ms(events, [0, 1], 2) == [pytest.approx(6.0), pytest.approx(8.0)]


def test_a_split_entrys_conversions_are_real_and_its_producers_too():
    T, dw = "Transpose (ND, X32) #1", "Convolution (NHWC, F32) DWConv #1"
    events = _pass(("OPERATOR_CALL", []),                                   # the portable split: 1 ms
                   ("DELEGATE_CALL", [(T, 2), (T, 2), (dw, 4), (dw, 4), (T, 3)]))
    # split 1 + call 16 (its own 1 + operators 15); the output conversion (3) goes, the input ones
    # (4) stay and count once more for the producer's conversion back to NCHW
    assert entry_times_ms(events, [0, 0], 1) == [pytest.approx(1 + 16 - 3 + 4)]


def test_conversions_between_an_entrys_own_calls_are_real():
    T, conv, fc = "Transpose (ND, X32) #1", "Convolution (NHWC, F32) GEMM #1", "Fully Connected (NC, F32) GEMM #1"
    events = _pass(("DELEGATE_CALL", [(T, 1), (conv, 5), (T, 2)]),  # the head: conv, then a portable mean
                   ("OPERATOR_CALL", []),
                   ("DELEGATE_CALL", [(T, 1), (fc, 3)]))
    assert entry_times_ms(events, [0, 0, 0], 1) == [pytest.approx(9 - 1 + 1 + 5)]


def test_a_pass_missing_an_instruction_is_an_error():
    events = _pass(("DELEGATE_CALL", []))
    with pytest.raises(LatencyTableError, match="1 instructions timed, the program has 2"):
        entry_times_ms(events, [0, 0], 1)
