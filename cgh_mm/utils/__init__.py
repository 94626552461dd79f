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
    write_file_atomically,
)
from .checkpoint_globals_hook import CheckpointGlobalsHook
from .resumable_loop import ResumableEpochBasedTrainLoop
from .safe_loading import allow_mmengine_checkpoint_globals, mmengine_checkpoint_globals
from .strict_pretrained_init import StrictPretrainedInit
