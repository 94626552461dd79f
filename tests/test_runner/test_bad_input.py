"""Bad configurations fail through a real Runner with an error that names the fix."""
import pytest
from mmengine.runner import Runner

from tests.helpers import raises_stating, tiny_runner_cfg

pytestmark = pytest.mark.slow


def three_views(cfg):
    multi_view = cfg.train_dataloader.dataset.pipeline[0]
    multi_view.num_views = [1, 1, 1]
    multi_view.transforms = list(multi_view.transforms) + [multi_view.transforms[1]]


# each error's facts: the numbers at fault and the setting that fixes them
@pytest.mark.parametrize('change, error, facts', [
    (lambda cfg: cfg.model.update(queue_len=72), ValueError,
     ('queue_len=72', '16', 'model.queue_len')),
    (lambda cfg: cfg.model.update(queue_len=8), ValueError, ('queue_len=8', '(e.g. 16)')),
    (lambda cfg: cfg.model.update(queue_len=1024), ValueError,
     ('8 iterations', 'queue_len 1024', 'global batch 16', '64 iterations',
      'warmup_epochs=32', 'queue_len <= 128')),
    (lambda cfg: cfg.train_dataloader.update(batch_size=64), ValueError,
     ('no batch', '32 images', '64', 'drop_last=True')),
    (lambda cfg: (cfg.train_dataloader.update(drop_last=False),
                  cfg.train_dataloader.dataset.update(num_images=40)), ValueError,
     ('40 images', 'batch of 16', '8 images', 'train_dataloader.drop_last=True')),
    (three_views, ValueError, ('2 views', 'got 3', 'MultiView', 'num_local_crops')),
    (lambda cfg: cfg.model.hypercolumn_neck.update(stage_indices=(0, 2)), ValueError,
     ('stage index 2', '2 maps', 'out_indices')),
    (lambda cfg: cfg.model.hypercolumn_neck.update(in_channels=(32, 128)), ValueError,
     ('stage 0', '(16, 64, 4, 4)', '32 channels', 'in_channels')),
], ids=['queue-not-multiple', 'batch-larger-than-queue', 'warmup-shorter-than-refill',
        'batch-larger-than-dataset', 'partial-last-batch', 'wrong-views', 'stage-index',
        'channel-mismatch'])
def test_bad_config_fails_in_the_runner_with_the_fix(tmp_path, change, error, facts):
    cfg = tiny_runner_cfg(tmp_path, max_epochs=1)
    change(cfg)
    runner = Runner.from_cfg(cfg)
    with raises_stating(error, *facts):
        runner.train()
    assert not runner.message_hub.get_info('iter')  # nothing trained, nothing saved
    assert not list(tmp_path.glob('*.pth'))
