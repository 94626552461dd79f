from .hooks import *  # noqa: F403
from .runner import *  # noqa: F403
