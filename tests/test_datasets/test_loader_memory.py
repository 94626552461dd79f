"""cgh_mm/datasets/loader_memory.py: the memory a train loader's batches in flight hold."""
from cgh_mm.datasets.loader_memory import memory_in_flight, pinned_bytes

VIEW = 3 * 224 * 224  # bytes of one uint8 view


def test_pinned_blocks_are_rounded_up_to_powers_of_two():
    assert pinned_bytes(32 * VIEW) == 2**23  # 4.8 MB -> 8 MiB
    assert pinned_bytes(256 * VIEW) == 2**26
    assert pinned_bytes(2**20) == 2**20 and pinned_bytes(1) == 1


def test_batches_in_flight():
    views = [32 * VIEW, 32 * VIEW]
    # 10 workers x prefetch 4 requested, made in shared memory; pinned: those and 2 more
    assert memory_in_flight(views, 10, 4, True) == dict(
        batch=64 * VIEW, shared=40 * 64 * VIEW, pinned=42 * 2 * 2**23)
    # without pinning, the batch of the step and the one being fetched stay shared
    assert memory_in_flight(views, 10, None, False) == dict(
        batch=64 * VIEW, shared=22 * 64 * VIEW, pinned=0)
    # no workers: made in the training process, one at a time
    assert memory_in_flight(views, 0, None, True) == dict(
        batch=64 * VIEW, shared=0, pinned=2 * 2 * 2**23)
