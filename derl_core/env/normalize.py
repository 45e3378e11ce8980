"""Running observation normalisation and return-based reward scaling over a vector env.

Unlike gymnasium's vector NormalizeObservation, it also normalises infos["final_obs"] (the observation a
truncated episode bootstraps from), and its statistics are plain arrays saved with the model."""
import gymnasium as gym
import numpy as np
from gymnasium.wrappers.utils import RunningMeanStd


class NormalizeObsReward(gym.vector.VectorWrapper):
    def __init__(self, env, gamma: float = 0.99, clip: float = 10.0, epsilon: float = 1e-8,
                 training: bool = True, obs: bool = True, reward: bool = True, clip_reward: float | None = None):
        super().__init__(env)
        self.obs_rms = RunningMeanStd(shape=env.single_observation_space.shape)
        self.ret_rms = RunningMeanStd(shape=())
        # the discounted returns of the training envs; an evaluation copy (one env) takes a checkpoint's of any
        # number of envs (a 0-length template fits any length) and never reads them
        self.returns = np.zeros(env.num_envs if training else 0)
        self.gamma, self.clip, self.epsilon, self.training = gamma, clip, epsilon, training
        self.clip_reward = clip if clip_reward is None else clip_reward
        # --normalize-obs, --normalize-reward (the spaces stay the env's: predict and exports take raw observations)
        self.obs, self.reward = obs, reward

    def normalize(self, obs):
        if not self.obs:
            return obs
        obs = (obs - self.obs_rms.mean) / np.sqrt(self.obs_rms.var + self.epsilon)
        return np.clip(obs, -self.clip, self.clip).astype(np.float32)

    def affine(self) -> tuple | None:
        """(mean, std, clip) of `normalize`: obs -> clip((obs - mean) / std, -clip, clip), for exports; None
        when observations are left as they are."""
        if not self.obs:
            return None
        return self.obs_rms.mean, np.sqrt(self.obs_rms.var + self.epsilon), self.clip

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.returns[:] = 0
        if self.training and self.obs:
            self.obs_rms.update(obs)
        return self.normalize(obs), info

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        if self.training and self.obs:
            self.obs_rms.update(obs)
        if "_final_obs" in info and self.obs:
            final = info["final_obs"].copy()
            for i in np.flatnonzero(info["_final_obs"]):
                final[i] = self.normalize(final[i])
            info = dict(info, final_obs=final)
        if self.training and self.reward:
            self.returns = self.returns * self.gamma + rewards
            self.ret_rms.update(self.returns)
            self.returns[terminated | truncated] = 0.0
            rewards = np.clip(rewards / np.sqrt(self.ret_rms.var + self.epsilon), -self.clip_reward,
                              self.clip_reward)
        return self.normalize(obs), rewards, terminated, truncated, info

    def state_dict(self) -> dict:
        return {"obs_mean": self.obs_rms.mean, "obs_var": self.obs_rms.var, "obs_count": self.obs_rms.count,
                "ret_mean": self.ret_rms.mean, "ret_var": self.ret_rms.var, "ret_count": self.ret_rms.count,
                "returns": self.returns}

    def load_state_dict(self, state: dict):
        self.obs_rms.mean, self.obs_rms.var = np.asarray(state["obs_mean"]), np.asarray(state["obs_var"])
        self.obs_rms.count = float(state["obs_count"])
        self.ret_rms.mean, self.ret_rms.var = np.asarray(state["ret_mean"]), np.asarray(state["ret_var"])
        self.ret_rms.count = float(state["ret_count"])
        self.returns = np.asarray(state["returns"], dtype=np.float64).copy()
