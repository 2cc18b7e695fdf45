"""On-device latency lookup tables: build (eager CPU, ONNX Runtime, CUDA), predict, validate.

The search sees this package through `load_table(path).predict(arch)` -> milliseconds.
File format: latency/FORMAT.md.
"""
from .build import build_table
from .errors import LatencyTableError
from .measure import Settings, Stats, measure_arch
from .runtimes import RUNTIMES, make_runtime
from .signature import GRANULARITIES, entry_signatures, layer_signature, op_signatures
from .table import SCHEMA_VERSION, LatencyTable, load_table, loads_table
from .validate import Validation, scatter_plot, validate_table

__all__ = [
    "GRANULARITIES", "RUNTIMES", "SCHEMA_VERSION", "LatencyTable", "LatencyTableError", "Settings", "Stats",
    "Validation", "build_table", "entry_signatures", "layer_signature", "load_table", "loads_table",
    "make_runtime", "measure_arch", "op_signatures", "scatter_plot", "validate_table",
]
