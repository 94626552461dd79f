from .algorithms import *  # noqa: F403
from .data_preprocessors import *  # noqa: F403
from .heads import *  # noqa: F403
from .necks import *  # noqa: F403
from .utils import *  # noqa: F403
