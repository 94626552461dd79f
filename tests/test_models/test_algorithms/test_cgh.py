import pytest
import torch
from mmpretrain.registry import MODELS


def views(batch=4, size=64, n=2):
    return [torch.randn(batch, 3, size, size) for _ in range(n)]


def build(cfg, **overrides):
    cfg.update(overrides)
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    return model


def sgd_step(model, inputs):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    losses = model.loss(inputs, None)
    opt.zero_grad()
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    opt.step()
    return losses


def test_loss_keys_and_finite_values(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    losses = model.loss(views(), None)
    assert set(losses) == {'loss_nce', 'loss_hyper', 'loss_global', 'alpha'}
    for value in losses.values():
        assert torch.isfinite(value).all()
    assert losses['alpha'].item() == 1.0  # no warm-up hook: cross-context losses only
    assert losses['loss_hyper'].item() > 0 and losses['loss_global'].item() > 0


def test_pointer_advances_and_queues_hold_teacher_embeddings(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    inputs = views(batch=4)
    old_global = model.global_queue.clone()
    model.loss(inputs, None)
    model.state_dict()  # a checkpoint always sees the queues after the enqueue
    assert int(model.queue_ptr) == 4
    with torch.no_grad():
        teacher_global, teacher_hyper = model.teacher(inputs[0])
    assert torch.allclose(model.global_queue[:4], teacher_global, atol=1e-6)
    assert torch.allclose(model.hypercolumn_queue[:4], teacher_hyper, atol=1e-6)
    assert torch.equal(model.global_queue[4:], old_global[4:])
    model.loss(views(batch=4), None)
    model.flush_pending_keys()
    assert int(model.queue_ptr) == 8


def test_checkpoints_hold_paper_layout_queues(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, queue_len=8)
    model.loss(views(batch=4), None)
    state = model.state_dict()
    # In memory (K, C) for the fast GEMM; in checkpoints the paper's (C, K).
    assert model.global_queue.shape == (8, model.feat_dim)
    assert state['global_queue'].shape == (model.feat_dim, 8)
    assert torch.equal(state['hypercolumn_queue'].T, model.hypercolumn_queue)
    assert state['global_queue'].data_ptr() == model.global_queue.data_ptr()  # no copy

    other = build(tiny_cgh_cfg, queue_len=8)
    other.load_state_dict({k: v.clone() for k, v in state.items()})
    for name in ('global_queue', 'hypercolumn_queue', 'queue_ptr'):
        assert torch.equal(getattr(other, name), getattr(model, name)), name
    bad = dict(state, global_queue=state['global_queue'][:, :4])
    with pytest.raises(RuntimeError, match='global_queue'):
        other.load_state_dict(bad)


def test_pointer_wraps_around(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, queue_len=8)
    for expected in (4, 0, 4):
        model.loss(views(batch=4), None)
        model.flush_pending_keys()
        assert int(model.queue_ptr) == expected


def test_relations_use_the_queues_before_this_steps_enqueue(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    seen = []
    original = model.head.loss

    def spy(*args, **kwargs):
        seen.append((args[4].clone(), args[5].clone()))
        return original(*args, **kwargs)

    model.head.loss = spy
    model.loss(views(), None)
    model.loss(views(), None)
    model.flush_pending_keys()
    initial, step2 = seen
    for context in (0, 1):
        # step 2 saw step 1's keys in slots 0-3 ...
        assert not torch.allclose(step2[context][:4], initial[context][:4])
        # ... but not its own keys, which land in slots 4-7 only afterwards
        assert torch.equal(step2[context][4:], initial[context][4:])
    assert not torch.allclose(model.global_queue[4:8], step2[0][4:8])
    assert torch.equal(model.global_queue[:4], step2[0][:4])


def test_teacher_is_ema_of_student_with_paper_momentum(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, teacher_momentum=0.9)
    sgd_step(model, views())  # first update copies the student; the step moves it
    teacher = {k: v.clone() for k, v in model.teacher.module.named_parameters()}
    student = {k: v.clone() for k, v in model._student_encoder().named_parameters()}
    assert any(not torch.equal(teacher[k], student[k]) for k in teacher)
    model.loss(views(), None)
    for name, param in model.teacher.module.named_parameters():
        expected = 0.9 * teacher[name] + 0.1 * student[name]
        assert torch.allclose(param, expected, atol=1e-6), name


def test_teacher_gets_no_gradient(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    losses = model.loss(views(), None)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    teacher_params = list(model.teacher.parameters())
    assert teacher_params and all(not p.requires_grad and p.grad is None
                                  for p in teacher_params)
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.hypercolumn_neck.fuse_conv.weight.grad.abs().sum() > 0
    assert model.neck.mlp[0].weight.grad.abs().sum() > 0


def test_queues_are_not_copied_per_step(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    ptrs = (model.global_queue.data_ptr(), model.hypercolumn_queue.data_ptr())
    sgd_step(model, views())
    sgd_step(model, views())
    assert (model.global_queue.data_ptr(), model.hypercolumn_queue.data_ptr()) == ptrs


def test_tensor_mode_returns_backbone_features(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    feats = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert [f.shape[1] for f in feats] == [256, 512]
    feats = model(views(batch=2), mode='tensor')
    assert feats[-1].shape == (2, 512, 2, 2)


def test_multi_crop_views(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, num_local_crops=3)
    inputs = views() + [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32),
                        torch.randn(4, 3, 48, 48)]
    losses = model.loss(inputs, None)
    assert torch.isfinite(losses['loss_global'])
    single = build(tiny_cgh_cfg, num_local_crops=0)
    with pytest.raises(ValueError, match=r'expects 2 views.*got 5'):
        single.loss(inputs, None)


def test_low_precision_queue(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, queue_dtype='bfloat16')
    assert model.global_queue.dtype == torch.bfloat16
    losses = model.loss(views(), None)
    assert all(torch.isfinite(v) for v in losses.values())
    model.flush_pending_keys()
    assert model.hypercolumn_queue.dtype == torch.bfloat16


def test_queue_not_a_multiple_of_the_batch(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)  # queue_len 64
    with pytest.raises(ValueError, match=r'queue_len=64 is not a multiple.*6 per GPU x 1 GPUs'):
        model.loss(views(batch=6), None)


def test_batch_larger_than_the_queue(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, queue_len=4)
    with pytest.raises(ValueError, match=r'global batch .* larger than the queue'):
        model.loss(views(batch=8), None)


def test_bad_constructor_arguments(tiny_cgh_cfg):
    with pytest.raises(ValueError, match='teacher_momentum'):
        MODELS.build(dict(tiny_cgh_cfg, teacher_momentum=1.5))
    with pytest.raises(ValueError, match='queue_dtype'):
        MODELS.build(dict(tiny_cgh_cfg, queue_dtype='int8'))


def test_channels_last_gives_the_same_losses(tiny_cgh_cfg):
    import copy
    model = build(tiny_cgh_cfg)
    twin = copy.deepcopy(model).to(memory_format=torch.channels_last)
    inputs = views()
    expected = model.loss(inputs, None)
    got = twin.loss([v.contiguous(memory_format=torch.channels_last) for v in inputs], None)
    for key in ('loss_hyper', 'loss_global'):
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)
    # The queues keep their layout (no channels_last for 2-d buffers).
    twin.flush_pending_keys()
    model.flush_pending_keys()
    torch.testing.assert_close(twin.global_queue, model.global_queue, rtol=0, atol=1e-5)


def test_autocast_keeps_relations_in_float32(tiny_cgh_cfg):
    # AmpOptimWrapper runs the forward under autocast: the relation GEMMs may
    # run in low precision, the softmaxes and the losses stay float32.
    model = build(tiny_cgh_cfg)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model.loss(views(), None)
    for key in ('loss_hyper', 'loss_global'):
        assert losses[key].dtype == torch.float32 and torch.isfinite(losses[key])
    (losses['loss_hyper'] + losses['loss_global']).backward()
    grad = model.neck.mlp[0].weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
