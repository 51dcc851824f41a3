"""LiteRT (TensorFlow Lite) models shared by the face engines: one interpreter per model file
per process, its invocations serialised."""

from __future__ import annotations

import threading

import numpy as np
from ai_edge_litert.interpreter import Interpreter

INTERPRETER_THREADS = 2


class LockedInterpreter:
    """A LiteRT interpreter is not safe for concurrent invocations; this one serialises them."""

    def __init__(self, model_file: str) -> None:
        self._interpreter = Interpreter(model_path=model_file, num_threads=INTERPRETER_THREADS)
        self._interpreter.allocate_tensors()
        self._input_index = self._interpreter.get_input_details()[0]["index"]
        self._output_indices = [detail["index"] for detail in self._interpreter.get_output_details()]
        self._lock = threading.Lock()

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        with self._lock:
            self._interpreter.set_tensor(self._input_index, batch)
            self._interpreter.invoke()
            return [self._interpreter.get_tensor(index).copy() for index in self._output_indices]
