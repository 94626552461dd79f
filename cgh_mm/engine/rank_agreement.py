"""Whether CGH's queues, queue pointer and teacher stay equal on every rank of a DDP run:
a few train steps of ``CGHDistributedDataParallel`` in ``world_size`` processes, compared
(``tools/analysis/gpu_check.py``, its ranks section). The ranks it spawns import their
work from this module."""
import datetime
import socket
from typing import Dict, List, Optional

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..models.algorithms.cgh import CGHDistributedDataParallel


def loader_views(batch: int, resolution: int, num_views: int, device: torch.device,
                 generator: torch.Generator) -> List[torch.Tensor]:
    """``num_views`` uint8 ``(batch, 3, resolution, resolution)`` views as the recipe's
    loader hands them over: in pinned memory when they go to a GPU (``pin_memory``)."""
    views = [torch.randint(0, 256, (batch, 3, resolution, resolution), dtype=torch.uint8,
                           generator=generator) for _ in range(num_views)]
    return [v.pin_memory() for v in views] if device.type == 'cuda' else views

def _rank_steps(rank: int, world_size: int, port: int, steps: int, backend: str,
                model_cfg: dict, batch: int, resolution: int) -> Optional[Dict[str, float]]:
    """Rank ``rank``'s part of :func:`rank_agreement`; rank 0 returns the result."""
    dist.init_process_group(backend, init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size, timeout=datetime.timedelta(minutes=5))
    device = torch.device(f'cuda:{rank}' if backend == 'nccl' else 'cpu')
    if backend == 'nccl':
        torch.cuda.set_device(rank)
    init_default_scope('mmpretrain')
    torch.manual_seed(0)  # one seed for the model on every rank, as mmengine's Runner does
    model = MODELS.build(model_cfg).to(device).train()
    ddp = CGHDistributedDataParallel(module=model,
                                     device_ids=[rank] if backend == 'nccl' else None,
                                     broadcast_buffers=False)
    optim_wrapper = OptimWrapper(optimizer=torch.optim.SGD(
        model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4))
    generator = torch.Generator().manual_seed(1 + rank)  # different data per rank
    for _ in range(steps):
        views = loader_views(batch, resolution, 2, device, generator)
        ddp.train_step(dict(inputs=views, data_samples=[DataSample() for _ in range(batch)]),
                       optim_wrapper)
    state = model.state_dict()  # writes the last step's keys
    mine = torch.cat([state['global_queue'].float().flatten(),
                      state['hypercolumn_queue'].float().flatten(),
                      state['queue_ptr'].float(),
                      *[p.flatten() for p in model.teacher.module.parameters()]])
    gathered = [torch.empty_like(mine) for _ in range(world_size)]
    dist.all_gather(gathered, mine)
    result = dict(ptr=int(state['queue_ptr']),
                  max_diff=max((g - mine).abs().max().item() for g in gathered))
    dist.destroy_process_group()
    return result if rank == 0 else None


def _spawned_rank(index: int, *args) -> None:
    _rank_steps(index + 1, *args)  # ranks 1, 2, ...


def rank_agreement(world_size: int, model_cfg: dict, batch: int, resolution: int,
                   steps: int = 3, backend: str = 'nccl') -> Dict[str, float]:
    """After ``steps`` DDP train steps of CGH (``CGHDistributedDataParallel``, SGD) on
    ``world_size`` processes, each on its own uint8 views: ``ptr`` (rank 0's queue pointer)
    and ``max_diff``, the largest difference of the queues, pointer and teacher of any
    rank from rank 0's (0: equal). Rank 0 is this process (its GPU 0); the others are
    spawned."""
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    args = (world_size, port, steps, backend, model_cfg, batch, resolution)
    others = mp.start_processes(_spawned_rank, args=args, nprocs=world_size - 1,
                                start_method='spawn', join=False)
    result = _rank_steps(0, *args)
    while not others.join():  # raises with the traceback of a rank that failed
        pass
    return result
