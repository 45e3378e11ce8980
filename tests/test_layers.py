"""The layers of derl_core (docs/architecture.md): imports only go down, and no module imports itself back
through others. Every import counts, those inside functions too."""
import ast
import os

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "derl_core")
APP = {"derl_core.cli", "derl_core.sweep", "derl_core.tune", "derl_core.plot", "derl_core.testing"}


def layer(module: str) -> int:
    if module in APP:
        return 4
    for prefix, rank in (("derl_core.run", 3), ("derl_core.rl", 2), ("derl_core.env", 1)):
        if module == prefix or module.startswith(prefix + "."):
            return rank
    return 0   # the base: errors, spec, hookspecs, config, memory, machine, plugins, the package itself


def modules() -> dict:
    out = {}
    for folder, _, files in os.walk(ROOT):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                out[rel.removesuffix(".__init__")] = path
    return out


def imports(module: str, path: str, known: set) -> set:
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in known else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {m for m in found if m in known and m != module}


def graph() -> dict:
    mods = modules()
    return {m: imports(m, p, set(mods)) for m, p in mods.items()}


def test_no_upward_imports():
    upward = [(m, t) for m, targets in graph().items() for t in targets
              if layer(t) > layer(m) and m != "derl_core"]
    assert not upward, upward


def test_the_kit_never_imports_the_run_layer_or_the_app():
    bad = [(m, t) for m, targets in graph().items() if m.startswith("derl_core.rl") for t in targets
           if layer(t) >= 3]
    assert not bad, bad


def test_no_import_cycles():
    g = graph()
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(g[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"
    for node in sorted(g):
        if node not in state:
            visit(node, [node])
    assert not cycles, cycles


def test_what_a_plugin_needs_is_one_import():
    import derl_core
    for name in ("Alg", "EnvRunner", "Factory", "Trainer", "OnPolicyData", "ExperienceReplay", "ReplayStorage",
                 "RolloutBatch", "ReplayBatch", "PolicyStep", "Evaluation", "actor_critic_policy", "CopyTarget",
                 "EpsilonGreedyPolicy", "Linear", "Constant", "linear_or_constant", "make_torso", "mlp",
                 "PLUGIN_API", "hookimpl", "AlgorithmSpec", "hp"):
        assert getattr(derl_core, name) is not None, name
