"""The memory that a train DataLoader's batches in flight hold, in bytes: made in shared
memory by its workers (``/dev/shm``), copied to page-locked memory with ``pin_memory``.
Arithmetic of PyTorch's DataLoader and pinned allocator, for ``loader_sizing.py`` (of the
configs) and ``gpu_check.py`` (of a measured batch) in ``tools/analysis/``."""
from typing import Dict, Optional, Sequence


def pinned_bytes(nbytes: int) -> int:
    """What torch's caching pinned-memory allocator takes for a tensor of ``nbytes``: the
    next power of two (its default; ``pinned_max_round_threshold`` unset)."""
    return 1 << max(nbytes - 1, 0).bit_length()


def memory_in_flight(tensor_bytes: Sequence[int], num_workers: int,
                     prefetch_factor: Optional[int], pin_memory: bool) -> Dict[str, int]:
    """Upper bounds, in bytes, of the shared and pinned memory of a train loader whose
    batches hold tensors of ``tensor_bytes`` (one entry per view)."""
    batch = sum(tensor_bytes)
    if num_workers == 0:  # batches made in the training process, one at a time
        return dict(batch=batch, shared=0, pinned=2 * sum(map(pinned_bytes, tensor_bytes))
                    if pin_memory else 0)
    requested = num_workers * (prefetch_factor or 2)  # PyTorch's default prefetch_factor
    return dict(batch=batch,
                shared=(requested + (0 if pin_memory else 2)) * batch,
                pinned=(requested + 2) * sum(map(pinned_bytes, tensor_bytes))
                if pin_memory else 0)
