"""The run directory: what derl writes there and reads back, and the fence around it.

derl writes only inside a run directory and never through a symbolic link: a run whose config.json,
metrics.jsonl, checkpoints/ or a file in it is a link is refused. Files are replaced through uniquely named
temporary files created exclusively; what derl reads back (config.json, metrics.jsonl) is validated first."""
from __future__ import annotations

import contextlib
import json
import os
import tempfile

from ..errors import BadInput
from .fence import Dir
from .record import RunRecord

CONFIG = "config.json"
METRICS = "metrics.jsonl"


# ---------------------------------------------------------------------------------------------- the fence
def check_fence(run_dir: str):
    """Refuses a run directory holding a symbolic link where derl reads or writes (the run directory's own
    path may be a link: the user named it)."""
    checkpoints = os.path.join(run_dir, "checkpoints")
    for place in (run_dir, checkpoints):
        if place == checkpoints and os.path.islink(place):
            raise BadInput(f"'{place}' is a symbolic link; derl never writes through a link out of a run "
                           f"directory")
        if not os.path.isdir(place):
            continue
        for name in os.listdir(place):
            path = os.path.join(place, name)
            if os.path.islink(path):
                raise BadInput(f"'{path}' is a symbolic link; derl never reads or writes through a link in a "
                               f"run directory (replace it with the file itself)")


def check_logdir(logdir: str):
    if not logdir:
        raise BadInput("--logdir must not be empty")
    if os.path.lexists(logdir):
        raise BadInput(f"run directory '{logdir}' already exists; derl never overwrites a run "
                       f"(pick another --logdir, or continue it with 'derl resume {logdir}')")
    existing = os.path.dirname(os.path.abspath(logdir))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise BadInput(f"cannot create run directory '{logdir}': '{existing}' is not writable")


def create_run(logdir: str, record, name: str = CONFIG):
    """Creates the run directory with its config.json (or a sweep's sweep.json: `name`) in one step: built under
    a hidden temporary name beside it, then renamed, so that a run killed at any moment leaves either nothing
    under `logdir` or a directory `derl resume` can continue."""
    parent = os.path.dirname(os.path.abspath(logdir))
    staged = None
    try:
        os.makedirs(parent, exist_ok=True)
        staged = tempfile.mkdtemp(prefix="." + os.path.basename(os.path.abspath(logdir)) + ".", suffix=".partial",
                                  dir=parent)
        payload = record.to_json() if isinstance(record, RunRecord) else record   # a sweep's plan is a dict
        write_atomic(os.path.join(staged, name), json.dumps(payload, indent=2))
        if os.path.lexists(logdir):
            raise FileExistsError(17, "it appeared while derl was starting")
        os.rename(staged, logdir)
    except OSError as exc:
        if staged is not None and os.path.isdir(staged):
            for name in os.listdir(staged):
                os.remove(os.path.join(staged, name))
            os.rmdir(staged)
        raise BadInput(f"cannot create run directory '{logdir}': {exc.strerror}") from None


def remove_partials(run_dir: str):
    """Temporary files a killed run left behind (derl's own, by their names)."""
    for place in (run_dir, os.path.join(run_dir, "checkpoints")):
        if not os.path.isdir(place) or os.path.islink(place):
            continue
        for name in os.listdir(place):
            path = os.path.join(place, name)
            if name.startswith(".") and name.endswith(".partial") and os.path.isfile(path) \
                    and not os.path.islink(path):
                os.remove(path)


@contextlib.contextmanager
def replacing(path: str, mode: str = "w"):
    """Yields a file that replaces `path` (never a link's target) when the block ends: a temporary file created
    exclusively beside it, fsynced, then renamed; removed if the block fails."""
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".partial",
                               dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_atomic(path: str, text: str):
    with replacing(path) as f:
        f.write(text)


def write_config(run_dir: str, record: RunRecord):
    with Dir(run_dir) as d:
        d.write(CONFIG, json.dumps(record.to_json(), indent=2))


def open_metrics(run_dir: str):
    """metrics.jsonl for appending, line-buffered; reached through the run directory's descriptor, a link,
    FIFO or directory in its place is refused (O_NOFOLLOW, O_NONBLOCK, fstat)."""
    import stat
    with Dir(run_dir) as d:
        try:
            fd = os.open(METRICS, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644,
                         dir_fd=d.fd)
        except OSError as exc:
            raise BadInput(f"cannot write '{d.join(METRICS)}': {exc.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadInput(f"'{os.path.join(run_dir, METRICS)}' is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "a", buffering=1)


# ---------------------------------------------------------------------------------------------- reading back
def read_metrics(run_dir: str) -> list:
    """The rows of metrics.jsonl: a line that is not a JSON object of numbers with an integer step (a crash's
    truncated last line, a hand edit) is skipped (derl_core.files.metric_row)."""
    from ..files import metric_row
    with Dir(run_dir) as d:
        text = d.read_text(METRICS)   # a regular file, never a link or FIFO
    return [row for row in map(metric_row, text.splitlines()) if row is not None]


def truncate_metrics(run_dir: str, step: int):
    """Keeps the metric rows up to `step` (later ones are written again by a resumed run), atomically."""
    with Dir(run_dir) as d:
        if d.kind(METRICS) is None:
            return
        rows = [json.dumps(row) + "\n" for row in read_metrics(run_dir) if row["step"] <= step]
        d.write(METRICS, "".join(rows))


def read_run(run_dir: str) -> RunRecord:
    """config.json as a RunRecord, its shape and run options checked (`RunRecord.validate` checks the
    hyperparameters against the plugin)."""
    from ..files import read_json_in
    path = os.path.join(run_dir, CONFIG)
    if not os.path.isdir(run_dir):
        raise BadInput(f"run directory '{run_dir}' does not exist")
    check_fence(run_dir)
    with Dir(run_dir) as d:
        if d.kind(CONFIG) is None:
            raise BadInput(f"'{run_dir}' is not a derl run directory (no {CONFIG})")
        data = read_json_in(d, CONFIG, "derl run configuration")   # a regular file, never a link or FIFO
    return RunRecord.from_json(data, path)


# ---------------------------------------------------------------------------------------------- outputs
class Terminated(BaseException):
    """SIGTERM while derl made an output (exit 143, one line)."""
    exit_code = 143


@contextlib.contextmanager
def output(path: str, flag: str, suffixes: tuple):
    """A file derl makes for the user (--video, --out): checked before the work (suffix, not there yet, a
    writable place), written by the block under a hidden temporary name beside it (yielded), and linked to
    `path` only when the block succeeded — `os.link` fails if `path` appeared meanwhile, so nothing is ever
    overwritten, and a kill at any moment leaves no half-written or empty file at `path` (at most the hidden
    temporary, removed on every exit derl sees). SIGTERM during the work stops it like Ctrl-C."""
    import signal
    if not path:
        raise BadInput(f"{flag} must not be empty")
    if not path.lower().endswith(suffixes):
        raise BadInput(f"{flag} must end in {' or '.join(suffixes)}, got '{path}'")
    if os.path.lexists(path):
        raise BadInput(f"'{path}' already exists; derl does not overwrite it")
    folder, name = os.path.dirname(path) or ".", os.path.basename(path)
    suffix = next(x for x in suffixes if path.lower().endswith(x))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=f".partial{suffix}", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise BadInput(f"cannot write {flag} '{path}': {exc.strerror}") from None

    def on_term(signum, frame):
        raise Terminated(f"stopped by SIGTERM; nothing was written to '{path}'")
    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:   # not the main thread
        previous = None
    try:
        yield tmp
        if previous is not None:   # a renderer may have replaced the handler: ours again, then restore
            signal.signal(signal.SIGTERM, on_term)
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise BadInput(f"'{path}' appeared while derl was writing it; derl does not overwrite it "
                           f"(the new file was not kept)") from None
        except OSError as exc:
            raise BadInput(f"cannot write {flag} '{path}': {exc.strerror}") from None
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(OSError):
            os.remove(tmp)
