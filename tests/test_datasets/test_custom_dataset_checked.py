from mmpretrain.registry import DATASETS

from tests.helpers import raises_stating


def build(root):
    return DATASETS.build(dict(type='CustomDatasetChecked', data_root=str(root),
                               with_label=False, pipeline=[]))


def test_skipped_files_are_listed_by_extension(tmp_path, logged):
    warnings = logged
    for name in ('a.png', 'b.JPG', 'sub/c.webp', 'd.webp', 'notes.txt', 'README'):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b'')
    dataset = build(tmp_path)
    assert sorted(dataset.get_data_info(i)['img_path'].split('/')[-1]
                  for i in range(len(dataset))) == ['a.png', 'b.JPG']
    assert len(warnings) == 1
    # how many, where, of which kinds, and the setting that takes them in
    for fact in ('4 files', str(tmp_path), '2 .webp', '1 (no extension)', '1 .txt',
                 'train_dataloader.dataset.extensions='):
        assert fact in warnings[0], fact

    # nothing skipped: nothing said
    warnings.clear()
    (tmp_path / 'only_png').mkdir()
    (tmp_path / 'only_png' / 'a.png').write_bytes(b'')
    build(tmp_path / 'only_png')
    assert warnings == []


def test_a_folder_of_only_skipped_files_names_them(tmp_path):
    (tmp_path / 'x.webp').write_bytes(b'')
    with raises_stating(RuntimeError, '0 files', str(tmp_path), '1 .webp'):
        build(tmp_path)
