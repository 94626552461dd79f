"""Views of the training pipeline against the model: their number, and where each view
gets its colour augmentations (CPU transforms or the device preprocessor)."""
from typing import Any, List, Mapping, Optional, Sequence, Set

# Photometric transforms of mmpretrain / mmcv / torchvision (by type name, without scope).
COLOUR_TRANSFORMS = {
    'ColorJitter', 'RandomGrayscale', 'GaussianBlur', 'Solarize', 'RandomSolarize',
    'Brightness', 'Contrast', 'ColorTransform', 'Equalize', 'AutoContrast', 'Posterize',
    'Sharpness', 'Invert', 'RandAugment', 'AutoAugment', 'Grayscale', 'RandomEqualize',
    'RandomPosterize', 'RandomAdjustSharpness', 'RandomAutocontrast', 'RandomInvert',
}
DEVICE_PREPROCESSOR = 'ViewAugmentDataPreprocessor'
FIX_NO_COLOUR = (
    'With the dataset base configs/_base_/datasets/imagenet_cgh_device-aug.py (the CPU only '
    'crops and flips), add the colour part on the device: '
    'model = dict(data_preprocessor={{_base_.view_augment_preprocessor}}); or use a '
    'pipeline with the colour transforms on the CPU (configs/_base_/datasets/imagenet_cgh.py, '
    'or `cpu_aug_train_pipeline`).')


def _type_name(cfg: Any) -> str:
    name = str(cfg.get('type', '')) if isinstance(cfg, Mapping) else type(cfg).__name__
    return name.rsplit('.', 1)[-1].rsplit('/', 1)[-1]


def colour_transforms(transforms: Any) -> List[str]:
    """Type names of the colour transforms in a list of transform configs, nested
    wrappers (``RandomApply``, ``RandomChoice``, ...) included, in order."""
    found: List[str] = []
    if isinstance(transforms, (list, tuple)):
        for item in transforms:
            found += colour_transforms(item)
    elif isinstance(transforms, Mapping):
        if _type_name(transforms) in COLOUR_TRANSFORMS:
            found.append(_type_name(transforms))
        found += colour_transforms(transforms.get('transforms', []))
    return found


def _train_pipeline(cfg: Mapping) -> Optional[list]:
    dataset = (cfg.get('train_dataloader') or {}).get('dataset') or {}
    while isinstance(dataset, Mapping) and 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']  # RepeatDataset, ClassBalancedDataset, ...
    pipeline = dataset.get('pipeline') if isinstance(dataset, Mapping) else None
    return pipeline if isinstance(pipeline, (list, tuple)) else None


def _views(pipeline: Sequence) -> List[list]:
    """The CPU transforms of each view (one list per view), from the pipeline's
    ``MultiView``; a pipeline without one makes a single view."""
    multi = next((t for t in pipeline if _type_name(t) == 'MultiView'), None)
    if multi is None:
        return [list(pipeline)]
    num_views = multi.get('num_views', 1)
    num_views = [num_views] if isinstance(num_views, int) else list(num_views)
    groups = list(multi.get('transforms') or [])
    return [list(group) for group, count in zip(groups, num_views) for _ in range(count)]


def view_pairing_problems(cfg: Mapping, require_colour: bool = True) -> List[str]:
    """What is wrong between the training pipeline's views and the model, each a
    sentence naming the fix; empty when nothing is (or there is no pipeline to read).

    - the pipeline's views against ``2 + model.num_local_crops`` (weak, strong, local
      crops) and against the device preprocessor's ``view_pipelines``;
    - a view whose colour transforms run both on the CPU and on the device (the same
      kind of op twice: augmented twice);
    - with ``require_colour``, a strong view (view 1) with no colour transform on
      either side (the device-augmentation dataset base with a plain preprocessor).
    """
    pipeline = _train_pipeline(cfg)
    model = cfg.get('model') or {}
    if pipeline is None or not isinstance(model, Mapping):
        return []
    views = _views(pipeline)
    problems = []
    if _type_name(model) == 'CGH':
        expected = 2 + int(model.get('num_local_crops', 0) or 0)
        if len(views) != expected:
            problems.append(
                f'CGH takes {expected} views per image (weak, strong and '
                f'model.num_local_crops={model.get("num_local_crops", 0)} local crops) but got '
                f'{len(views)} from the training pipeline (its MultiView). Make the MultiView '
                f'produce {expected} views, or set model.num_local_crops='
                f'{max(len(views) - 2, 0)}.')
    preprocessor = model.get('data_preprocessor') or cfg.get('data_preprocessor') or {}
    device: List[list] = [[] for _ in views]
    if _type_name(preprocessor) == DEVICE_PREPROCESSOR:
        device = [list(p) for p in preprocessor.get('view_pipelines') or []]
        if len(device) != len(views):
            problems.append(
                f'model.data_preprocessor.view_pipelines has {len(device)} list(s) for '
                f'{len(views)} views of the training pipeline: give one list of device '
                'augmentations per view, in view order ([] for none).')
    for index, (cpu_view, device_view) in enumerate(zip(views, device)):
        twice: Set[str] = set(colour_transforms(cpu_view)) & set(colour_transforms(device_view))
        if twice:
            problems.append(
                f'view {index} gets {", ".join(sorted(twice))} twice: in the CPU pipeline '
                'and in model.data_preprocessor (ViewAugmentDataPreprocessor). Keep one: '
                'with the CPU colour pipeline set view_pipelines[{0}]=[] (e.g. '
                'model.data_preprocessor.view_pipelines=[[], []] as '
                'configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_cpu-aug.py), or use the '
                'crop-and-flip pipeline of configs/_base_/datasets/imagenet_cgh_device-aug.py '
                'with the device preprocessor.'.format(index))
    if require_colour and len(views) > 1 and not colour_transforms(views[1]) and \
            not colour_transforms(device[1] if len(device) > 1 else []):
        where = _type_name(preprocessor) or 'the default preprocessor'
        problems.append(
            'the strong view (view 1) gets no colour augmentation: its CPU transforms are '
            f'{[_type_name(t) for t in views[1]]} and the data preprocessor ({where}) adds '
            f'none. CGH would learn without colour jitter, grayscale or blur. {FIX_NO_COLOUR} '
            '(An ablation without colour augmentation: '
            "dict(type='CGHHealthHook', require_colour_augmentation=False).)")
    return problems
