import os
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ..atomic_local_backend import AtomicLocalBackend
from ..checkpoint import rebased_path, write_file_atomically


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """Checkpoints that a crash or a full disk can neither corrupt nor lose.

    mmengine's :class:`CheckpointHook` that never loses the last good checkpoint:
    checkpoints and the ``last_checkpoint`` pointer are written atomically
    (``AtomicLocalBackend``), and checkpoints beyond ``max_keep_ckpts`` are removed
    only once the new one is in place (mmengine removes the oldest first, so with
    ``max_keep_ckpts=1`` a failed save would leave none). A failed save (e.g. a full
    disk) names the last good checkpoint; a folder it cannot write stops the run
    before training, not at the first save. On resume, the paths of the last and best
    checkpoints that the checkpoint's run recorded (absolute, of its folder) are taken
    in this run's checkpoint folder when that run was elsewhere (a copied or moved work
    dir): a new best checkpoint never removes another folder's, and the last good
    checkpoint named after a failure is this folder's. Takes the arguments of
    :class:`CheckpointHook`; a remote ``out_dir`` with its own ``backend_args`` gets
    mmengine's behaviour.
    """

    def __init__(self, *args, backend_args=None, **kwargs) -> None:
        super().__init__(*args, backend_args=backend_args or dict(backend='atomic_local'), **kwargs)

    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._rebase_recorded_paths(runner)
        if not is_main_process() or not isinstance(self.file_backend, AtomicLocalBackend):
            return
        for folder, what in ((self.out_dir, 'checkpoint folder (out_dir)'),
                             (runner.work_dir, 'work dir (last_checkpoint)')):
            # named as a partial file: tools/train.py removes it if a kill left it
            probe = osp.join(folder, f'.write_test.{os.getpid()}.partial')
            try:
                write_file_atomically(probe, b'')
            except OSError as err:
                raise OSError(err.errno, f'the {what} {folder} is not writable, found before '
                              f'training: {err}') from err
            os.remove(probe)

    def _rebase_recorded_paths(self, runner) -> None:
        if '://' in str(self.out_dir):
            return
        hub = runner.message_hub
        for key in [k for k in hub.runtime_info if k == 'last_ckpt' or k.startswith('best_ckpt')]:
            path = hub.get_info(key)
            here = rebased_path(path, self.out_dir) if isinstance(path, str) else path
            if here == path:
                continue
            # the last good checkpoint stays named where it is if this folder has no copy
            if key != 'last_ckpt' or osp.isfile(here):
                hub.update_info(key, here)
        if getattr(self, 'best_ckpt_path', None) is not None:
            self.best_ckpt_path = hub.get_info('best_ckpt', self.best_ckpt_path)
        for indicator in getattr(self, 'best_ckpt_path_dict', {}):
            self.best_ckpt_path_dict[indicator] = hub.get_info(
                f'best_ckpt_{indicator}', self.best_ckpt_path_dict[indicator])

    # mmengine's private method, overridden: mmengine 0.10 removes the oldest checkpoint
    # before it writes the new one and writes `last_checkpoint` with a plain open() (not
    # through the file backend), and no public hook point lies between the three steps.
    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not isinstance(self.file_backend, AtomicLocalBackend):
            return super()._save_checkpoint_with_step(runner, step, meta)
        # Recorded before saving, as mmengine does, so that the checkpoint knows them.
        stale = []
        if self.max_keep_ckpts > 0 and (not self.keep_ckpt_ids
                                        or self.keep_ckpt_ids[-1] != step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        last_good = runner.message_hub.get_info('last_ckpt')
        self.last_ckpt = osp.join(self.out_dir, self.filename_tmpl.format(step))
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        try:
            runner.save_checkpoint(
                self.out_dir, osp.basename(self.last_ckpt), save_optimizer=self.save_optimizer,
                save_param_scheduler=self.save_param_scheduler, meta=meta,
                by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        except OSError as err:
            runner.message_hub.update_info('last_ckpt', last_good)
            raise OSError(err.errno, f'{err} The last good checkpoint is '
                            f'{last_good or "none: no checkpoint was written yet"}.') from err
        if is_main_process():
            self.file_backend.put_text(self.last_ckpt, osp.join(runner.work_dir, 'last_checkpoint'))
            for old_step in stale:
                old_path = osp.join(self.out_dir, self.filename_tmpl.format(old_step))
                if osp.isfile(old_path):
                    self.file_backend.remove(old_path)
