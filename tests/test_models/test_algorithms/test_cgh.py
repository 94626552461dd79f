import copy

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import MODELS
from torch.utils._python_dispatch import TorchDispatchMode

from tests.helpers import raises_stating


def views(batch=4, size=64, n=2):
    return [torch.randn(batch, 3, size, size) for _ in range(n)]


def build(cfg, **overrides):
    cfg.update(overrides)
    model = MODELS.build(cfg)
    model.init_weights()
    return model.train()


def sgd_step(model, inputs):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    losses = model.loss(inputs, None)
    opt.zero_grad()
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    opt.step()
    return losses


def test_loss_keys_and_finite_values(tiny_cgh_cfg):
    losses = build(tiny_cgh_cfg).loss(views(), None)
    assert {'loss_nce', 'loss_hyper', 'loss_global', 'alpha'} <= set(losses)
    assert sum(k.startswith('health/') for k in losses) == 8
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert losses['alpha'].item() == 1.0  # no warm-up hook: cross-context losses only
    assert losses['loss_hyper'].item() > 0 and losses['loss_global'].item() > 0


def test_queues_take_the_teacher_embeddings_at_the_pointer(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    inputs = views(batch=4)
    old_global = model.global_queue.clone()
    model.loss(inputs, None)
    state = model.state_dict()  # a checkpoint holds the queues after the step's write
    assert int(state['queue_ptr']) == 4
    with torch.no_grad():
        teacher_global, teacher_hyper = model.embed(inputs[0], teacher=True)
    torch.testing.assert_close(state['global_queue'][:4], teacher_global, rtol=0, atol=1e-6)
    torch.testing.assert_close(state['hypercolumn_queue'][:4], teacher_hyper, rtol=0, atol=1e-6)
    assert torch.equal(state['global_queue'][4:], old_global[4:])


def test_one_queue_layout_in_memory_and_checkpoints(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, queue_len=8)
    model.loss(views(batch=4), None)
    state = model.state_dict()
    assert model.global_queue.shape == state['global_queue'].shape == (8, model.feat_dim)
    other = build(copy.deepcopy(tiny_cgh_cfg), queue_len=8)
    other.load_state_dict({k: v.clone() for k, v in state.items()})
    for name in ('global_queue', 'hypercolumn_queue', 'queue_ptr'):
        assert torch.equal(getattr(other, name), state[name]), name
        assert torch.equal(other.state_dict()[name], model.state_dict()[name]), name
    transposed = state['global_queue'].T
    with raises_stating(RuntimeError, 'global_queue', str(list(transposed.shape))):
        other.load_state_dict(dict(state, global_queue=transposed))


def test_pointer_wraps_around(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, queue_len=8)
    for expected in (4, 0, 4):
        model.loss(views(batch=4), None)
        assert int(model.state_dict()['queue_ptr']) == expected


def test_relations_use_the_queues_before_this_steps_write(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    seen = []
    original = model.head.loss

    def spy(*args, **kwargs):
        seen.append((args[4].clone(), args[5].clone()))
        return original(*args, **kwargs)

    model.head.loss = spy
    model.loss(views(), None)
    model.loss(views(), None)
    final = model.state_dict()['global_queue']
    initial, step2 = seen
    for context in (0, 1):
        # step 2 saw step 1's keys in slots 0-3 ...
        assert not torch.allclose(step2[context][:4], initial[context][:4])
        # ... but not its own keys, which land in slots 4-7 only afterwards
        assert torch.equal(step2[context][4:], initial[context][4:])
    assert not torch.allclose(final[4:8], step2[0][4:8])
    assert torch.equal(final[:4], step2[0][:4])


def test_teacher_is_ema_of_student_with_paper_momentum(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, teacher_momentum=0.9)
    sgd_step(model, views())  # the first update copies the student; the step moves it
    teacher = {k: v.clone() for k, v in model.teacher.module.named_parameters()}
    student = {k: v.clone() for k, v in model._student().named_parameters()}
    assert teacher.keys() == student.keys()
    assert any(not torch.equal(teacher[k], student[k]) for k in teacher)
    model.loss(views(), None)
    for name, param in model.teacher.module.named_parameters():
        torch.testing.assert_close(param, 0.9 * teacher[name] + 0.1 * student[name])


def test_teacher_gets_no_gradient(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    losses = model.loss(views(), None)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    teacher_params = list(model.teacher.parameters())
    assert teacher_params and all(not p.requires_grad and p.grad is None
                                  for p in teacher_params)
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert model.hypercolumn_neck.fuse.conv.weight.grad.abs().sum() > 0
    assert model.neck.mlp[0].weight.grad.abs().sum() > 0


def test_embed_and_tensor_mode(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg).eval()
    images = torch.randn(2, 3, 64, 64)
    student, teacher = model.embed(images), model.embed(images, teacher=True)
    for emb in (*student, *teacher):
        assert emb.shape == (2, model.feat_dim)
        torch.testing.assert_close(emb.norm(dim=1), torch.ones(2))
    assert [f.shape[1] for f in model(images, mode='tensor')] == [256, 512]


def test_each_local_crop_gets_its_own_backbone_pass(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, num_local_crops=3)
    crops = [torch.randn(4, 3, 32, 32), torch.randn(4, 3, 32, 32), torch.randn(4, 3, 48, 48)]
    seen = {}
    original = model.head.loss

    def spy(*args, **kwargs):
        seen['local'] = [x.detach() for x in args[6]]
        return original(*args, **kwargs)

    model.head.loss = spy
    losses = model.loss(views() + crops, None)
    assert torch.isfinite(losses['loss_global'])

    def global_embedding(images):
        return F.normalize(model.neck((model.backbone(images)[-1], ))[0], dim=1).detach()

    # train-mode batch norm: each crop is normalised with its own batch statistics ...
    for crop, local in zip(crops, seen['local']):
        torch.testing.assert_close(local, global_embedding(crop))
    # ... which differs from one pass over both 32 px crops together
    together = global_embedding(torch.cat(crops[:2]))
    assert not torch.allclose(together[:4], seen['local'][0], atol=1e-4)
    with raises_stating(ValueError, '2 views', 'got 5', 'num_local_crops'):
        build(copy.deepcopy(tiny_cgh_cfg), num_local_crops=0).loss(views() + crops, None)


def test_low_precision_queue(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg, queue_dtype='bfloat16')
    losses = model.loss(views(), None)
    assert all(torch.isfinite(v) for v in losses.values())
    assert model.state_dict()['hypercolumn_queue'].dtype == torch.bfloat16


def test_queue_not_a_multiple_of_the_global_batch(tiny_cgh_cfg):
    # the numbers, and the fix: a queue length that fits (60)
    with raises_stating(ValueError, 'queue_len=64', '6 per GPU x 1 GPUs', 'model.queue_len',
                        '60'):
        build(tiny_cgh_cfg).loss(views(batch=6), None)
    with raises_stating(ValueError, 'queue_len=4', '(e.g. 8)'):
        build(tiny_cgh_cfg, queue_len=4).loss(views(batch=8), None)


def test_bad_constructor_arguments(tiny_cgh_cfg):
    # each: the setting, the value given, what is allowed
    with raises_stating(ValueError, 'teacher_momentum', '[0, 1)', 'got 1.5'):
        MODELS.build(dict(tiny_cgh_cfg, teacher_momentum=1.5))
    with raises_stating(ValueError, 'queue_dtype', "'int8'", "'float32'", "'bfloat16'"):
        MODELS.build(dict(tiny_cgh_cfg, queue_dtype='int8'))
    # the two dimensions and the setting that makes them agree
    neck_dim = tiny_cgh_cfg['neck']['out_channels']
    with raises_stating(ValueError, 'feat_dim=16', f'{neck_dim}-d', 'out_channels'):
        build(tiny_cgh_cfg, feat_dim=16).loss(views(), None)


def test_channels_last_gives_the_same_losses(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    twin = copy.deepcopy(model).to(memory_format=torch.channels_last)
    inputs = views()
    expected = model.loss(inputs, None)
    got = twin.loss([v.contiguous(memory_format=torch.channels_last) for v in inputs], None)
    for key in ('loss_hyper', 'loss_global'):
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)


def test_autocast_keeps_relations_in_float32(tiny_cgh_cfg):
    model = build(tiny_cgh_cfg)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model.loss(views(), None)
    for key in ('loss_hyper', 'loss_global'):
        assert losses[key].dtype == torch.float32 and torch.isfinite(losses[key])
    (losses['loss_hyper'] + losses['loss_global']).backward()
    grad = model.neck.mlp[0].weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def global_only(cfg):
    cfg = copy.deepcopy(cfg)
    cfg.update(hypercolumn_neck=None,
               head=dict(type='CrossContextHead', teaching='global', global_weight=1.0))
    return cfg


def test_global_teaching_builds_no_hypercolumn_branch(tiny_cgh_cfg):
    model = build(global_only(tiny_cgh_cfg))
    assert model.hypercolumn_neck is None and model.hypercolumn_queue is None
    state = model.state_dict()
    assert not any('hypercolumn' in key for key in state)
    full = build(copy.deepcopy(tiny_cgh_cfg))
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(model) == count(full) - 2 * count(full.hypercolumn_neck)  # student + teacher
    inputs = views(batch=4)
    losses = sgd_step(model, inputs)
    assert set(k for k in losses if k.startswith('loss')) == {'loss_nce', 'loss_global'}
    assert torch.isfinite(losses['loss_global']) and losses['loss_global'].item() > 0
    state = model.state_dict()  # the step's teacher keys are in the global queue
    assert int(state['queue_ptr']) == 4
    assert model.embed(inputs[0])[1] is None


def test_teaching_and_hypercolumn_neck_must_agree(tiny_cgh_cfg):
    mixed = global_only(tiny_cgh_cfg)
    mixed['hypercolumn_neck'] = tiny_cgh_cfg['hypercolumn_neck']
    # the two settings that disagree, and the values that agree
    with raises_stating(ValueError, "head.teaching='global'", 'model.hypercolumn_neck=None'):
        MODELS.build(mixed)
    missing = dict(copy.deepcopy(tiny_cgh_cfg), hypercolumn_neck=None)
    with raises_stating(ValueError, "head.teaching='cross'", 'model.hypercolumn_neck',
                        "teaching='global'", 'HypercolumnNeck'):
        MODELS.build(missing)


def test_foreach_teacher_update_equals_mmengines_per_tensor_ema(tiny_cgh_cfg):
    from mmengine.model import ExponentialMovingAverage
    model = build(tiny_cgh_cfg, teacher_momentum=0.9)
    reference = ExponentialMovingAverage(model._student(), momentum=0.1)
    with torch.no_grad():  # a teacher unlike the student, so that the first copy shows
        for p in model.teacher.module.parameters():
            p.add_(1.0)
    model._teacher_moves = False  # as in a micro-batch: loss() leaves the teacher alone
    for _ in range(3):  # the first update copies the student, the next ones average
        sgd_step(model, views())  # moves the student (and its BN statistics)
        model._update_teacher()
        reference.update_parameters(model._student())
        got, expected = model.teacher.state_dict(), reference.state_dict()
        assert got.keys() == expected.keys() and len(got) > 100
        for key, value in expected.items():  # the same arithmetic: equal, not close
            torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)
    assert int(model.teacher.steps) == 3


class RecordOps(TorchDispatchMode):
    """Each aten op called in the block: its name and, per list argument, its dtypes."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        dtypes = [{t.dtype for t in a} for a in args if isinstance(a, (list, tuple))]
        self.calls.append((func.__name__, dtypes))  # e.g. '_foreach_lerp_.Scalar'
        return func(*args, **(kwargs or {}))


def test_teacher_update_reads_no_device_value_and_runs_few_foreach_calls(tiny_cgh_cfg):
    """No `.item()` (what a 0-dim device tensor as `_foreach_lerp_`'s weight costs, a host
    sync per step on a GPU); the BN buffers copied in one call per dtype (a call mixing
    float32 and int64 takes CUDA's per-tensor path); from the second update on, one lerp
    over all parameters with the momentum."""
    model = build(tiny_cgh_cfg)
    for update in range(3):
        with RecordOps() as record:
            model._update_teacher()
        names = [name for name, _ in record.calls]
        assert not any(name.startswith('_local_scalar_dense') for name in names), names
        copies = [dtypes for name, dtypes in record.calls if name.startswith('_foreach_copy_')]
        assert sorted(len(d) for d in copies[0]) == [1, 1] and len(copies) == 2, copies
        lerps = [name for name in names if name.startswith('_foreach_lerp_')]
        assert lerps == (['_foreach_lerp_.List'] if update == 0 else ['_foreach_lerp_.Scalar'])
    assert int(model.teacher.steps) == 3


def test_first_teacher_update_after_a_load_copies_the_student(tiny_cgh_cfg):
    # The host's knowledge that the teacher was updated must not outlive a load of a
    # teacher that never was (steps 0): its next update is a copy again, as mmengine's.
    model = build(tiny_cgh_cfg)
    untrained = copy.deepcopy(model.state_dict())
    for _ in range(2):
        sgd_step(model, views())
    model.load_state_dict(untrained)
    with torch.no_grad():
        for p in model.teacher.module.parameters():
            p.add_(1.0)
    model._update_teacher()
    for (name, teacher), student in zip(model.teacher.module.named_parameters(),
                                        model._student().parameters()):
        assert torch.equal(teacher, student), name


def test_state_dict_between_forward_and_backward_keeps_the_step(tiny_cgh_cfg):
    # An EMA or checkpoint hook may call state_dict() while a backward is pending.
    model = build(tiny_cgh_cfg)
    model.loss(views(), None)  # keys pending for the next step's write
    twin = copy.deepcopy(model)
    inputs = views()

    def grads(m, state_dict_in_between):
        losses = m.loss(inputs, None)
        state = m.state_dict() if state_dict_in_between else None
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        return [p.grad.clone() for p in m._student().parameters()], state

    expected, _ = grads(twin, False)
    got, state = grads(model, True)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=0, atol=0)
    assert int(state['queue_ptr']) == 8  # the checkpoint holds this step's keys ...
    assert int(model.queue_ptr) == 4  # ... that the queues take at the next step
    model.load_state_dict(state)  # loading drops keys pending from before the load
    model.loss(views(), None)
    assert int(model.state_dict()['queue_ptr']) == 12


@pytest.mark.slow
def test_loss_has_no_graph_break(tiny_cgh_cfg):
    # torch.compile traces the whole loss into one graph: no host read of the queue
    # pointer or of the EMA's step count.
    model = build(tiny_cgh_cfg)
    model.loss(views(), None)  # keys pending: the traced step writes them
    explanation = torch._dynamo.explain(model.loss)(views(), None)
    assert explanation.graph_break_count == 0, explanation.break_reasons
