"""Launch helpers shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os
import os.path as osp
from typing import Any, List, Optional

import torch
import torch.distributed as dist
from mmengine.config import Config


def parse_launch_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add ``--launcher`` and the ``--local-rank`` that torchrun passes to old-style
    scripts, parse the command line, and export ``LOCAL_RANK`` for mmengine."""
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def apply_launch_args(cfg: Config, args: argparse.Namespace) -> None:
    """Launcher and work dir of a run from its parsed arguments.

    The work dir is ``--work-dir``, else the config's, else
    ``./work_dirs/<config name>`` (mmpretrain's rule).
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])


def prepare_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Make ``--launcher pytorch`` work on machines without a GPU.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` whatever the backend,
    which fails without a GPU. When no GPU is visible, the gloo process group is
    created here from the torchrun environment (mmengine then skips its own
    init), and DDP is told not to pin the module to a device.

    Returns True when it set up CPU distributed training.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher pytorch needs the torchrun environment, missing {missing}. '
            'Start the job with tools/dist_train.sh (torchrun) or set them yourself.')
    # Only what builds modules counts: base configs (mmseg's) also keep a top-level
    # `norm_cfg` variable that is no longer used once the model dict is written.
    sync_bn = find_sync_bn(dict(model=cfg.get('model', {}), sync_bn=cfg.get('sync_bn')))
    if sync_bn:
        raise RuntimeError(
            'SyncBN does not work under DDP on CPU (no GPU is visible), but the config '
            f'asks for it at: {", ".join(sync_bn)}. Use plain BN for a CPU run, e.g. '
            + ' '.join(_bn_override(key) for key in sync_bn)
            + ', or run on GPUs.')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.env_cfg = cfg.get('env_cfg', {})
    cfg.env_cfg['dist_cfg'] = dict(backend='gloo')
    wrapper = dict(cfg.get('model_wrapper_cfg', None) or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper.update(device_ids=None, broadcast_buffers=False)
    cfg.model_wrapper_cfg = wrapper
    return True


def find_sync_bn(cfg: Any, prefix: str = '') -> List[str]:
    """Dotted config keys that ask for SyncBN (``norm_cfg.type`` or ``sync_bn``)."""
    found: List[str] = []
    if isinstance(cfg, Config):
        cfg = cfg.to_dict()
    if isinstance(cfg, dict):
        for key, value in cfg.items():
            path = f'{prefix}.{key}' if prefix else str(key)
            if key == 'sync_bn' and value:
                found.append(path)
            elif key == 'type' and isinstance(value, str) and ('SyncBN' in value
                                                         or 'SyncBatchNorm' in value):
                found.append(path)
            else:
                found += find_sync_bn(value, path)
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            found += find_sync_bn(value, f'{prefix}.{i}')
    return found


def _bn_override(key: str) -> str:
    if key.endswith('sync_bn'):
        return f'`--cfg-options {key}=None`'
    return f'`--cfg-options {key}=BN`'


def world_info() -> Optional[str]:
    if dist.is_available() and dist.is_initialized():
        return f'rank {dist.get_rank()}/{dist.get_world_size()} ({dist.get_backend()})'
    return None
