"""tools/analysis/gpu_check.py: its dry run end to end as a user runs it (a subprocess:
only the tool's own imports), its refusal without CUDA, and its parts on CPU: what the
step is fed, the largest-batch search at the memory limit, the cache freed between
sections, the AMP error of the recipe's model (the ranks' agreement runs in the dry run;
the full run needs CUDA: skipped without a GPU)."""
import re
import subprocess
import sys
import weakref

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from tests.helpers import load_tool, raises_stating

from ..dist_helpers import REPO, tool_env

TOOL = REPO / 'tools' / 'analysis' / 'gpu_check.py'
DEVICE_AUG = REPO / 'configs' / '_base_' / 'datasets' / 'imagenet_cgh_device-aug.py'
CPU = torch.device('cpu')


def tiny_models(tool, queue_len=64):
    return tool.model_configs(Config.fromfile(tool.RECIPE), queue_len, tiny=True)


@pytest.mark.slow
def test_dry_run_runs_every_section_on_the_cpu_as_a_user_runs_it():
    proc = subprocess.run([sys.executable, str(TOOL), '--dry-run'], cwd=REPO,
                          env=tool_env(CUDA_VISIBLE_DEVICES=''), capture_output=True,
                          text=True, timeout=300)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert 'DRY RUN' in out and 'ViewAugmentDataPreprocessor' in out
    assert re.match(r'cpu \(\d+ threads\); torch ', out), out  # where it measured
    assert 'channels_last=True' in out
    titles = re.findall(r'^== (.+)$', out, flags=re.M)
    assert titles == ['training step', 'largest batch', 'loader', 'AMP error', 'ranks']
    # 3 settings x 3 models, batches of 8, no peak memory on the CPU
    rows = re.findall(r'^(float32|AMP float16 \+ channels_last|AMP bfloat16 \+ channels_last)'
                      r' +(CGH|MoCo|backbone) +8 +([\d.]+) +-$', out, flags=re.M)
    assert len(rows) == 9 and all(float(rate) > 0 for *_, rate in rows)
    assert len(re.findall(r'CGH/MoCo img/s [\d.]+ \(goal', out)) == 2
    assert len(re.findall(r'largest batch +(CGH|MoCo) +16 ', out)) == 2
    # the recipe's split loader: two uint8 224 px views per sample
    rate = re.search(r'^(\d+) samples/s: 1 workers', out, flags=re.M)
    assert rate and int(rate.group(1)) > 0
    pipeline = re.search(r'; pipeline (.+)$', out, flags=re.M).group(1)
    # decode, crop and flip on the CPU; no colour transform (those run on the device)
    assert pipeline == ('LoadImageFromFileChecked, MultiView(ContiguousRandomResizedCrop+'
                        'RandomFlip | ContiguousRandomResizedCrop+RandomFlip), PackInputs')
    batch_line = re.search(r'^batch of 8: .*$', out, flags=re.M).group(0)
    assert '2 uint8 views' in batch_line and '2.41 MB' in batch_line
    for dtype in ('float16', 'bfloat16'):
        number = r'(\d\.\de[+-]\d\d)'
        errors = re.search(rf'AMP {dtype}, relative error vs float32: views {number}, student '
                           rf'embeddings {number}, teacher embeddings {number}, losses {number}',
                           out)
        assert errors, out
        # real embeddings: autocast changes them (unit vectors fed to the head would not)
        assert 0 < float(errors.group(2)) < 0.5 and float(errors.group(4)) < 0.5
    # 3 steps x 2 ranks x 8 images written into queues of 64
    ranks = re.search(r'^2 ranks .*$', out, flags=re.M).group(0)
    for fact in ('gloo', '3 DDP train steps', 'pointer (48)', 'equal'):
        assert fact in ranks, (fact, ranks)
    assert 'DIFFERENT' not in ranks


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal without CUDA')
def test_without_cuda_it_says_it_needs_cuda_and_what_to_run_instead():
    with pytest.raises(SystemExit) as exit_info:
        load_tool(TOOL).main([])
    message = str(exit_info.value.code)
    assert 'torch.cuda.is_available()' in message and torch.__version__ in message
    assert '--dry-run' in message and 'tools/analysis/benchmark.py --device cpu' in message


def test_the_step_is_fed_uint8_views_through_the_recipes_preprocessor():
    tool = load_tool(TOOL)
    init_default_scope('mmpretrain')
    models = tiny_models(tool)
    recipe_preprocessor = Config.fromfile(str(DEVICE_AUG)).view_augment_preprocessor
    cgh_preprocessor = models['CGH']['data_preprocessor']
    assert cgh_preprocessor['type'] == 'ViewAugmentDataPreprocessor'
    assert cgh_preprocessor['view_pipelines'] == recipe_preprocessor['view_pipelines']
    assert models['CGH']['channels_last'] is True
    # MoCo v2's colours are its loader's: its preprocessor only normalises, as CGH's
    assert models['MoCo']['data_preprocessor']['type'] == 'SelfSupDataPreprocessor'
    assert models['MoCo']['data_preprocessor']['mean'] == cgh_preprocessor['mean']
    for name, views in (('CGH', 2), ('MoCo', 2), ('backbone', 1)):
        step = tool.build_step(models[name], 4, 32, CPU, 'bfloat16', channels_last=True)
        inputs = step.data['inputs']
        inputs = inputs if isinstance(inputs, list) else [inputs]
        assert len(inputs) == views
        assert all(v.dtype == torch.uint8 and v.shape == (4, 3, 32, 32) for v in inputs)
        assert all(torch.isfinite(v).all() for v in step().values())


def test_the_loader_section_reads_the_recipes_split_pipeline():
    tool = load_tool(TOOL)
    args = tool.parse_args(['--dry-run'])
    check = tool.Check(args)
    split = Config.fromfile(str(DEVICE_AUG)).train_pipeline
    assert check.cfg.train_dataloader.dataset.pipeline == split
    assert (args.batch, args.queue_len, args.num_workers) == (8, 64, 1)
    gpu_args = tool.parse_args([])  # the GPU run takes the recipe's sizes
    tool.Check(gpu_args)
    assert (gpu_args.batch, gpu_args.queue_len, gpu_args.num_workers) == (32, 131072, 10)


def test_loader_throughput_of_the_split_pipeline_without_workers():
    tool = load_tool(TOOL)
    init_default_scope('mmpretrain')
    loader = Config.fromfile(tool.RECIPE).train_dataloader.to_dict()
    result = tool.loader_throughput(loader, None, batch_size=4, num_workers=0, batches=1,
                                    device=CPU)
    assert result['rate'] > 0 and result['pin_memory'] is False
    assert result['tensor_bytes'] == [4 * 3 * 224 * 224] * 2  # uint8 views


class Step:
    """A stand-in step of a model (tracked with a weak reference) that raises
    ``error`` from ``fail_at`` images on."""
    made = []

    def __init__(self, batch, fail_at, error):
        self.model = torch.nn.Linear(2, 2)
        Step.made.append(weakref.ref(self.model))
        self.batch, self.fail_at, self.error = batch, fail_at, error

    def __call__(self):
        if self.batch >= self.fail_at:
            raise type(self.error)(*self.error.args)  # a new error, as each step raises
        return self.model(torch.ones(1, 2))


@pytest.mark.parametrize('error', [
    torch.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB'),
    RuntimeError('FIND was unable to find an engine to execute this computation')])
def test_largest_batch_stops_where_the_step_no_longer_fits(error):
    tool = load_tool(TOOL)
    Step.made.clear()
    batch, rate, peak, failure = tool.largest_batch(
        lambda b: Step(b, 32, error), start=4, limit=1024, device=CPU)
    assert batch == 16 and rate > 0 and peak is None
    assert failure.startswith('32: ') and str(error).splitlines()[0][:40] in failure
    assert len(Step.made) == 4 and all(ref() is None for ref in Step.made)  # nothing kept


def test_largest_batch_raises_other_errors_and_engine_errors_at_the_start():
    tool = load_tool(TOOL)
    # raised as it came, its message whole
    with raises_stating(RuntimeError, 'expected scalar type Half'):
        tool.largest_batch(lambda b: Step(b, 8, RuntimeError('expected scalar type Half')),
                           start=4, limit=64, device=CPU)
    # no engine at the first batch: a cuDNN problem, not the memory limit
    with raises_stating(RuntimeError, 'GET was unable to find an engine to execute'):
        tool.largest_batch(
            lambda b: Step(b, 4, RuntimeError('GET was unable to find an engine to execute')),
            start=4, limit=64, device=CPU)
    # the smallest batch tried, the device, and why it failed
    with raises_stating(RuntimeError, 'batch of 4', CPU, 'CUDA out of memory'):
        tool.largest_batch(lambda b: Step(b, 4, torch.OutOfMemoryError('CUDA out of memory')),
                           start=4, limit=64, device=CPU)
    batch, *_, failure = tool.largest_batch(lambda b: Step(b, 10**6, None), start=4, limit=16,
                                            device=CPU)
    assert batch == 16 and failure is None  # the limit is taken


def test_the_cuda_cache_is_emptied_after_every_section(monkeypatch):
    tool = load_tool(TOOL)
    free_device_memory, calls = tool.free_device_memory, []
    monkeypatch.setattr(tool, 'SECTIONS', [
        (name, lambda check, n=name: calls.append(n)) for name in ('first', 'second')])
    monkeypatch.setattr(tool, 'free_device_memory', lambda device: calls.append(device.type))
    tool.main(['--dry-run'])
    assert calls == ['first', 'cpu', 'second', 'cpu']

    emptied = []
    monkeypatch.setattr(torch.cuda, 'empty_cache', lambda: emptied.append(True))
    free_device_memory(torch.device('cuda'))
    free_device_memory(CPU)
    assert emptied == [True]


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_amp_errors_of_the_recipes_model_under_cpu_autocast(dtype):
    tool = load_tool(TOOL)
    init_default_scope('mmpretrain')
    errors = tool.amp_errors(tiny_models(tool)['CGH'], batch=4, resolution=32, device=CPU,
                             dtype=dtype)
    assert set(errors) == {'views', 'student embeddings', 'teacher embeddings', 'losses',
                           'targets', 'plain product'}
    # the model's own embeddings and losses: autocast changes them, a little
    assert 1e-5 < errors['student embeddings'] < 0.2
    assert 1e-5 < errors['teacher embeddings'] < 0.2
    assert 0 < errors['losses'] < 0.2
    assert all(0 <= value < 1 for value in errors.values())


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_full_check_on_a_gpu(capsys):
    load_tool(TOOL).main(['--steps', '2', '--max-batch', '64', '--loader-batches', '2'])
    out = capsys.readouterr().out
    assert 'CGH/MoCo img/s' in out and 'samples/s' in out and 'AMP bfloat16' in out


def test_sizes_of_the_gpu_run_and_of_the_dry_run():
    tool = load_tool(TOOL)
    gpu, dry = tool.parse_args([]), tool.parse_args(['--dry-run', '--resolution', '96'])
    assert (gpu.resolution, gpu.max_batch, gpu.steps) == (224, 1024, 10)
    assert (dry.resolution, dry.max_batch, dry.steps) == (96, 16, 1)  # given sizes are kept
