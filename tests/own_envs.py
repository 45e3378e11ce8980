"""derl's own small envs for the your-own-env tests, reached as "tests.own_envs:Choose-v0" (gymnasium's
module:id convention). Their constructors take no render_mode, on purpose."""
import gymnasium as gym
import numpy as np


class Choose(gym.Env):
    """Discrete(3, start=-1) actions: reward 1 for action 1 (the last valid one), else 0; `length` steps."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(3, start=-1)

    def __init__(self, length: int = 10):
        self.length, self.t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action), action   # action 2 (never valid here) would fail
        self.t += 1
        return np.zeros(1, np.float32), float(action == 1), False, self.t >= self.length, {}


class Interval(gym.Env):
    """Box actions on [10, 20]: reward -|a - 17| / 10 per step, 10 steps (a random policy scores about -2.9)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Box(10.0, 20.0, (1,), np.float32)

    def __init__(self):
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action, np.float32)), action
        self.t += 1
        return np.zeros(1, np.float32), -abs(float(action[0]) - 17.0) / 10, False, self.t >= 10, {}


gym.register("Choose-v0", entry_point=Choose)
gym.register("Interval-v0", entry_point=Interval)


class Cued(gym.Env):
    """A cue drawn each step; reward 1 when the action answers it (10 steps: a random policy scores about
    10 / number of answers). Subclasses say how the cue is shown and what an answer is."""

    length = 10

    def __init__(self):
        self.t, self.cue = 0, 0

    def observe(self):
        raise NotImplementedError

    def reward(self, action) -> float:
        return float(action == self.cue)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.cue = 0, int(self.np_random.integers(2))
        return self.observe(), {}

    def step(self, action):
        assert self.action_space.contains(action), action
        reward = self.reward(action)
        self.t, self.cue = self.t + 1, int(self.np_random.integers(2))
        return self.observe(), reward, False, self.t >= self.length, {}


class DictCue(Cued):
    """Dict observations with a Discrete key (the cue) and a Box key (noise)."""
    observation_space = gym.spaces.Dict({"cue": gym.spaces.Discrete(2), "noise": gym.spaces.Box(-1, 1, (2,))})
    action_space = gym.spaces.Discrete(2)

    def observe(self):
        return {"cue": self.cue, "noise": self.np_random.uniform(-1, 1, 2).astype(np.float32)}


class MissionCue(DictCue):
    """DictCue with a text key no encoder takes (MiniGrid's `mission`): to be dropped with --obs-keys."""
    observation_space = gym.spaces.Dict({"cue": gym.spaces.Discrete(2), "noise": gym.spaces.Box(-1, 1, (2,)),
                                         "mission": gym.spaces.Text(20)})

    def observe(self):
        return dict(super().observe(), mission="pick the cue")


class PixelCue(Cued):
    """Channels-last uint8 images (8, 8, 3): the cue lights the red or the green channel."""
    observation_space = gym.spaces.Box(0, 255, (8, 8, 3), np.uint8)
    action_space = gym.spaces.Discrete(2)

    def observe(self):
        image = self.np_random.integers(0, 40, (8, 8, 3), dtype=np.uint8)
        image[..., self.cue] = 200
        return image


class MultiCue(Cued):
    """Discrete observations (the cue), MultiDiscrete([2, 3]) actions: half a point for answering the cue,
    half for choosing 2 in the second dimension (random: 10 * (1/4 + 1/6) = 4.2)."""
    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.MultiDiscrete([2, 3])

    def observe(self):
        return self.cue

    def reward(self, action) -> float:
        return 0.5 * float(action[0] == self.cue) + 0.5 * float(action[1] == 2)


class BitsCue(Cued):
    """MultiBinary(4) actions: a quarter point per bit matching (cue, 1, 0, 1) (random: 5)."""
    observation_space = gym.spaces.Discrete(2)
    action_space = gym.spaces.MultiBinary(4)

    def observe(self):
        return self.cue

    def reward(self, action) -> float:
        return float(np.mean(np.asarray(action) == np.array([self.cue, 1, 0, 1])))


gym.register("DictCue-v0", entry_point=DictCue)
gym.register("MissionCue-v0", entry_point=MissionCue)
gym.register("PixelCue-v0", entry_point=PixelCue)
gym.register("MultiCue-v0", entry_point=MultiCue)
gym.register("BitsCue-v0", entry_point=BitsCue)


def space_of(name: str, role: str):
    """A small space of each kind by name (for the algorithm x space refusal test, through --env-kwargs)."""
    S = gym.spaces
    return {
        "Box": S.Box(-1.0, 1.0, (3,), np.float32),
        "Image": S.Box(0, 255, (8, 8, 3), np.uint8),
        "Discrete": S.Discrete(3, start=-1) if role == "action" else S.Discrete(4),
        "MultiDiscrete": S.MultiDiscrete([2, 3]),
        "MultiBinary": S.MultiBinary(3),
        "Dict": S.Dict({"a": S.Discrete(3), "b": S.Box(-1.0, 1.0, (2,), np.float32)}),
        "Tuple": S.Tuple((S.Discrete(3), S.MultiBinary(2))),
        "Text": S.Text(5),
        "Sequence": S.Sequence(S.Discrete(2)),
        "DictWithText": S.Dict({"a": S.Discrete(3), "t": S.Text(4)}),
    }[name]


class AnySpaces(gym.Env):
    """Observations and actions of the kinds named in its kwargs; random observations, reward 0, 8 steps."""

    def __init__(self, obs: str = "Box", act: str = "Discrete"):
        self.observation_space, self.action_space = space_of(obs, "observation"), space_of(act, "action")
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.observation_space.seed(seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action, self.action_space.dtype)
                                          if self.action_space.dtype is not None else action), action
        self.t += 1
        return self.observation_space.sample(), 0.0, False, self.t >= 8, {}


gym.register("AnySpaces-v0", entry_point=AnySpaces)


class Negate(gym.Wrapper):
    """For --env-wrapper tests.own_envs:Negate: the agent is paid the opposite of the env's reward (the episode
    statistics, recorded inside, still see the env's own)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, -reward, terminated, truncated, info
