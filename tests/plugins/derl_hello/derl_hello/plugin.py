"""derl-hello: a third-party plugin. It adds the `hello` algorithm (a uniform random policy: the smallest
thing that runs through derl's runner, summaries and CLI) and the `corridor` env family."""
from derl_core import hookimpl
from derl_core.spec import AlgorithmSpec, EnvFamilySpec, hp


@hookimpl
def derl_register_algorithms(register):
    register(AlgorithmSpec(
        api_version=2,
        name="hello",
        summary="uniformly random actions (a plugin-writing example)",
        factory="derl_hello.algorithm:HelloFactory",
        hyperparameters=[
            hp("num_envs", int, "parallel envs", 2, 1, 64, corridor=1),
            hp("total_steps", int, "env steps", 1000, 1, None),
            hp("nsteps", int, "steps per rollout", 16, 1, None),
        ],
        action_spaces=("Discrete",),
    ))


@hookimpl
def derl_register_env_families(register):
    register(EnvFamilySpec("corridor", "a 1-D corridor: walk right to the goal", lambda env_id:
                           env_id.startswith("Corridor-"), "derl_hello.corridor", priority=50))


@hookimpl(specname="derl_register_env_families")
def register_crash_family(register):
    register(EnvFamilySpec("crash", "CartPole whose env worker process dies at step 40 (tests)",
                           lambda env_id: env_id == "Crash-v0", "derl_hello.crash", priority=50,
                           vectorization="async"))
