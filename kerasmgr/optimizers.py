"""Registered optimizers (imported by ``kerasmgr`` so saved models load without custom objects)."""

from __future__ import annotations

import keras

__all__ = ["ScheduledMomentumSGD", "EpochExponentialDecay"]


@keras.saving.register_keras_serializable(package="kerasmgr")
class ScheduledMomentumSGD(keras.optimizers.SGD):
    """SGD whose momentum lives in a variable, so a schedule can change it during training.

    (Keras 3's SGD reads ``self.momentum`` as a Python float that is frozen into the traced
    training step.) Same update as ``keras.optimizers.SGD``; set the momentum with
    :meth:`set_momentum`.
    """

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self._momentum_value = self.add_variable((), initializer=keras.initializers.Constant(self.momentum),
                                                 name="momentum_value")

    def set_momentum(self, value):
        self._momentum_value.assign(float(value))

    def update_step(self, gradient, variable, learning_rate):
        ops = keras.ops
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        m = self.momentums[self._get_variable_index(variable)]
        momentum = ops.cast(self._momentum_value, variable.dtype)
        self.assign(m, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)))
        if self.nesterov:
            self.assign_add(variable, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)))
        else:
            self.assign_add(variable, m)


@keras.saving.register_keras_serializable(package="kerasmgr")
class EpochExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``lr0 * rate ** (epoch / decay_epochs)`` with ``epoch = floor(step / steps_per_epoch)``.

    Seed 001's EXP schedule as its text states it ("global is the current epoch number"): the
    learning rate is constant within an epoch.

    Parameters
    ----------
    initial_learning_rate : float
    steps_per_epoch : int
        Optimizer steps per epoch.
    decay_epochs : float
        Epochs per decay by ``decay_rate``.
    decay_rate : float
    """

    def __init__(self, initial_learning_rate, steps_per_epoch, decay_epochs, decay_rate):
        self.initial_learning_rate = float(initial_learning_rate)
        self.steps_per_epoch = int(steps_per_epoch)
        self.decay_epochs = float(decay_epochs)
        self.decay_rate = float(decay_rate)

    def __call__(self, step):
        ops = keras.ops
        epoch = ops.floor(ops.cast(step, "float32") / float(max(self.steps_per_epoch, 1)))
        return self.initial_learning_rate * ops.power(self.decay_rate, epoch / self.decay_epochs)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "steps_per_epoch": self.steps_per_epoch,
                "decay_epochs": self.decay_epochs, "decay_rate": self.decay_rate}
