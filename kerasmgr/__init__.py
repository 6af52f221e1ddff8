"""kerasmgr: deep music genre recognition and auto-tagging with Keras 3 and Kapre.

Importing the package registers every custom layer with Keras, so ``keras.models.load_model``
works on kerasmgr models without ``custom_objects``.
"""

__version__ = "0.1.0"

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter; set it to 0 to see it
# Worker processes of numpy-only jobs (synthesising the embedded dataset) set this so that they
# do not pay for importing TensorFlow; everywhere else the layers are registered on import.
if not _os.environ.get("KERASMGR_NUMPY_WORKER"):
    from . import frontends, layers, optimizers  # noqa: F401  (registers the layers and optimizers)
