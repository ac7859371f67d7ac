"""The kernel template: a process that imports what every run's kernel imports, never runs a
notebook, and forks one kernel per run (see forked_kernels.py, which starts it).

Run as a script (`python kernel_template.py SOCKET`), not as a module of the package: importing
conflict_report here would run its code in the template, and a kernel must find the package
as a fresh one does, imported by its notebook under the run's own environment.

A forked kernel starts from the template's memory as it was after the imports below, whatever
the runs before it did: each run's changes (rcParams, pandas options, module globals, the
working directory, os.environ) happen in its own copy of that memory and end with it. The
child then does what `python -m ipykernel_launcher -f CONNECTION_FILE` would do from there:
a session of its own, the run's working directory and environment, stdin from /dev/null.

Protocol, over a Unix socket, one connection per kernel: a sweep's worker sends one JSON line
{"argv": the kernel command, "env": its environment, "cwd": its directory}; the template
answers "pid N" once the kernel has its own session, and "exit CODE" when it ends. The
template stops, killing its kernels, when its standard input closes: when the sweep that
started it stops or dies, so a template never outlives its sweep."""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import traceback

# What every run's kernel imports before its first result (python -X importtime over the
# shipped notebooks' first cell, cProfile of the kernel's start: ipykernel imports its debugger,
# debugpy, on every start): about 1.5 s a run, paid here once; shapely (the maps) and
# pyarrow.dataset (read_parquet) are what the runs' first figures imported next. numpy's OpenBLAS and pyarrow
# start native threads when imported; both re-initialise them in a forked child (pthread_atfork),
# as multiprocessing's fork start method relies on.
PRELOADED = ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.debugger", "matplotlib.pyplot", "pandas",
             "pyarrow.parquet", "pyarrow.dataset", "pandera.pandas", "shapely", "yaml",
             # and what IPKernelApp.initialize imports when a kernel starts
             "IPython.core.completerlib", "IPython.core.debugger", "IPython.extensions.storemagic", "psutil",
             "sqlite3", "tornado.platform.asyncio")
# Modules whose import does something only when IPython runs, and so must be imported by the
# kernel itself: matplotlib's inline backend hooks itself into the shell when imported (the
# hook that shows a cell's figure without plt.show()); imported here, before any shell, a
# plain notebook's figures would never be shown.
IMPORTED_BY_THE_KERNEL = ("matplotlib_inline",)
# The backend ipykernel chooses for a kernel whose environment names none (ipykernel's
# kernelapp sets it before any notebook code runs); matplotlib reads it when imported.
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def serve(socket_path: str) -> None:
    # Modules may read the environment when imported (ipykernel's kernelapp reads
    # JPY_PARENT_PID into a default): the template's is the sweep's, as each kernel's is, with
    # what jupyter_client and ipykernel add before a kernel's imports. The variables the sweep
    # sets per run (CONFLICT_REPORT_RUN_DIR, IPYTHONDIR) are read by the package and IPython
    # when they run in the kernel, not by these imports.
    os.environ["JPY_PARENT_PID"] = str(os.getpid())  # a forked kernel's parent is this process
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    # debugpy warns on import about frozen modules. A fresh kernel imports it once its stderr
    # goes to the notebook's message channel, where nothing reads it before the first cell;
    # here it would print into the sweep's output.
    with contextlib.redirect_stderr(io.StringIO()):
        for name in PRELOADED:
            __import__(name)
    early = [name for name in sys.modules if name.split(".")[0] in IMPORTED_BY_THE_KERNEL]
    if early:
        raise SystemExit(f"kernel template: {', '.join(early)} imported before a kernel runs; kernels start fresh")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path + ".binding")
    listener.listen(8)
    os.rename(socket_path + ".binding", socket_path)  # the worker connects once the imports are done
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "launch")
    selector.register(sys.stdin, selectors.EVENT_READ, "sweep")
    kernels: dict[int, socket.socket] = {}
    while True:
        for key, _ in selector.select(timeout=0.05):
            if key.data == "sweep" and not os.read(sys.stdin.fileno(), 4096):
                _stop(kernels)
                return
            if key.data == "launch":
                connection, _ = listener.accept()
                _launch(connection, kernels, keep_closed=[listener, selector, *kernels.values()])
        _reap(kernels)


def _launch(connection: socket.socket, kernels: dict[int, socket.socket], keep_closed: list) -> None:
    request = json.loads(connection.makefile("r", encoding="utf-8").readline())
    session_ready, session_made = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(session_ready)
        _become_kernel(request, session_made, [connection, *keep_closed])
    os.close(session_made)
    os.read(session_ready, 1)  # EOF once the child has its own session: signals reach its group
    os.close(session_ready)
    kernels[pid] = connection
    connection.sendall(f"pid {pid}\n".encode())


def _become_kernel(request: dict, session_made: int, inherited: list) -> None:
    """In the forked child: never returns."""
    code = 1
    try:
        os.setsid()
        os.close(session_made)
        for thing in inherited:
            thing.close()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        if "numpy" in sys.modules:  # a fresh kernel seeds numpy's global generator itself, not from the template's
            sys.modules["numpy"].random.seed()
        argv = request["argv"]
        sys.argv = [argv[0], *argv[argv.index("ipykernel_launcher") + 1:]]
        sys.path[0] = os.getcwd()  # as `python -m` sets it; ipykernel_launcher takes it out
        runpy.run_module("ipykernel_launcher", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()  # what the interpreter's own exit would run
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _reap(kernels: dict[int, socket.socket]) -> None:
    while kernels:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        connection = kernels.pop(pid, None)
        if connection is not None:
            try:
                connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
            except OSError:  # the worker stopped listening: nothing to tell
                pass
            connection.close()


def _stop(kernels: dict[int, socket.socket]) -> None:
    for pid in kernels:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    for pid in list(kernels):
        os.waitpid(pid, 0)
        kernels.pop(pid).close()


if __name__ == "__main__":
    serve(sys.argv[1])
    os._exit(0)  # its kernels are gone; tearing down pandas and matplotlib would only keep the sweep waiting
