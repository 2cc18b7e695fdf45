"""User files in, outputs out, so that no file can hang a command, exhaust it or be destroyed by it.

Every loader of a user's file (architecture, search space, proxy settings, a run's config.yaml, a
latency table, datasets) reads it with `read_text` / `read_bytes` and parses it with `parse_yaml`
/ `parse_json`; every command writes its files with `write_atomic`, after `check_output` refused a
bad output path before any work started. Errors are `InputFileError` / `OutputFileError`, each one
line naming the file; callers with an error type of their own re-raise `err.problem` under it.

Reading: only regular files, opened with O_NONBLOCK after a stat (a FIFO, device, socket or folder
is refused, never opened for a blocking read), at most `max_bytes`, loops of symbolic links named.
YAML: the safe loader with a nesting limit, a limit on the values a document expands to (aliases
counted at their full size, so a "billion laughs" bomb of a few hundred bytes stops at once; a
recursive alias is refused) and duplicate keys refused. JSON (no aliases): the nesting limit, unique
keys, no NaN/Infinity.
Writing: an existing output must be a regular file and none of the command's inputs (compared by
device and inode, so a hard link or a symlink to an input is caught too); symbolic links are
followed, so the file they point to is replaced and the link kept; the content goes to a temp file
in the same folder, is flushed to disk and renamed over the target; on any error the temp file is
removed. The check and the rename are two steps: a path swapped in between is not caught.
"""
from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterable

import yaml

from .errors import MixsearchError, shorten

MAX_YAML_BYTES = 256 << 10     # architectures, spaces, proxy settings and run configs are a few KiB
MAX_JSON_BYTES = 64 << 20      # a latency table of a large space is a few MiB
MAX_NESTING = 64               # our documents nest 5 levels deep
MAX_VALUES = 10_000            # values a document expands to, every alias at its full size (the default space: 400)


class InputFileError(MixsearchError, ValueError):
    """A user's file that cannot be read or parsed: `problem` says why, `source` names the file."""

    def __init__(self, source: str, problem: str):
        self.source, self.problem = shorten(str(source), 300), shorten(problem)
        super().__init__(f"{self.source}: {self.problem}")


class OutputFileError(MixsearchError, OSError):
    """An output path that may not be written (or a write that failed); nothing was changed."""

    def __init__(self, path: str, problem: str):
        self.path, self.problem = shorten(str(path), 300), shorten(problem)
        MixsearchError.__init__(self, f"{self.path}: {self.problem}")

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


# ---- reading -----------------------------------------------------------------------------------
def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def _os_problem(err: OSError | ValueError) -> str:
    if isinstance(err, ValueError):  # os functions refuse a path with a NUL byte this way
        return "not a usable path (it contains a NUL byte)"
    if isinstance(err, FileNotFoundError):
        return "file not found"
    reasons = {errno.ELOOP: "a loop of symbolic links; fix or remove the link",
               errno.ENOTDIR: "a part of the path is a file, not a folder",
               errno.ENAMETOOLONG: "the path is too long",
               errno.EACCES: "permission denied", errno.EPERM: "permission denied"}
    return reasons.get(err.errno, f"cannot read it ({err.strerror or type(err).__name__})")


def read_bytes(path: str | os.PathLike, what: str, max_bytes: int, hint: str = "") -> bytes:
    """The bytes of the regular file `path` (`what` it is, with its article: "a latency table"), at most
    `max_bytes`. `hint` is added to the not-found message (what to give instead)."""
    source = os.fspath(path)
    try:
        info = os.stat(source)
    except (OSError, ValueError) as err:
        problem = _os_problem(err)
        raise InputFileError(source, f"{problem}; {hint}" if hint and problem == "file not found" else problem) from None
    if not stat.S_ISREG(info.st_mode):
        raise InputFileError(source, f"is a {_kind(info.st_mode)}, not a regular file; give the path of {what}")
    if info.st_size > max_bytes:
        raise InputFileError(source, f"is {info.st_size:,} bytes; {what} is at most {max_bytes:,} bytes")
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as err:
        raise InputFileError(source, _os_problem(err)) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):  # swapped for something else since the stat
            raise InputFileError(source, f"is a {_kind(opened.st_mode)}, not a regular file; give the path of {what}")
        chunks, size = [], 0
        while size <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as err:
        raise InputFileError(source, _os_problem(err)) from None
    finally:
        os.close(fd)
    if size > max_bytes:
        raise InputFileError(source, f"grew past {max_bytes:,} bytes while read; {what} is at most that")
    return b"".join(chunks)


def read_text(path: str | os.PathLike, what: str, max_bytes: int = MAX_YAML_BYTES, hint: str = "") -> str:
    """`read_bytes` decoded as UTF-8; a binary file is refused with one line."""
    data = read_bytes(path, what, max_bytes, hint)
    position = data.find(b"\0")
    if position >= 0:
        raise InputFileError(os.fspath(path), f"a binary file (a NUL byte at offset {position}), not {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputFileError(os.fspath(path), f"not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
                                              f"give {what}") from None


# ---- YAML --------------------------------------------------------------------------------------
class _LimitError(yaml.MarkedYAMLError):
    """A document over one of the limits; a YAMLError, so it is reported like a syntax error."""


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader with a nesting limit, a limit on the expanded size, and no duplicate keys."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._values = 0  # values composed so far, every alias at its full size: the expanded document
        self._sizes: dict[int, int] = {}  # id(node) -> values it expands to (its nodes are alive until dispose)

    def fetch_flow_collection_start(self, TokenClass):
        # Checked as early as the scanner: it keeps a possible key per open bracket and revisits
        # them all on every token, so 5,000 open brackets cost it minutes before any node exists.
        if self.flow_level >= MAX_NESTING:
            raise _LimitError(None, None, f"nested deeper than {MAX_NESTING} levels", self.get_mark())
        super().fetch_flow_collection_start(TokenClass)

    def _add_values(self, count: int, mark) -> None:
        self._values += count
        if self._values > MAX_VALUES:
            raise _LimitError(None, None, f"expands to more than {MAX_VALUES:,} values (aliases counted in full)", mark)

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:  # the anchored collection is still being composed
                raise _LimitError(None, None, "an alias inside the collection it refers to (a recursive alias)", mark)
            self._add_values(self._sizes[id(node)], mark)
            return node
        self._add_values(1, mark)
        self._depth += 1
        if self._depth > MAX_NESTING:
            raise _LimitError(None, None, f"nested deeper than {MAX_NESTING} levels", mark)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            self._sizes[id(node)] = 1 + sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        else:
            self._sizes[id(node)] = 1
        return node

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as err:  # e.g. an integer of 5,000 digits, a date 2020-13-45
            raise _LimitError(None, None, f"cannot read the value ({shorten(str(err), 120)})", node.start_mark) from None

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the base class refuses it with its own message
                    continue
                if duplicate:
                    raise _LimitError("while reading a mapping", node.start_mark,
                                      f"duplicate key {shorten(repr(key), 80)}; give each key once", key_node.start_mark)
        return super().construct_mapping(node, deep)


def parse_yaml(text: str, source: str) -> Any:
    """One YAML document under the limits above; errors are one line with the line and column."""
    try:
        loader = _BoundedLoader(text)  # its reader already refuses control characters
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if isinstance(err, yaml.reader.ReaderError):
            problem = f"character {err.character!r} at offset {err.position} is not allowed in YAML"
        else:
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise InputFileError(source, f"not valid YAML{where}: {problem}") from None


# ---- JSON --------------------------------------------------------------------------------------
class _JsonRefused(ValueError):
    pass


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        duplicate = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _JsonRefused(f"duplicate key {shorten(repr(duplicate), 80)}; give each key once")
    return result


def _no_constant(name: str) -> None:
    raise _JsonRefused(f"{name} is not a JSON number; write a finite number")


def _check_nesting(doc: Any, source: str) -> None:
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_NESTING:
            raise InputFileError(source, f"not a usable JSON document: nested deeper than {MAX_NESTING} levels")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def parse_json(text: str, source: str) -> Any:
    """A JSON document with unique keys, finite numbers and at most MAX_NESTING levels."""
    try:
        doc = json.loads(text, object_pairs_hook=_unique_pairs, parse_constant=_no_constant)
    except json.JSONDecodeError as err:
        raise InputFileError(source, f"not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except RecursionError:
        raise InputFileError(source, f"not a usable JSON document: nested deeper than {MAX_NESTING} levels") from None
    except ValueError as err:  # _JsonRefused, or an integer too long to convert
        raise InputFileError(source, f"not a usable JSON document: {shorten(str(err), 200)}") from None
    _check_nesting(doc, source)
    return doc


# ---- writing -----------------------------------------------------------------------------------
def _identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISREG(info.st_mode) else None


def _output_target(path: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> tuple[Path, os.stat_result | None]:
    """The file an output to `path` replaces (symlinks followed) and its stat, or refuse the path."""
    shown = os.fspath(path)
    if not shown:
        raise OutputFileError("''", "an empty output path; give a file name")
    try:
        info = os.stat(shown)
    except FileNotFoundError:
        info = None
    except (OSError, ValueError) as err:
        raise OutputFileError(shown, f"cannot write there: {_os_problem(err)}") from None
    target = Path(os.path.realpath(shown))
    if info is None:
        if not target.parent.is_dir():
            raise OutputFileError(shown, f"its folder {target.parent} does not exist; create it or choose another path")
        return target, None
    if not stat.S_ISREG(info.st_mode):
        raise OutputFileError(shown, f"exists and is a {_kind(info.st_mode)}; an output is written to a new path "
                                     "or over a regular file only, choose another path")
    for source in inputs:
        if _identity(os.fspath(source)) == (info.st_dev, info.st_ino):
            raise OutputFileError(shown, f"is an input of this command ({shorten(os.fspath(source), 200)}); "
                                         "writing there would destroy it, choose another output path")
    return target, info


def check_output(path: str | os.PathLike, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse an output path now, before the work whose result goes there: an existing path that
    is not a regular file, one of `inputs` (paths the command reads), or a folder that is missing."""
    _output_target(path, inputs)


def write_atomic(path: str | os.PathLike, content: str | bytes, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Write text (UTF-8) or bytes to `path` through a temp file renamed over it, so a reader never
    sees half a file and a failed write changes nothing; refuses what `check_output` refuses."""
    target, existing = _output_target(path, inputs)
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise OutputFileError(os.fspath(path), f"cannot write into {target.parent} ({err.strerror}); "
                                               "choose a writable path") from None
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes 0600: keep an existing file's mode, else what the umask gives a new file
            os.fchmod(f.fileno(), stat.S_IMODE(existing.st_mode) if existing else 0o666 & ~_umask())
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as err:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise OutputFileError(os.fspath(path), f"cannot write it ({err.strerror or type(err).__name__}); "
                                                   "nothing was changed") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
