"""Shared pytest setup."""

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Run every test on one torch thread, and restore the count afterwards.

    The tests use small tensors, for which one thread is faster; on a 2-core machine shared
    with other jobs, torch's two-thread pool can run them ten to a hundred times slower.
    (scripts/test also sets OMP_NUM_THREADS=1; this covers a plain `pytest` run.)
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
