"""Where SageMaker's files live for this process.

Inside a SageMaker container everything is under /opt/ml. A process run
without a private /opt/ml (the local control plane's process mode, the local
harness, tests) points at other folders through the SageMaker training
toolkit's variables; each one falls back to the /opt/ml default when unset.
"""
import os

OPT_ML = "/opt/ml"


class Paths:
    def __init__(self, environ=None):
        env = os.environ if environ is None else environ
        self._env = env
        self.input_dir = env.get("SM_INPUT_DIR") or os.path.join(OPT_ML, "input")
        self.config_dir = env.get("SM_INPUT_CONFIG_DIR") or os.path.join(self.input_dir, "config")
        self.data_dir = os.path.join(self.input_dir, "data")
        self.model_dir = env.get("SM_MODEL_DIR") or os.path.join(OPT_ML, "model")
        self.output_dir = env.get("SM_OUTPUT_DIR") or os.path.join(OPT_ML, "output")
        self.output_data_dir = env.get("SM_OUTPUT_DATA_DIR") or os.path.join(self.output_dir, "data")
        self.failure_file = os.path.join(self.output_dir, "failure")
        self.hyperparameters_file = os.path.join(self.config_dir, "hyperparameters.json")
        self.input_data_config_file = os.path.join(self.config_dir, "inputdataconfig.json")

    def channel_dir(self, name):
        """SM_CHANNEL_<NAME> when set, else <input>/data/<name>."""
        return self._env.get("SM_CHANNEL_" + name.upper()) or os.path.join(self.data_dir, name)

    def channels_from_env(self):
        """Channel names announced through SM_CHANNEL_* variables, lower-cased."""
        prefix = "SM_CHANNEL_"
        return sorted(k[len(prefix):].lower() for k in self._env if k.startswith(prefix) and k != "SM_CHANNELS")

    def describe(self):
        return {
            "input_dir": self.input_dir,
            "config_dir": self.config_dir,
            "model_dir": self.model_dir,
            "output_dir": self.output_dir,
            "output_data_dir": self.output_data_dir,
        }
