"""A saved supernet comes back exactly; one of another space, proxy shape or dataset, or a file that
is not a supernet, is refused with one line; loading unpickles nothing but tensors and plain data."""
from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
import torch

from mixsearch.evaluator.errors import SupernetError
from mixsearch.evaluator.supernet import SuperNet, load_supernet, save_supernet
from mixsearch.search_space import default_space

from .supernet_spaces import CUSTOM_SHAPE, custom_space


@pytest.fixture
def saved(tmp_path):
    net = SuperNet(custom_space(), CUSTOM_SHAPE, dataset="npz:/data/tiny.npz", kernel_transform=True, seed=3)
    with torch.no_grad():
        for param in net.parameters():  # trained-looking weights, transforms away from the identity
            param.add_(0.01 * torch.randn(param.shape, generator=torch.Generator().manual_seed(param.numel())))
    path = tmp_path / "supernet.pt"
    save_supernet(net, path, extra={"recipe": {"epochs": 3, "lr": 0.05}, "steps": 120})
    return net, path


def test_a_saved_supernet_loads_back_with_the_same_subnets(saved, tmp_path):
    net, path = saved
    loaded, extra = load_supernet(path, space=custom_space(), shape=CUSTOM_SHAPE, dataset="npz:/data/tiny.npz")
    assert extra == {"recipe": {"epochs": 3, "lr": 0.05}, "steps": 120}
    assert loaded.kernel_transform and loaded.dataset == "npz:/data/tiny.npz" and loaded.shape == CUSTOM_SHAPE
    arch = net.space.sample(np.random.default_rng(0))
    x = torch.randn(2, 3, 12, 12, generator=torch.Generator().manual_seed(1))
    net.eval(), loaded.eval()
    assert torch.equal(loaded(x, arch), net(x, arch))
    assert torch.equal(loaded.subnet(arch).eval()(x), net.subnet(arch).eval()(x))
    assert [p.name for p in tmp_path.iterdir()] == ["supernet.pt"]  # written via a temp file, renamed
    # without expectations it rebuilds its own space from the file
    assert load_supernet(path)[0].space.fingerprint() == custom_space().fingerprint()


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_a_supernet_of_another_space_is_refused(saved):
    _, path = saved
    with pytest.raises(SupernetError) as err:
        load_supernet(path, space=default_space())
    assert "is of space 'custom'" in one_line(err) and "not of space 'mixnet_s_space'" in one_line(err)
    # a changed choice is another space, whatever its name
    tweaked = custom_space().replace(head_chs=32)
    with pytest.raises(SupernetError, match="is of space 'custom'"):
        load_supernet(path, space=tweaked)


def test_a_supernet_of_another_dataset_or_proxy_shape_is_refused(saved):
    _, path = saved
    with pytest.raises(SupernetError) as err:
        load_supernet(path, dataset="cifar:/data/cifar10")
    assert "trained on dataset 'npz:/data/tiny.npz', not 'cifar:/data/cifar10'" in one_line(err)
    with pytest.raises(SupernetError) as err:
        load_supernet(path, shape=dataclasses.replace(CUSTOM_SHAPE, num_classes=10))
    assert "proxy num_classes 5, this evaluation has 10" in one_line(err)
    with pytest.raises(SupernetError, match="proxy resolution 12, this evaluation has 32"):
        load_supernet(path, shape=dataclasses.replace(CUSTOM_SHAPE, resolution=32))


def test_files_that_are_not_supernets_are_refused_in_one_line(saved, tmp_path):
    _, path = saved
    with pytest.raises(SupernetError, match="no such supernet file"):
        load_supernet(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(SupernetError, match="not a readable supernet file") as err:
        load_supernet(junk)
    one_line(err)
    plain = tmp_path / "plain.pt"
    torch.save({"state": {}}, plain)
    with pytest.raises(SupernetError, match="not a mixsearch supernet file"):
        load_supernet(plain)
    document = torch.load(path, weights_only=True)
    document["state"].pop(next(iter(document["state"])))
    torch.save(document, tmp_path / "cut.pt")
    with pytest.raises(SupernetError, match="weights do not fit its space") as err:
        load_supernet(tmp_path / "cut.pt")
    one_line(err)


class Payload:
    """A pickled object whose unpickling would run code: weights_only must refuse it."""

    def __reduce__(self):
        return (print, ("unpickled!",))


def test_loading_never_unpickles_objects(saved, tmp_path, capsys):
    _, path = saved
    document = torch.load(path, weights_only=True)
    document["extra"] = {"payload": Payload()}
    evil = tmp_path / "evil.pt"
    torch.save(document, evil, pickle_module=pickle)
    with pytest.raises(SupernetError, match="not a readable supernet file"):
        load_supernet(evil)
    assert "unpickled!" not in capsys.readouterr().out


def test_extra_metadata_must_be_plain(tmp_path):
    net = SuperNet(custom_space(), CUSTOM_SHAPE)
    with pytest.raises(TypeError):
        save_supernet(net, tmp_path / "s.pt", extra={"tensor": object()})
    assert not list(tmp_path.iterdir())
