"""Registered optimizers (imported by ``kerasmgr`` so saved models load without custom objects)."""

from __future__ import annotations

import keras

__all__ = ["ScheduledMomentumSGD"]


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
