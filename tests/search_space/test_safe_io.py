"""safe_io: bounded reading of user files, bounded YAML/JSON, and the output writer that destroys nothing."""
from __future__ import annotations

import os
import socket
import stat
import threading
import tracemalloc

import pytest

from mixsearch.search_space import safe_io
from mixsearch.search_space.safe_io import (InputFileError, OutputFileError, check_output, parse_json, parse_yaml,
                                            read_text, write_atomic)

WHAT = "a test file"


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic "billion laughs": each level (anchors a, b, c ...) lists the previous one `width` times."""
    names = "abcdefghijklmnopqrstuvwxyz"[:levels]
    lines = [f"a: &a [{','.join(['lol'] * width)}]"]
    lines += [f"{n}: &{n} [{','.join([f'*{p}'] * width)}]" for p, n in zip(names, names[1:])]
    return "\n".join(lines) + "\n"


def _tree(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- reading ------------------------------------------------------------------------------------
def test_reads_a_regular_file_and_follows_a_symlink(tmp_path):
    (tmp_path / "a.yaml").write_text("x: 1\n")
    (tmp_path / "link.yaml").symlink_to(tmp_path / "a.yaml")
    assert read_text(tmp_path / "a.yaml", WHAT) == read_text(tmp_path / "link.yaml", WHAT) == "x: 1\n"


def test_a_fifo_is_refused_without_being_opened(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # A writer that would unblock a reader opening the FIFO: a broken check then fails, not hangs.
    writer = threading.Thread(target=lambda: os.close(os.open(fifo, os.O_WRONLY)), daemon=True)
    writer.start()
    with pytest.raises(InputFileError, match="pipe: is a FIFO .*not a regular file; give the path of a test file"):
        read_text(fifo, WHAT)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer finish
    writer.join()
    os.close(reader)


def test_folders_sockets_and_devices_are_refused(tmp_path):
    with pytest.raises(InputFileError, match="is a folder, not a regular file"):
        read_text(tmp_path, WHAT)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(tmp_path / "sock"))
        with pytest.raises(InputFileError, match="is a socket"):
            read_text(tmp_path / "sock", WHAT)
    (tmp_path / "zero").symlink_to("/dev/zero")  # endless: it must never be read
    with pytest.raises(InputFileError, match="zero: is a character device"):
        read_text(tmp_path / "zero", WHAT)


@pytest.mark.parametrize("make, words", [
    (lambda d: (d / "a").symlink_to(d / "b") or (d / "b").symlink_to(d / "a"), "a loop of symbolic links"),
    (lambda d: (d / "a").symlink_to(d / "nowhere"), "file not found; give x instead"),
    (lambda d: (d / "file").write_text("") or None, "file not found"),  # reads d/a, absent
])
def test_path_problems_are_one_line(tmp_path, make, words):
    make(tmp_path)
    with pytest.raises(InputFileError, match=words) as info:
        read_text(tmp_path / "a", WHAT, hint="give x instead")
    assert "\n" not in str(info.value)
    with pytest.raises(InputFileError, match="a part of the path is a file"):
        (tmp_path / "plain").write_text("")
        read_text(tmp_path / "plain" / "x.yaml", WHAT)


def test_size_limit_and_binary_content(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_text(path, WHAT, max_bytes=100) == "x" * 100
    with pytest.raises(InputFileError, match="is 101 bytes; a test file is at most 100 bytes"):
        path.write_bytes(b"x" * 101)
        read_text(path, WHAT, max_bytes=100)
    with pytest.raises(InputFileError, match="a binary file .*offset 3"):
        path.write_bytes(b"abc\0def")
        read_text(path, WHAT)
    with pytest.raises(InputFileError, match=r"not UTF-8 text \(byte 0xff at offset 1\)"):
        path.write_bytes(b"a\xffb")
        read_text(path, WHAT)


# ---- YAML ---------------------------------------------------------------------------------------
def test_alias_bomb_is_refused_at_once_with_a_short_message():
    text = alias_bomb() + "blocks: *i\n"
    assert len(text) < 400  # as the 376 bytes that took 1.75 GB; 9**5 values by line 5
    tracemalloc.start()
    with pytest.raises(InputFileError, match="line 5, .*expands to more than 10,000 values") as info:
        parse_yaml(text, "bomb.yaml")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 << 20 and len(str(info.value)) < 200


def test_small_aliases_and_merge_keys_still_work():
    text = "base: &b {a: 1, b: 2}\nuse: {<<: *b, b: 3}\nlist: &l [1, 2]\nagain: *l\n"
    assert parse_yaml(text, "ok.yaml") == {"base": {"a": 1, "b": 2}, "use": {"a": 1, "b": 3},
                                          "list": [1, 2], "again": [1, 2]}


@pytest.mark.parametrize("text, words", [
    ("a: &a [1, *a]\n", "line 1, column 11: an alias inside the collection it refers to"),
    ("[" * 5000 + "]" * 5000, "nested deeper than 64 levels"),
    ("a: 1\nb: 2\na: 3\n", "line 3, column 1: duplicate key 'a'"),
    ("outer:\n  x: 1\n  x: 1\n", "line 3, column 3: duplicate key 'x'"),
    ("n: " + "9" * 5000 + "\n", "line 1, column 4: cannot read the value"),
    ("when: 2020-13-45\n", "cannot read the value"),
    ("a: 1\n---\nb: 2\n", "line 2, column 1: but found another document"),
    ("a: !!python/object:os.system {}\n", "could not determine a constructor"),
    ("a: [1, 2\n", "not valid YAML at line 2"),
])
def test_yaml_limits_and_errors(text, words):
    with pytest.raises(InputFileError, match=words) as info:
        parse_yaml(text, "x.yaml")
    assert str(info.value).startswith("x.yaml: not valid YAML") and "\n" not in str(info.value)


def test_nesting_just_under_the_limit_is_read():
    assert parse_yaml("[" * 64 + "]" * 64, "x.yaml") is not None
    with pytest.raises(InputFileError, match="nested deeper than 64"):
        parse_yaml("[" * 65 + "]" * 65, "x.yaml")


# ---- JSON ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, words", [
    ('{"a": 1, "a": 2}', "duplicate key 'a'"),
    ('{"ms": NaN}', "NaN is not a JSON number"),
    ('{"ms": -Infinity}', "-Infinity is not a JSON number"),
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
    ("[" * 65 + "]" * 65, "nested deeper than 64 levels"),
    ('{"n": ' + "9" * 5000 + "}", "not a usable JSON document"),
    ('{"a": ', "not valid JSON at line 1, column 7"),
])
def test_json_limits_and_errors(text, words):
    with pytest.raises(InputFileError, match=words):
        parse_json(text, "t.json")
    assert parse_json('{"a": [1, {"b": 2.5}]}', "t.json") == {"a": [1, {"b": 2.5}]}


# ---- writing ------------------------------------------------------------------------------------
def test_writes_new_and_replaces_regular_files_keeping_their_mode(tmp_path):
    target = tmp_path / "out.txt"
    write_atomic(target, "one\n")
    assert target.read_text() == "one\n"
    os.chmod(target, 0o640)
    write_atomic(target, b"two\n")
    assert target.read_bytes() == b"two\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _tree(tmp_path) == ["out.txt"]


def test_a_symlink_is_followed_and_kept(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    write_atomic(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == "new"


def _special_files(folder):
    """(name, path) of every kind of non-regular file the test can make."""
    os.mkfifo(folder / "fifo")
    (folder / "dir").mkdir()
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(folder / "sock"))
    made = [("fifo", "FIFO"), ("dir", "folder"), ("sock", "socket")]
    if os.geteuid() == 0:  # only root makes device nodes; the issue's /dev/full case
        os.mknod(folder / "full", stat.S_IFCHR | 0o666, os.makedev(1, 7))
        made.append(("full", "character device"))
    return server, made


def test_outputs_never_replace_what_is_not_a_regular_file(tmp_path):
    server, made = _special_files(tmp_path)
    with server:
        for name, kind in made:
            before = os.lstat(tmp_path / name)
            for call in (lambda p: check_output(p), lambda p: write_atomic(p, "data")):
                with pytest.raises(OutputFileError, match=f"{name}: exists and is a {kind}"):
                    call(tmp_path / name)
            after = os.lstat(tmp_path / name)
            assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
        (tmp_path / "to_fifo").symlink_to("fifo")
        with pytest.raises(OutputFileError, match="exists and is a FIFO"):
            write_atomic(tmp_path / "to_fifo", "data")
        assert sorted(_tree(tmp_path)) == sorted([n for n, _ in made] + ["to_fifo"])  # no temp file left


def test_an_input_is_never_an_output(tmp_path):
    source = tmp_path / "arch.yaml"
    source.write_text("blocks: []\n")
    os.link(source, tmp_path / "hard.yaml")
    (tmp_path / "soft.yaml").symlink_to("arch.yaml")
    for output in ("arch.yaml", "hard.yaml", "soft.yaml", "./arch.yaml"):
        with pytest.raises(OutputFileError, match="is an input of this command"):
            write_atomic(tmp_path / output, "overwritten", inputs=[source])
    assert source.read_text() == "blocks: []\n"
    check_output(tmp_path / "other.yaml", inputs=[source, "mixnet_s", tmp_path / "absent"])


@pytest.mark.parametrize("path, words", [
    ("missing/out.txt", "its folder .*missing does not exist"),
    ("plain/out.txt", "a part of the path is a file"),
    ("", "an empty output path"),
])
def test_unusable_output_paths(tmp_path, path, words):
    (tmp_path / "plain").write_text("")
    with pytest.raises(OutputFileError, match=words):
        check_output(tmp_path / path if path else "")


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    target = tmp_path / "out.txt"
    target.write_text("intact")

    def no_room(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(safe_io.os, "replace", no_room)
    with pytest.raises(OutputFileError, match=r"out.txt: cannot write it \(No space left on device\)"):
        write_atomic(target, "new")
    monkeypatch.undo()
    with pytest.raises(TypeError):
        write_atomic(target, 12345)  # not text or bytes: fails inside the write
    assert _tree(tmp_path) == ["out.txt"] and target.read_text() == "intact"
