from ._fastsci import *  # noqa
