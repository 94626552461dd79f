"""Move Tiny-ImageNet's ``val/images/*`` into ``val/<wnid>/`` as ``CustomDataset`` wants
(or copy them into ``DIR/<wnid>/``), once every image is known to be annotated and every
annotated image to exist."""
import argparse
import os
import os.path as osp
import shutil
from typing import Optional

from tqdm import tqdm


def sort_val(root: str, out: Optional[str] = None) -> int:
    """Sort ``root/val/images`` (into ``out``, if given); returns the number of images."""
    val = osp.join(root, 'val')
    images_dir, annotations = osp.join(val, 'images'), osp.join(val, 'val_annotations.txt')
    labels = {}
    with open(annotations) as f:  # FileNotFoundError names a missing file
        for number, line in enumerate(f, 1):
            fields = line.rstrip('\n').split('\t')
            if not line.strip():
                continue
            if len(fields) < 2 or not all(fields[:2]):
                raise ValueError(f'{annotations}:{number}: expected "file<TAB>wnid<TAB>box", '
                                 f'got {line.strip()!r}')
            labels[fields[0]] = fields[1]
    if not labels:
        raise ValueError(f'{annotations} is empty')
    if not osp.isdir(images_dir):
        raise FileNotFoundError(f'{images_dir} not found: is {root} the tiny-imagenet-200 '
                                'folder, or was val/ already sorted?')
    on_disk = set(os.listdir(images_dir))
    missing, unlabelled = sorted(set(labels) - on_disk), sorted(on_disk - set(labels))
    if missing:
        raise FileNotFoundError(f'{len(missing)} annotated images are missing from '
                                f'{images_dir}, e.g. {osp.join(images_dir, missing[0])}')
    if unlabelled:
        raise ValueError(f'{len(unlabelled)} images in {images_dir} have no line in '
                         f'val_annotations.txt, e.g. {unlabelled[0]}')
    wnids_file = osp.join(root, 'wnids.txt')
    if osp.isfile(wnids_file):
        with open(wnids_file) as f:
            unknown = sorted(set(labels.values()) - {line.strip() for line in f})
        if unknown:
            raise ValueError(f'val_annotations.txt names classes not in {wnids_file}: '
                             f'{unknown[:5]}')
    transfer = shutil.move if out is None else shutil.copy2
    for name, wnid in tqdm(sorted(labels.items()), desc='val', unit='img', disable=None):
        os.makedirs(osp.join(out or val, wnid), exist_ok=True)
        transfer(osp.join(images_dir, name), osp.join(out or val, wnid, name))
    if out is None:
        os.rmdir(images_dir)  # else it would become a class of CustomDataset
    return len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('root', help='the tiny-imagenet-200 folder')
    parser.add_argument('--out', help='copy into OUT/<wnid>/ instead of moving in place')
    args = parser.parse_args()
    count = sort_val(args.root, args.out)
    print(f'{count} validation images sorted into {args.out or osp.join(args.root, "val")}/<wnid>/')


if __name__ == '__main__':
    main()
