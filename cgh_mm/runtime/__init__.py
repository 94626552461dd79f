"""The generic mmengine runtime of cgh-mm: checkpoints written atomically, loaded safely
and checked against the run; exact resume (random states, mid-epoch); a stop at a
non-finite loss; strict pretrained weights; a readable optimizer log. Nothing in it is
specific to CGH: its hooks, loop, initialiser and optimizer constructor register into
mmengine's root registries, where mmpretrain's, mmdet's and mmseg's find them, and it
imports neither mmpretrain nor scipy, so a downstream config can import it alone."""
from .atomic_local_backend import AtomicLocalBackend
from .backbone_weights import load_backbone_weights, read_state_dict, strip_prefix
from .checkpoint import (
    AtomicWriteError,
    check_checkpoint_file,
    check_checkpoint_paths,
    checkpoint_folder,
    describe_state_dict_mismatch,
    find_resume_checkpoint,
    list_checkpoints,
    load_checkpoint_safely,
    rebased_path,
    resume_of,
    write_file_atomically,
)
from .hooks import *  # noqa: F403
from .initializers import *  # noqa: F403
from .loops import *  # noqa: F403
from .optimizers import *  # noqa: F403
from .safe_loading import allow_mmengine_checkpoint_globals, mmengine_checkpoint_globals
