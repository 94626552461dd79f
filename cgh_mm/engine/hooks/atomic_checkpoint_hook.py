import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpretrain.registry import HOOKS

from ...utils.checkpoint import write_file_atomically


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's :class:`CheckpointHook` that never leaves a half-written checkpoint.

    Each checkpoint is written to a hidden ``.NAME.partial`` file, flushed to
    disk and renamed into place; ``last_checkpoint`` is replaced the same way
    and only after the rename. A process killed while it saves leaves the
    previous checkpoints whole. Unlike mmengine's hook, which deletes the oldest
    checkpoint before writing the new one, old checkpoints beyond
    ``max_keep_ckpts`` are removed only once the new one is in place.

    Takes the arguments of :class:`CheckpointHook`. Remote ``out_dir`` backends
    (no atomic rename) fall back to mmengine's behaviour.
    """

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not isinstance(self.file_backend, LocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)

        # Recorded before saving, as mmengine does, so the checkpoint knows them;
        # the files are deleted only after the new checkpoint is in place.
        stale = []
        if self.max_keep_ckpts > 0 and (not self.keep_ckpt_ids
                                        or self.keep_ckpt_ids[-1] != step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        final_path = osp.join(self.out_dir, ckpt_filename)
        partial_name = f'.{ckpt_filename}.partial'
        self.last_ckpt = final_path
        runner.message_hub.update_info('last_ckpt', final_path)
        runner.save_checkpoint(
            self.out_dir,
            partial_name,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return

        partial_path = osp.join(self.out_dir, partial_name)
        with open(partial_path, 'rb+') as f:
            os.fsync(f.fileno())
        os.replace(partial_path, final_path)
        write_file_atomically(osp.join(runner.work_dir, 'last_checkpoint'),
                              final_path.encode())
        for old_step in stale:
            old_path = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
            if osp.isfile(old_path):
                os.remove(old_path)
