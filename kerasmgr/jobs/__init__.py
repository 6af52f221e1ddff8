"""Workflows: the only code that opens datasets and models and writes run or report folders.

One module per workflow. Each takes paths, names and options (a
:class:`~kerasmgr.data.selection.DataSelection` for the data), calls the computational modules
(:mod:`kerasmgr.training`, :mod:`kerasmgr.evaluation`, :mod:`kerasmgr.adversary`, ...) on arrays
and models, and writes its results incrementally so an interrupted job resumes:

- :mod:`~kerasmgr.jobs.train` — a run folder from a configuration (``bin/train.py``);
- :mod:`~kerasmgr.jobs.evaluate` — evaluation reports and split comparisons (``bin/evaluate.py``);
- :mod:`~kerasmgr.jobs.tag` — tags of audio files (``bin/tag.py``);
- :mod:`~kerasmgr.jobs.extract` — feature files (``bin/extract_features.py``);
- :mod:`~kerasmgr.jobs.transfer` — SVM transfer-learning tables (``bin/transfer.py``);
- :mod:`~kerasmgr.jobs.attack` — adversaries over a dataset (``bin/adversary.py``);
- :mod:`~kerasmgr.jobs.auralise` — auralisation reports (``bin/auralise.py``);
- :mod:`~kerasmgr.jobs.analyse` — label vectors, label noise, reliability (``bin/analyse.py``);
- :mod:`~kerasmgr.jobs.activations` — activations vs hand-crafted features (``bin/analyse.py activations``);
- :mod:`~kerasmgr.jobs.prepare` — sharded datasets (``bin/prepare_dataset.py``);
- :mod:`~kerasmgr.jobs.dnn_features` — seed 004's DNN-feature protocol (``bin/dnn_features.py``);
- :mod:`~kerasmgr.jobs.reproduce` — the seeds' tables (``bin/reproduce.py``).

Importing this package imports none of them (each pulls in TensorFlow or scikit-learn).
"""
