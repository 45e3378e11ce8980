"""The fenced I/O layer: everything derl reads or writes under a run or sweep directory goes through here.

One mechanism for a whole class of attacks and accidents: a directory is opened once (`O_DIRECTORY |
O_NOFOLLOW`) and every file in it is reached through that descriptor (`dir_fd=`) by a plain name — no
separator, no `..` — so a path can neither be swapped for a link between a check and a use, nor lead out of
the directory. Files are opened with `O_NOFOLLOW | O_NONBLOCK` (a FIFO cannot block derl) and must be regular
(`fstat` on the open descriptor, not on a path); writes go to a unique temporary name created exclusively in
the same directory, are fsynced, then renamed over the target; OS errors become one line naming the file.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat

from ..errors import BadInput

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
PARTIAL = ".partial"


def check_name(name: str, what: str = "name") -> str:
    """A plain file name: not empty, no separator, not . or .., printable, at most 255 bytes."""
    if (not isinstance(name, str) or not name or name in (".", "..") or "/" in name or "\0" in name
            or (os.altsep and os.altsep in name) or not name.isprintable() or len(name.encode()) > 255):
        raise BadInput(f"{what} {name!r:.80} is not a plain file name (no '/', not '..')")
    return name


def describe(exc: OSError) -> str:
    return exc.strerror or errno.errorcode.get(exc.errno, type(exc).__name__)


class Dir:
    """An open directory; files in it are named relative to it. Use as a context manager (closes the fd)."""

    def __init__(self, path: str, create: bool = False, parent: "Dir | None" = None, name: str | None = None):
        self.path = path if parent is None else os.path.join(parent.path, name)
        where = {"dir_fd": parent.fd} if parent is not None else {}
        target = name if parent is not None else path
        try:
            if create:
                try:
                    os.mkdir(target, 0o755, **where)
                except FileExistsError:
                    pass
            # the directory the user named may itself be a link (they chose it); nothing inside it may be
            self.fd = os.open(target, DIR_FLAGS if parent is not None else DIR_FLAGS & ~os.O_NOFOLLOW, **where)
        except OSError as exc:
            if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _is_link(target, where)):
                raise BadInput(f"'{self.path}' is a symbolic link; derl never reads or writes through a link in a "
                               f"run directory") from None
            if exc.errno == errno.ENOTDIR:
                raise BadInput(f"'{self.path}' is not a directory") from None
            if exc.errno == errno.ENOENT:
                raise BadInput(f"'{self.path}' does not exist") from None
            raise BadInput(f"cannot open '{self.path}': {describe(exc)}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def sub(self, name: str, create: bool = False) -> "Dir":
        return Dir("", create, parent=self, name=check_name(name))

    def join(self, name: str) -> str:
        return os.path.join(self.path, name)

    # ---- what is there
    def kind(self, name: str) -> str | None:
        """"file", "dir", "link", "other" (FIFO, socket, device) or None, without following a link."""
        try:
            st = os.stat(check_name(name), dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BadInput(f"cannot look at '{self.join(name)}': {describe(exc)}") from None
        return ("link" if stat.S_ISLNK(st.st_mode) else "file" if stat.S_ISREG(st.st_mode)
                else "dir" if stat.S_ISDIR(st.st_mode) else "other")

    def names(self) -> list:
        try:
            return sorted(os.listdir(self.fd))
        except OSError as exc:
            raise BadInput(f"cannot list '{self.path}': {describe(exc)}") from None

    # ---- reading
    def open_read(self, name: str):
        """A binary file object for a regular file `name` (never a link, FIFO or directory)."""
        try:
            fd = os.open(check_name(name), READ_FLAGS, dir_fd=self.fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise BadInput(f"'{self.join(name)}' is a symbolic link; derl does not follow links") from None
            if exc.errno == errno.ENOENT:
                raise BadInput(f"'{self.join(name)}' does not exist") from None
            raise BadInput(f"cannot read '{self.join(name)}': {describe(exc)}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BadInput(f"'{self.join(name)}' is not a regular file")
            os.set_blocking(fd, True)   # a regular file: plain reads from here on
        except BaseException:
            os.close(fd)
            raise
        return os.fdopen(fd, "rb")

    def read_bytes(self, name: str, limit: int = 1 << 30) -> bytes:
        with self.open_read(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise BadInput(f"'{self.join(name)}' is larger than derl reads ({limit} bytes)")
        return data

    def read_text(self, name: str, limit: int = 1 << 30) -> str:
        return self.read_bytes(name, limit).decode("utf-8", errors="replace")

    # ---- writing
    @contextlib.contextmanager
    def replacing(self, name: str, mode: str = "wb"):
        """Yields a file that replaces `name` when the block ends (a temporary name in this directory, created
        exclusively, fsynced, renamed); removed if the block fails. A link at `name` is replaced, never
        followed."""
        check_name(name)
        tmp = f".{name}.{secrets.token_hex(4)}{PARTIAL}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0),
                         0o644, dir_fd=self.fd)
        except OSError as exc:
            raise BadInput(f"cannot write '{self.join(name)}': {describe(exc)}") from None
        try:
            with os.fdopen(fd, mode) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, name, src_dir_fd=self.fd, dst_dir_fd=self.fd)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=self.fd)
            if isinstance(exc, OSError):
                raise BadInput(f"cannot write '{self.join(name)}': {describe(exc)} (the previous version, if any, "
                               f"is kept)") from None
            raise

    def write(self, name: str, data: bytes | str):
        with self.replacing(name, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)

    def remove(self, name: str):
        """Removes a regular file or link `name` (never what a link points to)."""
        try:
            os.unlink(check_name(name), dir_fd=self.fd)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise BadInput(f"cannot remove '{self.join(name)}': {describe(exc)}") from None

    def rename(self, name: str, to: "Dir", new: str):
        try:
            os.rename(check_name(name), check_name(new), src_dir_fd=self.fd, dst_dir_fd=to.fd)
        except OSError as exc:
            raise BadInput(f"cannot move '{self.join(name)}': {describe(exc)}") from None


def _is_link(target, where) -> bool:
    try:
        return stat.S_ISLNK(os.stat(target, follow_symlinks=False, **where).st_mode)
    except OSError:
        return False


LOCK = ".derl.lock"


class Locked(BadInput):
    pass


class Lock:
    """The writer's lock of a run or sweep directory: `fcntl.flock` on its `.derl.lock` (reached through the
    directory's descriptor, never a link), held while derl writes there; the holder's PID is written into it
    so a second writer's one line can name it. Readers (eval, plot, load) never take it. The OS drops the lock
    when the holder dies, even by kill -9."""

    def __init__(self, path: str, what: str = "run"):
        self.path, self.what, self.fd = path, what, None

    def __enter__(self):
        import fcntl
        with Dir(self.path) as d:
            try:
                fd = os.open(LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                             | getattr(os, "O_CLOEXEC", 0), 0o644, dir_fd=d.fd)
            except OSError as exc:
                raise BadInput(f"cannot lock '{d.join(LOCK)}': {describe(exc)}") from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise BadInput(f"'{os.path.join(self.path, LOCK)}' is not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                raise Locked(f"'{self.path}' is in use by another derl (pid {holder}); derl writes a {self.what} "
                             f"from one process at a time (wait for it, or stop it)") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd
        return self

    def __exit__(self, *exc):
        if self.fd is not None:
            os.close(self.fd)   # closing drops the flock
            self.fd = None
        return False
