import itertools
from typing import Iterator, Sized

import torch
from mmengine.registry import LOOPS
from mmengine.runner import EpochBasedTrainLoop
from torch.utils.data import Sampler


class _SkipFirst(Sampler):
    """The indices of ``sampler`` less the first ``count``; reports the full length
    so the data loader's length (and every hook that reads it) is unchanged."""

    def __init__(self, sampler: Sized, count: int) -> None:
        self.sampler = sampler
        self.count = count

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.sampler), self.count, None)

    def __len__(self) -> int:
        return len(self.sampler)


@LOOPS.register_module()
class ResumableEpochBasedTrainLoop(EpochBasedTrainLoop):
    """A resume from an iteration checkpoint trains each batch once, as the uninterrupted run.

    mmengine's :class:`EpochBasedTrainLoop` that resumes in the middle of an epoch:
    mmengine 0.10.7 restores ``iter`` from an iteration checkpoint but starts
    the epoch over from its first batch, so the resumed run trains on batches it
    has already seen and its iteration count runs past the epoch. Here the
    first epoch after a resume skips the batches already trained, at the
    sampler (their indices are dropped; no image is loaded or augmented), and
    numbers the remaining ones as the interrupted run did.

    It also refuses a data loader with no batch (a batch larger than the dataset
    with ``drop_last=True``), which mmengine would train for zero iterations.
    """

    def __init__(self, runner, dataloader, *args, **kwargs) -> None:
        super().__init__(runner, dataloader, *args, **kwargs)
        if len(self.dataloader) == 0:  # before mmengine divides by it
            raise ValueError(
                f'the train data loader yields no batch: the dataset has '
                f'{len(self.dataloader.dataset)} images, the batch size is '
                f'{self.dataloader.batch_size} and drop_last={self.dataloader.drop_last}, so '
                'an epoch has no full batch (per process). Lower train_dataloader.batch_size '
                'to at most the dataset size per process, or use more data.')

    def run_epoch(self) -> None:
        self.runner.call_hook('before_train_epoch')
        self.runner.model.train()
        done = self.iter - self.epoch * len(self.dataloader)
        if done <= 0:
            for idx, data_batch in enumerate(self.dataloader):
                self.run_iter(idx, data_batch)
        else:
            batch_sampler = self.dataloader.batch_sampler
            if batch_sampler is None or not hasattr(batch_sampler, 'batch_size'):
                raise TypeError(
                    'ResumableEpochBasedTrainLoop resumes mid-epoch by skipping sampler '
                    'indices and needs a DataLoader with a batch_size; got a custom '
                    f'batch sampler {type(batch_sampler).__name__}. Resume from an '
                    'epoch checkpoint instead.')
            sampler = batch_sampler.sampler
            batch_sampler.sampler = _SkipFirst(sampler, done * batch_sampler.batch_size)
            try:
                # The uninterrupted run drew the loader's base seed from torch's
                # generator at the start of this epoch, before the state that
                # RandomStateHook restored was saved: do not draw it twice.
                with torch.random.fork_rng(devices=[]):
                    batches = iter(self.dataloader)
                for idx, data_batch in enumerate(batches, start=done):
                    self.run_iter(idx, data_batch)
            finally:
                batch_sampler.sampler = sampler
        self.runner.call_hook('after_train_epoch')
        self._epoch += 1  # as mmengine's run_epoch: the counter has no public setter
