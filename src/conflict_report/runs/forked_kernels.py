"""Kernels forked from a template instead of started fresh: a run's kernel starts in about a
tenth of the time, and nothing of one run can reach another.

A fresh kernel costs a run about 2.7 s before its analysis starts (quiet 2-core machine):
starting Python and ipykernel, then importing pandas, matplotlib and pandera. Reusing a
kernel would save that but cannot be shown to carry nothing over (a notebook may change any
module's globals). Instead each sweep starts one template process (kernel_template.py)
that imports those libraries and never runs a notebook; every run's kernel is a fork of it, so
each run starts from the same memory, the template's, never from another run's.

papermill starts kernels through jupyter_client: `ForkedKernelManager`, handed to papermill,
gives each kernel a `ForkedProvisioner`, whose launch asks the template for a fork where
jupyter_client's own provisioner would start `python -m ipykernel_launcher`. Everything else
(connection files, shutdown, interrupts, a kernel that dies) is jupyter_client's, through a
process handle with Popen's methods. A kernel command the template cannot serve (another
Python, another kernel) starts fresh, as does every kernel when the template fails to start.

`tests/test_forked_kernels.py` holds the proof: runs give byte-identical results, tables,
figures and notebooks in forked and fresh kernels, in forward and reverse order, next to a
notebook that changes rcParams, pandas options, package globals, the working directory,
os.environ, sys.path and sys.modules; a killed sweep takes its template and kernels with it.
`FRESH_KERNELS=1` starts every kernel fresh."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from queue import Empty

import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import LocalProvisioner
from traitlets import default

TEMPLATE_SCRIPT = Path(__file__).with_name("kernel_template.py")
RECONNECT_MS = 5  # how soon a client tries again to reach a kernel still binding its sockets
EXIT_POLL_S = 0.005  # how often to look whether a killed kernel has exited
STARTUP_TIMEOUT_S = 120  # the template's imports take about 1.5 s; a loaded machine, much more


class KernelTemplate:
    """The sweep's template process: started before its workers, stopped after them."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="kernel-template-")
        self.socket_path = os.path.join(self._folder.name, "template.sock")
        # stdin is a pipe only the sweep holds: the template stops when it closes, also when
        # the sweep is killed.
        self.process = subprocess.Popen([sys.executable, str(TEMPLATE_SCRIPT), self.socket_path],
                                        stdin=subprocess.PIPE, start_new_session=True)

    @property
    def address(self) -> tuple[str, int]:
        """What a worker needs to reach it (see TemplateClient)."""
        return self.socket_path, self.process.pid

    def stop(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._folder.cleanup()

    def __enter__(self) -> KernelTemplate:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class TemplateClient:
    """A worker's way to the sweep's template."""

    def __init__(self, socket_path: str, pid: int) -> None:
        self.socket_path, self.pid = socket_path, pid
        self.failed: str | None = None

    def serves(self, argv: list[str]) -> bool:
        """A command the template's fork can stand in for: this Python's ipykernel, no flags."""
        return self.failed is None and argv[:3] == [sys.executable, "-m", "ipykernel_launcher"]

    def launch(self, argv: list[str], env: dict[str, str], cwd: str) -> ForkedKernel:
        connection = self._connect()
        # The kernel watches its parent as it would watch the worker: it exits if the template goes.
        env = {**env, "JPY_PARENT_PID": str(self.pid)}
        connection.sendall((json.dumps({"argv": argv, "env": env, "cwd": cwd}) + "\n").encode())
        reply = _read_line(connection)
        if not reply.startswith("pid "):
            connection.close()
            raise RuntimeError(f"the kernel template did not fork a kernel (it answered {reply!r})")
        return ForkedKernel(int(reply.split()[1]), connection)

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if not _alive(self.pid):
                raise RuntimeError(f"the kernel template (pid {self.pid}) has exited")
            if os.path.exists(self.socket_path):  # created once its imports are done
                connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                connection.connect(self.socket_path)
                return connection
            if time.monotonic() > deadline:
                raise RuntimeError(f"the kernel template did not start within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.02)


def _alive(pid: int) -> bool:
    """Whether the template runs: a template that died stays a zombie until the sweep stops it."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        if Path("/proc").is_dir():
            return False
    try:  # no /proc (macOS): whether the pid exists
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class ForkedKernel:
    """What jupyter_client's LocalProvisioner asks of a Popen, for a kernel that is the
    template's child: the template reports its exit over the kernel's connection."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, connection: socket.socket) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._connection = connection

    def poll(self) -> int | None:
        if self.returncode is None:
            self._connection.setblocking(False)
            try:
                self._exited(_read_line(self._connection))
            except BlockingIOError:
                pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._connection.settimeout(timeout)
            try:
                self._exited(_read_line(self._connection))
            except TimeoutError:
                raise subprocess.TimeoutExpired(f"forked kernel {self.pid}", timeout) from None
        return self.returncode

    def _exited(self, line: str) -> None:
        # "exit CODE"; nothing when the template itself went (its kernels go with it)
        self.returncode = int(line.split()[1]) if line.startswith("exit ") else -signal.SIGKILL
        self._connection.close()

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _read_line(connection: socket.socket) -> str:
    """One short line; the template writes each line in one send."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(256)
        if not chunk:
            break
        data += chunk
        connection.setblocking(True)  # the line has begun: read the rest of it
    return data.decode()


# This worker's way to the sweep's template, or None: kernels start fresh.
_template: TemplateClient | None = None


def use_template(address: tuple[str, int]) -> None:
    """In a sweep worker, once: fork this worker's kernels from the sweep's template."""
    global _template
    _template = TemplateClient(*address)


def template_in_use() -> bool:
    return _template is not None


class ForkedProvisioner(LocalProvisioner):
    async def launch_kernel(self, cmd: list[str], **kwargs):
        if _template is None or not _template.serves(cmd):
            return await super().launch_kernel(cmd, **kwargs)
        cwd = str(kwargs.get("cwd") or os.getcwd())  # papermill chdirs to the notebook's folder
        try:
            self.process = _template.launch(cmd, env=dict(kwargs.get("env") or os.environ), cwd=cwd)
        except (OSError, RuntimeError) as exc:
            _template.failed = str(exc)
            print(f"kernels start fresh from now on in this worker: {exc}", file=sys.stderr)
            return await super().launch_kernel(cmd, **kwargs)
        self.pid = self.pgid = self.process.pid  # the kernel leads its own session, as a fresh one does
        self.cwd = cwd
        return self.connection_info


class PromptKernelClient(AsyncKernelClient):
    """jupyter_client's client, ready when the kernel is. jupyter_client's wait_for_ready
    ends by waiting until IOPub has been quiet for 0.2 s, at every kernel start: a tenth of a
    forked kernel's start. This one waits for the kernel's own last message on its kernel_info
    request, the 'idle' status ipykernel publishes after the reply. As in jupyter_client, a
    reply with no IOPub message within 0.2 s means IOPub is not connected yet, and the request
    is sent again. Messages left over from a repeated request belong to another request, and
    nbclient reads only its own requests' messages."""

    @default("context")
    def _prompt_context(self):
        # A client connects as soon as the kernel is forked, before the kernel has bound its
        # sockets; ZeroMQ then tries again after its default 100 ms, not as soon as they exist.
        self._created_context = True
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
        return context

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while not await self._kernel_info_answered(self.kernel_info()):
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")

    async def _kernel_info_answered(self, request: str) -> bool:
        try:
            reply = await self.shell_channel.get_msg(timeout=1)
            if reply["msg_type"] != "kernel_info_reply":
                return False
            while True:
                message = await self.iopub_channel.get_msg(timeout=0.2)
                if (message["msg_type"] == "status" and message["content"]["execution_state"] == "idle"
                        and message["parent_header"].get("msg_id") == request):
                    break
        except Empty:
            return False
        self._handle_kernel_info_reply(reply)
        return True


class ForkedKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager with the forked provisioner (jupyter_client picks a
    provisioner from the kernel spec; one set before the start is kept) and the prompt client."""

    @default("client_factory")
    def _prompt_client(self):
        return PromptKernelClient

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        # jupyter_client looks every 0.1 s whether a killed kernel is gone, and a run ends only
        # then; the template reports a forked kernel's exit a millisecond or two after the kill.
        await super()._async_wait(pollinterval=min(pollinterval, EXIT_POLL_S))

    async def _async_pre_start_kernel(self, **kw):
        if self.provisioner is None:
            self.kernel_id = self.kernel_id or kw.pop("kernel_id", str(uuid.uuid4()))
            self.provisioner = ForkedProvisioner(kernel_id=self.kernel_id, kernel_spec=self.kernel_spec, parent=self)
        return await super()._async_pre_start_kernel(**kw)
