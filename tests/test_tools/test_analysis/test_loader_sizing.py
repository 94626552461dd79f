"""Loader sizing: every config's train loader fits the CPUs per task of
tools/slurm_train.sh, and tools/analysis/loader_sizing.py's memory arithmetic on the
ImageNet recipes (uint8 views, workers x prefetch_factor batches in flight, pinned
blocks rounded to powers of two)."""
import glob

import pytest
from mmengine.config import Config

from cgh_mm.datasets.loader_memory import pinned_bytes
from tests.helpers import load_tool

from ..dist_helpers import REPO

TOOL = REPO / 'tools' / 'analysis' / 'loader_sizing.py'
IN1K = REPO / 'configs' / 'cgh' / 'cgh_resnet50_8xb32-coslr-200e_in1k.py'
IN1K_8XB256 = REPO / 'configs' / 'cgh_r50_8xb256.py'
VIEW = 3 * 224 * 224  # bytes of one uint8 view


def training_configs():
    return sorted(p for p in glob.glob(str(REPO / 'configs' / '**' / '*.py'), recursive=True)
                  if '_base_' not in p)


def test_every_configs_loader_fits_the_cpus_per_task_of_slurm_train(monkeypatch):
    monkeypatch.delenv('CPUS_PER_TASK', raising=False)
    tool = load_tool(TOOL)
    cpus_per_task = tool.slurm_cpus_per_task()
    checked = 0
    for path in training_configs():
        loader = Config.fromfile(path).get('train_dataloader')
        if loader is None:
            continue
        workers = loader.get('num_workers', 0)
        # the workers, the training process and its pin-memory thread
        assert tool.cpus_per_gpu(workers) == workers + 1 + (workers > 0)
        assert tool.cpus_per_gpu(workers) <= cpus_per_task, (path, workers, cpus_per_task)
        checked += 1
    assert checked >= 30


@pytest.mark.parametrize('config, batch, workers, prefetch', [
    (IN1K, 32, 10, 4), (IN1K_8XB256, 256, 10, 2)])
def test_memory_in_flight_of_the_imagenet_recipes(config, batch, workers, prefetch):
    tool = load_tool(TOOL)
    row = tool.sizing(Config.fromfile(str(config)))
    assert (row['batch_size'], row['num_workers'], row['prefetch_factor']) == (
        batch, workers, prefetch)
    assert row['views'] == 2 and row['batch'] == 2 * batch * VIEW and row['pin_memory']
    assert row['shared'] == workers * prefetch * 2 * batch * VIEW
    assert row['pinned'] == (workers * prefetch + 2) * 2 * pinned_bytes(batch * VIEW)
    assert row['cpus'] == workers + 2


def test_the_table_says_which_config_needs_more_cpus(monkeypatch, capsys):
    tool = load_tool(TOOL)
    monkeypatch.setenv('CPUS_PER_TASK', '5')
    tool.main([str(IN1K), str(IN1K_8XB256)])
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith('tools/slurm_train.sh: 5 CPUs per task')
    assert out.count('needs CPUS_PER_TASK >= 12') == 2
    monkeypatch.delenv('CPUS_PER_TASK')
    tool.main([str(IN1K)])
    out = capsys.readouterr().out
    assert 'CPUS_PER_TASK >=' not in out
    row = next(line for line in out.splitlines()
               if line.startswith('configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py'))
    # batch 32 of 2 views, 9.63 MB; 10 workers, prefetch 4, 12 CPUs; 40 batches in shared
    # memory (0.39 GB), 42 pinned blocks of 2 x 8 MiB (0.70 GB); x 8 GPUs per node
    assert row.split()[1:] == ['32', '2', '9.63', '10', '4', '12', '0.39', '0.70', '3.1',
                               '5.6']
