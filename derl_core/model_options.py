"""Model options, declared once for every algorithm that builds its networks with the core's models (no torch
here: `derl ALG -h` lists them). A plugin offers them by adding `model_hyperparameters(...)` to its
hyperparameters, with its own defaults per env family; its Factory reads them with `self.model_options()`
and hands them to `actor_critic_policy` / `make_torso`. The core checks them together (config.check_together).

    --net-arch 256,256        hidden sizes of the torso (vectors), or of the layers after an image encoder
    --critic-arch same|SIZES  the critic's own torso, where actor and critic do not share one
    --activation tanh|relu|elu|gelu|silu
    --ortho-init / --policy-init-gain / --value-init-gain
    --log-std-init            the Gaussian's initial log-std (Box actions)
    --image-scale auto|none|D how uint8 images become floats: auto = pixels / 255 (today's rule), none = the
                              values themselves (MiniGrid's object indices), D = divided by D
    --encoder auto|nature|small|impala   the image encoder
    --model module:callable   your own torch module (models.custom_model: called with the spaces and these
                              options, its outputs checked before training; recorded by name, never pickled)
"""
from __future__ import annotations

from .spec import BUILTIN_ENCODERS, hp

ACTIVATIONS = ("tanh", "relu", "elu", "gelu", "silu")
ENCODERS = BUILTIN_ENCODERS
AUTO = "auto"
MAX_WIDTH, MAX_DEPTH = 65_536, 64
VECTOR_SIZES = (64, 64)   # --net-arch auto on vector observations (rl.models.VECTOR_HIDDEN)


def model_hyperparameters(net_arch: str = AUTO, activation: str = "tanh", ortho_init: bool = True,
                          log_std_init: float = 0.0, names=None, **family_defaults) -> list:
    """The model options as hyperparameters; `family_defaults` maps an option to {family: default}, e.g.
    model_hyperparameters(net_arch={"mujoco": "256,256"}); `names`: the options the algorithm's networks have
    (default: all of NAMES; DQN has no critic or Gaussian, SAC no image encoder)."""
    fam = (lambda name: family_defaults.get(name, {}))
    unknown = set(names or ()) - set(NAMES)
    if unknown:
        raise ValueError(f"model_hyperparameters: no model option {sorted(unknown)[0]!r} (see model_options.NAMES)")
    return [option for option in _all_options(net_arch, activation, ortho_init, log_std_init, fam)
            if names is None or option.name in names]


def _all_options(net_arch, activation, ortho_init, log_std_init, fam) -> list:
    return [
        hp("net_arch", str, "hidden layer sizes, comma-separated (auto: 64,64 for vectors, none after an image "
           "encoder)", net_arch, **fam("net_arch")),
        hp("critic_arch", str, "the critic's hidden sizes where it has its own torso (same: --net-arch's)", "same",
           **fam("critic_arch")),
        hp("activation", str, "hidden-layer activation", activation, choices=ACTIVATIONS, **fam("activation")),
        hp("ortho_init", bool, "orthogonal initialisation (hidden layers gain sqrt 2)", ortho_init,
           **fam("ortho_init")),
        hp("policy_init_gain", float, "orthogonal gain of the policy head", 0.01, 0, None, **fam("policy_init_gain")),
        hp("value_init_gain", float, "orthogonal gain of the value head", 1.0, 0, None, **fam("value_init_gain")),
        hp("log_std_init", float, "initial log-std of the Gaussian policy (Box actions)", log_std_init, -20, 2,
           **fam("log_std_init")),
        hp("image_scale", str, "uint8 images: auto (divide by 255), none (the values as they are) or a divisor",
           AUTO, **fam("image_scale")),
        hp("model", str, "your own torch module: module:callable(observation_space, action_space, options) -> "
           "nn.Module (docs/your-env.md, 'Your own model'); auto: derl's", AUTO, **fam("model")),
        hp("encoder", str, "image encoder: auto (the Nature CNN, a small 3x3 CNN under 36 pixels a side), nature, "
           "small, impala (IMPALA's residual CNN), or one a plugin ships (derl list)", AUTO, **fam("encoder")),
    ]


NAMES = ("net_arch", "critic_arch", "activation", "ortho_init", "policy_init_gain", "value_init_gain",
         "log_std_init", "image_scale", "encoder", "model")


def normalization_hyperparameters(obs: bool = False, reward: bool = False, **family_defaults) -> list:
    """Observation and reward normalisation as switches (the core applies them to the vector env: running
    mean/std of Box observations, clipped; rewards divided by the running std of the discounted return,
    clipped; statistics saved in checkpoints, applied by load().predict and baked into derl export).
    `family_defaults` as for model_hyperparameters, e.g. normalize_obs={"mujoco": True}."""
    fam = (lambda name: family_defaults.get(name, {}))
    return [
        hp("normalize_obs", bool, "normalise observations by their running mean and std (Box observations)", obs,
           **fam("normalize_obs")),
        hp("normalize_reward", bool, "divide rewards by the running std of the discounted return", reward,
           **fam("normalize_reward")),
        hp("clip_obs", float, "clip normalised observations to +-C", 10.0, 0, None, **fam("clip_obs")),
        hp("clip_reward", float, "clip normalised rewards to +-C", 10.0, 0, None, **fam("clip_reward")),
    ]


NORMALIZATION = ("normalize_obs", "normalize_reward", "clip_obs", "clip_reward")


def her_hyperparameters(**family_defaults) -> list:
    """Hindsight experience replay (Andrychowicz et al. 2017) for an off-policy algorithm's replay, one switch:
    `--her` relabels sampled transitions of goal envs (Dict observations with achieved_goal and desired_goal,
    and compute_reward(achieved_goal, desired_goal, info), gymnasium-robotics' convention) with goals the
    episode reached later. The Factory passes `self.her(env)` to ReplayStorage (rl/her.py)."""
    fam = (lambda name: family_defaults.get(name, {}))
    return [
        hp("her", bool, "hindsight experience replay for goal envs (Dict observations with achieved_goal, "
           "desired_goal and compute_reward)", False, **fam("her")),
        hp("her_goals", int, "with --her: relabelled goals per real one (SB3's n_sampled_goal; 4: 80% "
           "relabelled)", 4, 1, 64, **fam("her_goals")),
        hp("her_strategy", str, "with --her: future (a goal reached later in the episode) or final (the "
           "episode's last)", "future", choices=("future", "final"), **fam("her_strategy")),
    ]


HER = ("her", "her_goals", "her_strategy")
# options added after runs were made: a config.json or checkpoint without them used their defaults
LATER = NAMES + NORMALIZATION + HER
def upgraded(hparams: dict, known) -> dict:
    """Hyperparameters of an older record in today's names (`known`: the algorithm's): SAC's normalize_env
    became normalize_obs and normalize_reward, its hidden_size W became --net-arch W,W."""
    out = dict(hparams)
    if "normalize_env" in out and "normalize_env" not in known:
        value = out.pop("normalize_env")
        for name in ("normalize_obs", "normalize_reward"):
            if name in known:
                out.setdefault(name, value)
    if "hidden_size" in out and "hidden_size" not in known and "net_arch" in known:
        width = out.pop("hidden_size")
        out.setdefault("net_arch", f"{width},{width}" if isinstance(width, int) and not isinstance(width, bool)
                       else str(width)[:40])
    return out


def normalization(hparams: dict):
    """What env.make does about normalisation for a run with these hyperparameters: a dict of the switches
    (the core normalises), or True where the algorithm declares none (its env family decides, as before the
    switches: mujoco and pybullet normalise both)."""
    if not any(name in hparams for name in NORMALIZATION):
        return True
    return {"obs": bool(hparams.get("normalize_obs", False)), "reward": bool(hparams.get("normalize_reward", False)),
            "clip_obs": float(hparams.get("clip_obs", 10.0)), "clip_reward": float(hparams.get("clip_reward", 10.0)),
            "gamma": float(hparams.get("gamma", 0.99))}


def parse_arch(text: str, flag: str = "--net-arch"):
    """'64,64' -> (64, 64); 'auto' -> None (the model's own rule); '' or 'none' -> () (no hidden layer)."""
    text = str(text).strip().lower()
    if text == AUTO:
        return None
    if text in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise ValueError(f"{flag} must be sizes like 256,256 (or auto, none), got {text[:40]!r}") from None
    if len(sizes) > MAX_DEPTH or any(not 1 <= s <= MAX_WIDTH for s in sizes):
        raise ValueError(f"{flag} sizes must be 1..{MAX_WIDTH}, at most {MAX_DEPTH} layers, got {text[:40]!r}")
    return sizes


def parse_image_scale(text: str):
    """'auto' -> 255.0 for images (today's rule), 'none' -> None, a number -> that divisor."""
    text = str(text).strip().lower()
    if text == AUTO:
        return 255.0
    if text == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"--image-scale must be auto, none or a positive number, got {text[:40]!r}") from None
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"--image-scale must be a positive finite number, got {text[:40]!r}")
    return value


def problem(hparams: dict) -> str | None:
    """The core's check of the model options present in `hparams` (None: fine): whether `resolved` can read
    them."""
    try:
        resolved(hparams)
    except ValueError as exc:
        return str(exc)
    return None


def resolved(hparams: dict) -> dict:
    """Keyword arguments for the core's model builders from the model options present in `hparams`."""
    out = {}
    if "net_arch" in hparams:
        out["hidden"] = parse_arch(hparams["net_arch"])
    if "critic_arch" in hparams:
        same = str(hparams["critic_arch"]).strip().lower() == "same"
        out["critic_hidden"] = None if same else parse_arch(hparams["critic_arch"], "--critic-arch")
    for name, key in (("activation", "activation"), ("ortho_init", "orthogonal"),
                      ("policy_init_gain", "policy_gain"), ("value_init_gain", "value_gain"),
                      ("log_std_init", "log_std_init")):
        if name in hparams:
            out[key] = hparams[name]
    if "image_scale" in hparams:
        out["image_scale"] = parse_image_scale(hparams["image_scale"])
    if "encoder" in hparams:
        out["encoder"] = check_encoder(hparams["encoder"])
    if "model" in hparams:
        out["model"] = check_model_path(hparams["model"])
    return out


def mlp_sizes(hparams: dict) -> tuple:
    """(actor sizes, critic sizes) of an MLP algorithm's --net-arch / --critic-arch (SAC, TD3; their Factories
    and memory estimates): auto is VECTOR_SIZES, critic same is the actor's."""
    options = resolved({k: v for k, v in hparams.items() if k in ("net_arch", "critic_arch")})
    actor = VECTOR_SIZES if options.get("hidden") is None else tuple(options["hidden"])
    critic = actor if options.get("critic_hidden") is None else tuple(options["critic_hidden"])
    return actor, critic


def check_encoder(name) -> str:
    """--encoder: derl's own (ENCODERS) or one registered by a plugin (derl_register_encoders)."""
    name = str(name).strip().lower()
    if name in ENCODERS:
        return name
    from .plugins import registry
    known = registry().encoders
    if name not in known:
        raise ValueError(f"--encoder must be one of {', '.join([*ENCODERS, *sorted(known)])}, got {name[:40]!r}")
    return name


def check_model_path(text: str) -> str:
    """--model: auto, or module:callable (imported when the run is built, and again when it is loaded)."""
    text = str(text).strip()
    if text.lower() == AUTO:
        return AUTO
    module, sep, attr = text.partition(":")
    if not sep or not all(p.isidentifier() for p in module.split(".") + attr.split(".")):
        raise ValueError(f"--model must be auto or module:callable (e.g. my_pkg.models:make_model), got {text[:60]!r}")
    return text
