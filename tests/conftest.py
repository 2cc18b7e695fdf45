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
