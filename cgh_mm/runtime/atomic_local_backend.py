from mmengine.fileio import LocalBackend, register_backend

from .checkpoint import write_file_atomically


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """Files that a crash cannot leave half-written.

    mmengine's local file backend whose writes are atomic: a reader, or a resume after a
    kill, sees the old file or the whole new one, never a part. Selected by
    ``backend_args=dict(backend='atomic_local')``, e.g. in a ``CheckpointHook``;
    ``AtomicCheckpointHook`` uses it by default."""

    def put(self, obj: bytes, filepath) -> None:
        write_file_atomically(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_file_atomically(str(filepath), obj.encode(encoding))
