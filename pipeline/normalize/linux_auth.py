"""Linux authentication messages (what /var/log/auth.log and /var/log/secure hold): sshd, sudo,
su, PAM, user and group management, cron, systemd-logind.

Each program gets an enricher that the syslog parser applies by app name, so these lines are
parsed the same whether they arrive over syslog or from a tailed file (`linux-auth`). The ECS
shape follows Filebeat's system/auth module where ECS itself is silent (`system.auth.*`), so
analysts' habits and dashboards carry over.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from canhgac.core.envelope import RawEnvelope
from canhgac.core.event import Event
from canhgac.pipeline.normalize.base import parsers
from canhgac.pipeline.normalize.fieldvalues import add_related, int_or_none, put_endpoint
from canhgac.pipeline.normalize.syslog import (
    SyslogMessage,
    SyslogParser,
    base_event,
    message_text,
    program_key,
)
from canhgac.pipeline.normalize.syslog_extensions import program_enrichers, register_enricher

DATASET = "linux.auth"

_SSH_LOGIN_RE = re.compile(
    r"(Accepted|Failed) (\S+) for (invalid user )?(.*?) from (\S+) port (\d+)(?: (\S+))?(?:: (.*))?\Z"
)
_SSH_INVALID_RE = re.compile(r"[Ii]nvalid user (.*?) from (\S+)(?: port (\d+))?")
_SSH_DISCONNECT_RE = re.compile(
    r"(?:Disconnected from|Connection closed by|Received disconnect from)"
    r"(?: (?:invalid|authenticating) user (\S*)| user (\S+))? (\S+) port (\d+)"
)
_SSH_TOO_MANY_RE = re.compile(
    r"(?:error: )?maximum authentication attempts exceeded for (invalid user )?(\S+) from (\S+) port (\d+)"
    r"|Disconnecting(?: (?:invalid|authenticating) user (\S+) (\S+) port (\d+))?: "
    r"Too many authentication failures(?: for (?:invalid user )?(\S+))?"
)
_PAM_RE = re.compile(r"pam_(\w{1,32})\(([^\s:()]{1,64}):(\w{1,32})\): (.*)\Z", re.DOTALL)
_PAM_KV_RE = re.compile(r"(\w+)=(\S*)")
_PAM_SESSION_RE = re.compile(
    r"session (opened|closed) for user (\S+?)(?:\(uid=(\d+)\))?(?: by (\S*?)(?:\(uid=(\d+)\))?)?\Z"
)
_SUDO_RE = re.compile(r"\s*(\S+) : (.*)\Z")
_SU_RE = re.compile(r"\(to (\S+)\) (\S+) on (\S+)")
_SU_OLD_RE = re.compile(r"([+-]) (\S+) (\S+):(\S+)\Z")
_USER_KV_RE = re.compile(r"(\w+)=([^,]*)")
_QUOTED_RE = re.compile(r"'([^']*)'")
_CRON_CMD_RE = re.compile(r"\((\S+)\) CMD \((.*)\)\Z")
_LOGIND_RE = re.compile(r"(New session|Removed session) (\S+?)(?: of user (\S+?))?\.?\Z")


def _mark(event: Event, action: str, category: list[str], types: list[str], outcome: str | None) -> None:
    node = event["event"]
    node["action"] = action
    node["category"] = category
    node["type"] = types
    if outcome:
        node["outcome"] = outcome


def _auth_source(event: Event, service: str | None = None) -> None:
    canhgac = event["canhgac"]
    canhgac["dataset"] = DATASET
    if service:
        canhgac["logsource"] = {"product": "linux", "service": service}


def _user(event: Event, name: str | None, uid: str | None = None) -> None:
    if not name:
        return
    user: dict[str, Any] = event.setdefault("user", {})
    user["name"] = name
    number = int_or_none(uid)
    if number is not None:
        user["id"] = str(number)
    add_related(event, "user", name)


def _source(event: Event, address: str | None, port: str | None = None) -> None:
    if not address:
        return
    put_endpoint(event, "source", address, port)
    add_related(event, "ip", event.get("source", {}).get("ip"))


def apply_pam(event: Event, text: str) -> bool:
    """`pam_unix(sshd:auth): authentication failure; … rhost=… user=…` from any program."""
    m = _PAM_RE.match(text)
    if m is None:
        if text.startswith("PAM ") and "authentication failure" in text:  # "PAM 2 more authentication failures; …"
            kv = dict(_PAM_KV_RE.findall(text))
            _user(event, kv.get("user"))
            _source(event, kv.get("rhost"))
            _mark(event, "authentication_failure", ["authentication"], ["info"], "failure")
            return True
        return False
    module, _service, kind, rest = m.groups()
    event.setdefault("system", {}).setdefault("auth", {})["pam"] = {"module": f"pam_{module}", "type": kind}
    if rest.startswith("authentication failure"):
        kv = dict(_PAM_KV_RE.findall(rest))
        _user(event, kv.get("user") or kv.get("ruser"))
        _source(event, kv.get("rhost"))
        _mark(event, "authentication_failure", ["authentication"], ["info"], "failure")
        return True
    s = _PAM_SESSION_RE.match(rest)
    if s is not None:
        opened, name, uid, by, _by_uid = s.groups()
        _user(event, name, uid)
        if by:
            # "for user root by alice": alice acts, root is who she becomes.
            user = event["user"]
            user["effective"] = {"name": user.pop("name"), **({"id": user.pop("id")} if "id" in user else {})}
            user["name"] = by
            add_related(event, "user", by)
        if opened == "opened":
            _mark(event, "session_opened", ["session"], ["start"], "success")
        else:
            _mark(event, "session_closed", ["session"], ["end"], "success")
        return True
    if rest.startswith("password changed for "):
        _user(event, rest[len("password changed for ") :].strip())
        _mark(event, "password_changed", ["iam"], ["user", "change"], "success")
        return True
    return True


@register_enricher("sshd", "sshd-session")
def enrich_sshd(event: Event, msg: SyslogMessage) -> None:
    _auth_source(event, "sshd")
    text = msg.message
    first = text[:12]
    if first.startswith(("Accepted ", "Failed ")):
        m = _SSH_LOGIN_RE.match(text)
        if m is not None:
            verdict, method, invalid, name, address, port, _proto, signature = m.groups()
            _user(event, name)
            _source(event, address, port)
            ssh: dict[str, Any] = {"method": method}
            if signature:
                ssh["signature"] = signature
            event.setdefault("system", {}).setdefault("auth", {})["ssh"] = ssh
            if verdict == "Accepted":
                _mark(event, "ssh_login", ["authentication", "session"], ["start"], "success")
            else:
                _mark(event, "ssh_login", ["authentication"], ["info"], "failure")
                if invalid:
                    event["event"]["reason"] = "invalid user"
            return
    if "nvalid user " in text[:24] or text.startswith("input_userauth_request: invalid user"):
        m2 = _SSH_INVALID_RE.search(text)
        if m2 is not None:
            _user(event, m2.group(1))
            _source(event, m2.group(2), m2.group(3))
            _mark(event, "invalid_user", ["authentication"], ["info"], "failure")
            return
    if "uthentication" in text and ("Too many" in text or "maximum authentication" in text):
        m3 = _SSH_TOO_MANY_RE.search(text)
        if m3 is not None:
            g = m3.groups()
            _user(event, g[1] or g[4] or g[7])
            _source(event, g[2] or g[5], g[3] or g[6])
            _mark(event, "too_many_authentication_failures", ["authentication"], ["info"], "failure")
            return
    if first.startswith(("Disconnected", "Connection c", "Received dis")):
        m4 = _SSH_DISCONNECT_RE.match(text)
        if m4 is not None:
            _user(event, m4.group(1) or m4.group(2))
            _source(event, m4.group(3), m4.group(4))
            _mark(event, "ssh_disconnect", ["session"], ["end"], None)
            return
    if text.startswith(("pam_", "PAM ")):
        apply_pam(event, text)


@register_enricher("sudo")
def enrich_sudo(event: Event, msg: SyslogMessage) -> None:
    _auth_source(event, "sudo")
    text = msg.message
    if text.startswith("pam_"):
        apply_pam(event, text)
        return
    m = _SUDO_RE.match(text)
    if m is None:
        return
    name, rest = m.groups()
    fields: dict[str, str] = {}
    problems: list[str] = []
    for part in rest.split(" ; "):
        key, sep, value = part.partition("=")
        if sep and key.isupper() and key.isalpha():
            fields[key] = value
            if key == "COMMAND":
                # The command may itself contain " ; ": everything after COMMAND= belongs to it.
                fields[key] = rest[rest.index("COMMAND=") + 8 :]
                break
        else:
            problems.append(part.strip())
    _user(event, name)
    sudo: dict[str, str] = {k.lower(): v for k, v in fields.items()}
    if problems:
        sudo["error"] = "; ".join(problems)
    event.setdefault("system", {}).setdefault("auth", {})["sudo"] = sudo
    target = fields.get("USER")
    if target:
        event["user"]["effective"] = {"name": target}
        add_related(event, "user", target)
    command = fields.get("COMMAND")
    if command:
        # The process is the command sudo ran; sudo itself stays in log.syslog.appname.
        executable = command.split(" ", 1)[0]
        event["process"] = {
            "command_line": command,
            "executable": executable,
            "name": executable.rsplit("/", 1)[-1],
            "args": command.split(),
            "parent": {"name": "sudo"},
        }
        process = event["process"]
        if "PWD" in fields:
            process["working_directory"] = fields["PWD"]
    if problems:
        _mark(event, "sudo_denied", ["authentication", "process"], ["info"], "failure")
    elif command:
        _mark(event, "sudo_command", ["process"], ["start"], "success")


@register_enricher("su")
def enrich_su(event: Event, msg: SyslogMessage) -> None:
    _auth_source(event, "auth")
    text = msg.message
    if text.startswith("pam_"):
        apply_pam(event, text)
        return
    failed = text.startswith("FAILED SU")
    m = _SU_RE.search(text)
    if m is not None:
        target, actor, tty = m.groups()
    elif text.startswith("Successful su for "):
        parts = text.split()  # Successful su for root by alice
        target, actor, tty = parts[3], parts[5] if len(parts) > 5 else None, None
    else:
        old = _SU_OLD_RE.match(text)  # "+ pts/0 alice:root" (busybox, older shadow)
        if old is None:
            return
        failed = old.group(1) == "-"
        tty, actor, target = old.group(2), old.group(3), old.group(4)
    _user(event, actor)
    if target:
        event.setdefault("user", {})["target"] = {"name": target}
        add_related(event, "user", target)
    if tty:
        event.setdefault("process", {})["tty"] = {"name": tty}
    _mark(
        event,
        "su",
        ["authentication"],
        ["start"] if not failed else ["info"],
        "failure" if failed else "success",
    )


def _user_kv(text: str) -> dict[str, str]:
    return {k.lower(): v.strip() for k, v in _USER_KV_RE.findall(text)}


@register_enricher(
    "useradd",
    "usermod",
    "userdel",
    "groupadd",
    "groupmod",
    "groupdel",
    "gpasswd",
    "passwd",
    "chpasswd",
    "chage",
)
def enrich_account(event: Event, msg: SyslogMessage) -> None:
    _auth_source(event, "auth")
    text = msg.message
    if text.startswith("pam_"):
        apply_pam(event, text)
        return
    quoted = _QUOTED_RE.findall(text)
    if text.startswith("new user:"):
        kv = _user_kv(text)
        _user(event, kv.get("name"), kv.get("uid"))
        if kv.get("gid"):
            event["group"] = {"id": kv["gid"]}
        event.setdefault("system", {}).setdefault("auth", {})["useradd"] = {
            k: kv[k] for k in ("home", "shell") if k in kv
        }
        _mark(event, "user_created", ["iam"], ["user", "creation"], "success")
    elif text.startswith(("new group:", "group added to")):
        kv = _user_kv(text)
        event["group"] = {k: v for k, v in (("name", kv.get("name")), ("id", kv.get("gid"))) if v}
        _mark(event, "group_created", ["iam"], ["group", "creation"], "success")
    elif text.startswith("add '") and len(quoted) >= 2:
        _user(event, quoted[0])
        event["group"] = {"name": quoted[1]}
        _mark(event, "user_added_to_group", ["iam"], ["group", "change"], "success")
    elif text.startswith("delete user") and quoted:
        _user(event, quoted[0])
        _mark(event, "user_deleted", ["iam"], ["user", "deletion"], "success")
    elif text.startswith(("group '", "removed group")) and quoted:
        event["group"] = {"name": quoted[0]}
        _mark(event, "group_deleted", ["iam"], ["group", "deletion"], "success")
    elif text.startswith(("change user", "lock user", "unlock user", "password for", "changed password")) and quoted:
        _user(event, quoted[0])
        _mark(event, "user_changed", ["iam"], ["user", "change"], "success")


@register_enricher("cron", "crond")
def enrich_cron(event: Event, msg: SyslogMessage) -> None:
    text = msg.message
    if text.startswith("pam_"):
        _auth_source(event, "cron")
        apply_pam(event, text)
        return
    m = _CRON_CMD_RE.match(text)
    if m is not None:
        _user(event, m.group(1))
        event.setdefault("process", {})["command_line"] = m.group(2)
        _mark(event, "cron_command", ["process"], ["start"], None)


@register_enricher("systemd-logind")
def enrich_logind(event: Event, msg: SyslogMessage) -> None:
    _auth_source(event, "auth")
    m = _LOGIND_RE.match(msg.message)
    if m is None:
        return
    event.setdefault("system", {}).setdefault("auth", {})["session_id"] = m.group(2)
    _user(event, m.group(3))
    if m.group(1) == "New session":
        _mark(event, "session_opened", ["session"], ["start"], "success")
    else:
        _mark(event, "session_closed", ["session"], ["end"], "success")


@register_enricher("login", "gdm-password", "lightdm", "polkitd", "pkexec", "unix_chkpwd", "dovecot", "vsftpd")
def enrich_pam_only(event: Event, msg: SyslogMessage) -> None:
    if msg.message.startswith("pam_") and apply_pam(event, msg.message):
        event["canhgac"]["dataset"] = DATASET


@parsers.register("linux-auth")
class LinuxAuthParser:
    """Lines of /var/log/auth.log or /var/log/secure shipped as files (no PRI needed)."""

    name: ClassVar[str] = "linux-auth"

    def __init__(self, default_tz: str = "Asia/Ho_Chi_Minh") -> None:
        self._syslog = SyslogParser(default_tz)

    def parse(self, raw: RawEnvelope) -> Event:
        msg = self._syslog.header(raw, message_text(raw))
        event = base_event(msg, DATASET)
        if msg.app_name is None:
            event["canhgac"]["logsource"] = {"product": "linux", "service": "auth"}
            return event
        program = program_key(msg.app_name)
        if program in program_enrichers:
            program_enrichers.get(program)(event, msg)
        elif msg.message.startswith("pam_"):
            apply_pam(event, msg.message)
        if "service" not in event["canhgac"]["logsource"]:
            event["canhgac"]["logsource"] = {"product": "linux", "service": "auth"}
        event["canhgac"]["dataset"] = DATASET
        return event
