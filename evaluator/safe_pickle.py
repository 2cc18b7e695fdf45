"""A pickle reader for untrusted CIFAR batches: plain containers and numpy arrays, nothing callable.

The CIFAR python format is a pickle of a dict of bytes, str, int, lists and one uint8 array. A
pickle names the functions it calls to rebuild objects (`__reduce__`); a plain `pickle.load` calls
whatever it names, so a crafted batch file runs code. This reader admits only the names that
rebuild a numpy array or scalar (numpy 1.x and 2.x spell the module differently) and refuses any other with
`UnsafePickleError`; dicts, lists, tuples, bytes, str, int, float, bool and None need no name.
"""
from __future__ import annotations

import io
import pickle

ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),  # labels saved as numpy ints
    ("numpy", "ndarray"), ("numpy", "dtype"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle names a global that is not one of ALLOWED."""


class _Restricted(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in ALLOWED:
            raise UnsafePickleError(f"refused to load {module}.{name} (only plain data and numpy arrays are read)")
        return super().find_class(module, name)


def loads(data: bytes):
    """Unpickle `data` (bytes-encoded py2 strings stay bytes, as in CIFAR's batches)."""
    return _Restricted(io.BytesIO(data), encoding="bytes").load()
