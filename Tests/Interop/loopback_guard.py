"""Keep interop test processes on the loopback network.

`install()` makes every name lookup other than localhost / a loopback literal
fail at once with `socket.gaierror`, and every connect or sendto to an address
outside 127.0.0.0/8 and ::1 fail at once with `OSError(ENETUNREACH)`. Nothing
ever reaches DNS: `localhost` is answered locally as 127.0.0.1 (or ::1 when
IPv6 is asked for) without calling the system resolver.

Two layers:
  * monkeypatches of socket.getaddrinfo / gethostbyname(_ex) / create_connection
    and socket.socket.connect / connect_ex, which give quick, clear errors;
  * a sys.audit hook (socket.getaddrinfo, socket.gethostbyname, socket.connect,
    socket.sendto, socket.sendmsg, ...) as a backstop for code that reaches the
    C `_socket` module directly (gevent, eventlet, other C extensions).

It also sets EVENTLET_NO_GREENDNS=yes so eventlet uses the guarded stdlib
resolver instead of its own DNS client.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import sys

LOCAL_NAMES = frozenset({"localhost", "localhost.", "localhost.localdomain",
                         "ip6-localhost", "ip6-loopback"})

_installed = False
_orig = {}


def _as_text(host):
    if isinstance(host, (bytes, bytearray)):
        return bytes(host).decode("ascii", errors="replace")
    return host


def _literal(host: str):
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def is_allowed_host(host) -> bool:
    """True for names/literals that stay on this machine."""
    host = _as_text(host)
    if host is None or host == "":
        return True
    if not isinstance(host, str):
        return False
    h = host.strip().lower()
    if h in LOCAL_NAMES:
        return True
    ip = _literal(h)
    if ip is None:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _blocked_lookup(host):
    return socket.gaierror(
        socket.EAI_NONAME,
        f"loopback guard: name lookup of {host!r} refused (interop tests stay on 127.0.0.0/8)")


def _blocked_connect(address):
    return OSError(
        errno.ENETUNREACH,
        f"loopback guard: connection to {address!r} refused (interop tests stay on 127.0.0.0/8)")


def _check_address(address) -> None:
    # AF_UNIX paths (str/bytes) and other non-IP families are fine.
    if isinstance(address, tuple) and len(address) >= 2 and isinstance(address[1], int):
        host = address[0]
        if not is_allowed_host(host):
            raise _blocked_connect(address)
        if address[1] == 53:
            raise _blocked_connect(address)


# -- monkeypatches --------------------------------------------------------------

def _getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    text = _as_text(host)
    if not is_allowed_host(text):
        raise _blocked_lookup(text)
    if isinstance(text, str) and text.strip().lower() in LOCAL_NAMES:
        host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    if host not in (None, "", b""):
        flags |= socket.AI_NUMERICHOST
    return _orig["getaddrinfo"](host, port, family, type, proto, flags)


def _gethostbyname(host):
    text = _as_text(host)
    if not is_allowed_host(text):
        raise _blocked_lookup(text)
    if isinstance(text, str) and text.strip().lower() in LOCAL_NAMES:
        return "127.0.0.1"
    return _orig["gethostbyname"](host)


def _gethostbyname_ex(host):
    text = _as_text(host)
    if not is_allowed_host(text):
        raise _blocked_lookup(text)
    if isinstance(text, str) and text.strip().lower() in LOCAL_NAMES:
        return ("localhost", [], ["127.0.0.1"])
    return _orig["gethostbyname_ex"](host)


def _create_connection(address, *args, **kwargs):
    host = address[0] if isinstance(address, tuple) and address else None
    if not is_allowed_host(host):
        raise _blocked_lookup(host)
    return _orig["create_connection"](address, *args, **kwargs)


def _connect(self, address):
    _check_address(address)
    return _orig["connect"](self, address)


def _connect_ex(self, address):
    _check_address(address)
    return _orig["connect_ex"](self, address)


# -- audit hook -----------------------------------------------------------------

def _audit(event, args):
    if not event.startswith("socket."):
        return
    if not _installed:
        return
    if event == "socket.getaddrinfo":
        if not is_allowed_host(args[0]):
            raise _blocked_lookup(_as_text(args[0]))
    elif event in ("socket.gethostbyname", "socket.gethostbyaddr"):
        if not is_allowed_host(args[0]):
            raise _blocked_lookup(_as_text(args[0]))
    elif event == "socket.getnameinfo":
        sockaddr = args[0]
        if isinstance(sockaddr, tuple) and sockaddr and not is_allowed_host(sockaddr[0]):
            raise _blocked_lookup(sockaddr[0])
    elif event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if address is not None:
            _check_address(address)


def install() -> None:
    """Install the guard in this process (idempotent)."""
    global _installed
    if _installed:
        return
    os.environ.setdefault("EVENTLET_NO_GREENDNS", "yes")
    _orig["getaddrinfo"] = socket.getaddrinfo
    _orig["gethostbyname"] = socket.gethostbyname
    _orig["gethostbyname_ex"] = socket.gethostbyname_ex
    _orig["create_connection"] = socket.create_connection
    _orig["connect"] = socket.socket.connect
    _orig["connect_ex"] = socket.socket.connect_ex
    socket.getaddrinfo = _getaddrinfo
    socket.gethostbyname = _gethostbyname
    socket.gethostbyname_ex = _gethostbyname_ex
    socket.create_connection = _create_connection
    socket.socket.connect = _connect
    socket.socket.connect_ex = _connect_ex
    _installed = True
    sys.addaudithook(_audit)


def installed() -> bool:
    return _installed
