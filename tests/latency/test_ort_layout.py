"""Which of an ONNX Runtime entry's profiled kernels a network does not run (a pure function)."""
from __future__ import annotations

import pytest

from mixsearch.latency.ort_layout import layout_shift_ms


def _run(ts, dur=1000):
    return {"cat": "Session", "name": "model_run", "ts": ts, "dur": dur}


def _kernel(op, ts, dur_us, shape_in, shape_out):
    return {"cat": "Node", "name": f"{op}_node_kernel_time", "ts": ts, "dur": dur_us,
            "args": {"op_name": op, "input_type_shape": [{"float": list(shape_in)}],
                     "output_type_shape": [{"float": list(shape_out)}]}}


IN, OUT = (1, 16, 56, 56), (1, 24, 56, 56)


def test_reorders_of_the_entrys_own_tensors_and_its_residual_add_are_taken_away():
    events = [_run(0), _kernel("ReorderInput", 10, 100, IN, (1, 16, 56, 56)),
              _kernel("Conv", 200, 300, IN, OUT),
              _kernel("ReorderOutput", 600, 50, (1, 24, 56, 56), OUT),
              _kernel("Add", 700, 30, OUT, OUT)]
    assert layout_shift_ms(events, [IN], [OUT], runs=1) == pytest.approx(-(100 + 50 + 30) / 1000)


def test_reorders_around_a_split_are_real_and_count_for_its_neighbours_too():
    half = (1, 8, 56, 56)
    events = [_run(0), _kernel("ReorderInput", 10, 40, half, half), _kernel("ReorderInput", 60, 40, half, half),
              _kernel("ReorderOutput", 300, 20, half, half), _kernel("ReorderOutput", 400, 20, half, half)]
    assert layout_shift_ms(events, [IN], [IN], runs=1) == pytest.approx(+120 / 1000)


def test_a_reorder_inside_without_a_split_is_real_and_counted_once():
    wide = (1, 1536, 7, 7)  # the head: converted back before its mean
    events = [_run(0), _kernel("ReorderOutput", 10, 40, wide, wide)]
    assert layout_shift_ms(events, [(1, 200, 7, 7)], [(1, 1000)], runs=1) == 0.0


def test_only_the_last_runs_count_and_per_run():
    events = [_run(0), _kernel("ReorderInput", 10, 500, IN, IN),  # a warm-up run
              _run(2000), _kernel("ReorderInput", 2010, 100, IN, IN),
              _run(4000), _kernel("ReorderInput", 4010, 300, IN, IN)]
    assert layout_shift_ms(events, [IN], [IN], runs=2) == pytest.approx(-0.2)
    with pytest.raises(ValueError, match="holds 3 runs, expected at least 4"):
        layout_shift_ms(events, [IN], [IN], runs=4)
