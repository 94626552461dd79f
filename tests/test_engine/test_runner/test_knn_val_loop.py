import os
import socket
import uuid

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmengine.dataset import default_collate
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS
from mmpretrain.utils import load_json_log

from cgh_mm.engine.runner import gather_features
from cgh_mm.runtime.scalar_logs import find_scalars_file, scalar_series
from tests.helpers import raises_stating

pytestmark = pytest.mark.slow

VIEW = [dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.5, 1.0), backend='pillow')]


def _loader(pipeline, shuffle, batch_size=8, num_images=32, drop_last=False):
    return dict(
        batch_size=batch_size, num_workers=0, drop_last=drop_last,
        sampler=dict(type='DefaultSampler', shuffle=shuffle),
        collate_fn=dict(type='default_collate'),
        dataset=dict(type='SyntheticImageDataset', num_images=num_images, image_size=32,
                     num_classes=4, pipeline=pipeline))


@torch.no_grad()
def knn_top1_by_hand(model, memory_loader: dict, val_loader: dict, k: int,
                     temperature: float) -> float:
    """Weighted kNN top-1 (%) computed here, image by image, without the loop, its
    dataloaders or its metric: the backbone's last stage (eval mode) average-pooled and
    L2-normalised; each of the ``k`` most similar memory images votes for its class
    with weight ``exp(cosine similarity / temperature)``."""
    def features(loader_cfg):
        dataset = DATASETS.build(loader_cfg['dataset'])
        feats, labels = [], []
        for i in range(len(dataset)):
            data = model.data_preprocessor(default_collate([dataset[i]]), False)
            images = data['inputs']
            images = images[0] if isinstance(images, (list, tuple)) else images
            feats.append(F.normalize(model.backbone(images)[-1].mean((2, 3)), dim=1)[0])
            labels.append(int(data['data_samples'][0].gt_label))
        return torch.stack(feats).double(), torch.tensor(labels)

    model.backbone.eval()
    memory, memory_labels = features(memory_loader)
    queries, query_labels = features(val_loader)
    correct = 0
    for query, label in zip(queries, query_labels):
        similarity, nearest = (memory @ query).topk(min(k, len(memory)))
        votes = torch.zeros(int(memory_labels.max()) + 1, dtype=torch.float64)
        votes.index_add_(0, memory_labels[nearest], (similarity / temperature).exp())
        correct += int(votes.argmax() == label)
    return 100.0 * correct / len(queries)


def test_knn_val_loop_logs_knn_top1(tmp_path, tiny_cgh_cfg):
    test_pipeline = [dict(type='PackInputs')]
    model = dict(tiny_cgh_cfg, data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[128.0] * 3, std=[64.0] * 3))
    runner = Runner(
        model=model,
        work_dir=str(tmp_path),
        # unique: mmengine keys loggers and visualizers by experiment name
        experiment_name=f'knn_loop_{uuid.uuid4().hex}',
        train_dataloader=_loader(
            [dict(type='MultiView', num_views=[1, 1], transforms=[VIEW, VIEW]),
             dict(type='PackInputs')], shuffle=True, drop_last=True),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(type='EpochBasedTrainLoop', max_epochs=2, val_interval=1),
        val_dataloader=_loader(test_pipeline, shuffle=False, num_images=12),
        val_evaluator=dict(type='WeightedKNNAccuracy', k=20, temperature=0.07),
        val_cfg=dict(type='KNNValLoop',
                     memory_dataloader=_loader(test_pipeline, shuffle=False, num_images=20)),
        custom_hooks=[dict(type='WarmupParamHook', param_name='alpha', module_name='head',
                           warmup_epochs=1)],
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=10)),
        visualizer=dict(type='UniversalVisualizer', vis_backends=[dict(type='LocalVisBackend')]),
        default_scope='mmpretrain',
        randomness=dict(seed=0))
    runner.train()

    # One record per epoch, logged by the LoggerHook; the last one is of the final model.
    steps, values = scalar_series(load_json_log(find_scalars_file(str(tmp_path)))['val'],
                                  'knn/top1')
    assert steps == [1.0, 2.0]

    metrics = runner.val_loop.run()
    assert set(metrics) == {'knn/top1'}
    expected = knn_top1_by_hand(runner.model, _loader(test_pipeline, False, num_images=20),
                                _loader(test_pipeline, False, num_images=12), k=20,
                                temperature=0.07)
    assert metrics['knn/top1'] == pytest.approx(expected)
    assert values[-1] == pytest.approx(expected)


def test_knn_val_loop_needs_a_memory_metric(tmp_path, tiny_cgh_cfg):
    runner = Runner(
        model=tiny_cgh_cfg, work_dir=str(tmp_path),
        val_dataloader=_loader([dict(type='PackInputs')], shuffle=False),
        val_evaluator=dict(type='Accuracy'),
        val_cfg=dict(type='KNNValLoop',
                     memory_dataloader=_loader([dict(type='PackInputs')], shuffle=False)),
        default_scope='mmpretrain')
    with raises_stating(ValueError, 'KNNValLoop', 'val_evaluator', "type='WeightedKNNAccuracy'"):
        runner.val_loop  # noqa: B018  (built lazily)


def _gather_worker(rank: int, world_size: int, port: int, size: int, queue) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    # DefaultSampler without shuffle: rank r holds r, r + W, ...; the last rank's
    # share is padded from the start, as a distributed sampler does.
    per_rank = -(-size // world_size)
    indices = [(rank + world_size * i) % size for i in range(per_rank)]
    features = torch.tensor(indices, dtype=torch.float32).unsqueeze(1).repeat(1, 3)
    gathered = gather_features(features, torch.tensor(indices), size)
    queue.put((rank, None if gathered[0] is None else
               (gathered[0].numpy(), gathered[1].numpy())))
    dist.destroy_process_group()


def test_gather_features_across_two_processes():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    procs = [ctx.Process(target=_gather_worker, args=(r, 2, port, 7, queue)) for r in range(2)]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert results[1] is None
    features, labels = results[0]
    np.testing.assert_array_equal(labels, np.arange(7))
    np.testing.assert_array_equal(features[:, 0], np.arange(7, dtype=np.float32))
