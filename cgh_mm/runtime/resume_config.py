"""What a resume may change: the config stored in a checkpoint against the run's config."""
import ast
import fnmatch
import inspect
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from mmengine import registry

# The settings of a run that decide what it trains. A resume that changes one of them
# continues the checkpoint's run under other settings: the result is neither run.
TRAINING_KEYS = ('model', 'data_preprocessor', 'train_dataloader', 'train_cfg', 'optim_wrapper',
                 'param_scheduler', 'custom_hooks', 'default_hooks', 'randomness', 'sync_bn')

# Within them, what a resume may change without changing what is trained: the length of
# training and when to validate; data-loading resources (with loader workers the random
# stream differs anyway, see RandomStateHook); numerical precision (--amp) and memory
# layout; how and when to log, save and check. The batch per process: the same global
# batch over another process count resumes, and CGHHealthHook refuses another global
# batch with the numbers. randomness.seed is compared with the seed the checkpoint ran
# with (its meta), as a None seed takes the checkpoint's.
RESUME_MAY_CHANGE = (
    'train_cfg.max_epochs', 'train_cfg.max_iters', 'train_cfg.val_interval',
    'train_cfg.val_begin', 'train_cfg.dynamic_intervals*',
    'train_dataloader.num_workers', 'train_dataloader.persistent_workers',
    'train_dataloader.pin_memory', 'train_dataloader.prefetch_factor',
    'train_dataloader.batch_size',
    'optim_wrapper.type', 'optim_wrapper.loss_scale*', 'optim_wrapper.dtype',
    'model.channels_last', 'model.data_preprocessor.non_blocking',
    'default_hooks.logger*', 'default_hooks.timer*', 'default_hooks.visualization*',
    'default_hooks.checkpoint*', 'default_hooks.non_finite_loss*',
    'randomness.seed', 'randomness.deterministic',
)

# Restored from the checkpoint's optimizer state whatever the config says: reported as
# ignored, not refused (the resumed run is the checkpoint's run).
RESTORED_FROM_CHECKPOINT = ('optim_wrapper.optimizer.*', 'optim_wrapper.paramwise_cfg*')


def _literal(node: ast.AST) -> Any:
    """The value of a config expression made of constants, lists, tuples, dicts and
    ``dict(...)`` calls; anything else as its source text (compared, never run)."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {_literal(k): _literal(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == 'dict' and not node.args and None not in \
            [k.arg for k in node.keywords]:
        return {k.arg: _literal(k.value) for k in node.keywords}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, (int, float)):
            return -value if isinstance(node.op, ast.USub) else value
    return ast.unparse(node)


def config_from_text(text: str) -> Dict[str, Any]:
    """A config's text as mmengine stores it in a checkpoint (``meta['cfg']``, its
    ``pretty_text``) as a dict, read without running it: a checkpoint's text is data."""
    found = {}
    for statement in ast.parse(text).body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and \
                isinstance(statement.targets[0], ast.Name):
            found[statement.targets[0].id] = _literal(statement.value)
    return found


def flat_items(value: Any, prefix: str = '') -> Iterator[Tuple[str, Any]]:
    """``(dotted key, leaf value)`` of nested dicts, lists and tuples (index as key)."""
    if not isinstance(value, (dict, list, tuple)) or not value:
        yield prefix, [] if isinstance(value, tuple) and not value else value
        return
    for key, item in value.items() if isinstance(value, dict) else enumerate(value):
        yield from flat_items(item, f'{prefix}.{key}' if prefix else str(key))


def key_matches(key: str, patterns: Sequence[str]) -> bool:
    """Whether dotted ``key`` matches one of the ``fnmatch`` ``patterns``, or is under one."""
    return any(fnmatch.fnmatchcase(key, p) or key.startswith(p.rstrip('*') + '.')
               for p in patterns)


_NO_DEFAULT = inspect.Parameter.empty

# mmengine's root registries of what a config's `type` may name; mmpretrain's, mmdet's and
# mmseg's registries are their children, reached through a default scope.
_REGISTRIES = ('MODELS', 'DATASETS', 'TRANSFORMS', 'HOOKS', 'OPTIMIZERS', 'OPTIM_WRAPPERS',
               'PARAM_SCHEDULERS', 'LOOPS', 'DATA_SAMPLERS', 'TASK_UTILS')


def constructor_default(kind: Any, argument: str, scope: Optional[str] = None) -> Any:
    """The default of ``argument`` of the class a config's ``type`` names, or
    ``inspect.Parameter.empty``. A name is looked up as a Runner builds it: in mmengine's
    root registries switched to the default scope ``scope`` (a run's ``default_scope``,
    e.g. ``'mmdet'``; None: the current one), which imports only that scope's package."""
    cls = kind if inspect.isclass(kind) else None
    for name in _REGISTRIES:
        if cls is not None:
            break
        try:
            with getattr(registry, name).switch_scope_and_registry(scope) as scoped:
                cls = scoped.get(kind)
        except (KeyError, TypeError, ImportError):
            cls = None
    if cls is None:
        return _NO_DEFAULT
    try:
        parameter = inspect.signature(cls).parameters.get(argument)
    except (TypeError, ValueError):
        return _NO_DEFAULT
    return _NO_DEFAULT if parameter is None else parameter.default


def _parent(config: Any, key: str) -> Any:
    for part in key.split('.')[:-1]:
        if isinstance(config, dict):
            config = config.get(part)
        elif isinstance(config, (list, tuple)) and part.isdigit() and int(part) < len(config):
            config = config[int(part)]
        else:
            return None
    return config


def resume_differences(saved: Dict[str, Any], current: Dict[str, Any],
                       allowed: Sequence[str] = (),
                       default_of: Optional[Callable[[Any, str, Optional[str]], Any]]
                       = constructor_default) -> Tuple[List[str], List[str]]:
    """``(refused, restored)``: ``'key: saved -> current'`` for each setting of
    :data:`TRAINING_KEYS` that differs between the checkpoint's config ``saved`` and the
    run's ``current``, split into those a resume must not change and those the
    checkpoint's optimizer state overrides. Keys matching :data:`RESUME_MAY_CHANGE` or
    ``allowed`` (patterns as in ``fnmatch``; a key also covers what is under it) are left
    out, and so is a key set on one side only to the default of its class's constructor
    (``default_of(type, argument, scope)``, the class looked up in the run's
    ``default_scope``)."""
    def training(config: Dict[str, Any]) -> Dict[str, Any]:
        return dict(flat_items({k: config.get(k) for k in TRAINING_KEYS if k in config}))

    old, new = training(saved), training(current)
    refused, restored = [], []
    for key in sorted(set(old) | set(new), key=lambda k: k.split('.')):
        a, b = old.get(key, '(absent)'), new.get(key, '(absent)')
        if a == b or key_matches(key, (*RESUME_MAY_CHANGE, *allowed)):
            continue
        shown = [repr(a), repr(b)]
        if default_of is not None and '(absent)' in (a, b):
            parent = _parent(saved if b == '(absent)' else current, key)
            default = default_of(parent['type'], key.rsplit('.', 1)[-1],
                                 current.get('default_scope')) \
                if isinstance(parent, dict) and 'type' in parent else _NO_DEFAULT
            if default == (b if a == '(absent)' else a):
                continue
            if default is not _NO_DEFAULT:
                shown[(a, b).index('(absent)')] = f'{default!r} (default)'
        restored_key = key_matches(key, RESTORED_FROM_CHECKPOINT) and \
            key != 'optim_wrapper.optimizer.type'
        (restored if restored_key else refused).append(f'{key}: {shown[0]} -> {shown[1]}')
    return refused, restored


def resume_mismatch(meta: Dict[str, Any], current: Dict[str, Any],
                    allowed: Sequence[str] = ()) -> Tuple[List[str], List[str]]:
    """:func:`resume_differences` between a checkpoint's ``meta`` (its ``cfg`` text, as
    mmengine saves it) and the run's config ``current`` (a dict); the seed is compared
    with the one the checkpoint ran with (``meta['seed']``) unless the run leaves it to
    the checkpoint (``randomness.seed=None``). ``allowed``: patterns, or one as a string."""
    allowed = [allowed] if isinstance(allowed, str) else list(allowed)
    refused: List[str] = []
    restored: List[str] = []
    if isinstance(meta.get('cfg'), str) and 'model' in current:
        refused, restored = resume_differences(config_from_text(meta['cfg']), current, allowed)
    seed = (current.get('randomness') or {}).get('seed')
    if None not in (seed, meta.get('seed')) and seed != meta['seed'] and \
            not key_matches('randomness.seed', allowed):
        refused.insert(0, f'randomness.seed: {meta["seed"]!r} -> {seed!r}')
    return refused, restored


def resume_refusal(source: str, refused: Sequence[str]) -> str:
    """The error for a resume whose run differs from its checkpoint's in ``refused``."""
    keys = ','.join(dict.fromkeys(item.split(':')[0] for item in refused))
    return (f'--resume: the checkpoint ({source}) was written by a run with other settings '
            f'than this one (checkpoint -> this run): {"; ".join(refused)}. Resuming would '
            'continue that run under these settings, and the result would be neither run. '
            'Resume with the checkpoint\'s settings (the config and --cfg-options it was '
            'trained with), or start a new run in its own work dir (from its weights: '
            f'--cfg-options load_from={source}, a fresh optimizer and schedule). If the change '
            'is meant (e.g. the same data moved to another data_root), allow it: '
            f'--cfg-options default_hooks.checkpoint_match.resume_may_change=[{keys}]')
