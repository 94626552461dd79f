"""Bad configurations fail through a real Runner with an error that names the fix."""
import pytest
from mmengine.runner import Runner

from tests.small_runs import small_cfg


def three_views(cfg):
    multi_view = cfg.train_dataloader.dataset.pipeline[0]
    multi_view.num_views = [1, 1, 1]
    multi_view.transforms = list(multi_view.transforms) + [multi_view.transforms[1]]


@pytest.mark.parametrize('change, error, message', [
    (lambda cfg: cfg.model.update(queue_len=72), ValueError,
     r'queue_len=72 is not a multiple of the global batch .*16.*Set `model.queue_len`'),
    (lambda cfg: cfg.model.update(queue_len=8), ValueError,
     r'global batch .*16.* is larger than the queue \(queue_len=8\).*Increase'),
    (three_views, ValueError,
     r'expects 2 views per image .* got 3\. Make the pipeline\'s MultiView produce 2'),
    (lambda cfg: cfg.model.hypercolumn_neck.update(stage_indices=(0, 2)), ValueError,
     r'stage index 2 is out of range: the backbone returned 2 maps .*`out_indices`'),
    (lambda cfg: cfg.model.hypercolumn_neck.update(in_channels=(32, 128)), ValueError,
     r'stage 0 has shape \(16, 64, 4, 4\) but `in_channels` expects 32 channels.*'
     r'Set `in_channels`'),
], ids=['queue-not-multiple', 'batch-larger-than-queue', 'wrong-views', 'stage-index',
        'channel-mismatch'])
def test_bad_config_fails_in_the_runner_with_the_fix(tmp_path, change, error, message):
    cfg = small_cfg(tmp_path, max_epochs=1)
    change(cfg)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(error, match=message):
        runner.train()
    assert runner.iter == 0  # nothing trained, nothing saved
    assert not list(tmp_path.glob('*.pth'))
