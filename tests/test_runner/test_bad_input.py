"""Bad configurations fail through a real Runner with an error that names the fix."""
import pytest
from mmengine.runner import Runner

from tests.helpers import tiny_runner_cfg

pytestmark = pytest.mark.slow


def three_views(cfg):
    multi_view = cfg.train_dataloader.dataset.pipeline[0]
    multi_view.num_views = [1, 1, 1]
    multi_view.transforms = list(multi_view.transforms) + [multi_view.transforms[1]]


@pytest.mark.parametrize('change, error, message', [
    (lambda cfg: cfg.model.update(queue_len=72), ValueError,
     r'queue_len=72 is not a multiple of the global batch .*16.*Set `model.queue_len`'),
    (lambda cfg: cfg.model.update(queue_len=8), ValueError,
     r'queue_len=8 is not a multiple of the global batch .*16.*\(e\.g\. 16\)'),
    (lambda cfg: cfg.model.update(queue_len=1024), ValueError,
     r'warm-up ends after 8 iterations, before the queues are refilled once \(queue_len 1024 '
     r'/ global batch 16 = 64 iterations\).*warmup_epochs=32\).*queue_len <= 128'),
    (lambda cfg: cfg.train_dataloader.update(batch_size=64), ValueError,
     r'yields no batch: the dataset has 32 images, the batch size is 64 and drop_last=True'),
    (lambda cfg: (cfg.train_dataloader.update(drop_last=False),
                  cfg.train_dataloader.dataset.update(num_images=40)), ValueError,
     r'drop_last=False and each process draws 40 images per epoch, not a multiple of its '
     r'batch of 16: the last batch of every epoch would hold 8 images.*'
     r'Set train_dataloader.drop_last=True'),
    (three_views, ValueError,
     r'expects 2 views per image .* got 3\. Make the pipeline\'s MultiView produce 2'),
    (lambda cfg: cfg.model.hypercolumn_neck.update(stage_indices=(0, 2)), ValueError,
     r'stage index 2 is out of range: the backbone returned 2 maps .*`out_indices`'),
    (lambda cfg: cfg.model.hypercolumn_neck.update(in_channels=(32, 128)), ValueError,
     r'stage 0 has shape \(16, 64, 4, 4\) but `in_channels` expects 32 channels.*'
     r'Set `in_channels`'),
], ids=['queue-not-multiple', 'batch-larger-than-queue', 'warmup-shorter-than-refill',
        'batch-larger-than-dataset', 'partial-last-batch', 'wrong-views', 'stage-index',
        'channel-mismatch'])
def test_bad_config_fails_in_the_runner_with_the_fix(tmp_path, change, error, message):
    cfg = tiny_runner_cfg(tmp_path, max_epochs=1)
    change(cfg)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(error, match=message):
        runner.train()
    assert not runner.message_hub.get_info('iter')  # nothing trained, nothing saved
    assert not list(tmp_path.glob('*.pth'))
