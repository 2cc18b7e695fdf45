"""Fixtures for the whole suite."""
import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tests run torch on one thread: the small models of the tests run faster that way on a shared
    machine, and results do not depend on the machine's core count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch):
    """Decoded datasets and latency tables go to one cache folder of this test session (shared by its
    tests and the processes they start), never to the user's ~/.cache; tests that need their own set
    MIXSEARCH_CACHE themselves."""
    monkeypatch.setenv("MIXSEARCH_CACHE", str(tmp_path_factory.getbasetemp() / "mixsearch-cache"))
