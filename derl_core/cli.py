"""The `derl` command: typer + rich. Built from the plugin registry without importing torch."""
from __future__ import annotations

import difflib
import json
import os
import sys

import typer
from typer.core import TyperGroup

from . import __version__
from .config import default_for
from .errors import BadInput, printable
from .run.rundir import Terminated
from .plugins import registry
from .run.record import OPTIONS as RUN_OPTIONS

PASSTHROUGH = dict(allow_extra_args=True, ignore_unknown_options=True, help_option_names=[])


USAGE = ("usage: derl ALGORITHM --env-id ID [OPTIONS] | derl {list,run,resume,eval,plot} ...  "
         "('derl --help' for more, 'derl list' for algorithms)")


def _error(message: str, code: int = 2):
    print(f"derl: error: {printable(message)}", file=sys.stderr)
    return code


class DerlGroup(TyperGroup):
    """Turns every usage error and BadInput into one line on stderr and exit code 2."""

    def resolve_command(self, ctx, args):
        name = args[0] if args else None
        if name and not name.startswith("-") and name not in self.commands:
            algs = sorted(registry().algorithms)
            close = difflib.get_close_matches(name, algs + list(self.commands), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise BadInput(f"unknown algorithm or command '{name}' (installed algorithms: "
                           f"{', '.join(algs) or 'none'}){hint}")
        return super().resolve_command(ctx, args)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args=args, prog_name=prog_name or "derl", complete_var=complete_var,
                                standalone_mode=False, **extra)
            code = code if isinstance(code, int) else 0
        except BadInput as exc:
            code = _error(str(exc), getattr(exc, "exit_code", 2))   # a checkpoint that is not finite: 1
        except OSError as exc:   # what the fence did not turn into a line itself: still one line, never a traceback
            where = f" '{exc.filename}'" if getattr(exc, "filename", None) else ""
            code = _error(f"{exc.strerror or type(exc).__name__}{where} (nothing derl had written is lost)", 1)
        except typer.Abort:
            code = _error("aborted", 1)
        except typer.TyperException as exc:   # click-style usage errors
            code = _error(exc.format_message(), getattr(exc, "exit_code", 2))
        except Terminated as exc:   # SIGTERM while eval, plot or export made an output
            code = _error(str(exc), exc.exit_code)
        except KeyboardInterrupt:   # a second Ctrl-C during training, or one before training started
            code = _error("stopped at once by Ctrl-C (the run's last checkpoint is kept)", 130)
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(cls=DerlGroup, add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  context_settings={"help_option_names": ["-h", "--help"]},   # -h as the original derl had
                  help="derl: deep reinforcement learning on PyTorch. Algorithms are plugins: see 'derl list'.")


@app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="machine-readable output")):
    """Installed algorithms, env families and broken plugins."""
    reg = registry()
    algs = [{"name": s.name, "distribution": s.distribution, "version": s.version,
             "families": s.families(), "summary": s.summary} for s in reg.algorithms.values()]
    fams = [{"name": f.name, "distribution": f.distribution, "summary": f.summary}
            for f in sorted(reg.families.values(), key=lambda f: -f.priority)]
    from .model_options import ENCODERS
    encoders = [{"name": e.name, "distribution": e.distribution, "summary": e.summary}
                for e in sorted(reg.encoders.values(), key=lambda e: e.name)]
    broken = [{"distribution": d, "entry_point": n, "error": e} for d, n, e in reg.broken]
    problems = [{"distribution": d, "problem": p} for d, p in reg.problems]
    if as_json:
        print(json.dumps({"algorithms": algs, "env_families": fams, "encoders": encoders,
                          "builtin_encoders": list(ENCODERS), "broken": broken, "problems": problems,
                          "not_loaded": sorted(set(reg.skipped))}, indent=2))
        return
    from rich.console import Console
    from rich.table import Table
    console = Console()
    table = Table(title="algorithms")
    for col in ("algorithm", "plugin", "env families with defaults", "summary"):
        table.add_column(col)
    for a in algs:
        table.add_row(a["name"], f"{a['distribution']} {a['version']}", ", ".join(a["families"]), a["summary"])
    console.print(table)
    table = Table(title="env families")
    for col in ("family", "plugin", "summary"):
        table.add_column(col)
    for f in fams:
        table.add_row(f["name"], f["distribution"], f["summary"])
    console.print(table)
    table = Table(title="image encoders (--encoder)")
    for col in ("encoder", "plugin", "summary"):
        table.add_column(col)
    table.add_row(", ".join(ENCODERS), "derl", "the Nature CNN, a small 3x3 CNN, IMPALA's residual CNN (auto: by size)")
    for e in encoders:
        table.add_row(e["name"], e["distribution"], e["summary"])
    console.print(table)
    if broken:
        table = Table(title="broken plugins", style="red")
        for col in ("plugin", "entry point", "error"):
            table.add_column(col)
        for b in broken:
            table.add_row(b["distribution"], b["entry_point"], b["error"])
        console.print(table)
    if problems:
        table = Table(title="plugin problems", style="yellow")
        for col in ("plugin", "problem"):
            table.add_column(col)
        for p in problems:
            table.add_row(p["distribution"], p["problem"])
        console.print(table)
    if reg.skipped:
        console.print(f"not loaded (DERL_LOAD_PLUGINS): {', '.join(sorted(set(reg.skipped)))}")


def show_alg_help(spec, width: int | None = None, env_id: str | None = None, tokens: list = ()):
    """The algorithm's usage and hyperparameters with their default per env family, one entry per
    hyperparameter, wrapped to the terminal's width (80 columns when piped). With `env_id` (derl ALG -h
    --env-id ID [--preset P] [flags]): each hyperparameter's value for that env and where it comes from."""
    import shutil
    import textwrap
    reg = registry()
    fams = [f.name for f in sorted(reg.families.values(), key=lambda f: -f.priority)]
    width = width or shutil.get_terminal_size((80, 24)).columns
    wrap = textwrap.TextWrapper(width=max(width, 40) - 1, subsequent_indent="    ", break_on_hyphens=False)
    lines = [*wrap.wrap(f"derl {spec.name} ({spec.distribution} {spec.version}): {spec.summary}"),
             *wrap.wrap(f"usage: derl {spec.name} --env-id ID [RUN OPTIONS] [--HYPERPARAMETER VALUE ...]"),
             *wrap.wrap("Defaults follow the env id's family; a flag overrides. Booleans: --flag / --no-flag. "
                        "Replay algorithms save their replay with each checkpoint when it is under 1 GiB "
                        "(exact resume); --save-replay always, --no-save-replay never."),
             *wrap.wrap("--eval-every STEPS: every STEPS env steps, play --eval-episodes K (default 5) "
                        "deterministic episodes on a separate env and log their mean raw return as "
                        "charts/eval_return (derl plot draws it dashed)."),
             *wrap.wrap("--env-backend: Atari and MuJoCo vector envs of 4 or more envs step in EnvPool (C++, "
                        "same observations and episode statistics) wherever it is installed; envpool insists "
                        "(also for fewer envs), gymnasium picks the Python stack. Videos always use gymnasium."),
             *wrap.wrap("--threads N: torch's threads; by default the cores shared out among the derl trainings "
                        "running on this machine (one each on 2 cores when two run); with env worker processes "
                        "(Atari), one while they step and these during updates."),
             *wrap.wrap("--workers N: experience from N Ray actors, each with --envs-per-worker M envs (default: "
                        "num_envs / N) and a CPU copy of the policy; every rollout is collected with the newest "
                        "weights (policy lag 0, on- and off-policy alike). --ray-address joins a cluster; "
                        "without it derl starts a local Ray. Needs derl[ray]."), "",
             "run options:"]
    for opt in RUN_OPTIONS.values():
        kind = "" if opt.type is bool else f" {opt.type.__name__.upper()}"
        lines += wrap.wrap(f"  {opt.flag}{kind}: {opt.help}" + (f"; default: {opt.default}" if opt.default is not None
                                                                 and opt.type is not bool else ""))
    if env_id is not None:
        lines += ["", *_values_for(spec, reg, env_id, tokens, wrap)]
        print("\n".join(lines))
        return
    lines += ["", "hyperparameters (default per env family):"]
    for hp in spec.hyperparameters:
        defaults = [str(default_for(hp, reg.defaults_chain(f))) for f in fams]
        same = len(set(defaults)) == 1
        shown = defaults[0] if same else ", ".join(f"{f} {d}" for f, d in zip(fams, defaults))
        lines.append(f"  {hp.flag} {hp.type.__name__.upper()}")
        lines += wrap.wrap(f"    {hp.help}; default: {shown}")
    print("\n".join(lines))


def _values_for(spec, reg, env_id: str, tokens: list, wrap) -> list:
    """derl ALG -h --env-id ID: the values a run would get, each with its source (flag, preset, family,
    default; derl_core.preset)."""
    from .preset import preset_for, resolve
    options, overrides = parse_run_args(spec, [t for t in tokens if t not in ("-h", "--help")])
    choice = options.get("preset")
    hparams, sources = resolve(spec, reg, env_id, overrides, choice)
    _, label = preset_for(spec, env_id, choice)
    family = reg.family_for(env_id).name
    lines = wrap.wrap(f"hyperparameters for {env_id} (family {family}; preset: {label or 'none'}), each with "
                      f"where its value comes from (--preset none: the family's defaults alone):")
    for hp in spec.hyperparameters:
        lines.append(f"  {hp.flag} {hp.type.__name__.upper()} = {hparams[hp.name]}  ({sources[hp.name]})")
        lines += wrap.wrap(f"    {hp.help}")
    return lines


def parse_run_args(spec, tokens: list):
    """--key value / --key=value / --flag / --no-flag for run options and hyperparameters."""
    options, overrides = {}, {}
    known = {hp.name: hp for hp in spec.hyperparameters}
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok in ("-h", "--help"):
            return None, None
        if not tok.startswith("--"):
            raise BadInput(f"unexpected argument '{tok}' (options look like --name VALUE)")
        name, eq, value = tok[2:].partition("=")
        name = name.replace("-", "_")
        negated = name.startswith("no_") and (name[3:] in known and known[name[3:]].type is bool
                                              or name[3:] in RUN_OPTIONS and RUN_OPTIONS[name[3:]].type is bool)
        key = name[3:] if negated else name
        if key not in RUN_OPTIONS and key not in known:
            close = difflib.get_close_matches(key, list(known) + list(RUN_OPTIONS), n=1)
            hint = f"; did you mean --{close[0].replace('_', '-')}?" if close else ""
            raise BadInput(f"unknown option --{key.replace('_', '-')} for {spec.name}{hint}")
        is_bool = key in known and known[key].type is bool or key in RUN_OPTIONS and RUN_OPTIONS[key].type is bool
        if negated:
            value = "false"
        elif not eq:
            if is_bool and (i + 1 == len(tokens) or tokens[i + 1].startswith("--")):
                value = "true"
            elif i + 1 < len(tokens):
                i += 1
                value = tokens[i]
            else:
                raise BadInput(f"--{key.replace('_', '-')} needs a value")
        if key in RUN_OPTIONS:
            options[key] = RUN_OPTIONS[key].parse(value)
        else:
            overrides[key] = value
        i += 1
    return options, overrides


def run_algorithm(alg: str, tokens: list):
    reg = registry()
    spec = reg.algorithm(alg)
    options, overrides = parse_run_args(spec, tokens)
    if options is None or not tokens:   # `derl ppo` alone: its arguments, as the original derl did
        env_id = next((tokens[i + 1] for i, t in enumerate(tokens[:-1]) if t == "--env-id"),
                      next((t.partition("=")[2] for t in tokens if t.startswith("--env-id=")), None))
        show_alg_help(spec, env_id=env_id, tokens=tokens)
        return
    if "env_id" not in options:
        raise BadInput(f"--env-id is required (e.g. derl {alg} --env-id CartPole-v1)")
    from .run.session import train
    env_id = options.pop("env_id")
    _guard(lambda: train(reg, alg, env_id, overrides, **options))


def _guard(fn):
    """Training outcomes that are not bad input: an interrupt (exit 130/143) or a stopped run (exit 1)."""
    from .run.session import Interrupted, TrainingFailed
    try:
        fn()
    except Interrupted as exc:
        raise typer.Exit(exc.exit_code)
    except TrainingFailed as exc:
        print(f"derl: {exc}", file=sys.stderr)
        raise typer.Exit(1)


@app.command("run", context_settings=PASSTHROUGH, add_help_option=False)
def run_cmd(ctx: typer.Context):
    """Train: derl run ALG --env-id ID [--logdir DIR] [--seed N] [--num-envs N] [--total-steps N]
    [--device auto|cpu|cuda] [--HYPERPARAMETER VALUE ...]. 'derl run ALG --help' lists hyperparameters."""
    args = list(ctx.args)
    if not args or args[0] in ("-h", "--help"):
        print(run_cmd.__doc__.strip())
        print("installed algorithms: " + ", ".join(sorted(registry().algorithms)))
        return
    run_algorithm(args[0], args[1:])


@app.command("resume")
def resume_cmd(run_dir: str = typer.Argument(..., help="a run directory written by derl run (or a sweep's)"),
               total_steps: int = typer.Option(None, "--total-steps", help="train up to this many steps"),
               checkpoint: str = typer.Option(None, "--checkpoint", help="a checkpoint file (default: newest)")):
    """Continue a run from its newest checkpoint: same hyperparameters, same run directory. For a sweep
    directory: keep its finished runs, continue the others."""
    from .sweep import is_sweep, resume_sweep
    from .tune import is_tune, resume_tune
    if is_tune(run_dir):
        if total_steps is not None or checkpoint is not None:
            raise BadInput("a tune is resumed as it was planned: no --total-steps or --checkpoint")
        _guard(lambda: resume_tune(registry(), run_dir))
        return
    if is_sweep(run_dir):
        if total_steps is not None or checkpoint is not None:
            raise BadInput("a sweep is resumed as it was planned: no --total-steps or --checkpoint")
        _guard(lambda: resume_sweep(registry(), run_dir))
        return
    from .run.session import resume
    _guard(lambda: resume(registry(), run_dir, total_steps, checkpoint))


def split_options(args: list, own: dict, repeated: tuple = ()) -> tuple:
    """A command's own options (`own`: name -> (type, low, high); `repeated`: names given several times, as
    lists) taken out of `args`; the rest (run options, hyperparameters) returned as tokens for parse_run_args."""
    found, tokens = {name: [] for name in repeated}, []
    i = 0
    while i < len(args):
        name, eq, value = args[i].partition("=")
        key = name.lstrip("-").replace("-", "_")
        if name.startswith("--") and (key in own or key in repeated):
            if not eq:
                if i + 1 >= len(args):
                    raise BadInput(f"{name} needs a value")
                i += 1
                value = args[i]
            if key in repeated:
                found[key].append(value)
            else:
                kind, low, high = own[key]
                if kind is int:
                    try:
                        value = int(value)
                    except ValueError:
                        raise BadInput(f"--{key.replace('_', '-')} expects int, got '{printable(value)[:40]}'") \
                            from None
                    if not low <= value <= high:
                        raise BadInput(f"--{key.replace('_', '-')} must be in [{low}, {high}], got {value}")
                found[key] = value
        else:
            tokens.append(args[i])
        i += 1
    return found, tokens


SWEEP_RUN_OPTIONS = ("env_id", "logdir", "device", "checkpoint_every", "ray_address")   # the rest are per run


@app.command("sweep", context_settings=PASSTHROUGH, add_help_option=False)
def sweep_cmd(ctx: typer.Context):
    """Seeds x hyperparameters as Ray tasks: derl sweep ALG --env-id ID --seeds 0-4 [--set name=v1,v2 ...]
    [--max-parallel K] [--ray-address ADDR] [--logdir DIR] [--HYPERPARAMETER VALUE ...]. Each run is a normal
    run directory under the sweep directory; results.md/.json and one figure per combination at the end;
    'derl resume SWEEPDIR' continues an interrupted sweep."""
    args = list(ctx.args)
    if not args or args[0] in ("-h", "--help"):
        print(sweep_cmd.__doc__.strip())
        return
    alg = args[0]
    sweep, tokens = split_options(args[1:], {"seeds": (str, None, None), "max_parallel": (int, 1, 4096)}, ("set",))
    reg = registry()
    spec = reg.algorithm(alg)
    options, overrides = parse_run_args(spec, tokens)
    if options is None:
        print(sweep_cmd.__doc__.strip())
        return
    if "env_id" not in options:
        raise BadInput(f"--env-id is required (e.g. derl sweep {alg} --env-id CartPole-v1 --seeds 0-2)")
    for key in options:
        if key not in SWEEP_RUN_OPTIONS:
            raise BadInput(f"--{key.replace('_', '-')} is not an option of a sweep (it takes "
                           f"{', '.join('--' + k.replace('_', '-') for k in SWEEP_RUN_OPTIONS)}; --seeds sets "
                           f"the seeds)")
    from .sweep import start
    _guard(lambda: start(reg, alg, options["env_id"], sweep.get("seeds", "0"), sweep["set"], overrides,
                         {"device": options.get("device", "cpu"), "checkpoint_every": options.get("checkpoint_every")},
                         options.get("logdir"), sweep.get("max_parallel"), options.get("ray_address")))


TUNE_OPTIONS = {"trials": (int, 1, 100_000), "seeds": (int, 1, 1000), "parallel": (int, 1, 4096),
                "startup_trials": (int, 0, 100_000), "storage": (str, None, None)}


@app.command("tune", context_settings=PASSTHROUGH, add_help_option=False)
def tune_cmd(ctx: typer.Context):
    """Hyperparameter search with Optuna (TPE sampler, median pruner) on Ray: derl tune ALG --env-id ID
    --trials N --search NAME=DIST [--search ...] [--seeds K] [--parallel P] [--startup-trials S] [--storage URL]
    [--ray-address ADDR] [--logdir DIR] [--set NAME=VALUE] [--HYPERPARAMETER VALUE ...] [--eval-every STEPS]
    [--eval-episodes K]. DIST: int:LO:HI, float:LO:HI, log:LO:HI or choice:A,B,... Each trial is K normal runs
    in the tune directory, pruned on charts/eval_return; the study is kept in TUNEDIR/study.db (or --storage);
    'derl resume TUNEDIR' continues it (a --storage password is not kept: DERL_TUNE_STORAGE=URL derl resume
    TUNEDIR). See docs/tune.md."""
    args = list(ctx.args)
    if not args or args[0] in ("-h", "--help"):
        print(tune_cmd.__doc__.strip())
        return
    alg = args[0]
    tune, tokens = split_options(args[1:], TUNE_OPTIONS, ("search", "set"))
    searches, sets = tune.pop("search"), tune.pop("set")
    reg = registry()
    spec = reg.algorithm(alg)
    for item in sets:   # --set NAME=VALUE: a fixed hyperparameter, as --NAME VALUE
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise BadInput(f"--set expects NAME=VALUE, got '{printable(item)[:60]}'")
        tokens += [f"--{name.strip().lstrip('-')}", value]
    options, overrides = parse_run_args(spec, tokens)
    if options is None:
        print(tune_cmd.__doc__.strip())
        return
    if "env_id" not in options:
        raise BadInput(f"--env-id is required (e.g. derl tune {alg} --env-id CartPole-v1 --trials 8 --search "
                       f"learning-rate=log:1e-4:1e-2)")
    if "trials" not in tune:
        raise BadInput("--trials N is required")
    from .tune import TUNE_RUN_OPTIONS, start
    for key in options:
        if key not in TUNE_RUN_OPTIONS:
            raise BadInput(f"--{key.replace('_', '-')} is not an option of a tune (it takes "
                           f"{', '.join('--' + k.replace('_', '-') for k in TUNE_RUN_OPTIONS)})")
    env_id = options.pop("env_id")
    _guard(lambda: start(reg, alg, env_id, searches, overrides, options, tune))


@app.command("eval")
def eval_cmd(run_dir: str = typer.Argument(..., help="a run directory written by derl run"),
             episodes: int = typer.Option(10, "--episodes", min=1, help="episodes to play"),
             deterministic: bool = typer.Option(False, "--deterministic", help="greedy / mean actions"),
             video: str = typer.Option(None, "--video", help="write FILE.mp4 or FILE.gif of the first episode"),
             checkpoint: str = typer.Option(None, "--checkpoint", help="a checkpoint file, or best (the best "
                                            "evaluation's, with --eval-every; default: newest)"),
             seed: int = typer.Option(None, "--seed", help="env seed (default: the run's seed + 10000)"),
             env_id: str = typer.Option(None, "--env-id", help="evaluate on another env with the same spaces "
                                        "(module:EnvId too)"),
             env_kwargs: str = typer.Option(None, "--env-kwargs", help="a JSON object for gymnasium.make (default: "
                                            "the run's)")):
    """Play the learned policy: mean ± std of raw episode returns, and optionally a video."""
    from .run.evaluate import evaluate
    evaluate(registry(), run_dir, episodes, deterministic, video, checkpoint, seed, env_id=env_id,
             env_kwargs=env_kwargs)


@app.command("export")
def export_cmd(run_dir: str = typer.Argument(..., help="a run directory written by derl run"),
               out: str = typer.Option(..., "--out", help="policy.onnx (ONNX) or policy.pt (TorchScript)"),
               checkpoint: str = typer.Option(None, "--checkpoint", help="a checkpoint file, or best "
                                              "(default: newest)"),
               input_dtype: str = typer.Option("auto", "--input-dtype", help="the graph's input: auto (float32 for "
                                               "float observations, cast inside; others as the space has them), "
                                               "float32, float64, native (the space's dtype)")):
    """Export the deterministic policy: observations in, env actions out, normalisation inside."""
    from .run.export import export
    export(run_dir, out, checkpoint, registry(), dtype=input_dtype)


@app.command("plot")
def plot_cmd(run_dirs: list[str] = typer.Argument(..., help="run directories (seeds of one setup group)"),
             out: str = typer.Option("curves.png", "--out", help="PNG to write")):
    """Episodic return against env steps; runs grouped by (algorithm, env), mean over seeds, min-max band."""
    from .plot import plot
    plot(run_dirs, out)


def _add_shortcut(spec):
    def shortcut(ctx: typer.Context):
        run_algorithm(spec.name, list(ctx.args))
    shortcut.__doc__ = f"{spec.summary} (shorthand for 'derl run {spec.name}'; -h lists hyperparameters)"
    app.command(spec.name, context_settings=PASSTHROUGH, add_help_option=False)(shortcut)


def _version_callback(value: bool):
    if value:
        print(f"derl {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version_callback, is_eager=True,
                                       help="show the version")):
    """derl: deep reinforcement learning on PyTorch. Algorithms are plugins: see 'derl list'."""


_built = False


def build_app():
    """Adds a shorthand command per installed algorithm and plugins' extra commands (once)."""
    global _built
    if _built:
        return app
    _built = True
    for spec in registry().algorithms.values():
        if spec.name not in ("list", "run", "resume", "eval", "plot", "sweep", "tune"):
            _add_shortcut(spec)
    registry().add_commands(app)
    return app


ASCII_FALLBACK = {"\u00b1": "+-", "\u00d7": "x", "\u2026": "...", "\u2192": "->", "\u2264": "<=",
                  "\u2265": ">=", "\u2013": "-", "\u2014": "-", "\u00b7": "*", "\u2018": "'", "\u2019": "'",
                  "\u201c": '"', "\u201d": '"', "\u2713": "ok", "\u2717": "x", "\u00b5": "u"}


def _fallback(exc: UnicodeEncodeError):
    """Symbols a stream's encoding cannot hold (an ASCII-only locale, PYTHONIOENCODING=ascii): an ASCII
    spelling for derl's own (+-, x, ..., ->), a backslash escape for the rest; the command goes on."""
    text = exc.object[exc.start:exc.end]
    return "".join(ASCII_FALLBACK.get(ch, ch.encode("ascii", "backslashreplace").decode()) for ch in text), exc.end


def any_encoding():
    """stdout and stderr never end a command on a character their encoding lacks."""
    import codecs
    codecs.register_error("derl-fallback", _fallback)
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="derl-fallback")
            except (ValueError, OSError):   # a stream already written to in a way that forbids it
                pass


def main():
    any_encoding()
    import warnings
    if not sys.warnoptions and not os.environ.get("DERL_WARNINGS"):   # one line means one line: library
        warnings.simplefilter("ignore")                                # warnings only when asked for
    if len(sys.argv) == 1:
        print(USAGE)
        sys.exit(0)
    try:
        build_app()
    except BadInput as exc:
        sys.exit(_error(str(exc)))
    except KeyboardInterrupt:
        sys.exit(130)
    app()
