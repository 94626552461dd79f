from .cgh_health_hook import CGHHealthHook
