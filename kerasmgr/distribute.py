"""Distribution strategies for training: one process, or many workers with TensorFlow's own engine.

``strategy`` (``bin/train.py --strategy``):

* ``'default'`` — no distribution (TensorFlow's default strategy);
* ``'mirrored'`` — :class:`tf.distribute.MirroredStrategy` over this machine's devices (every GPU,
  or the CPU);
* ``'multiworker'`` — :class:`tf.distribute.MultiWorkerMirroredStrategy`: synchronous data
  parallelism over the workers listed in the ``TF_CONFIG`` environment variable, one process per
  worker, gradients all-reduced after every step.

With several workers, ``batch_size`` stays the *global* batch: each worker reads its own
``batch_size / n_workers`` examples of every global batch (:func:`kerasmgr.data.pipeline.training_dataset`
with ``num_workers``/``worker_index``), so one global step sees the same examples whatever the
number of workers. Worker 0 (or the ``chief`` task, if the cluster has one) writes the run
folder; every other worker writes its own files under ``<run folder>/worker-<k>/`` (removed when
training ends).

Two known gaps of Keras 3.13's TensorFlow trainer under ``MultiWorkerMirroredStrategy`` are
mended by :func:`make_strategy` (and nowhere else): the symbolic build of the first batch
reduces the per-replica input batch across workers, which fails for ``(x, y)`` tuples, and the
per-step metric reduction asks for a ``MEAN`` over axis 0 of scalars. The first batch is only
needed for its shapes, so the local replica's batch is used; metrics are averaged over workers.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

__all__ = ["STRATEGIES", "make_strategy", "WorkerInfo", "worker_info"]

STRATEGIES = ("default", "mirrored", "multiworker")


@dataclass(frozen=True)
class WorkerInfo:
    """Where this process sits in the cluster."""

    n_workers: int = 1
    index: int = 0
    is_chief: bool = True


def _tf_config():
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None
    try:
        cfg = json.loads(raw)
        cluster, task = cfg["cluster"], cfg["task"]
        task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"TF_CONFIG is not valid JSON with 'cluster' and 'task' ({e}): {raw[:200]}") from None
    return cluster, task


def worker_info(strategy_name="default"):
    """This process's worker count, index among the workers and whether it is the chief.

    Read from ``TF_CONFIG`` for ``'multiworker'``; a single worker otherwise.
    """
    if strategy_name != "multiworker":
        return WorkerInfo()
    parsed = _tf_config()
    if parsed is None:
        return WorkerInfo()
    cluster, task = parsed
    workers = list(cluster.get("chief", [])) + list(cluster.get("worker", []))
    if task["type"] == "chief":
        index = 0
    else:
        index = int(task["index"]) + len(cluster.get("chief", []))
    return WorkerInfo(n_workers=max(len(workers), 1), index=index, is_chief=index == 0)


def make_strategy(name="default"):
    """Create the distribution strategy ``name`` (see the module docstring).

    Call it before any other TensorFlow work in the process: ``MultiWorkerMirroredStrategy``
    configures the collective runtime at start-up.

    Returns
    -------
    tf.distribute.Strategy
    """
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if _tf_config() is None:
        raise ValueError("--strategy multiworker needs the TF_CONFIG environment variable (cluster and task of "
                         "this worker); see README 'Training on several machines'")
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    _mend_keras_multiworker()
    return strategy


_MENDED = False


def _mend_keras_multiworker():
    """Patch Keras 3.13's TensorFlow trainer for MultiWorkerMirroredStrategy (see the module docstring)."""
    global _MENDED
    if _MENDED:
        return
    import tensorflow as tf
    # Keras internals, on purpose: Keras 3.13 has no public hook for how its TensorFlow trainer
    # reduces per-replica values or builds a distributed model (see the module docstring).
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    original_reduce = tf_trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and tf_trainer._collective_all_reduce_multi_worker(strategy):
            return tree.map_structure(
                lambda v: strategy.reduce("MEAN", v, axis=None) if tf_trainer._is_per_replica_instance(v) else v,
                values)
        return original_reduce(values, strategy, reduction)

    def maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                batch = next(it)
                break
            local = self.distribute_strategy.experimental_local_results
            data_batch = tree.map_structure(
                lambda v: local(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v, batch)
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = maybe_symbolic_build
    _MENDED = True
