"""Real rsyslog and syslog-ng (Debian's packages, installed by deploy/local/install.sh) for tests.

Each runs in the foreground as a child of the test, with its own configuration, work directory,
pid file and control socket: never the system service. Local programs "log" by writing syslog(3)
datagrams to the shipper's private unix socket, exactly as `logger` and libc do.

The configuration under test is taken verbatim from a fenced block of docs/sources/*.md: the
block whose first line is `# /etc/rsyslog.d/<name>` or `# /etc/syslog-ng/conf.d/<name>`. Only the
collector's address and port (and certificate paths) are swapped for the test's, and each swap
must find its text, so the documentation and the tests cannot drift apart.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[2]
SOURCES_DOCS = REPO / "docs" / "sources"
DOC_COLLECTOR_HOST = "soc-collector.tinh.gov.vn"
SYSLOG_NG_HOME = Path(os.environ.get("CANHGAC_CACHE_DIR", "/var/tmp/canhgac-cache")) / "syslog-ng"

_BLOCK = re.compile(r"^```[a-z]*\n(.*?)^```", re.M | re.S)
_NAME = re.compile(r"^# /etc/(?:rsyslog\.d|syslog-ng/conf\.d)/(\S+)")


def doc_configs(page: str) -> dict[str, str]:
    """The configuration blocks of docs/sources/<page>, by the file name on their first line."""
    text = (SOURCES_DOCS / page).read_text(encoding="utf-8")
    blocks: dict[str, str] = {}
    for match in _BLOCK.finditer(text):
        body = match.group(1)
        name = _NAME.match(body)
        if name:
            blocks[name.group(1)] = body
    return blocks


def swap(config: str, old: str, new: str, *, count: int = 1) -> str:
    """Replace a documented value by the test's; fail when the documentation no longer has it."""
    found = config.count(old)
    assert found == count, f"expected {count} x {old!r} in the documented config, found {found}:\n{config}"
    return config.replace(old, new)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class Shipper:
    """A foreground shipper process fed through its private unix datagram socket."""

    name = "shipper"
    timezone = "Asia/Ho_Chi_Minh"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket_path = workdir / "log.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / f"{self.name}.stderr"

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        # Servers in the province keep local time: the shippers' RFC 3164 stamps are UTC+7.
        return {**os.environ, "TZ": self.timezone}

    def start(self) -> None:
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(self.command(), stdout=out, stderr=out, env=self.env(), cwd=self.workdir)
        deadline = time.monotonic() + 20
        while not self.socket_path.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log(self, tag: str, pid: int | None, text: str, *, pri: int = 38) -> None:
        """One syslog(3) datagram, `<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`, stamped in the shipper's zone."""
        now = datetime.now(ZoneInfo(self.timezone))
        when = f"{now:%b} {now.day:2d} {now:%H:%M:%S}"
        ident = f"{tag}[{pid}]" if pid is not None else tag
        datagram = f"<{pri}>{when} {ident}: {text}".encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
            s.sendto(datagram, str(self.socket_path))

    def stop(self, sig: int = signal.SIGTERM, timeout_secs: float = 30) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout_secs)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    def __enter__(self) -> Shipper:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Rsyslogd(Shipper):
    """`rsyslogd -n` with a private work directory, local host name and input socket."""

    name = "rsyslogd"

    def __init__(self, workdir: Path, forwarding: str, *, hostname: str = "tthdl-app01") -> None:
        super().__init__(workdir)
        assert shutil.which("rsyslogd"), "rsyslogd missing: run deploy/local/install.sh"
        self.config_path = workdir / "rsyslog.conf"
        self.config_path.write_text(
            f'global(workDirectory="{workdir}" localHostName="{hostname}")\n'
            'module(load="imuxsock" SysSock.Use="off")\n'
            f'input(type="imuxsock" Socket="{self.socket_path}" RateLimit.Interval="0")\n'
            f"{forwarding}\n",
            encoding="utf-8",
        )

    def command(self) -> list[str]:
        return ["rsyslogd", "-n", "-f", str(self.config_path), "-i", str(self.workdir / "rsyslogd.pid")]


class SyslogNg(Shipper):
    """`syslog-ng -F` with private persist, pid, control files; `s_src` is the local socket."""

    name = "syslog-ng"

    def __init__(self, workdir: Path, forwarding: str, *, hostname: str = "tthdl-app01") -> None:
        super().__init__(workdir)
        self.home = Path("/") if Path("/usr/sbin/syslog-ng").exists() else SYSLOG_NG_HOME
        assert (self.home / "usr/sbin/syslog-ng").exists(), "syslog-ng missing: run deploy/local/install.sh"
        self.config_path = workdir / "syslog-ng.conf"
        self.config_path.write_text(
            "@version: 3.38\n"
            "options { stats-freq(0); };\n"
            f'source s_src {{ unix-dgram("{self.socket_path}" host-override("{hostname}")); }};\n'
            f"{forwarding}\n",
            encoding="utf-8",
        )

    def env(self) -> dict[str, str]:
        env = super().env()
        if self.home != Path("/"):
            env["LD_LIBRARY_PATH"] = str(self.home / "usr/lib/syslog-ng")
        return env

    def command(self) -> list[str]:
        modules = next((self.home / "usr/lib/syslog-ng").glob("3.*"))
        return [
            str(self.home / "usr/sbin/syslog-ng"),
            "-F",
            "--no-caps",
            "--stderr",
            f"--module-path={modules}",
            "-f",
            str(self.config_path),
            "-R",
            str(self.workdir / "syslog-ng.persist"),
            "-p",
            str(self.workdir / "syslog-ng.pid"),
            "-c",
            str(self.workdir / "syslog-ng.ctl"),
        ]


@contextlib.contextmanager
def disk_buffer_files_cleaned() -> Iterator[None]:
    """syslog-ng keeps disk-buffer files in /var/lib/syslog-ng; remove the ones a test created."""
    directory = Path("/var/lib/syslog-ng")
    before = set(directory.glob("*.?qf")) if directory.exists() else set()
    try:
        yield
    finally:
        if directory.exists():
            for path in set(directory.glob("*.?qf")) - before:
                path.unlink(missing_ok=True)


def make_pki(directory: Path, *clients: str) -> None:
    """A CA, a server certificate for 127.0.0.1, and a client certificate per CN (openssl)."""

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/C=VN/O=So TTTT/CN=Canhgac Test CA")  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, subject, ext in [
        ("server", "/C=VN/O=So TTTT/CN=localhost", ["-extfile", "san.ext"]),
        *[(cn, f"/C=VN/O=So TTTT/CN={cn}", []) for cn in clients],
    ]:
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", f"{name}.pem", "-days", "2", *ext)  # fmt: skip


class CollectorProcess:
    """`canhgac run` with collectors only (no stages, no API) in a child process, to kill -9."""

    def __init__(self, settings: object, workdir: Path) -> None:
        import yaml

        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "canhgac.yml"
        dump = settings.model_dump(mode="json")  # type: ignore[attr-defined]
        self.config_path.write_text(yaml.safe_dump(dump), encoding="utf-8")
        self.log_path = workdir / "collector.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, port: int) -> None:
        """Start and wait until `port` accepts connections."""
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(REPO / ".venv/bin/canhgac"), "--config", str(self.config_path), "run", "--stages", "", "--no-api"],
                stdout=out,
                stderr=out,
                cwd=self.workdir,
            )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"collector did not start:\n{self.output()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
            time.sleep(0.1)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout_secs: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout_secs)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
