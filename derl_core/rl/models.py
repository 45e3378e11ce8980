"""Model builders: Nature CNN for images, MLP for vectors; heads per action space."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..model_options import VECTOR_SIZES
from .spaces import image_layout, kind


def init_orthogonal(module: nn.Module, gain: float = math.sqrt(2)):
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            weight = torch.empty(m.weight.shape)   # contiguous: orthogonal_ cannot view a channels-last weight
            nn.init.orthogonal_(weight, gain)
            with torch.no_grad():
                m.weight.copy_(weight)
            nn.init.zeros_(m.bias)
    return module


def plugin_encoder(name: str, in_channels: int, height: int, width: int) -> nn.Module:
    """The image encoder a plugin registered as `name` (spec.EncoderSpec), built for (C, H, W) images and
    checked on one: an nn.Module whose output has a batch axis."""
    from ..plugins import registry
    from ..spec import load_object
    spec = registry().encoders.get(name)
    if spec is None:
        raise ValueError(f"--encoder {name!r} is not installed (derl list shows the image encoders)")
    module = load_object(spec.target)(in_channels, height, width)
    if not isinstance(module, nn.Module):
        raise ValueError(f"--encoder {name}: {spec.target} returned {type(module).__name__}, not an nn.Module")
    with torch.no_grad():
        out = module(torch.zeros(2, in_channels, height, width))
    if not isinstance(out, torch.Tensor) or out.dim() < 2 or out.shape[0] != 2 or out[0].numel() == 0:
        raise ValueError(f"--encoder {name}: {spec.target}'s module should map (N, {in_channels}, {height}, "
                         f"{width}) images to (N, features), got {getattr(out, 'shape', type(out).__name__)}")
    return module


def is_image(space) -> bool:
    """uint8 Box images, channels-first or channels-last, optionally frame-stacked (see spaces.image_layout)."""
    return image_layout(space) is not None


class OneHot(nn.Module):
    """Discrete (one index) or MultiDiscrete (an index per dimension, `nvec` values each) observations as
    concatenated one-hot vectors (SB3's preprocessing); `start` offsets are removed first."""

    def __init__(self, nvec, start=0):
        super().__init__()
        self.sizes = tuple(int(n) for n in np.atleast_1d(nvec))   # plain ints: forward never asks the device
        self.register_buffer("start", torch.as_tensor(np.atleast_1d(start), dtype=torch.long), persistent=False)
        self.out_features = sum(self.sizes)

    def forward(self, x):
        x = x.long().reshape(x.shape[0], -1) - self.start   # shape[0]: traced as a size, not a constant
        return torch.cat([nn.functional.one_hot(x[:, i].clamp(0, n - 1), n) for i, n in enumerate(self.sizes)],
                         -1).float()


class Flatten(nn.Module):
    """Box vectors of any shape, and MultiBinary: flattened to float."""

    def __init__(self, size: int):
        super().__init__()
        self.out_features = size

    def forward(self, x):
        return x.reshape(x.shape[0], -1).float()


class Combined(nn.Module):
    """Dict and Tuple observations (SB3's CombinedExtractor): one encoder per key — a CNN of 256 features for
    images, one-hot for Discrete and MultiDiscrete, flattening for the rest — outputs concatenated."""

    def __init__(self, obs_space, image_scale: float | None = 255.0, cnn: str = "auto"):
        super().__init__()
        items = (obs_space.spaces.items() if kind(obs_space) == "Dict"
                 else ((str(i), s) for i, s in enumerate(obs_space.spaces)))
        self.keys, self.parts = [], nn.ModuleList()
        for key, sub in items:
            self.keys.append(key if kind(obs_space) == "Dict" else int(key))
            self.parts.append(NatureCNN.for_space(sub, features=256, scale=image_scale, arch=cnn) if is_image(sub)
                              else encoder_for(sub, image_scale, cnn))
        self.out_features = sum(p.out_features for p in self.parts)

    def forward(self, x):
        return torch.cat([part(x[key]) for key, part in zip(self.keys, self.parts)], -1)


def encoder_for(obs_space, image_scale: float | None = 255.0, cnn: str = "auto") -> nn.Module:
    """What turns one observation space into a flat float vector (before the MLP layers)."""
    k = kind(obs_space)
    if k == "Discrete":
        return OneHot(int(obs_space.n), int(obs_space.start))
    if k == "MultiDiscrete":
        return OneHot(obs_space.nvec.ravel(), getattr(obs_space, "start", np.zeros_like(obs_space.nvec)).ravel())
    if k in ("Box", "MultiBinary"):
        return Flatten(int(np.prod(obs_space.shape)))
    if k in ("Dict", "Tuple"):
        return Combined(obs_space, image_scale, cnn)
    raise TypeError(f"no encoder for {k} observations")


class NatureCNN(nn.Module):
    """Mnih et al. 2015: 32×8s4, 64×4s2, 64×3s1, 512, with a ReLU after the 512 layer. Takes uint8 images,
    (C, H, W) or — `channels_last` — (H, W, C), and K of them stacked (`stacked`) on a first axis.
    Images smaller than 36 pixels a side (too small for the 8×8 stride-4 layer) get a small CNN instead:
    32×3s1, 64×3s2, 64×3s1, all padded, as MiniGrid-sized observations need."""

    MIN_SIDE = 36

    def __init__(self, in_channels: int = 4, features: int = 512, height: int = 84, width: int = 84,
                 channels_last: bool = False, stacked: int = 1, scale: float | None = 255.0, arch: str = "auto"):
        super().__init__()
        self.channels_last, self.stacked = channels_last, stacked
        self.scale = scale   # --image-scale: pixels / 255 (auto), the values themselves (None), or / scale
        if arch == "auto":   # --encoder auto
            arch = "nature" if min(height, width) >= self.MIN_SIDE else "small"
        if arch == "nature":
            if min(height, width) < self.MIN_SIDE:
                raise ValueError(f"--encoder nature needs images of at least {self.MIN_SIDE} pixels a side, these "
                                 f"are {height}x{width} (--encoder small or impala)")
            layers = [nn.Conv2d(in_channels, 32, 8, 4), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU(),
                      nn.Conv2d(64, 64, 3, 1), nn.ReLU()]
        elif arch == "small":
            layers = [nn.Conv2d(in_channels, 32, 3, 1, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
                      nn.Conv2d(64, 64, 3, 1, 1), nn.ReLU()]
        elif arch == "impala":   # Espeholt et al. 2018: 3 stacks (16, 32, 32), each a conv, a max-pool, 2 residual blocks
            layers, channels = [], in_channels
            for out in (16, 32, 32):
                layers += [nn.Conv2d(channels, out, 3, 1, 1), nn.MaxPool2d(3, 2, 1), Residual(out), Residual(out)]
                channels = out
            layers.append(nn.ReLU())
        else:   # a plugin's (derl_register_encoders): its convolutions, derl's layout, scaling and Linear
            layers = [plugin_encoder(arch, in_channels, height, width)]
        self.arch = arch
        self.conv = nn.Sequential(*layers, nn.Flatten())
        with torch.no_grad():
            n = self.conv(torch.zeros(1, in_channels, height, width)).shape[1]
        self.fc = nn.Sequential(nn.Linear(n, features), nn.ReLU())
        self.out_features = features
        # channels-last convolutions: the same arithmetic, ~25% faster updates on CPUs (oneDNN) and GPUs
        self.conv.to(memory_format=torch.channels_last)

    @classmethod
    def for_space(cls, space, features: int = 512, scale: float | None = 255.0, arch: str = "auto") -> "NatureCNN":
        channels, height, width, channels_last, stacked = image_layout(space)
        if arch == "impala" and features == 512:
            features = 256   # IMPALA's own width
        return cls(channels, features, height, width, channels_last, stacked, scale, arch)

    def nchw(self, x):
        """(B, C, H, W) from the observation's layout; for channels-last input a permuted view, which is
        already in the channels-last memory format the convolutions want (no copy)."""
        if self.stacked > 1:   # (B, K, C, H, W) or (B, K, H, W, C): the K frames become channels
            if self.channels_last:
                b, k, h, w, c = x.shape
                return x.permute(0, 2, 3, 1, 4).reshape(b, h, w, k * c).permute(0, 3, 1, 2)
            return x.flatten(1, 2)
        return x.permute(0, 3, 1, 2) if self.channels_last else x

    def forward(self, x):
        x = self.nchw(x).float()
        if self.scale is not None:
            x = x / self.scale
        return self.fc(self.conv(x.contiguous(memory_format=torch.channels_last)))


class Residual(nn.Module):
    """IMPALA's residual block: x + conv(relu(conv(relu(x)))), 3x3 convolutions keeping the channels."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(channels, channels, 3, 1, 1)
        self.conv1 = nn.Conv2d(channels, channels, 3, 1, 1)

    def forward(self, x):
        return x + self.conv1(torch.relu(self.conv0(torch.relu(x))))


class MLP(nn.Sequential):
    """An nn.Sequential (the same layers, parameters and state-dict keys) whose forward calls each layer's
    own forward: the same arithmetic without nn.Module.__call__'s dispatch per layer, which is a third of a
    small network's forward on a CPU (PPO CartPole's act: 68 -> 45 us; bench/floor.py). Forward hooks on
    the layers inside are therefore not called; hooks on the MLP itself are."""

    def forward(self, x):
        for layer in self:
            x = layer.forward(x)
        return x


def mlp(sizes, activation=nn.Tanh, out_activation=None) -> nn.Sequential:
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation())
    if out_activation is not None:
        layers.append(out_activation())
    return MLP(*layers)


ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}
VECTOR_HIDDEN = VECTOR_SIZES   # --net-arch auto for vector observations


def make_torso(obs_space, hidden=VECTOR_HIDDEN, activation="tanh", image_scale: float | None = 255.0,
               encoder: str = "auto") -> nn.Module:
    """Feature extractor: NatureCNN for images (then the `hidden` layers, none by default); an MLP of `hidden`
    layers for vectors, after a one-hot encoding of Discrete and MultiDiscrete observations (a flattening to
    float of other Box shapes and dtypes, and of MultiBinary). `hidden=None` is --net-arch auto. Has
    `out_features`."""
    act = ACTIVATIONS[activation]
    if is_image(obs_space):
        cnn = NatureCNN.for_space(obs_space, scale=image_scale, arch=encoder)
        if not hidden:
            return cnn
        body = MLP(cnn, mlp([cnn.out_features, *hidden], act, act))
        body.out_features = hidden[-1]
        return body
    hidden = VECTOR_HIDDEN if hidden is None else tuple(hidden)
    plain = (type(obs_space).__name__ == "Box" and len(obs_space.shape) == 1
             and np.dtype(obs_space.dtype) in (np.float32, np.float64))   # float vectors: the MLP itself
    enc = None if plain else encoder_for(obs_space, image_scale, encoder)
    width = obs_space.shape[0] if plain else enc.out_features
    if not hidden:   # no hidden layer: the heads read the (encoded) observation
        body = Flatten(width) if plain else enc
        body.out_features = width
        return body
    layers = mlp([width, *hidden], act, act)
    body = layers if plain else MLP(enc, layers)
    body.out_features = hidden[-1]
    return body


def action_nvec(action_space) -> tuple | None:
    """The number of choices per dimension of a categorical action space (Discrete: one dimension;
    MultiBinary: 2 per dimension); None for Box."""
    k = kind(action_space)
    if k == "Discrete":
        return (int(action_space.n),)
    if k == "MultiDiscrete":
        return tuple(int(n) for n in action_space.nvec.ravel())
    if k == "MultiBinary":
        return (2,) * int(np.prod(action_space.shape))
    return None


def action_dim(action_space) -> int:
    """The policy head's width: logits for every choice of every dimension, or a Gaussian mean per dimension."""
    nvec = action_nvec(action_space)
    return sum(nvec) if nvec is not None else int(np.prod(action_space.shape))


class ActorCritic(nn.Module):
    """Outputs (logits or Gaussian mean, value). `shared=False` gives separate actor and critic torsos
    (MuJoCo PPO); continuous actions get a state-independent log-std."""

    def __init__(self, obs_space, action_space, hidden=None, activation="tanh", shared=True,
                 orthogonal=True, critic_hidden=None, policy_gain=0.01, value_gain=1.0, log_std_init=0.0,
                 image_scale: float | None = 255.0, encoder: str = "auto"):
        super().__init__()
        self.actor_torso = make_torso(obs_space, hidden, activation, image_scale, encoder)
        self.critic_torso = (self.actor_torso if shared else
                             make_torso(obs_space, hidden if critic_hidden is None else critic_hidden, activation,
                                        image_scale, encoder))
        n = action_dim(action_space)
        self.policy_head = nn.Linear(self.actor_torso.out_features, n)
        self.value_head = nn.Linear(self.critic_torso.out_features, 1)
        self.continuous = kind(action_space) == "Box"
        nvec = action_nvec(action_space)
        # several categorical dimensions (MultiDiscrete, MultiBinary): their logits side by side
        self.action_nvec = nvec if nvec is not None and kind(action_space) != "Discrete" else None
        if self.continuous:
            self.log_std = nn.Parameter(torch.full((n,), float(log_std_init)))
            low, high = np.asarray(action_space.low, np.float64), np.asarray(action_space.high, np.float64)
            centre = np.where(np.isfinite(low) & np.isfinite(high), (low + high) / 2, 0.0).reshape(-1)
            # not in the state dict: it follows from the action space (and older checkpoints have none)
            self.register_buffer("action_centre", torch.as_tensor(centre, dtype=torch.float32), persistent=False)
            self.centred = bool(centre.any())   # known when built: forward never asks the device
        if orthogonal:
            init_orthogonal(self)
            nn.init.orthogonal_(self.policy_head.weight, policy_gain)
            nn.init.orthogonal_(self.value_head.weight, value_gain)

    def forward(self, obs):
        # the parts' own forwards (see MLP): this module's __call__ is the one dispatch per call
        a = self.actor_torso.forward(obs)
        c = a if self.critic_torso is self.actor_torso else self.critic_torso.forward(obs)
        head = self.policy_head.forward(a)
        if self.continuous and self.centred:
            head = head + self.action_centre
        return head, self.value_head.forward(c).squeeze(-1)


def make_model(obs_space, action_space, **kwargs) -> nn.Module:
    """The default actor-critic model for a pair of spaces (see ActorCritic for the options)."""
    return ActorCritic(obs_space, action_space, **kwargs)


# ------------------------------------------------------------------------------------ your own model (--model)
OUTPUTS = {
    "actor_critic": "forward(obs) -> (head, values): head (B, logits of every choice of every action dimension, or "
                    "the Gaussian mean per Box action dimension), values (B,)",
    "q_values": "forward(obs) -> Q-values (B, number of actions)",
}


class CustomActorCritic(nn.Module):
    """A user's module (--model) as an actor-critic: `net` returns (head, values); derl adds what its
    policies read (continuous, action_nvec) and, for Box actions, a state-independent `log_std` unless the
    module has its own. State-dict keys: net.* (and log_std)."""

    def __init__(self, net: nn.Module, action_space, log_std_init: float = 0.0):
        super().__init__()
        self.net = net
        self.continuous = kind(action_space) == "Box"
        nvec = action_nvec(action_space)
        self.action_nvec = nvec if nvec is not None and kind(action_space) != "Discrete" else None
        own = getattr(net, "log_std", None)
        if self.continuous and not isinstance(own, nn.Parameter):
            self.log_std = nn.Parameter(torch.full((action_dim(action_space),), float(log_std_init)))
        elif self.continuous:
            self.log_std = own

    def forward(self, obs):
        return self.net(obs)


def custom_model(path: str, obs_space, action_space, options: dict, outputs: str) -> nn.Module:
    """`path` ("module:callable") called as callable(observation_space, action_space, options) -> nn.Module, its
    outputs checked on a batch of two sampled observations against OUTPUTS[outputs]; ValueError naming what
    is wrong. Nothing is pickled: a run records `path` and calls it again to load."""
    from gymnasium.vector.utils import batch_space

    from ..spec import import_user_module, load_object
    from .spaces import tree_map
    try:
        import_user_module(path.partition(":")[0])
        fn = load_object(path)
    except Exception as exc:
        raise ValueError(f"--model {path}: cannot import it ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not callable(fn):
        raise ValueError(f"--model {path} is not callable")
    net = fn(obs_space, action_space, dict(options))
    if not isinstance(net, nn.Module):
        raise ValueError(f"--model {path} returned {type(net).__name__}, not a torch.nn.Module")
    batch = batch_space(obs_space, 2)
    batch.seed(0)
    with torch.no_grad():
        sample = tree_map(lambda leaf: torch.as_tensor(np.asarray(leaf)), batch.sample())
        out = net(tree_map(lambda t: t.float() if t.dtype == torch.float64 else t, sample))   # as policies feed it
    want = OUTPUTS[outputs]
    n = action_dim(action_space)

    def refuse(what):
        raise ValueError(f"--model {path} breaks the contract: {what} (wanted {want})")
    if outputs == "actor_critic":
        if not (isinstance(out, (tuple, list)) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
            refuse(f"its forward returned {type(out).__name__}, not a (head, values) pair of tensors")
        head, values = out
        if tuple(head.shape) != (2, n):
            refuse(f"head has shape {tuple(head.shape)} for a batch of 2, not (2, {n})")
        if tuple(values.shape) != (2,):
            refuse(f"values have shape {tuple(values.shape)} for a batch of 2, not (2,)")
        return CustomActorCritic(net, action_space, options.get("log_std_init", 0.0))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n):
        refuse(f"its forward returned {tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__} "
               f"for a batch of 2, not (2, {n})")
    return net


class TwinQ(nn.Module):
    """`n` Q networks of (obs, action in [-1, 1]) -> (n, B): SAC's and TD3's twin critics (n=2; DDPG's single
    critic: n=1). Hidden layers `hidden` with `activation`; `orthogonal`: hidden gain sqrt 2, output 1. The
    networks are attributes q1..qn (state-dict keys q1.*, q2.*). `encoder` (optional, e.g. `encoder_for(space)`
    for Dict, Tuple, Discrete observations) turns observations into `obs_dim` features first, shared by the n
    networks as SB3's critics share their features extractor; without one, observations are flattened."""

    def __init__(self, obs_dim, act_dim, hidden=(256, 256), activation="relu", orthogonal=False, n: int = 2,
                 encoder: nn.Module | None = None):
        super().__init__()
        self.n = n
        self.encoder = encoder if encoder is not None else Flatten(obs_dim)
        for i in range(1, n + 1):
            q = mlp([obs_dim + act_dim, *hidden, 1], ACTIVATIONS[activation])
            if orthogonal:
                init_orthogonal(q)
                init_orthogonal(q[-1], 1.0)
            setattr(self, f"q{i}", q)

    def forward(self, obs, actions):
        x = torch.cat([self.encoder(obs), actions], -1)
        return torch.stack([getattr(self, f"q{i}")(x) for i in range(1, self.n + 1)]).squeeze(-1)
