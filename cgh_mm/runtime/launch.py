"""What the tools do around a Runner: the launcher and work dir arguments, ``--cfg-options``
values that mmengine would change, distributed runs on machines without a GPU, and the
process group's end."""
import argparse
import gc
import os
import os.path as osp
import re
from typing import Any, List

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.logging import print_log


def parse_launch_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Add ``--launcher`` and torchrun's ``--local-rank``, parse the command line and
    export ``LOCAL_RANK`` for mmengine."""
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


class CfgOptions(DictAction):
    """``--cfg-options key=value ...`` as mmengine's ``DictAction`` parses them, refusing a
    value whose spaces it would drop (``data_root=my imgs`` would become ``myimgs``)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        for pair in values:
            value = pair.split('=', 1)[1] if '=' in pair else ''
            if space_is_lost(value):
                parser.error(
                    f'{option_string} {pair!r}: mmengine removes every space from option '
                    f'values, so this value would become {value.replace(" ", "")!r}. Use a '
                    'value without spaces; for a path, e.g. a symbolic link: '
                    'ln -s "PATH WITH SPACES" /tmp/data')
        super().__call__(parser, namespace, values, option_string)


def space_is_lost(value: str) -> bool:
    """Whether removing the spaces of a ``--cfg-options`` value, as mmengine's DictAction
    does, changes it: a space inside a word or path (``my imgs``), not one beside the
    commas and brackets of a list or tuple (``(2, 3)``)."""
    return re.search(r'[^\s,()\[\]]\s+[^\s,()\[\]]', value.strip()) is not None


def apply_launch_args(cfg: Config, args: argparse.Namespace) -> None:
    """Launcher and work dir: ``--work-dir``, else the config's, else
    ``./work_dirs/<config name>`` (mmpretrain's rule)."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])


def prepare_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Make ``--launcher pytorch`` work on machines without a GPU, and say so.

    mmengine's ``init_dist`` calls ``torch.cuda.set_device`` whatever the
    backend. Without a GPU the gloo process group is created here from the
    torchrun environment (mmengine then skips its own), and DDP gets no device.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs the torchrun environment, missing '
                           f'{missing}. Start the job with tools/dist_train.sh (torchrun).')
    # Only what builds modules counts: mmseg's bases keep an unused top-level norm_cfg.
    sync_bn = find_sync_bn(dict(model=cfg.get('model', {}), sync_bn=cfg.get('sync_bn')))
    if sync_bn:
        raise RuntimeError(
            'SyncBN does not work under DDP on CPU (no GPU is visible), but the config asks '
            f'for it at: {", ".join(sync_bn)}. Use plain BN for a CPU run, e.g. --cfg-options '
            + ' '.join(f'{k}={"None" if k.endswith("sync_bn") else "BN"}' for k in sync_bn)
            + ', or run on GPUs.')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.env_cfg = dict(cfg.get('env_cfg', {}), dist_cfg=dict(backend='gloo'))
    cfg.model_wrapper_cfg = dict(cfg.get('model_wrapper_cfg', None) or {},
                                 device_ids=None, broadcast_buffers=False)
    cfg.model_wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
    print_log('no GPU is visible: distributed training on CPU with gloo '
              '(env_cfg.dist_cfg.backend=gloo, model_wrapper_cfg.device_ids=None, '
              'broadcast_buffers=False)', logger='current')


def destroy_distributed() -> None:
    """Destroy the process group and free it while the interpreter is alive; call it once
    the Runner is released.

    A gloo thread frees each finished collective's tensors. If it does so during the
    interpreter's exit, it dies taking the GIL and a run that has finished aborts
    ("terminate called without an active exception", SIGABRT). Freeing the group joins its
    threads first; the Runner holds the group (through its DDP wrapper) in reference
    cycles, hence the collection.
    """
    if dist.is_initialized():
        dist.destroy_process_group()
    gc.collect()


def find_sync_bn(cfg: Any, prefix: str = '') -> List[str]:
    """Dotted config keys that ask for SyncBN (``norm_cfg.type`` or ``sync_bn``)."""
    if isinstance(cfg, Config):
        cfg = cfg.to_dict()
    items = cfg.items() if isinstance(cfg, dict) else \
        enumerate(cfg) if isinstance(cfg, (list, tuple)) else ()
    found: List[str] = []
    for key, value in items:
        path = f'{prefix}.{key}' if prefix else str(key)
        if (key == 'sync_bn' and value) or (key == 'type' and isinstance(value, str)
                                            and 'SyncB' in value):
            found.append(path)
        else:
            found += find_sync_bn(value, path)
    return found
