"""derl-foo's registration: no torch here (derl list and --help never import it)."""
from derl_core import hookimpl
from derl_core.config import rollout_problem
from derl_core.memory import rollout_bytes
from derl_core.spec import AlgorithmSpec, EncoderSpec, hp

HYPERPARAMETERS = [
    hp("num_envs", int, "parallel envs", 8, 1, 256),
    hp("total_steps", int, "env steps", 200_000, 1, None, atari=10_000_000),
    hp("nsteps", int, "steps per env per rollout", 64, 1, None),
    hp("gamma", float, "discount", 0.99, 0, 1),
    hp("gae_lambda", float, "GAE lambda", 0.95, 0, 1),
    hp("learning_rate", float, "Adam learning rate", 1e-3, 0, None, atari=2.5e-4),
    hp("value_coef", float, "value loss coefficient", 0.5, 0, None),
]


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=2,
        name="foo", summary="vanilla policy gradient with a learned baseline (tutorial)",
        factory="derl_foo.foo:FooFactory", hyperparameters=HYPERPARAMETERS,
        check=rollout_problem, memory=rollout_bytes))


@hookimpl
def derl_register_encoders(register):
    register(EncoderSpec(name="foo-tiny", summary="two 3x3 convolutions of 16 channels (tutorial)",
                         target="derl_foo.encoders:tiny_cnn"))
